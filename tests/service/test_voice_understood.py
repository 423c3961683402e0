"""A voice query the recognizer is unsure of is answered "didn't catch that", not searched."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shoprank.encoders.speech import SpeechRecognizer, Transcript
from shoprank.engine import ShopRank
from shoprank.lazy import Lazy
from shoprank.service import create_app


class HeardRecognizer(SpeechRecognizer):
    """Answers every clip with one transcript, as Whisper tiny.en answered a Mandarin 红色背包."""

    name = "whisper"

    def __init__(self, text: str, avg_logprob: float, no_speech_prob: float = 0.1) -> None:
        self.t = Transcript(text, "en", 1.2, self.name, 0.05, avg_logprob, no_speech_prob)

    def transcribe(self, data: bytes) -> Transcript:
        return self.t

    def transcribe_array(self, samples):  # pragma: no cover - transcribe is overridden
        return self.t


def _client(fake_engine: ShopRank, rec: SpeechRecognizer) -> TestClient:
    engine = ShopRank(fake_engine.artifacts, fake_engine.settings.model_copy(update={"log_impressions": False}),
                      fake_engine.text_encoder, fake_engine.image_encoder)
    engine.models._speech = Lazy(lambda: rec)
    return TestClient(create_app(engine))


def test_unsure_transcript_is_not_searched(fake_engine):
    with _client(fake_engine, HeardRecognizer("Then do F4, A4, A1", avg_logprob=-1.3)) as c:
        r = c.post("/search", files={"audio": ("q.webm", b"\x1a\x45\xdf\xa3 clip", "audio/webm")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transcript"]["understood"] is False and "unsure" in body["transcript"]["reason"]
    assert body["transcript"]["text"] == "Then do F4, A4, A1" and body["query"] is None and body["results"] == []


@pytest.mark.parametrize("extra", [{"category": "Bags"}])
def test_unsure_transcript_with_a_category_browses_it_without_the_words(fake_engine, extra):
    with _client(fake_engine, HeardRecognizer("Then do F4", avg_logprob=-1.3)) as c:
        body = c.post("/search", data={**extra, "k": "3"}, files={"audio": ("q.webm", b"clip", "audio/webm")}).json()
    assert body["transcript"]["understood"] is False and body["query"] is None
    assert body["results"] and all(x["category"].startswith("Bags") for x in body["results"])


def test_confident_transcript_is_searched(fake_engine):
    with _client(fake_engine, HeardRecognizer("red backpack", avg_logprob=-0.5)) as c:
        body = c.post("/search", files={"audio": ("q.webm", b"clip", "audio/webm")}).json()
    assert body["transcript"]["understood"] is True and body["transcript"]["reason"] is None
    assert body["query"] == "red backpack" and body["results"][0]["id"] == "demo-backpack-red"
