"""Runs side by side: the latest check of each run, one column per run, one row per metric."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from .check_report import VERDICT_STYLE, num, pct

ROWS = (
    ("verdict", lambda r: Text(r.verdict, style=VERDICT_STYLE[r.verdict])),
    ("recognition", lambda r: pct(r.knowledge.recognition and r.knowledge.recognition.weighted_accuracy)),
    ("facts", lambda r: pct(r.knowledge.fact_accuracy)),
    ("name recall", lambda r: pct(r.knowledge.name_recall)),
    ("retention ratio", lambda r: num(r.retention.ratio, 2)),
    ("KL/token", lambda r: num(r.retention.kl_per_token, 4)),
    ("token agreement", lambda r: pct(r.retention.token_agreement)),
    ("bleed (yes rate)", lambda r: pct(r.retention.bleed and r.retention.bleed.yes_rate_tuned)),
    ("reasons", lambda r: str(len(r.gate.reasons))),
)


class CheckComparison(DataTable):
    def show(self, reports: list) -> None:
        self.clear(columns=True)
        self.add_column("metric")
        for report in reports:
            self.add_column(f"{report.run_name} (#{report.run_id})")
        for label, value in ROWS:
            self.add_row(label, *(value(r) for r in reports))
