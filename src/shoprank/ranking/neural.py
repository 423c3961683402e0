"""Neural fusion rankers (PyTorch): the query's and each candidate's vectors per modality, fused
with the engineered features, in four ways that share one code path.

Per modality ``m`` the query vector ``q`` and a candidate's vector ``v`` (its text, photo,
photo labels, reviews) give an interaction token ``u_m = ReLU(W_m [q ⊙ v, cos(q, v)])``; a
modality the query has no vector for, or the candidate lacks (no photo, no reviews), is
*masked*: it takes no part in attention or in the weighted sum, and carries a presence bit in
early fusion. The engineered features (standardised with the training set's statistics)
make a feature token ``f``.

- ``early``: concatenation of the features, and per modality ``q``, ``v``, ``q ⊙ v`` and the
  presence bit (Kiela et al.'s "early fusion") → MLP;
- ``attention``: a query-conditioned attention over the present modalities' tokens; the
  weights are the per-result explanation ("image 0.52, text 0.31, review 0.17");
- ``transformer``: one token per modality (with a modality embedding), the feature token and a
  query token, through a 2-layer transformer encoder with absent modalities padded out;
- ``late``: one scorer per modality and one for the features, combined with learned weights
  renormalised over the modalities present (the learned counterpart of RRF / linear fusion).

Training is listwise per query: ApproxNDCG (Qin, Liu & Li 2010; the default) or ListNet (Cao et
al. 2007, the baseline), Adam, early stopping on held-out queries, seeds fixed.

Explanations: Integrated Gradients (Sundararajan et al. 2017) from the mean feature vector with
every modality gated off to the candidate, over the features and a presence gate per modality;
a modality's share is reported on its cosine feature's column (``cos_text``, ``cos_image``, ...).
The attributions are rescaled to add up exactly to ``score - base_score()``.
"""
from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking.base import CandidateBatch, Ranker
from shoprank.ranking.training import EarlyStopping

log = logging.getLogger(__name__)

Variant = Literal["early", "attention", "transformer", "late"]
VARIANTS: tuple[Variant, ...] = ("early", "attention", "transformer", "late")
Loss = Literal["approxndcg", "listnet"]
IG_STEPS = 24


def _torch():
    import torch

    return torch


@dataclass
class ListInputs:
    """One query's candidates as the network reads them (numpy; tensors are made per call)."""

    X: np.ndarray                      # (n, F) raw features, columns ``names``
    q: list[np.ndarray | None]         # per modality: the query vector, or None
    V: list[np.ndarray]                # per modality: (n, d) candidate vectors (0 where absent)
    P: list[np.ndarray]                # per modality: (n,) bool, candidate has it
    y: np.ndarray | None = None        # graded labels, when training
    names: list[str] = field(default_factory=lambda: FEATURE_NAMES)  # the features in X

    @classmethod
    def from_batch(cls, batch: CandidateBatch, modalities: Sequence[tuple[str, int]],
                   y: np.ndarray | None = None, names: Sequence[str] | None = None) -> ListInputs:
        """``batch``'s features ``names`` (default: all its columns, for training) and vectors."""
        qs, vs, ps = [], [], []
        n = len(batch)
        for name, dim in modalities:
            q = batch.query_vector(name) if batch.artifacts is not None else None
            v, p = batch.item_vectors(name)
            if q is None or v.shape[1] != dim or np.shape(q) != (dim,):  # e.g. a text query and a photo-only space
                q, v, p = None, np.zeros((n, dim), np.float32), np.zeros(n, bool)
            qs.append(None if q is None else np.array(q, np.float32))  # a copy: cached query vectors are read-only
            vs.append(v)
            ps.append(p)
        names = batch.names if names is None else list(names)
        return cls(np.asarray(batch.columns(names), np.float32), qs, vs, ps, y, names)


