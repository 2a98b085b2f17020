"""Exporting a training run of a project: the store side of `sdft export`.

Owns what export asks of the runs and checks (their lookups are the training and check
modules': the run by id, name, or the project's current adapter; its latest verdict — a failed
check refuses the export unless forced, no check at all is "unchecked"), resolving its base model
and native adapter folder, and recording each exported format in the exports table. The work itself is `formats.export_formats`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

from ..errors import ExportError, GateFailed, NotFoundError
from .events import ExportFinished, ExportOptions, parse_formats
from .formats import export_formats
from .workspace import ExportSource

def export_run(store, run: int | str | None, formats, out, options: ExportOptions = ExportOptions(),
               *, force: bool = False) -> Iterator:
    """Export a run (None: the newest with an adapter); yields the records of `export_formats`."""
    formats = parse_formats(formats)
    info = find_run(store, run)
    verdict = latest_verdict(store, info.id)
    if verdict == "fail" and not force:
        raise GateFailed(f"run {info.name!r} (id {info.id}) failed its latest check; look at "
                         f"`sdft check --run {info.id}`, or pass --force to export it anyway")
    source = run_source(store, info, verdict)
    for event in export_formats(source, formats, out, options, forced=verdict == "fail"):
        if isinstance(event, ExportFinished):
            record_exports(store, event.result)
        yield event


def find_run(store, ref: int | str | None):
    """The run to export (a `training.runs.RunRow`): `ref` by id or name, else the project's
    current adapter's run (the newest finished one, else the newest with an adapter)."""
    from ..training.runs import current_adapter, list_runs

    if ref is None:
        found = current_adapter(store)
        if found is None:
            raise NotFoundError(f"project {store.project.name!r} has no trained run to export; "
                                "train one with `sdft train`")
        return found[0]
    rows = list_runs(store)
    matches = [r for r in rows if str(r.id) == str(ref) or r.name == str(ref)]
    if not matches:
        known = ", ".join(f"{r.id} ({r.name})" for r in rows) or "none yet"
        raise NotFoundError(f"no run {ref!r} in project {store.project.name!r}; runs: {known}")
    return matches[-1]


def latest_verdict(store, run_id: int) -> str:
    """pass / warn / fail of the run's newest check (the checks table's owner decides which), or
    "unchecked"."""
    from ..check.runner import latest_check

    stored = latest_check(store, run_id)
    return stored.verdict if stored else "unchecked"


def run_source(store, info, verdict: str) -> ExportSource:
    from ..models.registry import resolve_model

    if not info.adapter_path or not (store.root / info.adapter_path).is_dir():
        raise ExportError(f"run {info.name!r} (id {info.id}, {info.state}) has no adapter on disk; "
                          "finish or resume it with `sdft train --resume`")
    record = _run_record(store, info.id)
    base_ref = record.get("base_model") or store.project.base_model
    model_path = record.get("model_path")
    model_dir = (Path(model_path) if model_path and Path(model_path).is_dir()
                 else resolve_model(base_ref, offline=True))
    from ..facts import cards_of

    return ExportSource(Path(model_dir).resolve(), (store.root / info.adapter_path).resolve(),
                        base_ref=_readme_base(base_ref, model_dir), run_id=info.id,
                        run_name=info.name, backend=info.backend, check_verdict=verdict,
                        cards=cards_of(store))


def record_exports(store, result) -> None:
    with store.transaction():
        for fmt in result.formats:
            manifest = json.loads((fmt.path / "manifest.json").read_text("utf-8"))
            store.db["exports"].insert({
                "run_id": result.run_id, "format": fmt.format, "path": str(fmt.path),
                "verified": int(fmt.verified), "forced": int(result.forced),
                "manifest": json.dumps(manifest), "created": time.time()})


def list_exports(store, run_id: int | None = None) -> list[dict]:
    sql = "SELECT id, run_id, format, path, verified, forced, created FROM exports"
    args = []
    if run_id is not None:
        sql, args = sql + " WHERE run_id = ?", [run_id]
    return list(store.db.query(sql + " ORDER BY id", args))


def _run_record(store, run_id: int) -> dict:
    from ..training.runs import get_run

    path = get_run(store, run_id).folder(store) / "config.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _readme_base(base_ref: str, model_dir: Path) -> str:
    # Hub ids load anywhere; built-in ids (tiny-random, demo) only mean something to sdft-local.
    is_hub_id = "/" in base_ref and not Path(base_ref).expanduser().exists()
    return base_ref if is_hub_id else str(Path(model_dir).resolve())

