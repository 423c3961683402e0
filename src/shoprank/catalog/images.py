"""Product photo paths from catalog rows, checked before anything serves or encodes them.

A row names its photos; the service later sends those files to anyone who asks. So a path
is resolved (symlinks too) and must stay inside the catalog's image root, and the file
must exist and decode as an image, or a catalog row could publish ``/etc/passwd``.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image


class ImageRoot:
    """The folder a catalog's photos must live in; :meth:`resolve` checks one path.

    ``decode=False`` checks a file's structure only (PNG chunks and their checksums: a few
    microseconds, where decoding a JPEG takes ~15 ms): for bulk imports, as the index builder
    decodes every photo anyway and leaves out, with a warning, any that does not decode.
    """

    kind = "image"  # in messages; a subclass confines another kind of media file (catalog/videos.py)

    def __init__(self, root: str | Path, decode: bool = True):
        self.root = Path(root).resolve()
        self.decode = decode
        self._checked: dict[Path, str | None] = {}  # variants share photos: check each file once

    def resolve(self, raw: str) -> str:
        """The absolute path of ``raw`` (relative paths start at the root), or ValueError saying why not."""
        if "://" in raw:
            raise ValueError(f"{self.kind} {raw!r}: a URL, not a file ({self.kind}s are read from disk)")
        try:
            path = (self.root / raw).resolve()
        except (OSError, RuntimeError, ValueError) as e:  # a symlink loop, a NUL byte
            raise ValueError(f"{self.kind} {raw!r}: not a usable path ({e})") from None
        if not path.is_relative_to(self.root):
            raise ValueError(f"{self.kind} {raw!r}: outside the {self.kind} folder {self.root}")
        if path not in self._checked:
            self._checked[path] = self.problem(path)
        problem = self._checked[path]
        if problem:
            raise ValueError(f"{self.kind} {raw!r}: {problem}")
        return str(path)

    def problem(self, path: Path) -> str | None:
        """Why the file at ``path`` (inside the root) is refused, or None."""
        return _problem(path, self.decode)


def _problem(path: Path, decode: bool) -> str | None:
    if not path.is_file():
        return "not a file" if path.exists() else "no such file"
    try:
        # A PNG with a broken chunk passes the header check and fails only when read further:
        # found here, it is a row warning, not a failed build or a failed live write.
        with Image.open(path) as im:
            if decode:
                im.draft("RGB", (DECODE_CHECK_SIDE, DECODE_CHECK_SIDE))
                im.load()
            else:
                im.verify()
    except Exception as e:  # a decoder may raise anything on crafted bytes (SyntaxError: broken PNG file)
        why = (str(e).splitlines() or [""])[0][:200]
        return f"not a readable image ({type(e).__name__}{': ' + why if why else ''})"
    return None


DECODE_CHECK_SIDE = 64  # a JPEG is decoded at 1/8 scale: every byte is still read
