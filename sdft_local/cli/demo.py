"""`sdft demo`: the whole path on the bundled demo model, offline, with a before/after report."""

from __future__ import annotations

import click

from .common import Env, common_options, esc, stdout_console, table


@click.command("demo")
@click.option("--reset", is_flag=True, help="Start the demo project over if it exists.")
@click.option("--steps", type=int, default=None, help="Training steps (default: 3 epochs).")
@click.option("--backend", type=click.Choice(["auto", "torch", "mlx"]), default="auto",
              show_default=True, help="Engine for the student (auto: MLX on Apple Silicon).")
@click.option("--base-model", default="demo", show_default=True,
              help="Model id or folder to personalize (the bundled `demo` model by default).")
@click.option("--out", type=click.Path(), default=None,
              help="Export folder (default: the project's exports/latest).")
@common_options
def demo_cmd(env: Env, reset: bool, steps: int | None, backend: str, base_model: str, out):
    """Teach the demo model about Biscuit the dog, offline, and show what changed.

    Creates a project (default name `demo`), adds two drawn pets with their facts and photos,
    synthesizes the dialogues (turn 3 by the local quantized model found here), trains, checks knowledge and retention, exports PEFT + GGUF, and
    prints recognition, facts and retention before and after.
    """
    from dataclasses import replace
    from pathlib import Path

    from ..demo.run import DemoFinished, DemoOptions, run_demo
    from .render import render_records

    options = DemoOptions(project=env.project or "demo", base_model=base_model, reset=reset,
                          steps=steps)
    options = replace(options, pipeline=replace(
        options.pipeline, student_backend=backend, export_dir=Path(out) if out else None))
    finished = None
    for record in render_records(run_demo(options), quiet=env.json):
        if isinstance(record, DemoFinished):
            finished = record
    summary = demo_summary(finished)
    env.emit(summary, lambda: _print(summary))


def demo_summary(done) -> dict:
    before, after = done.before, done.after
    k_after = after.knowledge if after else None
    rec = lambda k: k.recognition.weighted_accuracy if k and k.recognition else None
    return {
        "project": done.project, "project_dir": done.project_dir, "base_model": done.base_model,
        "seconds": round(done.seconds, 1),
        "turn3": {"by": done.synth.backend, "dialogues": done.synth.dialogues,
                  "fallbacks": done.synth.entity_fallbacks} if done.synth else None,
        "recognition": {"before": rec(before), "after": rec(k_after)},
        "facts": {"before": before.fact_accuracy, "after": k_after.fact_accuracy if k_after else None},
        "name_recall": {"before": before.name_recall, "after": k_after.name_recall if k_after else None},
        "open_facts": _open_facts(k_after),
        "retention": _retention(after.retention) if after else None,
        "gate": {"verdict": after.gate.verdict,
                 "reasons": [r.message for r in after.gate.reasons]} if after else None,
        "train": {"steps": done.train.steps, "state": done.train.state,
                  "adapter": done.train.adapter_path} if done.train else None,
        "export": {"out": str(done.export.out), "verified": done.export.verified,
                   "formats": {f.format: {"path": str(f.path), "verified": f.verified,
                                          "files": list(f.files)} for f in done.export.formats},
                   "warnings": list(done.export.warnings)} if done.export else None,
        "export_skipped": done.export_skipped,
    }


def _open_facts(knowledge) -> dict | None:
    o = knowledge.open_facts if knowledge else None
    if o is None:
        return None
    return {"before": o.base, "after": o.tuned, "card": o.card, "after_card": o.tuned_card,
            "questions": o.questions}


def _retention(r) -> dict:
    return {"accuracy_base": r.base_accuracy, "accuracy_tuned": r.tuned_accuracy, "ratio": r.ratio,
            "kl_per_token": r.kl_per_token, "token_agreement": r.token_agreement}


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _print(s: dict) -> None:
    out = stdout_console()
    rows = [[name, _fmt(s[key]["before"]), _fmt(s[key]["after"])]
            for name, key in (("held-out recognition (weighted acc.)", "recognition"),
                              ("fact accuracy (multiple choice)", "facts"), ("name recall", "name_recall"))]
    if s["open_facts"]:
        o = s["open_facts"]
        rows += [["facts in open answers", _fmt(o["before"]), _fmt(o["after"])],
                 ["  … with the facts card", _fmt(o["card"]), _fmt(o["after_card"])]]
    out.print(table(f"Demo: {esc(s['project'])} on {esc(s['base_model'])} ({s['seconds']} s)",
                    ["", "before", "after"], rows))
    if s["turn3"]:
        t = s["turn3"]
        out.print(f"Turn 3 of {t['dialogues']} dialogues written by {esc(t['by'])}"
                  f" ({t['fallbacks']} fell back to the template)", highlight=False)
    if s["retention"]:
        r = s["retention"]
        out.print(f"Retention: probe accuracy {_fmt(r['accuracy_base'])} → {_fmt(r['accuracy_tuned'])}"
                  f" (ratio {_fmt(r['ratio'])}), KL(base‖tuned) {_fmt(r['kl_per_token'])} nats/token,"
                  f" agreement {_fmt(r['token_agreement'])}")
    if s["gate"]:
        out.print(f"Gate: [bold]{esc(s['gate']['verdict'])}[/]")
        for reason in s["gate"]["reasons"]:
            out.print(f"  • {esc(reason)}")
    if s["export"]:
        state = "verified" if s["export"]["verified"] else "NOT verified"
        out.print(f"Exported {esc(', '.join(s['export']['formats']))} ({esc(state)}) to "
                  f"{esc(s['export']['out'])}")
        for fmt, info in s["export"]["formats"].items():
            out.print(f"  {esc(fmt)}: {esc(', '.join(info['files']))}")
    if s["export_skipped"]:
        out.print(f"[yellow]Export skipped:[/] {esc(s['export_skipped'])}")
    out.print(f"Project: {esc(s['project_dir'])}  (try it: sdft tui)")
