"""`sdft check [RUN]`: knowledge and retention of a trained run, and the export gate's verdict.

Parses, calls `sdft_local.check.run_check`, renders its progress (stderr) and report (tables on
stdout, or one JSON document with --json), and exits 3 when the gate fails. The verdict is stored
in the project's checks table, where `sdft export` reads it.
"""

from __future__ import annotations

import click

from .common import Env, common_options, console, esc, stdout_console, table

VERDICT_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}


@click.command("check")
@click.argument("run", required=False)
@click.option("--backend", type=click.Choice(["auto", "torch", "mlx"]), default=None,
              help="Student backend (default: the project's check setting, else auto).")
@common_options
def check_cmd(env: Env, run: str | None, backend: str | None):
    """Check a run's knowledge and retention; the gate says pass, warn or fail.

    RUN is a run id or name (default: the newest trained run). Knowledge: does it recognize its
    entities on held-out photos and answer their facts? Retention: is it still as good as the base
    model on general probes (accuracy, KL, greedy agreement, concept bleed)? Exits 3 when the gate
    fails; the verdict is stored for `sdft export`.
    """
    from ..check import resolve_check_config, run_check

    with env.store() as store:
        config = resolve_check_config(store.project.settings, backend=backend)
        finished = _drive(run_check(store, run, config), show=not env.json)
    report = finished.report
    env.emit({"ok": report.gate.passed, "check_id": finished.check_id, "verdict": report.verdict,
              "report": report.to_dict()}, lambda: print_report(report))
    if report.verdict == "fail":
        _exit_failed(env, report)


def _drive(events, show: bool):
    """Run the check to its end, showing a progress bar per stage on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..check import CheckFinished, CheckProgressed, CheckStarted

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console(), disable=not show, transient=True) as progress:
        tasks: dict[str, int] = {}
        for event in events:
            if isinstance(event, CheckStarted) and show:
                console().print(f"Checking run {event.run_id} ({esc(event.run_name)}) on "
                                f"{esc(event.base_model)} "
                                f"with {esc(event.backend)}: {event.probes} general probes")
            elif isinstance(event, CheckProgressed):
                if event.stage not in tasks:
                    tasks[event.stage] = progress.add_task(event.stage, total=event.total)
                progress.update(tasks[event.stage], completed=event.done, total=event.total)
            elif isinstance(event, CheckFinished):
                return event
    raise AssertionError("run_check ended without CheckFinished")


def _exit_failed(env: Env, report) -> None:
    from ..errors import GateFailed

    fails = "; ".join(r.metric for r in report.gate.reasons if r.level == "fail")
    message = f"run {report.run_id} ({report.run_name}) failed the check: {fails}; see the reasons above"
    if env.json:
        # One JSON document on stdout only: the report already says why.
        console().print(f"[bold red]{esc(GateFailed.title)}:[/] {esc(message)}", highlight=False)
        click.get_current_context().exit(GateFailed.exit_code)
    raise GateFailed(message)


def print_report(report) -> None:
    out = stdout_console()
    out.print(f"Run {report.run_id} ({esc(report.run_name)}) on {esc(report.base_model)}, "
              f"{esc(report.student)}, "
              f"probe suite {esc(report.suite_version)}, {report.seconds:.1f} s")
    out.print(_retention_table(report.retention))
    r = report.retention
    out.print(f"KL(base || tuned) {r.kl_per_token:.4f} nats/token (worst item {r.kl_max_item:.3f}); "
              f"greedy agreement {r.token_agreement:.1%} of tokens, {r.answer_agreement:.1%} of answers")
    if r.bleed is not None:
        b = r.bleed
        out.print(f"Concept bleed on {b.photos} unrelated photos: 'yes' {b.yes_rate_base:.0%} -> "
                  f"{b.yes_rate_tuned:.0%}, name in open answers {b.name_rate_base:.0%} -> "
                  f"{b.name_rate_tuned:.0%}")
    if report.knowledge.entities:
        out.print(_knowledge_table(report.knowledge))
    if report.knowledge.open_facts is not None:
        o = report.knowledge.open_facts
        out.print(f"Open answers stating the fact ({o.questions} questions): base {o.base:.0%}, tuned "
                  f"{o.tuned:.0%}; with the facts card as system message: base {o.card:.0%}, tuned "
                  f"{o.tuned_card:.0%}")
    _print_gate(out, report.gate)


def _retention_table(r):
    rows = [[f.family, f.items, f"{f.chance:.2f}", f"{f.base_accuracy:.2f}", f"{f.tuned_accuracy:.2f}",
             _num(f.ratio, 3), "" if f.lost is None else f"{f.lost}/{f.gained}", f"{f.kl_per_token:.4f}",
             f"{f.token_agreement:.1%}", "yes" if f.gated else "no"]
            for f in r.families]
    rows.append(["all", r.items, "", f"{r.base_accuracy:.2f}", f"{r.tuned_accuracy:.2f}", _num(r.ratio, 3),
                 "", f"{r.kl_per_token:.4f}", f"{r.token_agreement:.1%}", ""])
    return table("Retention (general probes)", ["family", "items", "chance", "base", "tuned", "ratio",
                                                "lost/gained", "KL/token", "agreement", "gated"], rows)


def _knowledge_table(k):
    rows = []
    for e in k.entities:
        rec = e.recognition
        rows.append([e.name, *(["-"] * 4 if rec is None else [
            f"{rec.positive_accuracy:.2f}", f"{rec.negative_accuracy:.2f}",
            f"{rec.weighted_accuracy:.2f}", _num(rec.auroc, 2)]),
            _num(e.fact_accuracy, 2), _num(e.name_recall, 2)])
    return table("Knowledge (held-out photos)", ["entity", "positives", "negatives", "weighted",
                                                 "AUROC", "facts", "name recall"], rows)


def _print_gate(out, gate) -> None:
    out.print(f"Verdict: [{VERDICT_STYLE[gate.verdict]}]{esc(gate.verdict.upper())}[/]")
    for reason in gate.reasons:
        out.print(f"  [{VERDICT_STYLE[reason.level]}]{esc(reason.level)}[/] {esc(reason.metric)}: "
                  f"{esc(reason.message)}", highlight=False)
    for note in gate.notes:
        out.print(f"  note: {esc(note)}", highlight=False)


def _num(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
