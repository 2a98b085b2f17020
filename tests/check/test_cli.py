"""`sdft check`: the table, the JSON document, exit code 3 on a failed gate, and the stored verdict."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sdft_local.check import latest_check
from sdft_local.cli import cli

from .conftest import SMALL


@pytest.fixture(scope="module")
def small_settings(projects):
    for store in projects.values():
        store.update_settings(check=SMALL.merged(backend="torch").to_dict())
    return projects


def _sdft(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_failed_gate_exits_3_with_one_json_document(small_settings):
    result = _sdft("check", "over", "--project", "knowing", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert (doc["ok"], doc["verdict"]) == (False, "fail")
    fails = {r["metric"] for r in doc["report"]["gate"]["reasons"] if r["level"] == "fail"}
    assert {"retention.kl", "retention.agreement"} <= fails
    stored = latest_check(small_settings["knowing"], doc["report"]["run_id"])
    assert (stored.id, stored.verdict) == (doc["check_id"], "fail")


def test_failed_gate_human_output_names_reasons(small_settings):
    result = _sdft("check", "over", "--project", "plain")
    assert result.exit_code == 3
    assert "Retention (general probes)" in result.stdout and "Verdict: FAIL" in result.stdout
    assert "retention.kl" in result.stdout
    assert "Gate failed" in result.stderr


def test_passing_run_exits_0(small_settings):
    result = _sdft("check", "noop", "--project", "plain")
    assert result.exit_code == 0, result.output
    assert "Verdict: PASS" in result.stdout and "KL(base || tuned) 0.0000" in result.stdout
    run_id = json.loads(_sdft("check", "1", "--project", "plain", "--json").stdout)["report"]["run_id"]
    assert latest_check(small_settings["plain"], run_id).verdict == "pass"


def test_unknown_run_is_a_user_error(small_settings):
    result = _sdft("check", "nope", "--project", "plain")
    assert result.exit_code == 1 and "no run named 'nope'" in result.stderr


def test_check_is_listed_with_help():
    result = _sdft("check", "--help")
    assert result.exit_code == 0 and "Exits 3 when the gate fails" in " ".join(result.stdout.split())
