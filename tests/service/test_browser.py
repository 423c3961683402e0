"""The search page in a real browser: tests/e2e/search_page.mjs drives headless Chromium
(playwright-core) against a live server of the demo catalog.

Needs node, Chromium (/usr/bin/chromium or $CHROMIUM) and ``npm ci`` (node_modules/playwright-core);
skipped with the reason otherwise. A second server of the same engine has an admin key: the page's
admin panel edits synonyms and rules there, and the searches on either server read them. The screenshots are
copied to test-artifacts/: search_page.png (1280 px), search_page_390.png, analytics_page.png,
did_you_mean.png (a corrected query, its rewrites in "why this result"), admin_panel.png (the
admin panel previewing a pin rule) and admin_panel_390.png.
"""
from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from shoprank import factory
from shoprank.service import create_app

pytestmark = pytest.mark.slow  # a child process

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "e2e" / "search_page.mjs"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node")
PHOTO_PRODUCT = "demo-backpack-blue"
ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
# What the admin checks create (and delete again); removed after a failed run too.
E2E_SYNONYM_SETS = ("e2e-rucksack", "e2e-bad", "knapsack-backpack")
E2E_RULES = ("e2e-pin",)
SCREENSHOTS = ("search_page.png", "search_page_390.png", "analytics_page.png", "did_you_mean.png", "admin_panel.png",
               "admin_panel_390.png")


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


def _keyed(engine):
    """The engine with an admin key (and search open), for the page's admin panel."""
    keyed = copy.copy(engine)
    keyed.settings = engine.settings.model_copy(update={"admin_key": SecretStr(ADMIN_KEY)})
    return keyed


def _forget_admin_edits(engine) -> None:
    """The session's demo engine serves other tests: what the admin checks left is deleted."""
    for sid in E2E_SYNONYM_SETS:
        engine.synonyms.delete(sid)
    store = factory.rule_store(engine.settings)
    try:
        for rid in E2E_RULES:
            store.delete(rid)
    finally:
        store.close()


@contextlib.contextmanager
def _serve(engine) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning"))
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


@pytest.fixture
def base_url(isolated_engine):
    """An open server (dev, no keys): the shopper's page with profiles and analytics."""
    with _serve(isolated_engine) as url:
        yield url


@pytest.fixture
def admin_url(isolated_engine):
    """A server of the same engine with an admin key: the admin panel's edits reach both."""
    try:
        with _serve(_keyed(isolated_engine)) as url:
            yield url
    finally:
        _forget_admin_edits(isolated_engine)


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


def test_search_page_in_chromium(base_url, admin_url, isolated_engine, tmp_path):
    missing = _requirements_missing()
    if missing:
        pytest.skip(missing)
    photo = Path(isolated_engine.product(PHOTO_PRODUCT).images[0])
    assert photo.is_file(), photo
    out = tmp_path / "e2e"
    wav, why_no_voice = _voice_wav(base_url, tmp_path)
    env = {**os.environ, "CHROMIUM": CHROMIUM, "E2E_ADMIN_URL": admin_url, "E2E_ADMIN_KEY": ADMIN_KEY}
    if why_no_voice:
        print(f"voice check skipped: {why_no_voice}")
        env["E2E_VOICE_SKIP"] = why_no_voice
    cmd = [NODE, str(SCRIPT), base_url, str(out), str(photo)] + ([str(wav)] if wav else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    print(proc.stdout)
    print(f"browser test took {time.perf_counter() - t0:.1f} s")
    assert proc.returncode == 0, f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"

    for name in SCREENSHOTS:
        png = (out / name).read_bytes() if (out / name).is_file() else b""
        assert png[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot {name}\n{proc.stdout}"
        assert len(png) > 20_000, f"screenshot {name} is only {len(png)} bytes"
    report = json.loads((out / "e2e_report.json").read_text())
    assert not [s for s in report["skipped"] if s["name"] == "admin panel"], "the admin checks were skipped"
    ARTIFACTS.mkdir(exist_ok=True)
    for name in (*SCREENSHOTS, "e2e_report.json"):
        shutil.copyfile(out / name, ARTIFACTS / name)
