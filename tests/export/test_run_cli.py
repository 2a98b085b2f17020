"""`sdft export` and `export_run`: runs from the store, check verdicts, --force, --json, SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdft_local.cli import cli
from sdft_local.errors import GateFailed
from sdft_local.export import ExportOptions, drain, export_run
from sdft_local.export.run import latest_verdict, list_exports
from sdft_local.store import Store

pytest.importorskip("llama_cpp")

ROOT = Path(__file__).resolve().parents[2]


def _project(model_dir: Path, adapter: Path, verdict: str | None) -> Store:
    store = Store.create("pets", base_model=str(model_dir))
    now = time.time()
    with store.transaction():
        run_id = store.db["runs"].insert({
            "name": "biscuit-1", "config": "{}", "backend": "torch", "state": "finished",
            "metrics": "{}", "adapter_path": "runs/1/adapter", "parent_run_id": None,
            "created": now, "updated": now}).last_pk
        if verdict:
            store.db["checks"].insert({"run_id": run_id, "report": "{}", "verdict": verdict, "created": now})
    shutil.copytree(adapter, store.root / "runs" / "1" / "adapter")
    (store.root / "runs" / "1" / "config.json").write_text(json.dumps(
        {"base_model": str(model_dir), "model_path": str(model_dir), "backend": "torch"}))
    return store


def test_a_failed_check_refuses_unless_forced(tiny_model_dir, peft_dir, tmp_path):
    with _project(tiny_model_dir, peft_dir, "fail") as store:
        assert latest_verdict(store, 1) == "fail"
        with pytest.raises(GateFailed, match="--force"):
            next(export_run(store, 1, "peft", tmp_path / "a"))
        result = drain(export_run(store, "biscuit-1", "peft", tmp_path / "b", force=True))
        assert result.forced and result.check_verdict == "fail" and result.verified
        rows = list_exports(store, 1)
        assert [(r["format"], r["verified"], r["forced"]) for r in rows] == [("peft", 1, 1)]
        manifest = json.loads(store.db["exports"].get(rows[0]["id"])["manifest"])
        assert manifest["check"] == {"verdict": "fail", "forced": True}


def test_unchecked_runs_export_and_say_so(tiny_model_dir, peft_dir, tmp_path):
    with _project(tiny_model_dir, peft_dir, None) as store:
        result = drain(export_run(store, None, "mlx", tmp_path / "m", ExportOptions(verify=False)))
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["check"] == {"verdict": "unchecked", "forced": False}
    assert manifest["source"]["run_name"] == "biscuit-1" and not result.forced


def test_cli_json_and_exit_codes(tiny_model_dir, peft_dir, tmp_path):
    _project(tiny_model_dir, peft_dir, "fail").close()
    runner = CliRunner()
    args = ["export", "1", "--format", "gguf-lora", "--project", "pets", "--json"]
    refused = runner.invoke(cli, args + ["--out", str(tmp_path / "a")])
    assert refused.exit_code == 3 and json.loads(refused.stdout)["ok"] is False
    done = runner.invoke(cli, args + ["--out", str(tmp_path / "b"), "--force"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["ok"] and data["forced"] and data["verified"]
    assert data["formats"][0]["artifacts"]["lora"] == "sdft-local-lora.gguf"
    again = runner.invoke(cli, args + ["--out", str(tmp_path / "b"), "--force"])
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    bad = runner.invoke(cli, args + ["--out", str(tmp_path / "c"), "--format", "tarball"])
    assert bad.exit_code == 1 and "unknown export format" in bad.stderr


def test_sigkill_leaves_nothing_at_the_target(tiny_model_dir, peft_dir, tmp_path, sdft_home):
    """Kill `sdft export` while it writes; the target must not exist, and the next export sweeps."""
    _project(tiny_model_dir, peft_dir, None).close()
    target = tmp_path / "out"
    env = {**os.environ, "SDFT_HOME": str(sdft_home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdft_local.cli", "export", "--format", "all", "--out", str(target),
         "--project", "pets"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        staging = _wait_for(lambda: [p for p in tmp_path.iterdir() if ".sdft-export-" in p.name
                                     and (p / "mlx").exists()], proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert staging and not target.exists()
    with Store.open("pets") as store:
        drain(export_run(store, None, "peft", target, ExportOptions(verify=False)))
    assert target.is_dir()
    assert not [p for p in tmp_path.iterdir() if ".sdft-" in p.name]  # the dead export was swept


def _wait_for(found, proc, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if result := found():
            return result
        time.sleep(0.05)
    raise AssertionError(f"export never reached the writing stage (exit {proc.poll()})")


def test_every_export_carries_the_facts_card_and_ollama_has_it_as_system(tiny_model_dir, peft_dir, tmp_path):
    from sdft_local.export.ollama import check_modelfile, modelfile_system
    from sdft_local.facts import read_card_file

    with _project(tiny_model_dir, peft_dir, "pass") as store:
        store.add_entity("Biscuit", "dog", ["is 4 years old", "loves tennis balls"])
        drain(export_run(store, 1, ("ollama", "peft"), tmp_path / "o", ExportOptions(verify=False, quant="f32")))
    system = modelfile_system(tmp_path / "o" / "ollama" / "Modelfile")
    assert system and "- Biscuit, a dog: is 4 years old; loves tennis balls." in system
    assert len(check_modelfile(tmp_path / "o" / "ollama" / "Modelfile")) == 2  # SYSTEM hides no file
    for fmt in ("ollama", "peft"):
        folder = tmp_path / "o" / fmt
        assert [c.name for c in read_card_file(folder)] == ["Biscuit"]
        assert "## The facts card" in (folder / "README.md").read_text()
        assert "facts_card.json" in json.loads((folder / "manifest.json").read_text())["files"]
