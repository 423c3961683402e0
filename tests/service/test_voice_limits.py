"""Voice queries cannot stall text search: transcriptions run on their own small pool with a short
queue, and a clip's seconds count against its client's search rate."""
from __future__ import annotations

import asyncio
import copy
import threading
import time

import httpx
import pytest

from shoprank.encoders.speech import Transcript
from shoprank.service import create_app

CLIP = {"audio": ("q.wav", b"RIFF-not-decoded-by-the-fake", "audio/wav")}


def _engine(fake_engine, transcribe, **settings):
    engine = copy.copy(fake_engine)
    engine.settings = fake_engine.settings.model_copy(update=settings)
    engine.models.transcribe = transcribe  # the copy's own: a 29 s clip's cost without a model
    return engine


def _heard(seconds: float) -> Transcript:
    return Transcript(text="red backpack", language="en", duration_s=seconds, backend="fake", seconds=0.0)


async def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def test_text_search_keeps_its_threads_while_voice_queries_run(fake_engine):
    def slow(_: bytes) -> Transcript:
        time.sleep(0.2)
        return _heard(3.0)

    app = create_app(_engine(fake_engine, slow, search_threads=1, rate_search_per_s=0))

    async def run() -> tuple[float, list[int]]:
        async with await _client(app) as c:
            voice = [asyncio.create_task(c.post("/search", files=CLIP)) for _ in range(3)]
            await asyncio.sleep(0.05)  # the clips hold the speech thread and its queue
            t0 = time.perf_counter()
            r = await c.post("/search", json={"q": "backpack"})
            took = time.perf_counter() - t0
            assert r.status_code == 200
            return took, [v.status_code for v in await asyncio.gather(*voice)]

    took, codes = asyncio.run(run())
    assert codes == [200] * 3
    assert took < 0.15, took  # it waited for no transcription (0.2 s each, queued on one thread)


def test_voice_queue_is_bounded(fake_engine):
    release = threading.Event()

    def blocked(_: bytes) -> Transcript:
        release.wait(5)
        return _heard(1.0)

    app = create_app(_engine(fake_engine, blocked, speech_threads=1, rate_search_per_s=0))

    async def run() -> list[httpx.Response]:
        async with await _client(app) as c:
            voice = [asyncio.create_task(c.post("/search", files=CLIP)) for _ in range(6)]
            # 1 transcribing, 4 waiting: only the sixth, refused, can finish before the release
            # (waiting for it rather than a fixed time keeps the test right on a loaded machine).
            await asyncio.wait(voice, return_when=asyncio.FIRST_COMPLETED, timeout=10)
            release.set()
            return list(await asyncio.gather(*voice))

    answers = asyncio.run(run())
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 5 + [503], codes
    busy = next(r for r in answers if r.status_code == 503)
    assert "busy" in busy.json()["detail"] and busy.headers["Retry-After"]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}], ids=["no-key", "empty-key"])
@pytest.mark.parametrize("seconds,refused", [(29.0, True), (1.0, False)])
def test_seconds_of_audio_count_against_the_search_rate(fake_engine, seconds, refused, headers):
    app = create_app(_engine(fake_engine, lambda _: _heard(seconds), rate_search_per_s=5.0))

    async def run() -> tuple[int, int]:
        async with await _client(app) as c:
            # An empty key is no key: the audio is charged where the search was counted.
            voice = await c.post("/search", files=CLIP, headers=headers)
            text = await c.post("/search", json={"q": "backpack"}, headers=headers)
            return voice.status_code, text.status_code

    voice, text = asyncio.run(run())
    assert voice == 200
    assert text == (429 if refused else 200)  # 29 s of audio is 29 searches: the 10-search burst is spent
