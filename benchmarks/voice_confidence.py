"""Where to cut Whisper's confidence so a voice query it did not understand is not searched.

    python benchmarks/voice_confidence.py

Synthesizes shopper queries with espeak-ng: 30 English (en-us), the first 15 again in a second
English voice (en-gb+f3), and 20 Mandarin (cmn), which the English-only tiny.en model cannot
understand. Each is transcribed as the service does (``WhisperRecognizer``) and its confidence
read: the mean token log-probability and the no-speech probability of its segments (the
least confident segment counts). The table shows, for each log-probability cut, the share of
English clips kept, of English clips transcribed right kept, and of Mandarin clips rejected.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save, table
from shoprank.encoders.speech import WhisperRecognizer

EN = ["red backpack", "women's yoga pants", "men's hoodie", "sports watch", "water bottle", "running shorts",
      "black jacket", "yoga mat", "gym bag", "blue tee shirt", "dumbbells", "hiking backpack", "rain jacket",
      "white tank top", "fitness tracker", "foam roller", "green shorts under fifty dollars", "sweatshirt",
      "duffle bag", "compression leggings", "grey hoodie", "messenger bag", "kettlebell", "laptop bag",
      "women's running jacket", "orange windbreaker", "sports bra", "men's pants", "stainless steel watch", "tote bag"]
ZH = ["背包", "女士瑜伽裤", "男士连帽衫", "运动手表", "红色夹克", "瑜伽垫", "短裤 五十元以下", "健身包",
      "红色背包", "蓝色T恤",
      "水杯", "跑步短裤", "黑色外套", "哑铃", "灰色卫衣", "运动内衣", "旅行包", "白色背心", "防雨夹克", "男士长裤"]
CLIPS = [("en", "en-us", q) for q in EN] + [("en", "en-gb+f3", q) for q in EN[:15]] + [("zh", "cmn", q) for q in ZH]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower().replace("-", " ").replace("t shirt", "tee shirt"))


def main() -> None:
    if shutil.which("espeak-ng") is None:
        sys.exit("needs espeak-ng (apt-get install espeak-ng)")
    rec = WhisperRecognizer()
    clips = []
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "q.wav"
        for lang, voice, q in CLIPS:
            subprocess.run(["espeak-ng", "-v", voice, q, "-w", str(wav)], check=True)
            t = rec.transcribe(wav.read_bytes())
            clips.append({"lang": lang, "voice": voice, "query": q, "text": t.text, "avg_logprob": t.avg_logprob,
                          "no_speech_prob": t.no_speech_prob, "right": lang == "en" and _norm(t.text) == _norm(q)})
    en = [c for c in clips if c["lang"] == "en"]
    zh = [c for c in clips if c["lang"] == "zh"]
    right = [c for c in en if c["right"]]
    rows = []
    for cut in (-0.6, -0.7, -0.8, -0.9, -1.0, -1.1, -1.2, -1.3, -1.5):
        def kept(cs: list[dict], cut: float = cut) -> int:
            return sum(c["avg_logprob"] is not None and c["avg_logprob"] >= cut for c in cs)
        rows.append({"min_avg_logprob": cut, "en_kept": f"{kept(en)}/{len(en)}",
                     "en_right_kept": f"{kept(right)}/{len(right)}",
                     "en_wrong_rejected": f"{len(en) - len(right) - (kept(en) - kept(right))}/{len(en) - len(right)}",
                     "zh_rejected": f"{len(zh) - kept(zh)}/{len(zh)}"})
    print(table(clips, ["lang", "voice", "query", "text", "avg_logprob", "no_speech_prob", "right"]))
    print(table(rows, list(rows[0])))
    print("results:", save("voice_confidence", {"clips": clips, "cuts": rows}))


if __name__ == "__main__":
    main()
