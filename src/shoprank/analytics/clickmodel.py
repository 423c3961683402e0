"""Click models: logged result pages -> per-(query, product) relevance estimates and graded judgments.

Raw click-through rate confounds relevance with position: the same product clicks less at rank 5
than at rank 1 because fewer shoppers look that far. A click model separates the two.

- :class:`PositionBasedModel` (PBM; Craswell, Zoeter, Taylor & Ramsey, WSDM 2008; EM updates as in
  Chuklin, Markov & de Rijke, "Click Models for Web Search", 2015, ch. 4):
  ``P(click at rank r on d | q) = theta_r * alpha_{q,d}``.
- :class:`SimplifiedDBN` (SDBN; Chapelle & Zhang, "A Dynamic Bayesian Network Click Model for Web
  Search Ranking", WWW 2009, with continuation probability 1): closed-form counts, relevance =
  attractiveness * satisfaction.

Both smooth with a Beta prior, ``prior = (a, b)``: an estimate is ``(successes + a) / (trials + a + b)``,
so a pair seen a handful of times stays near ``a / (a + b)`` (0.5 for the default ``(1, 1)``) instead of
jumping to 0 or 1. :func:`judgments` turns the estimates into graded labels for offline evaluation.
"""
from __future__ import annotations

import csv
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from scipy import stats

_EPS = 1e-6  # keeps EM's posteriors finite (1 - theta * alpha never reaches 0)


@dataclass(frozen=True)
class Page:
    """One logged result page: what was shown for a query and which positions (1-based) were clicked."""

    query: str
    shown: tuple[str, ...]
    clicked: frozenset[int]

    def __post_init__(self) -> None:
        bad = [p for p in self.clicked if not 1 <= p <= len(self.shown)]
        if bad:
            raise ValueError(f"clicked positions {sorted(bad)} outside 1..{len(self.shown)}")

    @classmethod
    def from_clicks(cls, query: str, shown: Sequence[str], clicked_ids: Iterable[str]) -> Page:
        """Build from clicked product ids; a product shown twice counts as clicked at its first position."""
        first: dict[str, int] = {}
        for pos, pid in enumerate(shown, 1):
            first.setdefault(pid, pos)
        clicked: set[int] = set()
        for pid in clicked_ids:
            if pid not in first:
                raise ValueError(f"clicked product {pid!r} was not shown for {query!r}")
            clicked.add(first[pid])
        return cls(query, tuple(shown), frozenset(clicked))


@dataclass(frozen=True)
class PairEstimate:
    """A model's estimate for one (query, product): ``impressions`` are the views it counted as evidence."""

    query: str
    product_id: str
    attractiveness: float
    impressions: int
    clicks: int
    examined: float = 0.0  # expected examinations (PBM: the sum of theta over the ranks it was shown at)


@dataclass
class _Log:
    """Pages flattened to one row per impression (rank <= max_rank), pairs indexed by integer id."""

    keys: list[tuple[str, str]]
    page: np.ndarray   # page number of each impression
    pair: np.ndarray   # pair id
    rank: np.ndarray   # 0-based rank
    click: np.ndarray  # bool


def _flatten(pages: Iterable[Page], max_rank: int) -> _Log:
    index: dict[tuple[str, str], int] = {}
    page_ids: list[int] = []
    pair_ids: list[int] = []
    ranks: list[int] = []
    clicks: list[bool] = []
    for n, p in enumerate(pages):
        for r, pid in enumerate(p.shown[:max_rank]):
            page_ids.append(n)
            pair_ids.append(index.setdefault((p.query, pid), len(index)))
            ranks.append(r)
            clicks.append(r + 1 in p.clicked)
    return _Log(list(index), np.asarray(page_ids, dtype=np.int64), np.asarray(pair_ids, dtype=np.int64),
                np.asarray(ranks, dtype=np.int64), np.asarray(clicks, dtype=bool))


def _check_prior(prior: tuple[float, float]) -> tuple[float, float]:
    a, b = float(prior[0]), float(prior[1])
    if a < 0 or b < 0 or a + b <= 0:
        raise ValueError(f"prior needs a, b >= 0 and a + b > 0, got {prior}")
    return a, b


