"""Training runs in the project store: one `runs` row per run, files under `<project>/runs/<id>/`.

Owns creating a run row, moving it through its states (running → finished | failed |
interrupted; a killed process leaves "running", which `list_runs` reports as interrupted once its
owning process is gone and `resumable_run` picks up), and finding the project's current adapter. Paths in the database are relative to the project folder. It does not
train (see `run.py`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import NotFoundError

RUNS_DIR = "runs"
RESUMABLE = ("running", "interrupted", "failed")


@dataclass(frozen=True)
class RunRow:
    id: int
    name: str
    config: dict
    backend: str
    state: str
    metrics: dict
    adapter_path: str | None
    parent_run_id: int | None
    created: float
    updated: float
    owner_gone: bool = False  # "running", but the process that trained it no longer runs

    @property
    def shown_state(self) -> str:
        """The state to show: a run whose process was killed is interrupted, not running."""
        return "interrupted" if self.state == "running" and self.owner_gone else self.state

    def folder(self, store) -> Path:
        return store.root / RUNS_DIR / str(self.id)


def create_run(store, name: str | None, config: dict, backend: str, parent: int | None = None) -> RunRow:
    now = time.time()
    with store.transaction():
        run_id = store.db["runs"].insert({
            "name": name or "", "config": json.dumps(config), "backend": backend, "state": "running",
            "metrics": "{}", "adapter_path": None, "parent_run_id": parent, "created": now,
            "updated": now, **_owner()}).last_pk
        if not name:
            store.db["runs"].update(run_id, {"name": f"run-{run_id}"})
    return get_run(store, run_id)


def update_run(store, run_id: int, **changes) -> None:
    for key in ("metrics", "config"):
        if key in changes:
            changes[key] = json.dumps(changes[key], default=str)
    if changes.get("state") == "running":  # (re)started by this process
        changes.update(_owner())
    with store.transaction():
        store.db["runs"].update(run_id, {**changes, "updated": time.time()})


def get_run(store, run_id: int) -> RunRow:
    rows = list(store.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not rows:
        raise NotFoundError(f"no run {run_id} in project {store.project.name!r}; "
                            f"see the runs with `sdft train --list` or start one with `sdft train`")
    return _row(rows[0])


def list_runs(store) -> list[RunRow]:
    if "runs" not in store.db.table_names():
        return []
    return [_row(r) for r in store.db.query("SELECT * FROM runs ORDER BY id")]


def resumable_run(store, run_id: int | None = None) -> RunRow:
    """The run to resume: `run_id`, else the newest run that did not finish."""
    if run_id is not None:
        return get_run(store, run_id)
    candidates = [r for r in list_runs(store) if r.state in RESUMABLE]
    if not candidates:
        raise NotFoundError(f"project {store.project.name!r} has no unfinished run to resume; "
                            f"start one with `sdft train`")
    return candidates[-1]


def current_adapter(store) -> tuple[RunRow, Path] | None:
    """The newest run with an adapter on disk (finished runs first), or None."""
    runs = [r for r in list_runs(store) if r.adapter_path and (store.root / r.adapter_path).is_dir()]
    finished = [r for r in runs if r.state == "finished"]
    pick = (finished or runs)[-1] if runs else None
    return (pick, store.root / pick.adapter_path) if pick else None


def run_adapter(store, run: int | str | None):
    """(run row, adapter folder): the run by id or name, else the project's current adapter."""
    if run is None:
        found = current_adapter(store)
        if found is None:
            raise NotFoundError(f"project {store.project.name!r} has no trained adapter yet; "
                                f"train one with `sdft train`")
        return found
    if isinstance(run, int) or str(run).isdigit():
        row = get_run(store, int(run))
    else:
        matches = [r for r in list_runs(store) if r.name == run]
        if not matches:
            known = ", ".join(f"{r.id} ({r.name})" for r in list_runs(store)) or "(none yet)"
            raise NotFoundError(f"no run named {run!r} in project {store.project.name!r}; known: {known}")
        row = matches[-1]
    if not row.adapter_path or not (store.root / row.adapter_path).is_dir():
        raise NotFoundError(f"run {row.id} ({row.name}) has no adapter yet (state {row.state!r}); "
                            f"let it finish, or resume it with `sdft train --resume {row.id}`")
    return row, store.root / row.adapter_path


def _owner() -> dict:
    from ..owner import owner

    mine = owner()
    return {"owner_host": mine["host"], "owner_pid": mine["pid"]}


def _row(row: dict) -> RunRow:
    from ..owner import owner_gone

    gone = row["state"] == "running" and owner_gone(row.get("owner_host"), row.get("owner_pid"))
    return RunRow(row["id"], row["name"], json.loads(row["config"] or "{}"), row["backend"], row["state"],
                  json.loads(row["metrics"] or "{}"), row["adapter_path"], row["parent_run_id"],
                  row["created"], row["updated"], gone)
