"""Verification limits: tight limits warn, the refusal limit stops the export; quality never does."""

from __future__ import annotations

import numpy as np
import pytest

from sdft_local.export.verify import (Tolerances, check, first_token_gap, greedy_agreement,
                                      max_abs_diff)


def test_hard_check_warns_between_limits_and_refuses_beyond():
    tol = Tolerances()
    limit = tol.logit_limit("f32", 10.0)
    refuse = tol.refuse_limit(limit, 10.0)
    assert limit == pytest.approx(1e-3 + 1e-4 * 10) and refuse == pytest.approx(0.5)
    assert not check("x", "n", "m", limit / 2, limit, refuse_limit=refuse).refused
    noisy = check("x", "n", "m", 0.1, limit, refuse_limit=refuse)
    assert not noisy.passed and not noisy.refused
    assert check("x", "n", "m", 0.6, limit, refuse_limit=refuse).refused
    assert check("x", "n", "m", 1e-9, 0.0).refused  # exact checks refuse any difference


def test_quality_checks_never_refuse():
    low = check("q8", "greedy", "fraction", 0.2, 0.95, op=">=", severity="quality")
    assert not low.passed and not low.refused and low.refuse_limit is None
    assert low.as_dict()["refused"] is False


def test_metrics():
    a = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]])
    b = np.array([[0.0, 1.0, 2.0], [3.0, 0.5, 0.0]])
    assert max_abs_diff([(a, b)]) == 1.0
    assert greedy_agreement([(a, b)]) == 0.5
    assert first_token_gap(a[0], b[0]) == 1.0 and first_token_gap(b[0], b[0]) == 0.0
