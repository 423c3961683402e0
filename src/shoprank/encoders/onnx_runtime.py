"""Encoders on onnxruntime: models exported once on this machine, int8 or fp32, threads set on purpose.

An exported model is cached under ``<home>/models/<key>/model.onnx``, the key naming the
model, the runtime and the onnxruntime version, and is built atomically (a temporary file
renamed into place, under a lock file), so concurrent processes never read half a model.

Two sessions share one model file: one with ``threads`` intra-op threads encodes batches
(indexing), one with a single thread encodes queries, so that concurrent requests each
use a core instead of all of them fighting over every core.
"""
from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.encoders.base import TextEncoder, l2_normalize

log = logging.getLogger(__name__)

RUNTIMES: tuple[str, ...] = ("onnx-int8", "onnx-fp32", "reference")
ONNX_HINT = "pip install 'shoprank[minilm]' (onnxruntime)"
DEFAULT_MODELS = Path("var") / "models"  # Settings.models_dir with the default home


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown encoder runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError(f"ONNX encoders need: {ONNX_HINT}") from e
    return onnxruntime


def model_path(home: Path, model: str, runtime: str) -> Path:
    """Where ``model`` exported for ``runtime`` lives."""
    return home / f"{model}-{runtime}-ort{_ort().__version__}" / "model.onnx"


def build_once(path: Path, build: Callable[[Path], None]) -> Path:
    """``path``, calling ``build(tmp)`` first if it does not exist; safe across processes."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            tmp = path.with_suffix(".tmp.onnx")
            log.info("exporting %s (once per machine)", path.parent.name)
            build(tmp)
            tmp.replace(path)
    return path


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantization of the MatMul weights, one scale per output channel.

    Per-channel scales keep MiniLM's embeddings at cosine 0.994 to fp32 (per-tensor: 0.96)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                     per_channel=True)


def session(path: Path, threads: int) -> Any:
    """An inference session with ``threads`` intra-op threads."""
    ort = _ort()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


Tokenize = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]  # texts -> (ids, attention mask), int64


class OnnxTextEncoder(TextEncoder):
    """A BERT-style encoder graph (ids, mask[, token types] -> token states), mean-pooled.

    Texts are encoded in batches of similar length (less padding); queries run on the
    single-threaded session."""

    def __init__(self, name: str, path: Path, tokenize: Tokenize, dim: int, threads: int | None = None,
                 query_prefix: str = "", passage_prefix: str = "", batch_size: int = 32) -> None:
        self.name, self.dim = name, dim
        self._tokenize = tokenize
        self._batch = session(path, threads or default_threads())
        self._query = session(path, 1)
        self._inputs = {i.name for i in self._batch.get_inputs()}
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.batch_size = batch_size

    def _run(self, sess: Any, texts: Sequence[str]) -> np.ndarray:
        ids, mask = self._tokenize(texts)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        states = sess.run(None, feeds)[0]
        m = mask[..., None].astype(np.float32)
        return l2_normalize((states * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0))

    def _encode(self, texts: Sequence[str], prefix: str, sess: Any) -> np.ndarray:
        texts = [prefix + t for t in texts]
        out = np.zeros((len(texts), self.dim), np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for s in range(0, len(texts), self.batch_size):
            idx = order[s:s + self.batch_size]
            out[idx] = self._run(sess, [texts[i] for i in idx])
        return out

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix, self._batch)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix, self._query if len(texts) == 1 else self._batch)


def hf_tokenizer(tokenizer_json: Path, max_length: int) -> Tokenize:
    """A Hugging Face ``tokenizers`` tokenizer as a :data:`Tokenize` function."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.enable_truncation(max_length)
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0)

    def tokenize(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        enc = tok.encode_batch(list(texts))
        return (np.array([e.ids for e in enc], np.int64), np.array([e.attention_mask for e in enc], np.int64))

    return tokenize
