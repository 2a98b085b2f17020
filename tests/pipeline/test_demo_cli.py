"""`sdft demo` end to end through the real CLI (on the tiny model: the demo model is optional)."""

import json

from click.testing import CliRunner

from sdft_local.cli import cli


def test_demo_runs_every_stage_and_reports_before_and_after(tiny_model_dir, tmp_path):
    args = ["demo", "--base-model", str(tiny_model_dir), "--steps", "2", "--backend", "torch",
            "--out", str(tmp_path / "export"), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("recognition", "facts", "name_recall"):
        assert set(report[key]) == {"before", "after"}
        assert report[key]["before"] is not None and report[key]["after"] is not None
    assert report["train"]["state"] == "finished" and report["train"]["steps"] == 2
    assert set(report["open_facts"]) == {"before", "after", "card", "after_card", "questions"}
    # Two steps on random weights teach nothing: the gate says so, and nothing is exported.
    assert report["gate"]["verdict"] == "fail"
    assert any("held-out photos" in r for r in report["gate"]["reasons"])
    assert report["export"] is None and report["export_skipped"].startswith("the check failed")
    assert not (tmp_path / "export").exists()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "--reset" in again.output


def test_the_demo_exports_and_verifies_what_passes_the_check(tiny_model_dir, tmp_path):
    from dataclasses import replace

    from sdft_local.check.config import GateConfig
    from sdft_local.demo.run import DemoFinished, DemoOptions, run_demo

    lenient = GateConfig(recognition_warn=0.0, recognition_fail=0.0, positives_fail=0.0)
    pipeline = replace(DemoOptions().pipeline, student_backend="torch", check_flags={"gate": lenient},
                       export_dir=tmp_path / "export")
    done = [r for r in run_demo(DemoOptions(base_model=str(tiny_model_dir), steps=2, pipeline=pipeline))
            if isinstance(r, DemoFinished)][-1]
    assert done.after.gate.passed and done.export_skipped is None
    assert {f.format for f in done.export.formats} == {"peft", "gguf"}
    assert all(f.verified or f.warnings for f in done.export.formats)  # loaded back; any loss is named
    assert (tmp_path / "export" / "gguf" / "manifest.json").is_file()
    assert (tmp_path / "export" / "gguf" / "facts_card.json").is_file()


def test_a_failed_check_skips_the_export_and_says_why(tiny_model_dir, tmp_path):
    from dataclasses import replace

    from sdft_local.check.config import GateConfig
    from sdft_local.demo.run import DemoFinished, DemoOptions, run_demo

    strict = GateConfig(kl_warn=0.0, kl_fail=1e-9)  # any change at all fails the check
    pipeline = replace(DemoOptions().pipeline, student_backend="torch", check_flags={"gate": strict},
                       export_dir=tmp_path / "export")
    done = [r for r in run_demo(DemoOptions(base_model=str(tiny_model_dir), steps=2, pipeline=pipeline))
            if isinstance(r, DemoFinished)][-1]
    assert done.after.verdict == "fail" and done.export is None
    assert done.export_skipped.startswith("the check failed, so nothing was exported") and "KL" in done.export_skipped
    assert not (tmp_path / "export").exists()
