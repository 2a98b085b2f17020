"""The CLI contract: help everywhere, fast help, exit codes, --json, README coverage."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sdft_local.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "mlx", "mlx_vlm", "llama_cpp", "gguf", "peft", "textual")


def _all_commands(group=cli, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, prefix + (name,))


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path, cmd in _all_commands():
        assert (cmd.help or "").strip(), f"`sdft {' '.join(path)}` has no help text"
        assert f"sdft {path[0]}" in readme, f"`sdft {path[0]}` is not documented in README.md"


def test_help_is_fast_and_imports_nothing_heavy():
    probe = (
        "import sys, time; t=time.perf_counter(); from sdft_local.cli import cli;"
        "from click.testing import CliRunner; r=CliRunner();"
        "[r.invoke(cli, a) for a in (['--help'],) + tuple([v, '--help'] for v in %r)];"
        "print(time.perf_counter()-t); print(','.join(m for m in %r if m in sys.modules))"
    ) % (list(COMMANDS), HEAVY)
    best = None
    for _ in range(3):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        best = wall if best is None else min(best, wall)
        loaded = out.stdout.splitlines()[1] if len(out.stdout.splitlines()) > 1 else ""
        assert loaded == "", f"help imported heavy modules: {loaded}"
    assert best < 1.0, f"help for all verbs took {best:.2f}s"


def test_exit_codes(home):
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).exit_code == 0
    assert runner.invoke(cli, ["entity", "add"]).exit_code == 2          # usage
    assert runner.invoke(cli, ["no-such-verb"]).exit_code == 2
    result = runner.invoke(cli, ["entity", "list"])                      # no project yet
    assert result.exit_code == 1 and "sdft init" in result.output
    assert runner.invoke(cli, ["init", "bad/name"]).exit_code == 1


def test_json_documents(home):
    runner = CliRunner()
    out = runner.invoke(cli, ["init", "p", "--json"]).stdout
    assert json.loads(out)["project"] == "p"
    runner.invoke(cli, ["entity", "add", "Biscuit", "-k", "dog", "-f", "4 years old"])
    doc = json.loads(runner.invoke(cli, ["entity", "show", "Biscuit", "--json"]).stdout)
    assert doc["facts"] == ["4 years old"] and doc["photos"] == []
    err = runner.invoke(cli, ["entity", "show", "Max", "--json"])
    assert err.exit_code == 1 and json.loads(err.stdout)["ok"] is False


def test_project_flag_and_env_select_the_project(home):
    runner = CliRunner()
    runner.invoke(cli, ["init", "a"])
    runner.invoke(cli, ["init", "b"])
    runner.invoke(cli, ["entity", "add", "Rex", "-k", "dog", "--project", "a"])
    names = lambda *extra: [e["name"] for e in json.loads(runner.invoke(
        cli, ["entity", "list", "--json", *extra]).stdout)["entities"]]
    assert names() == [] and names("--project", "a") == ["Rex"]


def test_real_console_script_runs(home):
    env = {**os.environ, "SDFT_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "sdft_local.cli", "--version"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "sdft" in out.stdout
