"""`sdft demo` on the shipped demo model, end to end through the CLI: it must really teach the pets
(held-out recognition and facts rise above the base model's), keep the gate from failing, and
export verified artifacts. About a minute on two cores."""

import json

import pytest
from click.testing import CliRunner

from sdft_local.cli import cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_model():
    from sdft_local.errors import ModelError
    from sdft_local.models.registry import DEMO_ID, resolve_model

    try:
        return resolve_model(DEMO_ID)
    except ModelError as err:  # an installation without it: scripts/pretrain_demo.py makes it
        pytest.skip(str(err))


def test_demo_on_the_shipped_model_learns_and_passes_the_gate(demo_model, tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--backend", "torch", "--out", str(tmp_path / "export"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["base_model"] == "demo"
    recognition, facts = report["recognition"], report["facts"]
    assert recognition["after"] > recognition["before"], recognition
    assert facts["after"] >= facts["before"] + 0.3, facts
    assert report["gate"]["verdict"] in ("pass", "warn"), report["gate"]
    assert report["retention"]["ratio"] >= 0.93, report["retention"]
    assert report["export_skipped"] is None and report["export"]["verified"]
    assert (tmp_path / "export" / "gguf" / "manifest.json").is_file()