def _build_net(n_features: int, dims: Sequence[int], variant: Variant, hidden: int, dropout: float):
    torch = _torch()

    class FusionNet(torch.nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            _add_layers(self, torch, n_features, dims, variant, hidden, dropout)

        forward = _fusion_forward

    return FusionNet()


def _add_layers(net: Any, torch: Any, n_features: int, dims: Sequence[int], variant: Variant, hidden: int,
                dropout: float) -> None:
    """The network's layers: the modality interactions, the feature token, the variant's head."""
    nn = torch.nn
    net.variant = variant
    net.dims = list(dims)
    m = len(net.dims)
    net.inter = nn.ModuleList([nn.Linear(d + 1, hidden) for d in net.dims])
    net.qproj = nn.ModuleList([nn.Linear(d, hidden) for d in net.dims])
    net.feat = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU())
    if variant == "early":
        width = n_features + sum(3 * d + 1 for d in net.dims)
        net.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, 2 * hidden), nn.ReLU(),
                                 nn.Dropout(dropout), nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    elif variant == "attention":
        net.att_u = nn.Linear(hidden, hidden, bias=False)
        net.att_c = nn.Linear(hidden, hidden)
        net.att_v = nn.Linear(hidden, 1, bias=False)
        net.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    elif variant == "transformer":
        net.mod_emb = nn.Parameter(torch.zeros(m + 2, hidden))
        nn.init.normal_(net.mod_emb, std=0.02)
        layer = nn.TransformerEncoderLayer(hidden, nhead=4, dim_feedforward=2 * hidden, dropout=dropout,
                                           batch_first=True)
        net.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        net.head = nn.Linear(hidden, 1)
    else:  # late
        net.mod_score = nn.ModuleList([nn.Linear(hidden, 1) for _ in net.dims])
        net.mod_logit = nn.Parameter(torch.zeros(m))
        net.head = nn.Linear(n_features, 1)


def _fusion_forward(net: Any, X, qs, Vs, mask, gates):
    """X (n, F) standardised; qs per modality (d,) or None; Vs (n, d); mask (n, M) bool:
    present; gates (n, M) in [0, 1] scale each modality's inputs (1 = as is).
    Returns the scores (n,) and the modality weights (n, M) of the variants that have them."""
    torch = _torch()
    n = X.shape[0]
    f = net.feat(X)
    if net.variant == "early":
        return _early_fusion(net, torch, X, qs, Vs, mask, gates), None
    U, ctx = _modality_tokens(net, torch, X, f, qs, Vs, gates)
    fmask = mask.float()
    if net.variant == "late":
        if not U.shape[1]:
            return net.head(X).squeeze(1), None
        s = torch.cat([net.mod_score[k](U[:, k]) for k in range(U.shape[1])], 1)  # (n, M)
        w = torch.softmax(net.mod_logit.expand(n, -1).masked_fill(~mask, -1e9), 1) * fmask
        return net.head(X).squeeze(1) + (w * s).sum(1), w
    # The query's context, gated like the modalities it comes from.
    present_q = [k for k in range(len(net.dims)) if qs[k] is not None]
    c = torch.zeros_like(f)
    if present_q:
        c = torch.stack([ctx[i] * gates[:, k:k + 1] for i, k in enumerate(present_q)], 0).mean(0)
    if net.variant == "attention":
        logits = net.att_v(torch.tanh(net.att_u(U) + net.att_c(c).unsqueeze(1))).squeeze(2)
        a = torch.softmax(logits.masked_fill(~mask, -1e9), 1) * fmask  # rows with nothing: all 0
        fused = (a.unsqueeze(2) * U).sum(1)
        return net.head(torch.cat([fused, f], 1)).squeeze(1), a
    seq = torch.cat([f.unsqueeze(1), c.unsqueeze(1), U], 1) + net.mod_emb.unsqueeze(0)
    pad = torch.cat([mask.new_zeros(n, 2), ~mask], 1)
    out = net.encoder(seq, src_key_padding_mask=pad)
    return net.head(out[:, 0]).squeeze(1), None


def _early_fusion(net: Any, torch: Any, X, qs, Vs, mask, gates):
    """Early fusion's scores: the features, and per modality q, v, q ⊙ v and the gated presence bit."""
    n = X.shape[0]
    parts = [X]
    for k, d in enumerate(net.dims):
        g = (gates[:, k] * mask[:, k]).unsqueeze(1)
        q = qs[k].expand(n, d) if qs[k] is not None else X.new_zeros(n, d)
        parts += [q * g, Vs[k] * g, q * Vs[k] * g, g]
    return net.head(torch.cat(parts, 1)).squeeze(1)


