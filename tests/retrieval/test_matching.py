from shoprank.retrieval.matching import score_cliff


def test_cut_at_the_largest_drop():
    # efficientnet similarities of the blue backpack's photo on the demo catalog (rounded).
    assert score_cliff([1.0, 0.947, 0.923, 0.889, 0.844, 0.814, 0.593, 0.576, 0.57], 0.05) == 6


def test_no_cliff_keeps_everything():
    assert score_cliff([0.9, 0.88, 0.86, 0.84], 0.05) == 4  # largest drop 0.02 < 0.05
    assert score_cliff([0.7], 0.05) == 1
    assert score_cliff([], 0.05) == 0
