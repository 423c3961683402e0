"""Chinese voice queries over Luma: does a spoken "红色背包" find what the typed one finds?

    SHOPRANK_BENCH_HOME=/work/benchhome python benchmarks/voice_zh.py [--queries 100] [--english 30]

Chinese queries are pinyin_queries.py's: every multi-character product-type word of the query
vocabulary alone, then seeded colour + type and gender + type pairs. Each is spoken by espeak-ng
in Mandarin from its pinyin with tone numbers (``-v cmn-latn-pinyin``; ``-v cmn`` reading the
characters is tried on a few, see below) and transcribed by:

* ``tiny.en``: today's ``whisper`` backend (English only), on the first ``--hanzi`` clips;
* ``auto en+zh``: ``whisper-multilingual`` as configured by default, language detected among
  English and Chinese (tiny.en for English, a second decode when unsure), on every clip;
* ``base zh``: the same with Chinese as the only language (detection skipped), on the first
  ``--zh-only`` clips (the machine has two shared cores: the run must stay under 10 minutes).

Scores: character error rate against the typed query, and hit@5: the typed query's top Luma
product among the top 5 of the transcript's search (default settings, every default rewriter).
English: the shopper queries of voice_confidence.py in the test voice (en-us+f2, 140 wpm) with
word error rate and hit@5, before (tiny.en) and after (auto; and base without tiny.en). Latency:
median of 3 runs of a ~3-4 s clip.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pypinyin import Style, lazy_pinyin

sys.path.insert(0, str(Path(__file__).parent))
from common import save, table
from pinyin_queries import chinese_queries
from shoprank.encoders.speech import SpeechRecognizer, WhisperRecognizer
from shoprank.encoders.speech_whisper import build_multilingual
from shoprank.types import Query
from signals_common import luma_engine
from voice_confidence import EN

LIMIT_S, LIMIT_BYTES = 30.0, 10 * 2**20
ZH_VOICE, ZH_HANZI_VOICE, EN_VOICE, EN_WPM = "cmn-latn-pinyin", "cmn", "en-us+f2", "140"


def speak(voice: str, text: str, wpm: str | None = None) -> bytes:
    rate = ["-s", wpm] if wpm else []
    return subprocess.run(["espeak-ng", "-v", voice, *rate, "--stdout", text],
                          capture_output=True, check=True, timeout=30).stdout


def pinyin(words: list[str]) -> str:
    """Tone-numbered syllables, words separated by commas (a short pause)."""
    return ", ".join(" ".join(lazy_pinyin(w, style=Style.TONE3, neutral_tone_with_five=True)) for w in words)


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def chars(text: str) -> list[str]:
    return list(re.sub(r"[^\w]", "", text.lower()))


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower().replace("-", " ").replace("t shirt", "tee shirt")).split()


def recognizers() -> dict[str, SpeechRecognizer]:
    recs: dict[str, SpeechRecognizer] = {
        "tiny.en": WhisperRecognizer(),
        "auto en+zh": build_multilingual(LIMIT_S, LIMIT_BYTES, ("en", "zh")),
        "base zh": build_multilingual(LIMIT_S, LIMIT_BYTES, ("zh",)),
        "base en+zh (no tiny.en)": build_multilingual(LIMIT_S, LIMIT_BYTES, ("en", "zh"), english="base"),
    }
    for rec in recs.values():
        rec.load()
    return recs


def score(engine, recs: dict[str, SpeechRecognizer], clips: list[dict], names: list[str], lang: str) -> list[dict]:
    """Transcribe each clip with each named recognizer (once: a clip remembers what each heard);
    one summary row per recognizer."""
    measure = chars if lang == "zh" else words
    rows = []
    for name in names:
        errs = total = hits = 0
        secs = []
        for c in clips:
            if name not in c.setdefault("heard", {}):
                t = recs[name].transcribe(c["audio"])
                got = [h.product.id for h in engine.search(Query(text=t.text, k=5)).hits] if t.text else []
                c["heard"][name] = [t.text, t.language, round(t.seconds, 3), c["target"] in got,
                                    None if t.avg_logprob is None else round(t.avg_logprob, 2)]
            text, _, seconds, hit, _ = c["heard"][name]
            errs += edit_distance(measure(c["query"]), measure(text))
            total += len(measure(c["query"]))
            hits += hit
            secs.append(seconds)
        rows.append({"set": c["set"], "recognizer": name, "clips": len(clips),
                     "CER" if lang == "zh" else "WER": round(errs / max(total, 1), 3),
                     "hit@5": round(hits / len(clips), 3), "p50_s": round(statistics.median(secs), 2)})
        print(table(rows[-1:], list(rows[-1])), flush=True)
    return rows


def targeted(engine, queries: list[tuple[str, str, bytes]], set_name: str) -> list[dict]:
    """Clips whose typed query finds something, with its top product as the target."""
    clips = []
    for query, spoken, audio in queries:
        hits = engine.search(Query(text=query, k=1)).hits
        if hits:
            clips.append({"set": set_name, "query": query, "spoken": spoken, "audio": audio,
                          "target": hits[0].product.id})
    return clips


def latency(recs: dict[str, SpeechRecognizer]) -> list[dict]:
    zh = speak(ZH_VOICE, pinyin(["女士", "黑色", "瑜伽裤", "白色", "运动鞋"]))
    en = speak(EN_VOICE, "women's black yoga pants and white running shoes", EN_WPM)
    rows = []
    for name, clip_name, audio in [("tiny.en", "en", en), ("auto en+zh", "en", en), ("auto en+zh", "zh", zh),
                                   ("base zh", "zh", zh)]:
        secs = []
        for _ in range(3):
            t0 = time.perf_counter()
            t = recs[name].transcribe(audio)
            secs.append(time.perf_counter() - t0)
        rows.append({"recognizer": name, "clip": clip_name, "clip_s": round(t.duration_s, 2),
                     "p50_s": round(statistics.median(secs), 2), "text": t.text})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--hanzi", type=int, default=15, help="clips also spoken from characters, and by tiny.en")
    ap.add_argument("--english", type=int, default=20)
    ap.add_argument("--zh-only", type=int, default=30, help="clips also transcribed with Chinese as the only language")
    ap.add_argument("--base-en", type=int, default=10, help="English clips also transcribed by base")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=1, help="keep every n-th Chinese query (a quick look)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    engine = luma_engine()
    recs = recognizers()
    zh_words = chinese_queries(args.queries, args.seed)[:: args.every]
    zh = targeted(engine, [("".join(w), pinyin(w), speak(ZH_VOICE, pinyin(w))) for w in zh_words], "zh pinyin voice")
    hanzi = targeted(engine, [(("".join(w)),) * 2 + (speak(ZH_HANZI_VOICE, "".join(w)),)
                              for w in zh_words[: args.hanzi]], "zh hanzi voice")
    en = targeted(engine, [(q, q, speak(EN_VOICE, q, EN_WPM)) for q in EN[: args.english]], "en")
    rows = (score(engine, recs, zh, ["auto en+zh"], "zh")
            + score(engine, recs, zh[: args.zh_only], ["base zh", "auto en+zh"], "zh")
            + score(engine, recs, zh[: args.hanzi], ["tiny.en"], "zh")
            + score(engine, recs, hanzi, ["base zh"], "zh")
            + score(engine, recs, en, ["tiny.en", "auto en+zh"], "en")
            + score(engine, recs, en[: args.base_en], ["base en+zh (no tiny.en)", "tiny.en"], "en"))
    lat = latency(recs)
    print(table(rows, ["set", "recognizer", "clips", "CER", "WER", "hit@5", "p50_s"]))
    print(table(lat, list(lat[0])))
    for c in zh[:25]:
        print(c["query"], c["heard"])
    clips = [{k: v for k, v in c.items() if k != "audio"} for c in zh + hanzi + en]
    print(f"total {time.perf_counter() - t_start:.0f} s")
    print("results:", save("voice_zh", {"rows": rows, "latency": lat, "clips": clips}))


if __name__ == "__main__":
    main()
