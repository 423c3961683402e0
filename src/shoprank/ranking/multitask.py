"""Multi-task click-through and conversion heads, learned from logged impressions (PyTorch).

Rows are (search, shown product): the product's features for that query, the position it was
shown at, whether it was clicked and whether it was bought. A shared tower feeds three heads:

- ``ctr``: the probability a shopper who *sees* the product clicks it. Position bias is
  learned apart, position-aware (PAL, Guo et al. 2019): ``P(click) = P(seen | position) ·
  pCTR``, so serving uses ``pCTR`` alone, free of the position the old ranker gave it;
- ``cvr``: the probability of a purchase after a click, modelled over the whole impression
  space as in ESMM (Ma et al. 2018): ``pCTCVR = pCTR · pCVR`` is fitted to purchases on
  every impression, so ``pCVR`` is not learned from clicked rows alone (no sample
  selection bias) and not starved of examples;
- ``relevance``: optional, fitted to graded judgments where rows have them (click-derived or
  offline), as a listwise-free pointwise regression.

The serving score blends the heads log-linearly: ``score = log pCTR + w_cvr · log pCVR +
w_rel · relevance`` (:class:`Blend`, defaults ``w_cvr = 0.5``, ``w_rel = 0``): with
``w_cvr = 1`` it ranks by the expected purchases per impression (``pCTCVR``), with 0 by clicks.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking.base import CandidateBatch, Ranker
from shoprank.ranking.training import EarlyStopping


@dataclass(frozen=True)
class Blend:
    w_cvr: float = 0.5
    w_rel: float = 0.0


@dataclass
class ImpressionRows:
    """Training rows: features (n, F) named ``names``, 1-based positions, clicks, purchases,
    optional grades (nan: none), and the group (shopper) of each row for splitting."""

    X: np.ndarray
    position: np.ndarray
    click: np.ndarray
    purchase: np.ndarray
    grade: np.ndarray
    group: np.ndarray
    names: list[str] = field(default_factory=lambda: FEATURE_NAMES)


def _net(n_features: int, max_position: int, hidden: int):  # a torch module
    import torch

    nn = torch.nn

    class MultiTaskNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tower = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
            self.ctr = nn.Linear(hidden, 1)
            self.cvr = nn.Linear(hidden, 1)
            self.rel = nn.Linear(hidden, 1)
            self.seen = nn.Embedding(max_position + 1, 1)  # logit of P(seen | position); 0 = unknown
            nn.init.constant_(self.seen.weight, 2.0)  # start as "mostly seen" everywhere: the data lowers it

        def forward(self, X):  # tensors
            h = self.tower(X)
            return self.ctr(h).squeeze(1), self.cvr(h).squeeze(1), self.rel(h).squeeze(1)

    return MultiTaskNet()


class MultiTaskRanker(Ranker):
    """Ranks by the blended heads; ``heads`` gives each candidate's pCTR, pCVR and pCTCVR."""

    name = "multitask"

    def __init__(self, net: Any, mean: np.ndarray, std: np.ndarray, blend: Blend, config: dict[str, Any],
                 feature_names: Sequence[str] = FEATURE_NAMES):
        self.net = net.eval()
        self.feature_names = list(feature_names)
        self.mean = mean.astype(np.float32)
        self.std = std.astype(np.float32)
        self.blend = blend
        self.config = config

    def _logits(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            c, v, r = self.net(torch.from_numpy(((X - self.mean) / self.std).astype(np.float32)))
        return c.numpy().astype(np.float64), v.numpy().astype(np.float64), r.numpy().astype(np.float64)

    def heads(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each head's prediction for the model's input rows ``X`` (columns :attr:`feature_names`)."""
        c, v, r = self._logits(np.asarray(X, np.float32))
        ctr, cvr = 1 / (1 + np.exp(-c)), 1 / (1 + np.exp(-v))
        return {"ctr": ctr, "cvr": cvr, "ctcvr": ctr * cvr, "relevance": r}

    def _score_matrix(self, X: np.ndarray) -> np.ndarray:
        c, v, r = self._logits(X)
        log_sig = lambda z: -np.logaddexp(0.0, -z)  # noqa: E731 - log(sigmoid(z)), stable
        return log_sig(c) + self.blend.w_cvr * log_sig(v) + self.blend.w_rel * r

    def score(self, batch: CandidateBatch) -> np.ndarray:
        if not len(batch):
            return np.zeros(0)
        import torch

        torch.set_num_threads(1)
        return self._score_matrix(np.asarray(batch.columns(self.feature_names), np.float32))

    def explain(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> np.ndarray:
        """Occlusion against the mean feature vector, one feature at a time, rescaled so a row's
        contributions add up to its score minus :meth:`base_score`."""
        X = np.asarray(batch.columns(self.feature_names), np.float32)
        idx = np.arange(len(X)) if rows is None else np.asarray(rows, np.int64)
        if not len(idx):
            return np.zeros((0, len(self.explained_names(batch))))
        # All rows, one stacked pass, then the rows asked for: a row's numbers do not depend on
        # which other rows were asked for (float32 matmuls round differently by batch shape).
        n, F = X.shape
        off = np.repeat(X[None], F, axis=0)  # (F, n, F): feature j set to its mean in block j
        off[np.arange(F), :, np.arange(F)] = self.mean[:, None]
        scores = self._score_matrix(np.concatenate([X, off.reshape(F * n, F)]))
        full = scores[:n]
        out = (full[None, :] - scores[n:].reshape(F, n)).T[idx]
        full = full[idx]
        target = full - self.base_score()
        got = out.sum(1)
        ok = np.abs(got) > 1e-9
        out[ok] *= (target[ok] / got[ok])[:, None]
        # rows the occlusions left unexplained: the rest on the fused score (the last feature without one)
        names = self.feature_names
        out[~ok, names.index("rrf") if "rrf" in names else len(names) - 1] += target[~ok]
        return self._by_batch_columns(batch, out)

    def base_score(self) -> float:
        return float(self._score_matrix(self.mean[None, :])[0])

    def _save(self, path: Path) -> dict[str, Any]:
        import torch

        torch.save(self.net.state_dict(), path / "net.pt")
        np.save(path / "mean.npy", self.mean)
        np.save(path / "std.npy", self.std)
        return {"blend": asdict(self.blend), "config": self.config}

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> MultiTaskRanker:
        import torch

        cfg = meta["config"]
        names = list(meta["features"])
        net = _net(len(names), cfg["max_position"], cfg["hidden"])
        net.load_state_dict(torch.load(path / "net.pt", weights_only=True))
        return cls(net, np.load(path / "mean.npy"), np.load(path / "std.npy"), Blend(**meta["blend"]), cfg, names)

    @classmethod
    def fit(cls, rows: ImpressionRows, blend: Blend = Blend(), *, hidden: int = 64, epochs: int = 30,
            batch_size: int = 512, lr: float = 2e-3, valid_share: float = 0.15, patience: int = 3,
            seed: int = 0, threads: int = 2, max_position: int = 50) -> MultiTaskRanker:
        """Fit on impression rows (the model keeps their feature ``names``); the shoppers of
        ``valid_share`` of the groups are held out for early stopping on the summed losses."""
        import torch

        if rows.X.shape[1] != len(rows.names):
            raise ValueError(f"{rows.X.shape[1]} feature columns for {len(rows.names)} names")
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        rng = np.random.default_rng(seed)
        groups = np.unique(rows.group)
        valid_groups = set(rng.choice(groups, max(1, int(len(groups) * valid_share)), replace=False)) \
            if len(groups) > 4 else set()
        is_valid = np.array([g in valid_groups for g in rows.group])
        mean, std = rows.X.mean(0), rows.X.std(0)
        std = np.where(std > 1e-6, std, 1.0)
        net = _net(rows.X.shape[1], max_position, hidden)
        # One parameter per position, each fitted from all rows shown there: a faster step than the towers.
        rest = [p for n, p in net.named_parameters() if not n.startswith("seen.")]
        opt = torch.optim.Adam([{"params": rest, "weight_decay": 1e-5}, {"params": net.seen.parameters(),
                                                                           "lr": 25 * lr}], lr=lr)
        losses = _impression_losses(net, rows, mean, std, max_position)
        t0 = time.perf_counter()
        ran, best = _train(net, opt, losses, np.flatnonzero(~is_valid), np.flatnonzero(is_valid), rng,
                           epochs, batch_size, patience)
        with torch.no_grad():
            seen = torch.sigmoid(net.seen.weight.squeeze(1)).numpy()
        cfg = {"hidden": hidden, "max_position": max_position, "epochs_run": ran, "valid_loss": best,
               "train_s": time.perf_counter() - t0, "seen_by_position": [round(float(x), 4) for x in seen[1:11]],
               "seed": seed}
        return cls(net, mean, std, blend, cfg, rows.names)


def _impression_losses(net: Any, rows: ImpressionRows, mean: np.ndarray, std: np.ndarray,
                       max_position: int) -> Callable[[Any], Any]:
    """The summed click, purchase and grade losses of the rows at given indices (a tensor)."""
    import torch

    Xt = torch.from_numpy(((rows.X - mean) / std).astype(np.float32))
    pos = torch.from_numpy(np.clip(rows.position, 0, max_position).astype(np.int64))
    click = torch.from_numpy(rows.click.astype(np.float32))
    buy = torch.from_numpy(rows.purchase.astype(np.float32))
    grade = torch.from_numpy(np.nan_to_num(rows.grade, nan=0.0).astype(np.float32))
    has_grade = torch.from_numpy(~np.isnan(rows.grade))
    logsig = torch.nn.functional.logsigmoid

    def losses(ix: torch.Tensor) -> torch.Tensor:
        c, v, r = net(Xt[ix])
        seen = net.seen(pos[ix]).squeeze(1)
        # P(click) = sigmoid(seen) * sigmoid(c); P(purchase) = P(click) * sigmoid(v): in log space.
        log_click = logsig(seen) + logsig(c)
        log_buy = log_click + logsig(v)
        l_click = _bce_from_log(log_click, click[ix])
        l_buy = _bce_from_log(log_buy, buy[ix])
        g = has_grade[ix]
        l_rel = ((r[g] - grade[ix][g]) ** 2).mean() if bool(g.any()) else r.sum() * 0.0
        return l_click + l_buy + l_rel

    return losses


def _train(net: Any, opt: Any, losses: Callable[[Any], Any], train_ix: np.ndarray, valid_ix: np.ndarray,
           rng: np.random.Generator, epochs: int, batch_size: int, patience: int) -> tuple[int, float]:
    """Minibatch epochs over ``train_ix`` (shuffled by ``rng``), stopped early on the loss of
    ``valid_ix``; the best epoch's weights are put back. Returns (epochs run, best validation loss)."""
    import torch

    valid = torch.from_numpy(valid_ix)
    stopper, ran = EarlyStopping(patience), 0
    for _ in range(epochs):
        ran += 1
        net.train()
        rng.shuffle(train_ix)
        for start in range(0, len(train_ix), batch_size):
            ix = torch.from_numpy(train_ix[start:start + batch_size])
            opt.zero_grad()
            losses(ix).backward()
            opt.step()
        if not len(valid):
            continue
        net.eval()
        with torch.inference_mode():
            v_loss = float(losses(valid))
        if stopper.check(-v_loss, net):
            break
    stopper.restore(net)
    return ran, -stopper.best


def _bce_from_log(log_p, y):  # tensors
    """Binary cross-entropy from log p (p = a product of sigmoids), without leaving log space."""
    import torch

    log_not = torch.log1p(-torch.exp(log_p).clamp(max=1 - 1e-6))
    return -(y * log_p + (1 - y) * log_not).mean()


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney), nan when one class is missing."""
    from scipy.stats import rankdata

    y = np.asarray(labels, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