def _modality_tokens(net: Any, torch: Any, X, f, qs, Vs, gates):
    """The gated interaction tokens (n, M, H) (0 for a modality the query has no vector for) and
    the query's projection per modality it has a vector for."""
    n = X.shape[0]
    tokens, ctx = [], []
    for k in range(len(net.dims)):
        if qs[k] is None:
            tokens.append(X.new_zeros(n, f.shape[1]))
            continue
        cos = (Vs[k] @ qs[k]).unsqueeze(1)
        tokens.append(torch.relu(net.inter[k](torch.cat([Vs[k] * qs[k], cos], 1))))
        ctx.append(net.qproj[k](qs[k].unsqueeze(0)).squeeze(0))  # 2-D in: int8 (dynamic) linears need it
    if not tokens:  # an index without vector modalities: the features alone
        return X.new_zeros(n, 0, f.shape[1]), ctx
    return torch.stack(tokens, 1) * gates.unsqueeze(2), ctx


def _loss(scores, y, kind: Loss, temperature: float = 0.1):
    torch = _torch()
    if kind == "listnet":
        return -(torch.softmax(y, 0) * torch.log_softmax(scores, 0)).sum()
    # ApproxNDCG: a differentiable rank from pairwise sigmoids.
    diff = (scores.unsqueeze(0) - scores.unsqueeze(1)) / temperature  # [i, j] = s_j - s_i
    rank = 1.0 + torch.sigmoid(diff).sum(1) - 0.5
    gains = torch.pow(2.0, y) - 1.0
    dcg = (gains / torch.log2(1.0 + rank)).sum()
    ideal = torch.sort(gains, descending=True).values
    idcg = (ideal / torch.log2(torch.arange(2, len(y) + 2, dtype=scores.dtype))).sum()
    return -dcg / idcg.clamp_min(1e-9)


