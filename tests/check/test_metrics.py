"""The check's arithmetic against brute force and hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sdft_local.check.metrics import auroc, kl_from_top_k, mentions, recognition, top_k
from sdft_local.models.student import log_softmax


def _exact_kl(p_lp, q_lp):
    return (np.exp(p_lp) * (p_lp - q_lp)).sum(-1)


def test_auroc_matches_pairwise_count():
    rng = np.random.default_rng(0)
    pos, neg = rng.random(7).round(1), rng.random(9).round(1)  # rounding makes ties
    pairs = list(itertools.product(pos, neg))
    expected = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    assert auroc(pos, neg) == pytest.approx(expected)
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5], []) is None


def test_recognition_accuracies():
    r = recognition([0.9, 0.6, 0.4, 0.7], [0.1, 0.8, 0.3])
    assert (r.positive_accuracy, r.negative_accuracy) == (0.75, pytest.approx(2 / 3))
    assert r.weighted_accuracy == pytest.approx((0.75 + 2 / 3) / 2)
    assert (r.positives, r.negatives) == (4, 3)


def test_kl_full_vocabulary_is_exact_and_zero_on_itself():
    rng = np.random.default_rng(1)
    p, q = log_softmax(rng.normal(size=(5, 50))), log_softmax(rng.normal(size=(5, 50)))
    ids, lp = top_k(p, 50)
    np.testing.assert_allclose(kl_from_top_k(ids, lp, q), _exact_kl(p, q), rtol=1e-5)
    assert np.abs(kl_from_top_k(ids, lp, p)).max() < 1e-6


def test_kl_top_k_is_a_tight_lower_bound():
    rng = np.random.default_rng(2)
    p = log_softmax(rng.normal(size=(6, 300)) * 4)  # peaked: the top 20 hold most of the mass
    q = log_softmax(rng.normal(size=(6, 300)) * 4)
    ids, lp = top_k(p, 20)
    exact, bound = _exact_kl(p, q), kl_from_top_k(ids, lp, q)
    assert np.all(bound <= exact + 1e-6)
    assert np.all(bound >= 0.9 * exact)
    assert np.abs(kl_from_top_k(ids, lp, p)).max() < 1e-6  # identical models: zero, tail included


def test_top_k_keeps_the_largest():
    rows = np.array([[0.1, 3.0, -1.0, 2.0], [5.0, 4.0, 3.0, 2.0]], np.float32)
    ids, vals = top_k(rows, 2)
    assert [set(r) for r in ids.tolist()] == [{1, 3}, {0, 1}]
    np.testing.assert_array_equal(np.take_along_axis(rows, ids.astype(np.int64), -1), vals)


@pytest.mark.parametrize("text,found", [
    ("This is Biscuit.", True), ("biscuit's ball", True), ("BISCUIT", True),
    ("Biscuits are tasty", False), ("a biscuitville sign", False), ("A dog.", False),
])
def test_mentions_whole_word(text, found):
    assert mentions(text, "Biscuit") is found


def test_beyond_chance_needs_margin_and_two_standard_errors():
    from sdft_local.check.retention import beyond_chance

    assert beyond_chance(0.25, 25, 0.10) == pytest.approx(2 * np.sqrt(0.25 * 0.75 / 25))  # 0.173
    assert beyond_chance(0.25, 2000, 0.10) == 0.10