class ClickModel(ABC):
    """A fitted table of per-(query, product) scores; subclasses fill it in :meth:`fit`."""

    def __init__(self, max_rank: int = 10, prior: tuple[float, float] = (1.0, 1.0)) -> None:
        if max_rank < 1:
            raise ValueError(f"max_rank must be >= 1, got {max_rank}")
        self.max_rank = max_rank
        self.prior = _check_prior(prior)
        self._index: dict[tuple[str, str], int] | None = None
        self._keys: list[tuple[str, str]] = []
        self._score = np.zeros(0)
        self._impressions = np.zeros(0, dtype=np.int64)
        self._clicks = np.zeros(0, dtype=np.int64)
        self._examined = np.zeros(0)

    @abstractmethod
    def fit(self, pages: Iterable[Page]) -> Self:
        """Estimate from logged pages (replacing any earlier fit); returns self."""

    def _store(self, keys: list[tuple[str, str]], score: np.ndarray, impressions: np.ndarray,
               clicks: np.ndarray, examined: np.ndarray | None = None) -> None:
        self._keys = keys
        self._index = {k: i for i, k in enumerate(keys)}
        self._score = score
        self._impressions = impressions.astype(np.int64)
        self._clicks = clicks.astype(np.int64)
        self._examined = self._impressions.astype(float) if examined is None else examined

    def _fitted_index(self) -> dict[tuple[str, str], int]:
        if self._index is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")
        return self._index

    def attractiveness(self, query: str, product_id: str) -> float | None:
        """The pair's score, or None when the fit saw no evidence for it."""
        i = self._fitted_index().get((query, product_id))
        return None if i is None else float(self._score[i])

    def pairs(self) -> list[PairEstimate]:
        """Every pair with evidence, in first-seen order."""
        self._fitted_index()
        return [PairEstimate(q, d, float(s), int(n), int(c), float(e))
                for (q, d), s, n, c, e in zip(self._keys, self._score, self._impressions, self._clicks,
                                              self._examined)]


class PositionBasedModel(ClickModel):
    """PBM fitted by EM: a click needs the rank examined (``theta_r``) and the product attractive (``alpha_qd``).

    ``theta * alpha`` is all the data pins down, so any scale ``(c * theta, alpha / c)`` fits equally
    well; after fitting, ``theta`` is rescaled so rank 1 is always examined (``examination[0] == 1``),
    ``alpha`` is scaled inversely and clipped to [0, 1]. ``theta`` is only separable from ``alpha`` when
    products appear at several ranks (reranking, experiments, shuffled slots); a query always served in
    one fixed order borrows ``theta`` from the queries that were not.

    ``prior = (a, b)`` adds ``a`` pseudo-clicks-when-examined and ``b`` pseudo-skips to every pair's
    M-step, so rarely shown pairs stay near ``a / (a + b)``. Ranks never shown get ``nan`` examination.
    """

    def __init__(self, max_rank: int = 10, iterations: int = 300, tol: float = 1e-6,
                 prior: tuple[float, float] = (1.0, 1.0)) -> None:
        super().__init__(max_rank, prior)
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        self.iterations = iterations
        self.tol = tol
        self.examination = np.full(max_rank, np.nan)
        self.iterations_run = 0
        self.log_likelihood = math.nan

    def fit(self, pages: Iterable[Page]) -> Self:
        log = _flatten(pages, self.max_rank)
        a, b = self.prior
        n_pairs = len(log.keys)
        shown = np.bincount(log.pair, minlength=n_pairs).astype(float)
        clicked = np.bincount(log.pair, weights=log.click, minlength=n_pairs)
        at_rank = np.bincount(log.rank, minlength=self.max_rank).astype(float)
        seen_rank = at_rank > 0

        theta = 1.0 / np.arange(1, self.max_rank + 1)
        alpha = np.clip((clicked + a) / (shown + a + b), _EPS, 1 - _EPS)  # smoothed CTR
        c = log.click
        self.iterations_run = 0
        for _ in range(self.iterations):
            th, al = theta[log.rank], alpha[log.pair]
            skip = 1.0 - th * al
            # E-step: a click means examined and attractive; a skip splits by the posterior.
            post_attr = np.where(c, 1.0, al * (1.0 - th) / skip)
            post_exam = np.where(c, 1.0, th * (1.0 - al) / skip)
            new_alpha = (np.bincount(log.pair, weights=post_attr, minlength=n_pairs) + a) / (shown + a + b)
            exam_sum = np.bincount(log.rank, weights=post_exam, minlength=self.max_rank)
            new_theta = np.where(seen_rank, exam_sum / np.maximum(at_rank, 1.0), theta)
            new_alpha = np.clip(new_alpha, _EPS, 1 - _EPS)
            new_theta = np.clip(new_theta, _EPS, 1 - _EPS)
            # EM also drifts slowly along the unidentified scale; convergence is judged without it.
            change = max(float(np.max(np.abs(new_alpha * new_theta[0] - alpha * theta[0]), initial=0.0)),
                         float(np.max(np.abs(new_theta / new_theta[0] - theta / theta[0]))))
            alpha, theta = new_alpha, new_theta
            self.iterations_run += 1
            if change < self.tol:
                break

        if seen_rank[0]:
            scale = theta[0]
            theta, alpha = theta / scale, np.clip(alpha * scale, 0.0, 1.0)
        theta = np.where(seen_rank, theta, np.nan)
        self.examination = theta
        p = np.clip(theta[log.rank] * alpha[log.pair], _EPS, 1 - _EPS)
        self.log_likelihood = float(np.sum(np.where(c, np.log(p), np.log1p(-p))))
        examined = np.bincount(log.pair, weights=np.nan_to_num(theta[log.rank]), minlength=n_pairs)
        self._store(log.keys, alpha, shown, clicked, examined)
        return self


