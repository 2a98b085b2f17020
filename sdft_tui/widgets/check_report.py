"""A check report: the gate's verdict with its reasons, then knowledge and retention tables."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

VERDICT_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def verdict_text(report) -> Text:
    text = Text(f" {report.verdict.upper()} ", style=f"reverse {VERDICT_STYLE[report.verdict]}")
    text.append(f"  run {report.run_name} (id {report.run_id}) · {report.student} · "
                f"{report.seconds:.0f} s", style="")
    for reason in report.gate.reasons:
        text.append(f"\n• [{reason.level}] {reason.message}", style=VERDICT_STYLE[reason.level])
    for note in report.gate.notes:
        text.append(f"\n• {note}", style="dim")
    return text


class CheckReportView(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("No check yet: ctrl+s runs one on the current adapter.", id="verdict")
        yield Label("Knowledge (held-out photos)", classes="section")
        yield DataTable(id="knowledge", cursor_type="row")
        yield Label("Retention (general probes, base vs tuned)", classes="section")
        yield DataTable(id="retention", cursor_type="row")
        yield Static("", id="retention-summary")

    def on_mount(self) -> None:
        self.query_one("#knowledge", DataTable).add_columns(
            "entity", "recognition", "positives", "negatives", "facts", "name recall")
        self.query_one("#retention", DataTable).add_columns(
            "family", "items", "base", "tuned", "ratio", "lost/gained", "KL/token", "agreement")

    def show(self, report) -> None:
        self.query_one("#verdict", Static).update(verdict_text(report))
        knowledge = self.query_one("#knowledge", DataTable)
        knowledge.clear()
        for e in report.knowledge.entities:
            r = e.recognition
            knowledge.add_row(e.name, pct(r and r.weighted_accuracy), pct(r and r.positive_accuracy),
                              pct(r and r.negative_accuracy), pct(e.fact_accuracy), pct(e.name_recall))
        retention = self.query_one("#retention", DataTable)
        retention.clear()
        for f in report.retention.families:
            changed = "" if f.lost is None else f"{f.lost}/{f.gained}"
            retention.add_row(f.family, f.items, pct(f.base_accuracy), pct(f.tuned_accuracy),
                              num(f.ratio, 2), changed, num(f.kl_per_token, 4), pct(f.token_agreement))
        self.query_one("#retention-summary", Static).update(_retention_summary(report.retention))


def _retention_summary(ret) -> str:
    line = (f"overall {pct(ret.base_accuracy)} → {pct(ret.tuned_accuracy)} (ratio {num(ret.ratio, 2)}) · "
            f"KL(base‖tuned) {num(ret.kl_per_token, 4)} nats/token · token agreement "
            f"{pct(ret.token_agreement)} · answers unchanged {pct(ret.answer_agreement)}")
    if ret.bleed is not None:
        b = ret.bleed
        line += (f"\nconcept bleed on {b.photos} unrelated photos: says yes {pct(b.yes_rate_base)} → "
                 f"{pct(b.yes_rate_tuned)}, names it {pct(b.name_rate_base)} → {pct(b.name_rate_tuned)}")
    return line
