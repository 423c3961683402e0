"""`import shoprank` and its light modules load only what they need: not the engine, its index
backends or models (the cost itself is measured in benchmarks/import_cost.py)."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # fresh interpreters

_HEAVY = ("numpy", "torch", "tantivy", "faiss", "onnxruntime", "lightgbm", "shoprank.engine", "shoprank.index")


def _loaded(stmt: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys; {stmt}; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("stmt", ["import shoprank", "import shoprank.modalities"])
def test_light_imports_load_nothing_heavy(stmt):
    loaded = _loaded(stmt)
    assert not [m for m in loaded if m.split(".")[0] in _HEAVY or m.startswith(_HEAVY)]
    assert len([m for m in loaded if m.startswith("shoprank")]) <= 2


def test_the_public_names_load_on_first_use():
    loaded = _loaded("import shoprank; shoprank.ShopRank; shoprank.Query")
    assert {"shoprank.engine", "shoprank.types"} <= loaded
