"""`sdft demo` on the shipped demo model, end to end through the CLI: it must really teach the pets
(held-out recognition, name recall and facts rise above the base model's), and the export must
follow the gate. About four minutes on two cores."""

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


def test_demo_on_the_shipped_model_learns_and_the_gate_decides_the_export(demo_model, tmp_path, monkeypatch):
    from sdft_local.synth.local_models import bundled_path

    monkeypatch.delenv("SDFT_SYNTH_BACKEND")  # what a user gets: the local quantized model writes turn 3
    result = CliRunner().invoke(cli, ["demo", "--backend", "torch", "--out", str(tmp_path / "export"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["base_model"] == "demo"
    if bundled_path() is not None:
        turn3 = report["turn3"]
        assert turn3["by"] == "llama-cpp:SmolLM2-135M-Instruct.Q4_1.gguf" and turn3["dialogues"] == 54
        assert turn3["fallbacks"] <= turn3["dialogues"] // 2, turn3  # most answers are the model's
    recognition, facts, recall = report["recognition"], report["facts"], report["name_recall"]
    # It learns to recognize the pets on photos it never saw, to name them, and their facts.
    assert recognition["after"] >= recognition["before"] + 0.05, recognition
    assert recall["after"] >= recall["before"] + 0.3, recall
    assert facts["after"] >= facts["before"] + 0.3, facts
    assert report["open_facts"]["questions"] == 12  # 6 facts, by name and about a photo
    assert report["retention"]["ratio"] >= 0.9, report["retention"]
    # Whatever the verdict, the export follows it: verified files when it passes, none when it fails.
    if report["gate"]["verdict"] == "fail":
        assert report["export"] is None and report["export_skipped"].startswith("the check failed")
        assert not (tmp_path / "export").exists()
    else:
        assert report["export_skipped"] is None
        assert report["export"]["verified"] or report["export"]["warnings"]
        assert (tmp_path / "export" / "gguf" / "manifest.json").is_file()
