"""Exported models live in one per-user cache, shared by every SHOPRANK_HOME."""
from __future__ import annotations

import sys
import warnings

import pytest

from shoprank import factory
from shoprank.config import Settings, get_settings
from shoprank.encoders.onnx_runtime import _in_child, build_once, model_path, quiet_export
from shoprank.registry import MissingExtraError


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_two_homes_share_one_export(tmp_path, monkeypatch, fresh_settings):
    monkeypatch.delenv("SHOPRANK_USER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    built, paths = [], []

    def export(out):
        built.append(out)
        out.write_bytes(b"onnx")

    for home in ("shop-a", "shop-b"):
        monkeypatch.setenv("SHOPRANK_HOME", str(tmp_path / home))
        get_settings.cache_clear()
        s = get_settings()
        assert s.models_dir == tmp_path / "xdg" / "shoprank" / "models"
        assert factory._runtime_options(s)["home"] == s.models_dir  # what every encoder is built with
        paths.append(build_once(model_path(None, "m", "onnx-fp32"), export))
    assert len(built) == 1 and paths[0] == paths[1] and paths[0].read_bytes() == b"onnx"
    assert not (tmp_path / "shop-a" / "models").exists()


def test_the_cache_folder_is_a_setting_defaulting_to_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPRANK_USER_CACHE_DIR", str(tmp_path / "c"))
    assert Settings().models_dir == tmp_path / "c" / "models"
    monkeypatch.delenv("SHOPRANK_USER_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings().models_dir == tmp_path / ".cache" / "shoprank" / "models"


def test_exporting_without_torch_names_the_extra_and_makes_nothing(tmp_path, monkeypatch, caplog):
    from shoprank.encoders.image import efficientnet

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises, as on a core install
    with pytest.raises(MissingExtraError, match=r"pip install 'shoprank\[image\]'"):
        efficientnet(home=tmp_path / "models")
    assert not (tmp_path / "models").exists() and "exporting" not in caplog.text


def test_exports_hide_the_exporters_constant_folding_warnings():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_export():
            warnings.warn("Constant folding - Only steps=1 can be constant folded", UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else"]


@pytest.mark.slow  # exports EfficientNet (torch) in a child process of a child process
def test_an_export_leaves_torch_out_of_the_process_that_serves(tmp_path):
    import subprocess

    pytest.importorskip("torch", reason="pip install 'shoprank[image]'")
    code = ("import sys; from pathlib import Path; from shoprank.encoders.image import efficientnet\n"
            f"enc = efficientnet(home=Path({str(tmp_path)!r}))\n"
            "from PIL import Image; assert enc.encode([Image.new('RGB', (64, 64))])[0].shape[0] == 1\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines()[-1] == "False"  # the library prints a line of its own first
    assert len(list(tmp_path.glob("efficientnet-lite0-*/model.onnx"))) == 1


def test_a_failed_build_leaves_no_temporary_file_and_a_retry_builds(tmp_path):
    path = tmp_path / "m" / "model.onnx"

    def broken(out):
        out.write_bytes(b"half a model")
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        build_once(path, broken)
    assert sorted(p.name for p in path.parent.iterdir()) == [".lock"]  # no model.tmp.onnx left
    assert build_once(path, lambda out: out.write_bytes(b"onnx")).read_bytes() == b"onnx"


def _hang(out):
    import time

    time.sleep(120)


@pytest.mark.slow  # starts a spawned interpreter
def test_a_hung_export_is_stopped_after_its_timeout(tmp_path):
    import time

    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match="took over 2 s"):
        _in_child(_hang, tmp_path / "m" / "model.tmp.onnx", timeout=2)
    assert time.perf_counter() - t0 < 60  # the child was terminated, not waited for


def test_an_upgraded_home_serves_its_old_models_folder(tmp_path, monkeypatch):
    old = tmp_path / "home" / "models" / "m-onnx-fp32-ort1" / "model.onnx"  # where exports were before
    old.parent.mkdir(parents=True)
    old.write_bytes(b"onnx")
    monkeypatch.setenv("SHOPRANK_USER_CACHE_DIR", str(tmp_path / "home"))  # as the README says
    assert Settings().models_dir == tmp_path / "home" / "models"
    assert build_once(Settings().models_dir / "m-onnx-fp32-ort1" / "model.onnx", pytest.fail) == old
