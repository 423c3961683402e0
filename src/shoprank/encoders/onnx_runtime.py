"""Encoders on onnxruntime: models exported once on this machine, int8 or fp32, threads set on purpose.

An exported model is cached under ``<models>/<key>/model.onnx`` (``Settings.models_dir``, one
per-user cache shared by every ``SHOPRANK_HOME``), the key naming the
model, the runtime and the onnxruntime version, and is built atomically (a temporary file
renamed into place, under a lock file), so concurrent processes never read half a model.

Text encoders run one single-threaded session: a query uses one core, so concurrent requests
each use a core instead of all of them fighting over every core, and a list of texts is cut
into batches that ``threads`` Python threads run side by side on it (onnxruntime releases the
GIL). On two cores that encoded about 18 % more passages/s than one session with two
intra-op threads, whose small per-op kernels leave the second thread waiting.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.encoders.base import TextEncoder, clip_texts, l2_normalize
from shoprank.registry import MissingExtraError

log = logging.getLogger(__name__)

RUNTIMES: tuple[str, ...] = ("onnx-int8", "onnx-fp32", "reference")
ONNX_HINT = "pip install 'shoprank[minilm]' (onnxruntime)"


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


def models_home(home: Path | None) -> Path:
    """``home``, or the per-user model cache of the settings (``Settings.models_dir``)."""
    if home is not None:
        return home
    from shoprank.config import get_settings

    return get_settings().models_dir


def model_path(home: Path | None, model: str, runtime: str) -> Path:
    """Where ``model`` exported for ``runtime`` lives (``home``: default the per-user cache)."""
    return models_home(home) / f"{model}-{runtime}-ort{_ort().__version__}" / "model.onnx"


def build_once(path: Path, build: Callable[[Path], None], needs: Callable[[], None] | None = None, *,
               isolated: bool = False) -> Path:
    """``path``, calling ``build(tmp)`` first if it does not exist; safe across processes.

    ``needs()`` raises if what building takes is not installed: checked before anything is said
    or made, as serving an exported model needs none of it. ``isolated``: ``build`` (a module-level
    function) runs in a fresh child process, so what it imports (torch: ~500 MB resident) never
    stays in this one, which may go on to serve for days."""
    if path.is_file():
        return path
    if needs is not None:
        needs()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            tmp = path.with_suffix(".tmp.onnx")
            log.info("exporting %s once into %s (shared by every home)", path.parent.name, path.parent.parent)
            try:
                if isolated:
                    _in_child(build, tmp, EXPORT_TIMEOUT_S)
                else:
                    build(tmp)
                tmp.replace(path)
            finally:  # a failed build leaves no half-written model for the next try to trip on
                tmp.unlink(missing_ok=True)
    return path


EXPORT_TIMEOUT_S = 30 * 60  # an export takes about a minute; one hung past this holds the lock for all


def _in_child(build: Callable[[Path], None], out: Path, timeout: float) -> None:
    """``build(out)`` in a spawned interpreter; its exception, if any, is raised here."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        pool.submit(build, out).result(timeout=timeout)
    except FutureTimeout:
        for proc in list(pool._processes.values()):  # no public way to stop a running worker before 3.14
            proc.terminate()
        raise TimeoutError(f"exporting {out.parent.name} took over {timeout:.0f} s and was stopped") from None
    except BrokenProcessPool as e:
        # "spawn" imports the caller's __main__ again: a script without the guard dies there.
        raise RuntimeError(f"exporting {out.parent.name} in a child process failed ({e}); a script that "
                           "builds an index must run under `if __name__ == \"__main__\":`") from e
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def torch_for_export(what: str, extra: str) -> None:
    """Check that torch, which exporting a model needs once (serving an exported one does not), is
    there; if not, an error naming the extra that brings it. Found, not imported: the export itself
    runs in a child process (``build_once(isolated=True)``)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a broken install
        found = False
    if not found:
        raise MissingExtraError(f"{what} needs pip install 'shoprank[{extra}]' to export its model once "
                                "(no module named 'torch')")


@contextlib.contextmanager
def quiet_export() -> Iterator[None]:
    """The TorchScript exporter warns that it cannot constant-fold our Slice ops: harmless (the graph
    is the same, onnxruntime folds it when it loads it) and printed on every export."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        yield


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 quantization of the MatMul weights, one scale per output channel.

    Per-channel scales keep MiniLM's embeddings at cosine 0.994 to fp32 (per-tensor: 0.96)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                     per_channel=True)


def session(model: Path | bytes, threads: int, arena: bool = True) -> Any:
    """An inference session with ``threads`` intra-op threads, of a model file or its bytes.

    ``arena=False`` for sessions that run large batches once (index builds): onnxruntime's arena
    keeps its peak for the process's life (EfficientNet over batches of 16 photos: ~170 MB that a
    process serving afterwards never uses again); without it the memory goes back after each run."""
    ort = _ort()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.enable_cpu_mem_arena = arena
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts,
                                providers=["CPUExecutionProvider"])


def mean_pool(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each text's token states [batch, tokens, dim] averaged over its real tokens (``mask`` 1)."""
    m = mask[..., None].astype(np.float32)
    return np.asarray((states * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0))


def map_batches(run: Callable[[np.ndarray], np.ndarray], batches: Sequence[np.ndarray],
                workers: int) -> list[np.ndarray]:
    """``run`` over ``batches``, on ``workers`` threads when there is more than one batch."""
    if workers <= 1 or len(batches) <= 1:
        return [run(b) for b in batches]
    with ThreadPoolExecutor(min(workers, len(batches)), thread_name_prefix="encode") as pool:
        return list(pool.map(run, batches))


Tokenize = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]  # texts -> (ids, attention mask), int64


class OnnxTextEncoder(TextEncoder):
    """A BERT-style encoder graph (ids, mask[, token types] -> token states), mean-pooled.

    Texts are encoded in batches of similar length (less padding), on ``threads`` threads
    sharing one single-threaded session; one query runs alone."""

    def __init__(self, name: str, path: Path, tokenize: Tokenize, dim: int, threads: int | None = None,
                 query_prefix: str = "", passage_prefix: str = "", batch_size: int = 32) -> None:
        self.name, self.dim = name, dim
        self._tokenize = tokenize
        self._session = session(path, 1)
        self.threads = threads or default_threads()
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.batch_size = batch_size

    def _run(self, texts: Sequence[str]) -> np.ndarray:
        ids, mask = self._tokenize(texts)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return l2_normalize(mean_pool(self._session.run(None, feeds)[0], mask))

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        texts = [prefix + t for t in clip_texts(texts)]  # the tokenizer truncates only after reading it all
        out = np.zeros((len(texts), self.dim), np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        size = max(1, min(self.batch_size, -(-len(texts) // self.threads)))  # every thread gets a batch
        batches = [order[s:s + size] for s in range(0, len(texts), size)]
        for idx, vecs in zip(batches, map_batches(lambda idx: self._run([texts[i] for i in idx]), batches,
                                                  self.threads)):
            out[idx] = vecs
        return out

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)


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