class SimplifiedDBN(ClickModel):
    """SDBN in closed form: on a page, products up to and including the last click were examined.

    ``attractiveness_qd = clicks / examined``, ``satisfaction_qd = last clicks / clicks``, and the score
    reported by :meth:`attractiveness` and :meth:`pairs` is their product, the relevance. Pages without a
    click say nothing about where the shopper stopped looking, so they contribute nothing; products
    below a page's last click were not examined by this model and are not counted either. Pair
    ``impressions`` are examinations. Both ratios use the Beta ``prior``.
    """

    def __init__(self, max_rank: int = 10, prior: tuple[float, float] = (1.0, 1.0)) -> None:
        super().__init__(max_rank, prior)
        self._attraction = np.zeros(0)
        self._satisfaction = np.zeros(0)

    def fit(self, pages: Iterable[Page]) -> Self:
        log = _flatten(pages, self.max_rank)
        n_pages = int(log.page.max()) + 1 if len(log.page) else 0
        last = np.full(n_pages, -1, dtype=np.int64)
        np.maximum.at(last, log.page[log.click], log.rank[log.click])
        examined = log.rank <= last[log.page]
        is_last = log.click & (log.rank == last[log.page])

        # Re-index to the pairs that were examined at least once.
        used, pair = np.unique(log.pair[examined], return_inverse=True)
        keys = [log.keys[i] for i in used]
        n = len(keys)
        exam = np.bincount(pair, minlength=n)
        clicks = np.bincount(pair, weights=log.click[examined], minlength=n)
        lasts = np.bincount(pair, weights=is_last[examined], minlength=n)
        a, b = self.prior
        self._attraction = (clicks + a) / (exam + a + b)
        self._satisfaction = (lasts + a) / (clicks + a + b)
        self._store(keys, self._attraction * self._satisfaction, exam, clicks)
        return self

    def components(self, query: str, product_id: str) -> tuple[float, float] | None:
        """(attractiveness, satisfaction) of the pair, or None when it was never examined."""
        i = self._fitted_index().get((query, product_id))
        return None if i is None else (float(self._attraction[i]), float(self._satisfaction[i]))


CLICK_MODELS: dict[str, type[ClickModel]] = {"pbm": PositionBasedModel, "sdbn": SimplifiedDBN}


