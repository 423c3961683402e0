"""Bounded video decoding: keyframes with their times, the audio track, and every hostile file a
VideoError within a bounded time (clips made here with PyAV, a few KB each)."""
from __future__ import annotations

import io
import random
import struct
import time
from fractions import Fraction

import numpy as np
import pytest

av = pytest.importorskip("av", reason="pip install 'shoprank[video]'")

from shoprank.config import Settings  # noqa: E402
from shoprank.encoders.video_decode import (  # noqa: E402
    AUDIO_RATE,
    VideoError,
    VideoLimits,
    decode_video,
    select_keyframes,
    sniff_format,
)
from video_clips import make_clip  # noqa: E402

QUICK = 2.0  # seconds: any refusal comes well within this


@pytest.fixture(scope="module")
def rgb() -> bytes:
    return make_clip([("red", 1), ("green", 1), ("blue", 1)], audio_hz=440)


def refused(data: bytes, limits: VideoLimits | None = None) -> str:
    start = time.monotonic()
    with pytest.raises(VideoError) as e:
        decode_video(data, limits)
    assert time.monotonic() - start < QUICK
    return str(e.value)


def test_scene_changes_are_keyframes_with_their_times(rgb):
    v = decode_video(rgb)
    assert (v.width, v.height) == (64, 48) and v.duration == pytest.approx(3.0, abs=0.2)
    scenes = [k.t for k in v.keyframes if k.scene]
    assert scenes == pytest.approx([1.0, 2.0])
    first = {round(k.t): k.image.getpixel((5, 5)) for k in v.keyframes}
    assert first[0][0] > 200 and first[1][1] > 180 and first[2][2] > 200  # red, green, blue


def test_the_audio_track_is_16khz_mono_float32(rgb):
    v = decode_video(rgb, audio=True)
    assert v.audio is not None and v.audio.dtype == np.float32 and v.audio.ndim == 1
    assert len(v.audio) == pytest.approx(3 * AUDIO_RATE, rel=0.05)
    assert 0.2 < float(np.abs(v.audio).max()) < 0.4  # the 0.3 sine
    assert decode_video(rgb).audio is None  # only when asked


def test_keyframes_are_at_most_the_bound_scenes_first(rgb):
    v = decode_video(rgb, VideoLimits(max_keyframes=3))
    assert [round(k.t, 1) for k in v.keyframes] == [0.0, 1.0, 2.0]


def test_uniform_picks_fill_a_clip_without_scene_changes():
    img = __import__("PIL.Image", fromlist=["Image"]).new("RGB", (8, 8), (9, 9, 9))
    picked = select_keyframes([(t / 2, img) for t in range(20)], VideoLimits(max_keyframes=4))
    assert [k.t for k in picked] == [0.0, 3.0, 6.5, 9.5] and not any(k.scene for k in picked)


@pytest.mark.parametrize("head, fmt", [(b"\0\0\0\x18ftypisom", "mov"), (b"\x1a\x45\xdf\xa3" + b"\0" * 8, "matroska"),
                                       (b"RIFF\0\0\0\0AVI LIST", "avi")])
def test_containers_are_sniffed_never_probed(head, fmt):
    assert sniff_format(head) == fmt


def test_an_empty_file_is_refused():
    assert "empty" in refused(b"")


def test_a_non_video_renamed_mp4_is_refused(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\nfile:///etc/passwd\n")  # a playlist: never opened
    with pytest.raises(VideoError, match="not a video"):
        decode_video(fake)
    assert "not a video" in refused(b"\x89PNG\r\n\x1a\n" + bytes(100))


def test_a_truncated_file_is_refused(rgb):
    assert "does not decode" in refused(rgb[: len(rgb) // 2])


def test_a_corrupt_mp4_is_refused(rgb):
    rng = random.Random(0)
    body = bytes(rng.randrange(256) for _ in range(len(rgb) - 40))
    assert refused(rgb[:40] + body)  # a valid ftyp, garbage after


def test_a_ten_hour_header_is_refused_before_decoding():
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt, v.options = 64, 48, "yuv420p", {"preset": "ultrafast"}
        for pts in (0, 1, 10 * 3600 * 10):  # the last frame ten hours in
            f = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            f.pts, f.time_base = pts, Fraction(1, 10)
            out.mux(v.encode(f))
        out.mux(v.encode())
    assert "36,000 s" in refused(buf.getvalue())


def test_bounds_are_checked_while_decoding_too(rgb):
    assert "over 5 frames" in refused(rgb, VideoLimits(max_frames=5))
    assert "lasts 2 s" in refused(make_clip([("red", 2)], fps=5), VideoLimits(max_seconds=1.0))  # header
    assert "took over" in refused(rgb, VideoLimits(max_decode_s=1e-9))


def test_bytes_and_pixels_are_bounded_from_the_header(rgb):
    assert "bytes" in refused(rgb, VideoLimits(max_bytes=1024))
    assert "64x48 pixels" in refused(rgb, VideoLimits(max_pixels=64 * 48 - 1))


def test_limits_come_from_settings():
    lim = VideoLimits.from_settings(Settings(video_max_seconds=12, video_max_keyframes=4))
    assert (lim.max_seconds, lim.max_keyframes) == (12, 4)


@pytest.mark.slow
def test_a_huge_resolution_in_a_small_file_is_refused():
    big = make_clip([("black", 0.2)], size=(8192, 4608))  # ~100 KB declaring 37.7 megapixels a frame
    assert len(big) < 200_000
    assert "8192x4608 pixels" in refused(big)


@pytest.mark.slow
def test_a_stream_running_past_its_bound_is_stopped_while_decoding():
    """MPEG-TS declares no duration: the frame ten hours in is caught as it decodes."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt, v.options = 64, 48, "yuv420p", {"preset": "ultrafast"}
        for pts in (0, 1, 360_000):
            f = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            f.pts, f.time_base = pts, Fraction(1, 10)
            out.mux(v.encode(f))
        out.mux(v.encode())
    assert "runs past" in refused(buf.getvalue())


def test_a_frame_size_lie_in_the_sample_entry_changes_nothing(rgb):
    """The MP4 sample entry says 60000x60000; the decoder reads the stream's own header."""
    i = rgb.find(b"avc1", rgb.find(b"stsd"))
    lied = rgb[:i + 28] + struct.pack(">HH", 60000, 60000) + rgb[i + 32:]
    assert (decode_video(lied).width, decode_video(lied).height) == (64, 48)
