"""Tiny test videos made on the spot with PyAV (no binaries in the tree): solid-colour scenes."""
from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220), "white": (240, 240, 240),
           "black": (10, 10, 10), "yellow": (230, 220, 40)}


def make_clip(scenes: Sequence[tuple[str, float]], path: str | Path | None = None, *, size: tuple[int, int] = (64, 48),
              fps: int = 10, codec: str = "libx264", audio_hz: float | None = None) -> bytes:
    """An MP4 of solid-colour scenes ``[(colour, seconds), ...]`` (with a sine tone when
    ``audio_hz``); written to ``path`` when given. Returns the file's bytes."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        v = out.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        if codec == "libx264":
            v.options = {"preset": "ultrafast"}
        a = out.add_stream("aac", rate=16000) if audio_hz else None
        n = 0
        for colour, seconds in scenes:
            img = np.empty((size[1], size[0], 3), np.uint8)
            img[:] = COLOURS[colour]
            for _ in range(round(seconds * fps)):
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts, frame.time_base = n, Fraction(1, fps)
                out.mux(v.encode(frame))
                n += 1
        out.mux(v.encode())
        if a is not None:
            total = n / fps
            t = np.arange(int(total * 16000)) / 16000
            pcm = (0.3 * np.sin(2 * np.pi * audio_hz * t)).astype(np.float32)[None, :]
            for s in range(0, pcm.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(pcm[:, s:s + 1024], format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, s
                out.mux(a.encode(af))
            out.mux(a.encode())
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
