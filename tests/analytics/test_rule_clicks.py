"""A rule's expected-clicks estimate: the click model fitted on the query's logged pages."""
from __future__ import annotations

import pytest

from shoprank.analytics.impressions import Impression
from shoprank.analytics.report import PageView
from shoprank.analytics.rule_clicks import estimate_clicks


def view(i: int, query: str, shown: tuple[str, ...], clicks: set[int]) -> PageView:
    imp = Impression(search_id=f"s{i}", ts=float(i), kind="text", products=shown, query=query)
    return PageView(imp, frozenset(clicks))


def test_moving_the_clicked_product_down_costs_clicks_and_a_new_one_counts_as_average():
    # "a" is clicked at rank 1 every time, at rank 2 every other time (its slot alternates, so examination
    # separates from attractiveness), "b" never.
    views = [view(i, "Tent ", ("a", "b") if i % 2 else ("b", "a"), {1} if i % 2 else {2} if i % 4 == 0 else set())
             for i in range(40)]
    same = estimate_clicks(views, "tent", ["a", "b"], ["a", "b"])
    assert same is not None and same.change == 0 and same.pages == 40 and same.unseen == 0
    swapped = estimate_clicks(views, "TENT", ["a", "b"], ["b", "a"])
    assert swapped is not None and swapped.change < 0
    new = estimate_clicks(views, "tent", ["a", "b"], ["c", "a"])  # c: the mean of a and b
    assert new is not None and new.unseen == 1 and swapped.after < new.after  # better than b, worse than a
    assert estimate_clicks(views, "lamp", ["a"], ["b"]) is None  # nothing logged for the query


@pytest.mark.parametrize("clicks", [set(), {1, 2}])
def test_pages_without_or_with_every_click_give_an_estimate(clicks):
    views = [view(i, "tent", ("a", "b"), clicks) for i in range(5)]
    est = estimate_clicks(views, "tent", ["a", "b"], ["b", "a"])
    assert est is not None and est.before >= 0 and est.after >= 0
