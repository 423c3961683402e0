"""Online experiments: an A/B split of traffic, or team-draft interleaving of two rankings.

An :class:`Experiment` names two :class:`Arm` configurations (control and treatment). In an
``ab`` experiment each shopper (user id, else session id) is assigned to one arm by a
stable hash of the experiment name and that id, so a shopper sees one arm throughout and
re-assignment needs a new experiment name. In an ``interleave`` experiment every search is
ranked by both arms and the page is their team-draft interleaving (:mod:`.interleave`);
a click is credited to the arm that placed the product. The arm, and for interleaving the
team of every position, is recorded on the search's impression.
"""
from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shoprank.retrieval.fusion import FUSION_METHODS

if TYPE_CHECKING:
    from shoprank.analytics.experiment_store import ExperimentStore
    from shoprank.config import Settings
    from shoprank.ranking.base import Ranker
    from shoprank.search import SearchResult
    from shoprank.types import Query

log = logging.getLogger(__name__)
INTERLEAVED = "interleaved"  # the arm recorded on an interleaved impression


class Arm(BaseModel):
    """How one arm ranks: any setting left out is the server's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    personalize: bool = True
    fusion: str | None = None
    ranker: str | None = None             # a registered ranker name, e.g. linear | lambdamart
    ranker_model: Path | None = None      # a saved ranker folder (`shoprank eval --save-model`); made absolute
    ranker_weights: dict[str, float] | None = None  # the linear ranker's weight overrides

    @field_validator("fusion")
    @classmethod
    def _known_fusion(cls, v: str | None) -> str | None:
        return None if v is None else FUSION_METHODS.validate(v)

    @field_validator("ranker_model")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        # Every process serving the index reads the same file, from its own working directory.
        return None if v is None else v.expanduser().resolve()

    @field_validator("ranker_weights")
    @classmethod
    def _finite(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None and any(not math.isfinite(w) or abs(w) > 1e6 for w in v.values()):
            raise ValueError("weights must be finite numbers within ±1e6")
        return v

    @property
    def changes_ranker(self) -> bool:
        return self.ranker is not None or self.ranker_model is not None or self.ranker_weights is not None


class Experiment(BaseModel):
    """Two arms compared on live traffic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["ab", "interleave"]
    control: Arm
    treatment: Arm
    treatment_share: float = Field(default=0.5, ge=0.0, le=1.0)  # A/B: the share of shoppers in treatment

    @model_validator(mode="after")
    def _distinct_arms(self) -> Experiment:
        if self.control.name == self.treatment.name:
            raise ValueError("control and treatment need different names")
        if INTERLEAVED in (self.control.name, self.treatment.name):
            raise ValueError(f"{INTERLEAVED!r} is reserved for interleaved impressions")
        return self

    def bucket(self, unit: str) -> float:
        """A number in [0, 1) fixed by the experiment and ``unit``: independent across experiments."""
        digest = hashlib.sha256(f"{self.name}\0{unit}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2 ** 64

    def assign(self, unit: str) -> Arm:
        return self.treatment if self.bucket(unit) < self.treatment_share else self.control

    def arm(self, name: str) -> Arm:
        for a in (self.control, self.treatment):
            if a.name == name:
                return a
        raise KeyError(name)


@dataclass
class Served:
    """A search as served under an experiment (or none)."""

    result: SearchResult
    ranker: str  # the name of the ranker that ranked it (interleaving: "<control's>|<treatment's>")
    arm: str | None = None
    teams: tuple[str, ...] | None = None  # interleaving: "a" (control) or "b" (treatment) per hit
    experiment: str | None = None  # the experiment it was served under


class Experiments:
    """The running experiment (shared by every process serving the index, through its file),
    the rankers its arms configure, and searches served under it."""

    def __init__(self, settings: Settings, store: ExperimentStore,
                 search: Callable[[Query, Ranker | None], SearchResult], ranker: Callable[[], Ranker],
                 make_ranker: Callable[[Settings], Ranker]):
        self.settings = settings
        self._make_ranker = make_ranker  # a ranker from settings (the factory's)
        self.store = store           # where the running experiment is kept (every process reads the same)
        self._search = search        # the engine's: a query, ranked by the ranker given (None: the served one)
        self._ranker = ranker        # the served ranker
        self._arm_rankers: dict[str, Ranker] = {}

    def current(self) -> Experiment | None:
        """The running experiment, shared by every process serving the index (re-read at most once a second)."""
        return self.store.get()

    def set(self, experiment: Experiment | None) -> None:
        """Start ``experiment`` (replacing any running one) or, with None, stop it."""
        for arm in (experiment.control, experiment.treatment) if experiment is not None else ():
            if arm.changes_ranker:
                try:  # fail now, not in searches
                    self.arm_ranker(arm)
                except Exception as e:  # a saved model's files can be anything
                    raise ValueError(f"arm {arm.name!r}: {e}") from e
        self.store.put(experiment)

    def arm_ranker(self, arm: Arm) -> Ranker:
        """The ranker ``arm`` configures (built once per configuration). Raises if it cannot be built."""
        key = arm.model_dump_json(include={"ranker", "ranker_model", "ranker_weights"})
        ranker = self._arm_rankers.get(key)
        if ranker is None:
            update: dict[str, object] = {"ranker": arm.ranker or self.settings.ranker}
            if arm.ranker_model is not None:
                update["ranker_model"] = arm.ranker_model
            elif arm.ranker is not None:
                update["ranker_model"] = None
            if arm.ranker_weights is not None:
                update["ranker_weights"] = arm.ranker_weights
            ranker = self._arm_rankers[key] = self._make_ranker(self.settings.model_copy(update=update))
        return ranker

    def _arm(self, query: Query, arm: Arm) -> tuple[Query, Ranker]:
        ranker = self._ranker()
        if arm.changes_ranker:
            try:
                ranker = self.arm_ranker(arm)
            except Exception as e:  # e.g. the model folder vanished: serve, with the default ranker
                log.error("experiment arm %r cannot be built here, serving the default ranker: %s", arm.name, e)
        return replace(query, personalize=query.personalize and arm.personalize,
                       fusion=arm.fusion or query.fusion), ranker

    def serve(self, query: Query, unit: str | None, rng: random.Random) -> Served:
        """Search ``query`` as the running experiment says for a shopper identified by ``unit``
        (None: anonymous, so an A/B search gets a random arm and is analysed per search)."""
        experiment = self.current()
        if experiment is None:
            return Served(self._search(query, None), self._ranker().name)
        if experiment.kind == "ab":
            arm = experiment.assign(unit) if unit is not None else (
                experiment.treatment if rng.random() < experiment.treatment_share else experiment.control)
            q, ranker = self._arm(query, arm)
            return Served(self._search(q, ranker), ranker.name, arm=arm.name, experiment=experiment.name)
        from shoprank.analytics.interleave import team_draft

        (qa, ra), (qb, rb) = self._arm(query, experiment.control), self._arm(query, experiment.treatment)
        a, b = self._search(qa, ra), self._search(qb, rb)
        by_id = {h.product.id: h for h in b.hits} | {h.product.id: h for h in a.hits}
        ids, teams = team_draft([h.product.id for h in a.hits], [h.product.id for h in b.hits], query.k, rng)
        result = a
        result.hits = [by_id[i] for i in ids]
        result.timings_ms = {k: round(v + b.timings_ms.get(k, 0.0), 3) for k, v in a.timings_ms.items()}
        result.personalized = a.personalized or b.personalized
        return Served(result, f"{ra.name}|{rb.name}", arm=INTERLEAVED, teams=tuple(teams),
                      experiment=experiment.name)
