"""Memory per request is bounded: photo uploads at once (decompression bombs, and the largest photos
the server decodes) keep a real server's peak RSS within a documented bound."""
from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from test_hardening import png_header_bomb

from server_process import start_server, stop_server

pytestmark = pytest.mark.slow  # a child process

# Documented in README ("Limits"): peak RSS growth while serving 4 photo uploads at once.
RSS_BOUND_MB = 300


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            name, value = line.split(":")
            out[name] = int(value.split()[0]) // 1024  # MiB
    return out


def _reset_peak(pid: int) -> bool:
    try:  # Linux: "5" resets the peak RSS (VmHWM) to the current RSS
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _largest_decodable_png(pixels: int) -> bytes:
    """A photo just under the pixel bound, compressible enough to fit the upload limit."""
    side = int(pixels ** 0.5) - 1
    ramp = np.linspace(0, 255, side, dtype=np.uint8)
    rgb = np.stack([np.tile(ramp, (side, 1)), np.tile(ramp[:, None], (1, side)),
                    np.full((side, side), 90, np.uint8)], axis=-1)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def _at_once(url: str, uploads: list[bytes]) -> list[int]:
    codes: list[int] = [0] * len(uploads)

    def one(i: int) -> None:
        r = httpx.post(url + "/search", files={"image": (f"p{i}.png", uploads[i], "image/png")},
                       data={"k": "3"}, timeout=120)
        codes[i] = r.status_code

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(uploads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc to read RSS")
def test_four_concurrent_bomb_and_max_size_uploads_stay_under_the_bound(fake_engine, fake_settings, tmp_path):
    env = {"SHOPRANK_HOME": str(fake_settings.home), "SHOPRANK_TEXT_ENCODER": "hashing",
           "SHOPRANK_IMAGE_ENCODER": "palette", "SHOPRANK_PROFILE_STORE": "memory",
           "SHOPRANK_EVENTS_DB": str(tmp_path / "events.sqlite"), "SHOPRANK_RATE_SEARCH_PER_S": "0"}
    url, proc = start_server("demo", env, tmp_path / "server.log")
    try:
        photo = open(fake_engine.artifacts.catalog.get("demo-coffee-mug-blue").images[0], "rb").read()
        assert _at_once(url, [photo] * 2) == [200, 200]  # warm: encoders loaded, threads started
        base = _status(proc.pid)["VmRSS"]
        if not _reset_peak(proc.pid):
            pytest.skip("cannot reset the peak RSS of the child (/proc/<pid>/clear_refs)")

        bomb = png_header_bomb(12_000, 12_000)
        for _ in range(3):
            assert _at_once(url, [bomb] * 4) == [413] * 4
        after_bombs = _status(proc.pid)

        big = _largest_decodable_png(fake_settings.max_image_pixels)
        assert len(big) < fake_settings.max_upload_bytes
        _reset_peak(proc.pid)
        assert _at_once(url, [big] * 4) == [200] * 4
        after_big = _status(proc.pid)
    finally:
        stop_server(proc)

    growth_bombs = after_bombs["VmHWM"] - base
    growth_big = after_big["VmHWM"] - base
    print(f"\nRSS base {base} MiB; peak growth: 4x12000x12000 PNG bombs {growth_bombs} MiB, "
          f"4x{int(fake_settings.max_image_pixels ** 0.5) - 1}^2 PNGs {growth_big} MiB (bound {RSS_BOUND_MB})")
    if os.environ.get("SHOPRANK_MEMORY_REPORT"):
        Path(os.environ["SHOPRANK_MEMORY_REPORT"]).write_text(
            f"base_mib={base}\nbomb_peak_growth_mib={growth_bombs}\nbig_peak_growth_mib={growth_big}\n")
    assert growth_bombs < 50, "a refused bomb must not be decoded"
    assert growth_big < RSS_BOUND_MB
