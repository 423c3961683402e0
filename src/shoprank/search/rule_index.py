"""The stored merchandising rules indexed by what a search must hold for each to apply, so a
search looks at the few rules that can match instead of every rule.

Keys: an ``exact`` rule's query; a ``contains`` rule's first word (a whole word of any query that
holds the rule's words); a ``fuzzy`` rule's words' first letters (typos keep the first letter and
the word count); a category rule's page. Site-wide rules, and ``contains`` rules without a leading
word (Chinese, a leading symbol), are candidates of every search. The candidates are then checked
in full (:meth:`MerchRule.applies`): the index only leaves rules out that cannot apply.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from shoprank.search.merch_rule import MerchRule, has_cjk, normalize_category, normalize_text, words


def _initials(ws: tuple[str, ...]) -> str:
    return "".join(w[0] for w in ws)


class RuleIndex:
    """Rule ids by the keys a search can name; built once per version of the stored rules."""

    def __init__(self, rules: Mapping[str, MerchRule]):
        self.exact: dict[str, list[str]] = defaultdict(list)
        self.contains: dict[str, list[str]] = defaultdict(list)
        self.fuzzy: dict[tuple[int, str], list[str]] = defaultdict(list)
        self.category: dict[str, list[str]] = defaultdict(list)
        self.always: list[str] = []  # site-wide, and what no key can find
        for rule_id, rule in rules.items():
            self._add(rule_id, rule)

    def _add(self, rule_id: str, rule: MerchRule) -> None:
        if rule.category is not None:
            self.category[normalize_category(rule.category)].append(rule_id)
            return
        if rule.query is None:
            self.always.append(rule_id)
            return
        want = normalize_text(rule.query)
        ws = words(want)
        if rule.match == "exact":
            self.exact[want].append(rule_id)
        elif rule.match == "fuzzy":
            self.fuzzy[(len(ws), _initials(ws))].append(rule_id)
        elif ws and want.startswith(ws[0]) and not has_cjk(want):
            self.contains[ws[0]].append(rule_id)
        else:
            self.always.append(rule_id)

    def candidates(self, texts: list[str], category: str | None) -> set[str]:
        """Ids of the rules that may apply to a search with these normalized ``texts`` (none for a
        browse) and category filter."""
        found = set(self.always)
        if not texts:
            if category is not None:
                found.update(self.category.get(normalize_category(category), ()))
            return found
        for text in texts:
            found.update(self.exact.get(text, ()))
            ws = words(text)
            found.update(self.fuzzy.get((len(ws), _initials(ws)), ()))
            for w in set(ws):
                found.update(self.contains.get(w, ()))
        return found
