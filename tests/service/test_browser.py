"""The search page in a real browser: tests/e2e/search_page.mjs drives headless Chromium
(playwright-core) against a live server of the demo catalog.

Needs node, Chromium (/usr/bin/chromium or $CHROMIUM) and ``npm ci`` (node_modules/playwright-core);
skipped with the reason otherwise. The screenshots are copied to test-artifacts/search_page.png
(1280 px), test-artifacts/search_page_390.png and test-artifacts/analytics_page.png.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from shoprank.service import create_app

pytestmark = pytest.mark.slow  # a child process

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "e2e" / "search_page.mjs"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
PHOTO_PRODUCT = "demo-backpack-blue"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _requirements_missing() -> str | None:
    if NODE is None:
        return "node is not installed"
    if not Path(CHROMIUM).is_file():
        return f"Chromium not found at {CHROMIUM} (install chromium or set CHROMIUM)"
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        return "node_modules/playwright-core is missing: run `npm ci` in the repository root"
    return None


@pytest.fixture
def isolated_engine(demo_engine, tmp_path):
    """The session's demo engine, serving with its own event log and profiles in ``tmp_path``
    (the browser's clicks must not leak into other tests' shoppers); restored afterwards."""
    from shoprank.personalization.online import Personalizer
    from shoprank.personalization.store.sqlite import SQLiteEventLog, SQLiteProfileStore

    events = SQLiteEventLog(tmp_path / "events.sqlite")
    profiles = SQLiteProfileStore(tmp_path / "events-profiles.sqlite")
    mine = Personalizer(demo_engine.pipeline.extractor.signals, events, profiles,
                        demo_engine.settings.profile_half_life_s)
    previous = demo_engine.attach_personalizer(mine)
    try:
        yield demo_engine
    finally:
        demo_engine.attach_personalizer(previous)
        events.close()
        profiles.close()


@pytest.fixture
def base_url(isolated_engine):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(isolated_engine), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _voice_wav(base_url: str, tmp_path: Path) -> tuple[Path | None, str | None]:
    """A WAV of "red backpack" for Chromium's fake microphone, if the server can transcribe it;
    otherwise (None, why the voice check is skipped)."""
    if shutil.which("espeak-ng") is None:
        return None, "espeak-ng is not installed (apt-get install espeak-ng)"
    if importlib.util.find_spec("shoprank.encoders.speech") is None:
        return None, "the server has no speech recogniser (shoprank.encoders.speech is missing)"
    wav = tmp_path / "red_backpack.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "130", "-w", str(wav), "red backpack"],
                   check=True, capture_output=True, timeout=30)
    try:  # also loads the speech model, so the browser's voice query does not wait for it
        r = httpx.post(f"{base_url}/search", data={"k": "3"},
                       files={"audio": ("probe.wav", wav.read_bytes(), "audio/wav")}, timeout=120)
    except httpx.HTTPError as e:
        return None, f"voice search probe failed: {e!r}"
    if r.status_code != 200 or not (r.json().get("transcript") or {}).get("text"):
        return None, ("voice search unavailable on this server: POST /search with audio -> "
                      f"{r.status_code} {r.text[:200]}")
    return wav, None


def test_search_page_in_chromium(base_url, isolated_engine, tmp_path):
    missing = _requirements_missing()
    if missing:
        pytest.skip(missing)
    photo = Path(isolated_engine.product(PHOTO_PRODUCT).images[0])
    assert photo.is_file(), photo
    out = tmp_path / "e2e"
    wav, why_no_voice = _voice_wav(base_url, tmp_path)
    env = {**os.environ, "CHROMIUM": CHROMIUM}
    if why_no_voice:
        print(f"voice check skipped: {why_no_voice}")
        env["E2E_VOICE_SKIP"] = why_no_voice
    cmd = [NODE, str(SCRIPT), base_url, str(out), str(photo)] + ([str(wav)] if wav else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    print(proc.stdout)
    print(f"browser test took {time.perf_counter() - t0:.1f} s")
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"

    shot = out / "search_page.png"
    assert shot.is_file(), f"no screenshot at {shot}\n{proc.stdout}"
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is not a PNG"
    assert len(png) > 20_000, f"screenshot is only {len(png)} bytes"
    assert (out / "e2e_report.json").is_file()
    analytics = out / "analytics_page.png"
    assert analytics.is_file() and analytics.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "no analytics screenshot"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "search_page.png")
    shutil.copyfile(analytics, ARTIFACTS / "analytics_page.png")
    shutil.copyfile(out / "e2e_report.json", ARTIFACTS / "e2e_report.json")
    phone = out / "search_page_390.png"
    assert phone.is_file() and phone.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "no 390 px screenshot"
    shutil.copyfile(phone, ARTIFACTS / "search_page_390.png")