class NeuralFusionRanker(Ranker):
    """A trained fusion network; ``variant`` says which of the four."""

    name = "neural"

    def __init__(self, net: Any, variant: Variant, modalities: list[tuple[str, int]], mean: np.ndarray,
                 std: np.ndarray, config: dict[str, Any], feature_names: Sequence[str] = FEATURE_NAMES):
        self.net = net.eval()
        self.feature_names = list(feature_names)
        self.variant = variant
        self.modalities = modalities
        self.mean = mean.astype(np.float32)
        self.std = std.astype(np.float32)
        self.config = config
        self._base: float | None = None

    # -- tensors ------------------------------------------------------------------------------
    def _tensors(self, li: ListInputs):
        torch = _torch()
        X = torch.from_numpy((li.X - self.mean) / self.std)
        qs = [None if q is None else torch.from_numpy(q) for q in li.q]
        Vs = [torch.from_numpy(v) for v in li.V]
        mask = torch.from_numpy(np.stack([p & (q is not None) for p, q in zip(li.P, li.q)], 1)
                                if li.P else np.zeros((len(li.X), 0), bool))
        return X, qs, Vs, mask

    def _forward(self, li: ListInputs):
        torch = _torch()
        X, qs, Vs, mask = self._tensors(li)
        # Trained attention produces denormal activations, each op on them ~100x slower on x86;
        # flushed to zero, attention fusion scored a Home Depot list in 1.01 ms instead of 3.39.
        # The flag is the calling thread's CPU state: set for the forward pass only (the process
        # default, off, is what every other computation expects).
        torch.set_flush_denormal(True)
        try:
            with torch.inference_mode():
                s, w = self.net(X, qs, Vs, mask, mask.float())
        finally:
            torch.set_flush_denormal(False)
        return s.numpy().astype(np.float64), None if w is None else w.numpy()

    def _inputs(self, batch: CandidateBatch) -> ListInputs:
        return ListInputs.from_batch(batch, self.modalities, names=self.feature_names)

    # -- the contract -------------------------------------------------------------------------
    def score(self, batch: CandidateBatch) -> np.ndarray:
        if not len(batch):
            return np.zeros(0)
        _torch().set_num_threads(1)  # one query at a time: the server runs several at once
        return self._forward(self._inputs(batch))[0]

    def modality_weights(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> list[dict[str, float]]:
        """Per candidate, the weight each present modality got (attention and late variants)."""
        idx = range(len(batch)) if rows is None else rows
        if not len(batch) or self.variant not in ("attention", "late"):
            return [{} for _ in idx]
        _, w = self._forward(self._inputs(batch))
        names = [m for m, _ in self.modalities]
        if w is None:
            return [{} for _ in idx]
        return [{names[k]: float(w[i, k]) for k in range(len(names)) if w[i, k] > 0} for i in idx]

    def base_score(self) -> float:
        """The score of an average candidate with every modality gated off."""
        if self._base is None:
            torch = _torch()
            m = len(self.modalities)
            X = torch.zeros(1, len(self.mean))
            qs = [None] * m
            Vs = [torch.zeros(1, d) for _, d in self.modalities]
            with torch.inference_mode():
                self._base = float(self.net(X, qs, Vs, torch.zeros(1, m, dtype=torch.bool), torch.zeros(1, m))[0][0])
        return self._base

    def explain(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> np.ndarray:
        torch = _torch()
        li = self._inputs(batch)
        idx = np.arange(len(li.X)) if rows is None else np.asarray(rows, np.int64)
        if not len(idx):
            return np.zeros((0, len(self.explained_names(batch))))
        X, qs, Vs, mask = self._tensors(li)
        X, Vs, mask = X[idx], [v[idx] for v in Vs], mask[idx]
        gates_full = mask.float()
        total_f = torch.zeros_like(X)
        total_g = torch.zeros_like(gates_full)
        for step in range(1, IG_STEPS + 1):  # midpoint Riemann sum along the straight path
            a = (step - 0.5) / IG_STEPS
            xa = (X * a).requires_grad_(True)
            ga = (gates_full * a).requires_grad_(True)
            s, _ = self.net(xa, qs, Vs, mask, ga)
            gx, gg = torch.autograd.grad(s.sum(), [xa, ga], allow_unused=True)  # no modalities: no gate grads
            total_f += gx
            if gg is not None:
                total_g += gg
        attr_f = (total_f * X / IG_STEPS).detach().numpy().astype(np.float64)
        attr_g = (total_g * gates_full / IG_STEPS).detach().numpy().astype(np.float64)
        out = attr_f  # in the model's column order until the end: the same numbers whatever the batch's order
        for k, (name, _) in enumerate(self.modalities):
            out[:, _column(self.feature_names, _cos_feature(name), "rrf")] += attr_g[:, k]
        # Rescale so each row adds up exactly (the Riemann sum is close, not exact).
        target = self._forward(li)[0][idx] - self.base_score()
        got = out.sum(1)
        scale = np.where(np.abs(got) > 1e-9, target / np.where(np.abs(got) > 1e-9, got, 1.0), 0.0)
        out *= scale[:, None]
        short = target - out.sum(1)  # rows whose attributions summed to ~0: put the rest on the fused rank
        out[:, _column(self.feature_names, "rrf")] += short
        return self._by_batch_columns(batch, out)

    # -- persistence --------------------------------------------------------------------------
    def _save(self, path: Path) -> dict[str, Any]:
        torch = _torch()
        torch.save(self.net.state_dict(), path / "net.pt")
        np.save(path / "mean.npy", self.mean)
        np.save(path / "std.npy", self.std)
        return {"variant": self.variant, "modalities": self.modalities, "config": self.config}

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> NeuralFusionRanker:
        torch = _torch()
        mods = [(str(m), int(d)) for m, d in meta["modalities"]]
        cfg = meta["config"]
        names = list(meta["features"])
        net = _build_net(len(names), [d for _, d in mods], meta["variant"], cfg["hidden"], cfg["dropout"])
        net.load_state_dict(torch.load(path / "net.pt", weights_only=True))
        return cls(net, meta["variant"], mods, np.load(path / "mean.npy"), np.load(path / "std.npy"), cfg, names)

    # -- training -----------------------------------------------------------------------------
    @classmethod
    def fit(cls, lists: Sequence[ListInputs], modalities: Sequence[tuple[str, int]], variant: Variant = "attention",
            *, loss: Loss = "approxndcg", hidden: int = 64, dropout: float = 0.1, epochs: int = 30,
            lr: float = 1e-3, patience: int = 4, valid_share: float = 0.15, seed: int = 0,
            threads: int = 2) -> NeuralFusionRanker:
        """Train on one query's candidates per list (``ListInputs.y`` set; every list's features
        under the same ``names``, which the model keeps); a share of the queries is held out for
        early stopping (the best epoch's weights are kept)."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; one of {VARIANTS}")
        torch = _torch()
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        rng = random.Random(seed)
        lists = [li for li in lists if li.y is not None and len(li.X) > 1 and np.ptp(li.y) > 0]
        if not lists:
            raise ValueError("no query has candidates with different grades to learn from")
        names = lists[0].names
        if any(li.names != names for li in lists) or lists[0].X.shape[1] != len(names):
            raise ValueError("the lists' feature columns differ from each other or from their names")
        X_all = np.concatenate([li.X for li in lists])
        mean, std = X_all.mean(0), X_all.std(0)
        std = np.where(std > 1e-6, std, 1.0)
        order = list(range(len(lists)))
        rng.shuffle(order)
        n_valid = max(1, int(len(order) * valid_share)) if len(order) > 4 else 0
        valid, train = order[:n_valid], order[n_valid:]
        cfg = {"hidden": hidden, "dropout": dropout, "loss": loss, "epochs": epochs, "lr": lr, "seed": seed}
        net = _build_net(X_all.shape[1], [d for _, d in modalities], variant, hidden, dropout)
        model = cls(net, variant, list(modalities), mean, std, cfg, names)
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-5)
        tensors = [model._tensors(li) + (torch.from_numpy(li.y.astype(np.float32)),) for li in lists]  # type: ignore[union-attr]
        stopper, epochs_run = EarlyStopping(patience), 0
        t0 = time.perf_counter()
        for _ in range(epochs):
            epochs_run += 1
            net.train()
            rng.shuffle(train)
            for i in train:
                X, qs, Vs, mask, y = tensors[i]
                s, _ = net(X, qs, Vs, mask, mask.float())
                opt.zero_grad()
                _loss(s, y, loss).backward()
                opt.step()
            net.eval()
            if not valid:
                continue
            with torch.inference_mode():
                ndcg = float(np.mean([-_loss(net(X, qs, Vs, m, m.float())[0], y, "approxndcg", 1e-3).item()
                                      for X, qs, Vs, m, y in (tensors[i] for i in valid)]))
            if stopper.check(ndcg, net):
                break
        stopper.restore(net)
        net.eval()
        model.config.update({"epochs_run": epochs_run, "valid_ndcg": stopper.best,
                             "train_s": time.perf_counter() - t0})
        log.info("%s fusion: %d epochs, validation nDCG %.4f, %.1f s", variant, epochs_run, stopper.best,
                 time.perf_counter() - t0)
        return model

    def describe(self) -> str:
        return json.dumps({"variant": self.variant, "modalities": self.modalities, **self.config})


def _cos_feature(modality: str) -> str:
    """The cosine feature of a modality's first route: where its explanation is shown."""
    from shoprank.modalities import BY_NAME

    spec = BY_NAME.get(modality)
    return spec.routes[0].feature if spec and spec.routes else "rrf"


def _column(names: list[str], *preferred: str) -> int:
    """Where an explanation shows what has no feature of its own: the first of ``preferred`` among
    a model's ``names``, else its last."""
    return next((names.index(n) for n in preferred if n in names), len(names) - 1)


def index_modalities(artifacts: Any) -> list[tuple[str, int]]:
    """(name, dimension) of the vector modalities of an index, in a fixed order."""
    return sorted((name, int(mod.vectors.shape[1])) for name, mod in artifacts.modalities.items())
