"""Product video paths from catalog rows, confined to the media folder exactly as photos are.

A catalog check reads only a file's first bytes (its container signature): the index builder
decodes every video under hard bounds (shoprank.encoders.video_decode) and leaves out, with
a warning, any that does not decode.
"""
from __future__ import annotations

from pathlib import Path

from shoprank.catalog.images import ImageRoot

# Leading bytes -> FFmpeg demuxer. MP4/MOV: an ISO box type at offset 4.
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
VIDEO_FORMATS = "MP4/MOV, WebM/Matroska, AVI or MPEG-TS"
VIDEO_TYPES = {"mov": "video/mp4", "matroska": "video/webm", "avi": "video/x-msvideo", "mpegts": "video/mp2t"}


def video_container(head: bytes) -> str | None:
    """The container (an FFmpeg demuxer name) of a file starting with ``head``, or None."""
    if head[4:8] in _ISO_BOXES:
        return "mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if len(head) >= 377 and head[0] == head[188] == head[376] == 0x47:
        return "mpegts"
    return None


def container_of(path: str | Path) -> str | None:
    """The container of the file at ``path``, or None (not a video, or unreadable)."""
    try:
        with open(path, "rb") as f:
            return video_container(f.read(512))
    except OSError:
        return None


class VideoRoot(ImageRoot):
    """The folder a catalog's videos must live in (the photos' folder); :meth:`resolve` checks one path."""

    kind = "video"

    def problem(self, path: Path) -> str | None:
        if not path.is_file():
            return "not a file" if path.exists() else "no such file"
        if container_of(path) is None:
            return f"not a video ({VIDEO_FORMATS})"
        return None
