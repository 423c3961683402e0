"""What finding the merchandising rules that apply costs a search, with many rules stored.

    python benchmarks/rule_matching.py [--rules 1000] [--searches 2000]

Seeded random rules over a 3,000-word vocabulary: 30 % exact, 30 % contains, 30 % fuzzy (some
for a segment), 10 % category pages, plus one site-wide rule. Searches are random queries, one in
four a stored rule's own query. Timed: the rules index build (once per version of the stored
rules), the indexed lookup per search, and checking every rule (what an unindexed search costs).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, percentiles, save, table
from shoprank.search.merch_rule import MerchRule
from shoprank.search.merchandising import Merchandising
from shoprank.search.rule_store import RuleStore


class FixedRules(RuleStore):
    def __init__(self, rules: dict[str, MerchRule]):
        self._rules = rules

    @classmethod
    def from_settings(cls, settings: object) -> RuleStore:  # type: ignore[override]
        raise NotImplementedError

    def rules(self) -> dict[str, MerchRule]:
        return self._rules

    def put_many(self, rules: Mapping[str, MerchRule]) -> None:
        raise NotImplementedError

    def delete(self, rule_id: str) -> bool:
        raise NotImplementedError


def make_rules(n: int, rng: random.Random, vocab: list[str]) -> dict[str, MerchRule]:
    rules = {}
    for i in range(n):
        q = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 3)))
        kind = i % 10
        if kind < 3:
            rule = MerchRule(query=q, match="exact", pin=["p"])
        elif kind < 6:
            rule = MerchRule(query=q, match="contains", hide=["p"])
        elif kind < 9:
            rule = MerchRule(query=q, match="fuzzy", pin=["p"], segments=["vip"] if i % 20 == 7 else [])
        else:
            rule = MerchRule(category=f"cat/{rng.choice(vocab)}", pin=["p"])
        rules[f"r{i:05d}"] = rule
    rules["site"] = MerchRule(hide=["x"])
    return rules


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--searches", type=int, default=2000)
    args = ap.parse_args()
    rng = random.Random(0)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 10))) for _ in range(3000)]
    rules = make_rules(args.rules, rng, vocab)
    queries = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 4))) for _ in range(args.searches)]
    stored = [r.query for r in rules.values() if r.query]
    for i in range(0, len(queries), 4):
        queries[i] = rng.choice(stored)
    merch = Merchandising(FixedRules(rules))
    t0 = time.perf_counter()
    merch.matching(["warm"], None, [])
    build_ms = (time.perf_counter() - t0) * 1000
    indexed, applied = [], 0
    for q in queries:
        t0 = time.perf_counter()
        applied += len(merch.matching([q], None, ["vip"]))
        indexed.append((time.perf_counter() - t0) * 1000)
    every = []
    for q in queries[:200]:
        t0 = time.perf_counter()
        [i for i, r in rules.items() if r.applies([q], None, ["vip"])]
        every.append((time.perf_counter() - t0) * 1000)
    rows = [{"lookup": "indexed", **percentiles(indexed)}, {"lookup": "every rule checked", **percentiles(every)}]
    print(f"{machine()}; {len(rules)} rules, index built in {build_ms:.1f} ms; {applied} rules applied "
          f"over {len(queries)} searches")
    print(table(rows, ["lookup", "n", "p50_ms", "p90_ms", "p99_ms", "mean_ms"]))
    save("rule_matching", {"args": vars(args), "build_ms": round(build_ms, 2), "rows": rows})


if __name__ == "__main__":
    main()
