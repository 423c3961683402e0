"""A shopper's online profile: what their recent events say they like.

Every signal decays exponentially with the event time (half-life ``half_life_s``), so a
profile follows a shopper whose taste moves within a session. Weights are kept as
values "as of ``updated``"; :meth:`Profile.decay_to` brings them forward in time.
"""
from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# How much one event of each type says about the shopper's taste.
EVENT_WEIGHTS: dict[str, float] = {"view": 0.3, "click": 1.0, "cart": 3.0, "purchase": 5.0}
MAX_RECENT = 50
MAX_AFFINITIES = 300


def shares(weights: dict[str, float]) -> dict[str, float]:
    """Each weight's share of the total; empty when nothing positive and finite is left."""
    ok = {k: v for k, v in weights.items() if v > 0 and math.isfinite(v)}
    total = math.fsum(ok.values())
    return {k: v / total for k, v in ok.items()} if total > 0 and math.isfinite(total) else {}


@dataclass
class Profile:
    """Recency-decayed affinities and per-modality taste vectors of one user or session.

    ``affinity`` maps facet keys (``"category:Women/Bottoms/Pants"``, ``"color:red"``,
    ``"gender:women"``, ``"price:3"``, ``"material:cotton"``) to decayed weights.
    ``vectors`` maps a modality (``text``, ``image``, ``color``) to the decayed weighted
    sum of the embeddings of the items the shopper interacted with.
    ``recent`` lists ``(product_id, event_type, ts)``, newest last.
    """

    owner: str
    updated: float = 0.0
    n_events: int = 0
    affinity: dict[str, float] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    recent: list[tuple[str, str, float]] = field(default_factory=list)
    last_seq: int = 0  # the newest event-log sequence number folded in (for catch-up after a crash)

    def decay_to(self, ts: float, half_life_s: float) -> None:
        """Age every weight from ``updated`` to ``ts`` (never backwards)."""
        if ts <= self.updated and self.n_events:
            return
        if self.n_events:
            f = math.pow(0.5, (ts - self.updated) / half_life_s)
            self.affinity = {k: v * f for k, v in self.affinity.items() if v * f > 1e-4}
            # Vectors whose weight decayed to nothing go too (a float32 would underflow).
            self.vectors = {k: v * np.float32(f) for k, v in self.vectors.items() if f > 1e-12}
        self.updated = ts

    def add(self, ts: float, half_life_s: float, event_type: str, product_id: str, facets: list[str],
            vectors: dict[str, np.ndarray], seq: int = 0) -> None:
        """Fold one event in: decay to ``ts``, then add the item's facets and vectors."""
        self.last_seq = max(self.last_seq, seq)
        w = EVENT_WEIGHTS[event_type]
        if ts >= self.updated:
            self.decay_to(ts, half_life_s)
        else:  # a late event counts as much as it would have when it happened
            w *= math.pow(0.5, (self.updated - ts) / half_life_s)
        # An event so old it has decayed to nothing changes no weight: no zero entries,
        # whose family total of 0 would leave nothing to share out.
        if w > 1e-4:
            for key in facets:
                self.affinity[key] = self.affinity.get(key, 0.0) + w
            if len(self.affinity) > MAX_AFFINITIES:
                keep = sorted(self.affinity.items(), key=lambda kv: -kv[1])[:MAX_AFFINITIES]
                self.affinity = dict(keep)
            for mod, v in vectors.items():
                v = np.asarray(v, np.float32) * np.float32(w)
                if np.isfinite(v).all():
                    self.vectors[mod] = self.vectors[mod] + v if mod in self.vectors else v
        self.recent.append((product_id, event_type, ts))
        self.recent.sort(key=lambda r: r[2])
        del self.recent[:-MAX_RECENT]
        self.n_events += 1

    def copy(self) -> Profile:
        """A deep copy: stores hand these out so a caller cannot change a cached profile."""
        return Profile(owner=self.owner, updated=self.updated, n_events=self.n_events, affinity=dict(self.affinity),
                       vectors={k: v.copy() for k, v in self.vectors.items()}, recent=list(self.recent),
                       last_seq=self.last_seq)

    def history(self) -> list[tuple[str, float]]:
        """Recent items as the ``(product_id, weight)`` history collaborative models take."""
        return [(pid, EVENT_WEIGHTS[t]) for pid, t, _ in self.recent]

    def affinity_share(self, prefix: str) -> dict[str, float]:
        """Affinities of one facet family (``"color:"``) as shares of that family's total."""
        return shares({k: v for k, v in self.affinity.items() if k.startswith(prefix)})

    # -- serialisation: JSON with vectors as base64 float32, for every store backend ----------
    def to_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner, "updated": self.updated, "n_events": self.n_events, "affinity": self.affinity,
            "vectors": {k: base64.b64encode(np.asarray(v, np.float32).tobytes()).decode() for k, v in
                        self.vectors.items()},
            "recent": [list(r) for r in self.recent], "last_seq": self.last_seq,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Profile:
        return cls(owner=d["owner"], updated=float(d["updated"]), n_events=int(d["n_events"]),
                   affinity={k: float(v) for k, v in d["affinity"].items()},
                   vectors={k: np.frombuffer(base64.b64decode(v), np.float32).copy() for k, v in
                            d["vectors"].items()},
                   recent=[(str(a), str(b), float(c)) for a, b, c in d["recent"]],
                   last_seq=int(d.get("last_seq", 0)))

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Profile:
        return cls.from_dict(json.loads(raw))
