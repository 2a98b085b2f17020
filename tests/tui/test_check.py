"""The check screen: a check through the worker, its verdict and tables, runs side by side."""

import dataclasses
import importlib.util

import pytest

from sdft_local.check import latest_check
from sdft_tui.app import make_app
from sdft_tui.messages import StageFinished, StageProgressed
from sdft_tui.screens.check import CheckScreen
from sdft_tui.widgets.check_compare import CheckComparison
from sdft_tui.widgets.check_report import num

from .conftest import screen_text, wait_for

pytestmark = pytest.mark.anyio

# A small suite: the screen's job is to run and show the check, not to measure the tiny model.
SMALL_CHECK = {"image_probes": 8, "text_probes": 4, "bleed_photos": 2, "easy_negatives": 2,
               "answer_tokens": 4, "recall_tokens": 4, "batch_size": 8}


@pytest.mark.skipif(importlib.util.find_spec("sdft_local.world.questions") is None,
                    reason="the check's general probes come from sdft_local.world.questions, not built yet")
async def test_a_check_shows_the_verdict_with_reasons_and_is_stored(trained_project, recorder):
    from sdft_local.check import CheckFinished

    trained_project.update_settings(check=SMALL_CHECK)
    app = make_app()
    async with app.run_test(size=(140, 50), message_hook=recorder) as pilot:
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CheckScreen)
        assert "No check yet" in screen_text(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: recorder.of(StageFinished), timeout=300)
        text = screen_text(app)
        compare = screen.query_one(CheckComparison)
        columns = [str(c.label) for c in compare.columns.values()]
    [done] = [m.record for m in recorder.of(StageProgressed) if isinstance(m.record, CheckFinished)]
    report = done.report
    assert f" {report.verdict.upper()} " in text and f"run {report.run_name} (id 1)" in text
    for reason in report.gate.reasons:
        assert f"• [{reason.level}] {reason.message}" in text
    assert "Biscuit" in text
    for family in report.retention.families:
        assert f"{family.family} {family.items}" in text
        assert f"{num(family.ratio, 2)} {family.lost}/{family.gained} " in text
    assert columns == ["metric", "run-1 (#1)"]
    assert latest_check(trained_project, 1).verdict == report.verdict


async def test_runs_side_by_side_one_column_each(project):
    from sdft_local.check.report import (CheckReport, GateVerdict, KnowledgeReport, Reason,
                                         RetentionReport)

    retention = RetentionReport((), 10, 0.8, 0.6, 0.75, 0.2, 0.9, 0.85, 0.7, 4, None)
    knowledge = KnowledgeReport((), None, 0.5, 0.25)
    base = CheckReport(1, "run-1", "tiny-random", "torch", "torch:tiny-random+adapter", None, "v1",
                       0.0, 1.0, knowledge, retention, GateVerdict("pass", ()), {})
    worse = dataclasses.replace(base, run_id=2, run_name="run-2", gate=GateVerdict(
        "fail", (Reason("fail", "kl", 0.9, 0.5, "KL too high"),)))
    app = make_app()
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.press("c")
        table = app.screen.query_one(CheckComparison)
        table.show([base, worse])
        await pilot.pause()
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)[1:]]
                for i in range(table.row_count)}
    assert [str(c.label) for c in table.columns.values()] == ["metric", "run-1 (#1)", "run-2 (#2)"]
    assert rows["verdict"] == ["pass", "fail"] and rows["reasons"] == ["0", "1"]
    assert rows["facts"] == ["50%", "50%"] and rows["retention ratio"] == ["0.75", "0.75"]
