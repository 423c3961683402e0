"""Product photo paths from catalog rows, checked before anything serves or encodes them.

A row names its photos; the service later sends those files to anyone who asks. So a path
is resolved (symlinks too) and must stay inside the catalog's image root, and the file
must exist and look like an image, or a catalog row could publish ``/etc/passwd``.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image


class ImageRoot:
    """The folder a catalog's photos must live in; :meth:`resolve` checks one path."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self._checked: dict[Path, str | None] = {}  # variants share photos: check each file once

    def resolve(self, raw: str) -> str:
        """The absolute path of ``raw`` (relative paths start at the root), or ValueError saying why not."""
        if "://" in raw:
            raise ValueError(f"image {raw!r}: a URL, not a file (images are read from disk)")
        try:
            path = (self.root / raw).resolve()
        except (OSError, RuntimeError, ValueError) as e:  # a symlink loop, a NUL byte
            raise ValueError(f"image {raw!r}: not a usable path ({e})") from None
        if not path.is_relative_to(self.root):
            raise ValueError(f"image {raw!r}: outside the image folder {self.root}")
        if path not in self._checked:
            self._checked[path] = _problem(path)
        problem = self._checked[path]
        if problem:
            raise ValueError(f"image {raw!r}: {problem}")
        return str(path)


def _problem(path: Path) -> str | None:
    if not path.is_file():
        return "not a file" if path.exists() else "no such file"
    try:
        Image.open(path).close()  # identifies the format from the header, decodes nothing
    except (OSError, ValueError, Image.DecompressionBombError) as e:  # UnidentifiedImageError is an OSError
        return f"not a readable image ({type(e).__name__})"
    return None
