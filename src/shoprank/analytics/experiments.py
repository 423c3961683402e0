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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shoprank.retrieval.fusion import FUSION_METHODS

if TYPE_CHECKING:
    from shoprank.engine import ShopRank
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


def _with_arm(query: Query, arm: Arm, engine: ShopRank) -> Query:
    ranker = None
    if arm.changes_ranker:
        try:
            ranker = engine.arm_ranker(arm)
        except Exception as e:  # e.g. the model folder vanished: serve, with the default ranker
            log.error("experiment arm %r cannot be built here, serving the default ranker: %s", arm.name, e)
    return replace(query, personalize=query.personalize and arm.personalize, fusion=arm.fusion or query.fusion,
                   ranker=ranker)


def serve(engine: ShopRank, query: Query, experiment: Experiment | None, unit: str | None,
          rng: random.Random) -> Served:
    """Search ``query`` as ``experiment`` says for a shopper identified by ``unit`` (None:
    anonymous, so an A/B search gets a random arm and is analysed per search)."""
    if experiment is None:
        return Served(engine.search(query), engine.ranker.name)
    if experiment.kind == "ab":
        arm = experiment.assign(unit) if unit is not None else (
            experiment.treatment if rng.random() < experiment.treatment_share else experiment.control)
        q = _with_arm(query, arm, engine)
        return Served(engine.search(q), (q.ranker or engine.ranker).name, arm=arm.name)
    from shoprank.analytics.interleave import team_draft

    qa, qb = _with_arm(query, experiment.control, engine), _with_arm(query, experiment.treatment, engine)
    a, b = engine.search(qa), engine.search(qb)
    by_id = {h.product.id: h for h in b.hits} | {h.product.id: h for h in a.hits}
    ids, teams = team_draft([h.product.id for h in a.hits], [h.product.id for h in b.hits], query.k, rng)
    result = a
    result.hits = [by_id[i] for i in ids]
    result.timings_ms = {k: round(v + b.timings_ms.get(k, 0.0), 3) for k, v in a.timings_ms.items()}
    result.personalized = a.personalized or b.personalized
    return Served(result, f"{(qa.ranker or engine.ranker).name}|{(qb.ranker or engine.ranker).name}",
                  arm=INTERLEAVED, teams=tuple(teams))