def make_click_model(name: str, **kw: Any) -> ClickModel:
    """The click model called ``name`` in :data:`CLICK_MODELS`, built with ``kw``."""
    try:
        cls = CLICK_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown click model {name!r}; choose from {', '.join(sorted(CLICK_MODELS))}") from None
    return cls(**kw)


@dataclass(frozen=True)
class Judgment:
    query: str
    product_id: str
    grade: int
    score: float
    impressions: int


JUDGMENT_FIELDS = ("query", "product_id", "grade", "score", "impressions")
# A cell starting with one of these is a formula to spreadsheets (OWASP "CSV injection"): a
# shopper's query "=HYPERLINK(...)" must open as text. A leading quote is escaped too, so
# reading drops exactly one quote and every query round-trips.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def _cell(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet evaluates."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def judgments(model: ClickModel, min_impressions: int = 5,
              grades: Sequence[float] = (0.1, 0.3, 0.6)) -> list[Judgment]:
    """Graded labels from a fitted model: grade = how many of the ascending ``grades`` the score reaches.

    Pairs examined fewer than ``min_impressions`` times (expected examinations: a product shown
    ten times at rank 10 was hardly looked at) are left out: their score is mostly the prior.
    Sorted by query, then best first.
    """
    cuts = np.asarray(grades, dtype=float)
    if np.any(np.diff(cuts) <= 0):
        raise ValueError(f"grades must be strictly ascending, got {tuple(grades)}")
    out = [Judgment(p.query, p.product_id, int(np.searchsorted(cuts, p.attractiveness, side="right")),
                    p.attractiveness, p.impressions)
           for p in model.pairs() if p.examined >= min_impressions]
    out.sort(key=lambda j: (j.query, -j.score, j.product_id))
    return out


def write_judgments(path: Path, rows: Iterable[Judgment]) -> int:
    """Write judgments as CSV (header ``query,product_id,grade,score,impressions``); returns the row count.
    Text cells that a spreadsheet would take for a formula get a leading ``'``."""
    n = 0
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(JUDGMENT_FIELDS)
        for j in rows:
            w.writerow((_cell(j.query), _cell(j.product_id), j.grade, repr(j.score), j.impressions))
            n += 1
    return n


def read_judgments(path: Path) -> list[Judgment]:
    """Read :func:`write_judgments` output; a malformed row raises ValueError naming the file and line."""
    path = Path(path)
    out: list[Judgment] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(header) != JUDGMENT_FIELDS:
            raise ValueError(f"{path}:1: expected header {','.join(JUDGMENT_FIELDS)}, got {header}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not row:
                continue
            if len(row) != len(JUDGMENT_FIELDS):
                raise ValueError(f"{where}: expected {len(JUDGMENT_FIELDS)} fields, got {len(row)}")
            query, pid, grade_s, score_s, imps_s = _uncell(row[0]), _uncell(row[1]), *row[2:]
            if not query or not pid:
                raise ValueError(f"{where}: empty query or product_id")
            try:
                grade, score, imps = int(grade_s), float(score_s), int(imps_s)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            if grade < 0 or imps < 0 or not math.isfinite(score):
                raise ValueError(f"{where}: grade and impressions must be >= 0 and score finite")
            out.append(Judgment(query, pid, grade, score, imps))
    return out


def rank_correlation(estimates: Mapping[tuple[str, str], float],
                     truth: Mapping[tuple[str, str], float]) -> dict[str, float]:
    """Spearman rho and Kendall tau-b between two score maps over their common keys (nan below 2 keys)."""
    common = [k for k in estimates if k in truth]
    n = len(common)
    if n < 2:
        return {"spearman": math.nan, "kendall": math.nan, "n": float(n)}
    x = np.array([estimates[k] for k in common], dtype=float)
    y = np.array([truth[k] for k in common], dtype=float)
    with warnings.catch_warnings():  # a constant side gives nan, which is the answer
        warnings.simplefilter("ignore")
        rho = stats.spearmanr(x, y).statistic
        tau = stats.kendalltau(x, y, variant="b").statistic
    return {"spearman": float(rho), "kendall": float(tau), "n": float(n)}
