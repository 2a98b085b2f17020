"""The same adapter checked on MLX and on torch gives the same report: equal accuracies, KL within
float tolerance, the same verdict and reasons. The run's adapter is PEFT, so the MLX check also
exercises the conversion to the MLX format."""

from __future__ import annotations

import pytest

from .conftest import SMALL, run_to_end

pytestmark = pytest.mark.mlx


@pytest.fixture(scope="module")
def mlx_reports(projects):
    pytest.importorskip("mlx_vlm")
    store = projects["knowing"]
    return {r: run_to_end(store, r, SMALL.merged(backend="mlx"), record=False)[0] for r in ("noop", "over")}


def _accuracies(report):
    r, k = report.retention, report.knowledge
    fams = [(f.family, f.base_accuracy, f.tuned_accuracy) for f in r.families]
    recog = [(e.name, e.recognition.positive_accuracy, e.recognition.negative_accuracy, e.fact_accuracy,
              e.name_recall) for e in k.entities]
    return fams, recog, (r.bleed.yes_rate_base, r.bleed.yes_rate_tuned, r.bleed.name_rate_tuned)


@pytest.mark.parametrize("run", ["noop", "over"])
def test_mlx_and_torch_reports_agree(run, mlx_reports, torch_reports):
    mlx, torch_ = mlx_reports[run], torch_reports["knowing", run][0]
    assert (mlx.backend, torch_.backend) == ("mlx", "torch")
    assert mlx.adapter == torch_.adapter and mlx.suite_version == torch_.suite_version
    assert _accuracies(mlx) == _accuracies(torch_)
    a, b = mlx.retention, torch_.retention
    assert a.kl_per_token == pytest.approx(b.kl_per_token, rel=1e-3, abs=1e-5)
    for fa, fb in zip(a.families, b.families):
        assert fa.kl_per_token == pytest.approx(fb.kl_per_token, rel=1e-3, abs=1e-5)
    assert (a.token_agreement, a.answer_agreement) == (b.token_agreement, b.answer_agreement)
    assert mlx.verdict == torch_.verdict
    reasons = [[(r.metric, r.level) for r in report.gate.reasons] for report in (mlx, torch_)]
    assert reasons[0] == reasons[1]
