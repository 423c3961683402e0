"""Bounded video decoding: keyframes for the photo encoder, and the audio track for speech.

A video is hostile input until proven otherwise: every bound (bytes, duration, pixels, decoded
frames, wall-clock time) is checked from the header *and* again while decoding, since headers lie.
Only container formats sniffed from the first bytes are opened, each with its demuxer named:
FFmpeg never probes (its playlist and concat demuxers would read other files or URLs).

Keyframes are scene changes (colour-histogram jumps between frames sampled every
``sample_every_s``) first, then uniform picks, at most ``max_keyframes``, each with its time.
Every problem is a :class:`VideoError`, whose message is fit for a 4xx or a catalog row error.
PyAV (``pip install 'shoprank[video]'``) is imported on first use.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from shoprank.catalog.videos import VIDEO_FORMATS, video_container
from shoprank.registry import MissingExtraError

if TYPE_CHECKING:
    from shoprank.config import Settings

AUDIO_RATE = 16_000  # what speech models read: 16 kHz mono float32


class VideoError(ValueError):
    """A video that is refused: unreadable, not a video, or over a bound. The message says which."""


@dataclass(frozen=True)
class VideoLimits:
    """Hard bounds on one video (defaults: Settings ``video_*``)."""

    max_bytes: int = 200 * 1024 * 1024
    max_seconds: float = 300.0
    max_pixels: int = 3840 * 2160       # one frame's width x height
    max_frames: int = 20_000            # frames decoded, whatever the header says
    max_decode_s: float = 30.0          # wall clock for the whole decode
    max_keyframes: int = 8
    sample_every_s: float = 0.5         # scene changes are looked for between frames this far apart
    scene_threshold: float = 0.3        # half the L1 distance of normalised histograms: 0 same, 1 disjoint
    frame_side: int = 256               # keyframes' shorter side (the photo encoder looks at 224)

    @classmethod
    def from_settings(cls, settings: Settings) -> VideoLimits:
        return cls(max_bytes=settings.video_max_bytes, max_seconds=settings.video_max_seconds,
                   max_pixels=settings.video_max_pixels, max_decode_s=settings.video_decode_timeout_s,
                   max_keyframes=settings.video_max_keyframes)


@dataclass
class Keyframe:
    t: float                 # seconds from the start
    image: Image.Image       # RGB, shorter side ``frame_side``
    scene: bool = False      # picked as a scene change (else uniformly)


@dataclass
class DecodedVideo:
    duration: float
    width: int
    height: int
    keyframes: list[Keyframe]
    audio: np.ndarray | None = field(default=None, repr=False)  # 16 kHz mono float32, or None


def _av() -> Any:
    try:
        import av
    except ImportError as e:
        raise MissingExtraError(f"video decoding needs pip install 'shoprank[video]' ({e})") from e
    av.logging.set_level(None)  # FFmpeg's own log would print every broken NAL unit
    return av


def sniff_format(head: bytes) -> str:
    """The demuxer for a file starting with ``head``, or VideoError."""
    if not head:
        raise VideoError("the video is empty")
    fmt = video_container(head)
    if fmt is None:
        raise VideoError(f"not a video this service reads ({VIDEO_FORMATS})")
    return fmt


def _open_source(src: str | Path | bytes, limits: VideoLimits) -> IO[bytes]:
    fp: IO[bytes]
    if isinstance(src, bytes):
        size, fp = len(src), io.BytesIO(src)
    else:
        try:
            size, fp = Path(src).stat().st_size, open(src, "rb")  # closed by decode_video
        except OSError as e:
            raise VideoError(f"the video cannot be read ({e.strerror or e})") from None
    if size > limits.max_bytes:
        fp.close()
        raise VideoError(f"the video is {size:,} bytes; at most {limits.max_bytes:,} are read")
    return fp


def _check_header(container: Any, stream: Any, limits: VideoLimits) -> float:
    """The declared duration, after checking what the header declares."""
    w, h = stream.codec_context.width, stream.codec_context.height
    if w <= 0 or h <= 0:
        raise VideoError("the video stream declares no frame size")
    if w * h > limits.max_pixels:
        raise VideoError(f"the video is {w}x{h} pixels; at most {limits.max_pixels:,} a frame are decoded")
    duration = container.duration / 1_000_000 if container.duration else 0.0
    if stream.duration and stream.time_base:
        duration = max(duration, float(stream.duration * stream.time_base))
    if duration > limits.max_seconds:
        raise VideoError(f"the video lasts {duration:,.0f} s; at most {limits.max_seconds:,.0f} s are read")
    return duration


def _histogram(img: Image.Image) -> np.ndarray:
    """A 4x4x4 RGB histogram, normalised to sum 1 (on every 4th pixel: enough for scene changes)."""
    px = np.asarray(img)[::4, ::4].reshape(-1, 3) // 64
    counts = np.bincount(px[:, 0].astype(np.int64) * 16 + px[:, 1] * 4 + px[:, 2], minlength=64)
    return counts / max(1, counts.sum())


def _scaled(frame: Any, side: int) -> Image.Image:
    w, h = frame.width, frame.height
    s = side / min(w, h)
    if s < 1:
        w, h = max(2, round(w * s)), max(2, round(h * s))
    return frame.to_image(width=w, height=h)


class _Decode:
    """One pass over the packets: sampled frames (for keyframes) and the audio, every bound checked."""

    def __init__(self, container: Any, limits: VideoLimits, audio: bool, deadline: float):
        self.c, self.limits, self.deadline = container, limits, deadline
        self.video = container.streams.video[0]
        self.audio_stream = container.streams.audio[0] if audio and container.streams.audio else None
        self.samples: list[tuple[float, Image.Image]] = []
        self.audio: list[np.ndarray] = []
        self.audio_len = 0
        self.frames = 0
        self.end = 0.0
        self.resampler: Any = None

    def _check(self, t: float) -> None:
        lim = self.limits
        if time.monotonic() > self.deadline:
            raise VideoError(f"decoding took over {lim.max_decode_s:g} s")
        if t > lim.max_seconds:
            raise VideoError(f"the video runs past {lim.max_seconds:,.0f} s (its header said less)")

    def _video_frame(self, frame: Any) -> None:
        lim = self.limits
        self.frames += 1
        if self.frames > lim.max_frames:
            raise VideoError(f"the video has over {lim.max_frames:,} frames")
        if frame.width * frame.height > lim.max_pixels:
            raise VideoError(f"a frame is {frame.width}x{frame.height} pixels; at most {lim.max_pixels:,}")
        t = float(frame.time) if frame.time is not None else self.end
        self._check(t)
        self.end = max(self.end, t)
        if not self.samples or t - self.samples[-1][0] >= lim.sample_every_s:
            self.samples.append((t, _scaled(frame, lim.frame_side)))

    def _audio_frame(self, frame: Any) -> None:
        if self.resampler is None:
            self.resampler = _av().AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        if frame.time is not None:
            self._check(float(frame.time))
        cap = int(self.limits.max_seconds * AUDIO_RATE)
        for out in self.resampler.resample(frame):
            pcm = out.to_ndarray().reshape(-1)[: cap - self.audio_len]
            self.audio.append(pcm.astype(np.float32, copy=False))
            self.audio_len += len(pcm)

    def run(self) -> None:
        streams = [s for s in (self.video, self.audio_stream) if s is not None]
        for packet in self.c.demux(*streams):
            if time.monotonic() > self.deadline:
                raise VideoError(f"decoding took over {self.limits.max_decode_s:g} s")
            for frame in packet.decode():
                if packet.stream is self.video:
                    self._video_frame(frame)
                else:
                    self._audio_frame(frame)


def select_keyframes(samples: list[tuple[float, Image.Image]], limits: VideoLimits) -> list[Keyframe]:
    """Scene changes first (largest histogram jumps over the threshold), then uniform picks; by time."""
    if not samples:
        return []
    n, cap = len(samples), limits.max_keyframes
    hists = [_histogram(img) for _, img in samples]
    jumps = [0.0] + [0.5 * float(np.abs(a - b).sum()) for a, b in zip(hists, hists[1:])]
    chosen = {0}
    scenes = sorted((i for i in range(1, n) if jumps[i] >= limits.scene_threshold), key=lambda i: -jumps[i])
    chosen.update(scenes[: cap - 1])
    for i in np.linspace(0, n - 1, num=min(cap, n)).round().astype(int).tolist():
        if len(chosen) >= cap:
            break
        chosen.add(i)
    return [Keyframe(samples[i][0], samples[i][1], scene=i in scenes) for i in sorted(chosen)]


def decode_video(src: str | Path | bytes, limits: VideoLimits | None = None, audio: bool = False) -> DecodedVideo:
    """Keyframes (and the audio track, when asked) of a video file or upload, within ``limits``.

    Raises :class:`VideoError` for anything refused, :class:`MissingExtraError` without PyAV."""
    limits = limits or VideoLimits()
    av = _av()
    started = time.monotonic()
    fp = _open_source(src, limits)
    try:
        fmt = sniff_format(fp.read(512))
        fp.seek(0)
        # max_pixels: FFmpeg's probe decodes a first frame; it must not allocate a huge one first.
        with av.open(fp, "r", format=fmt, timeout=limits.max_decode_s,
                     options={"probesize": "5000000", "analyzeduration": "5000000"},
                     stream_options=[{"max_pixels": str(limits.max_pixels)}] * 4) as container:
            if not container.streams.video:
                raise VideoError("the file has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            declared = _check_header(container, stream, limits)
            dec = _Decode(container, limits, audio, started + limits.max_decode_s)
            dec.run()
            w, h = stream.codec_context.width, stream.codec_context.height
    except av.error.FFmpegError as e:
        raise VideoError(f"the video does not decode ({type(e).__name__}: {e.strerror or e})") from None
    finally:
        fp.close()
    if not dec.samples:
        raise VideoError("the video has no frame that decodes")
    # Frames ending well before the declared duration: the file was cut short.
    if declared > 2.0 and dec.end < 0.8 * declared - 1.0:
        raise VideoError(f"the video is truncated: frames end at {dec.end:.1f} s of the {declared:.1f} s declared")
    track = np.concatenate(dec.audio) if dec.audio else None
    return DecodedVideo(max(declared, dec.end), w, h, select_keyframes(dec.samples, limits), track)


__all__ = ["AUDIO_RATE", "DecodedVideo", "Keyframe", "VideoError", "VideoLimits", "decode_video",
           "select_keyframes", "sniff_format"]
