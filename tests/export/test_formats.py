"""The whole export of every format: folder layout, verification results, README, manifest."""

from __future__ import annotations

import json

import pytest

from sdft_local.errors import ExistsError, ExportError
from sdft_local.export import (VerificationFinished, ExportOptions, ExportSource, StepStarted, drain,
                               export_formats, export_gguf_lora)
from sdft_local.export.manifest import read_manifest, verify_files
from sdft_local.export.ollama import check_modelfile

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.llama, pytest.mark.slow]


@pytest.fixture(scope="module")
def exported_all(tiny_model_dir, peft_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "all"
    source = ExportSource(tiny_model_dir, peft_dir, base_ref=str(tiny_model_dir), run_id=7,
                          run_name="biscuit", backend="torch", check_verdict="warn")
    events = list(export_formats(source, "all", out, ExportOptions(quant="q8_0")))
    return out, events, drain(iter(events))


def test_every_format_is_written_and_verified(exported_all):
    out, events, result = exported_all
    assert [f.format for f in result.formats] == ["mlx", "peft", "merged", "gguf", "gguf-lora", "ollama"]
    assert any(isinstance(e, StepStarted) for e in events)
    checks = [e.check for e in events if isinstance(e, VerificationFinished)]
    hard = [c for c in checks if c.severity == "hard"]
    assert len(hard) >= 12 and all(c.passed for c in hard), [c for c in hard if not c.passed]
    failed = [c for c in checks if not c.passed]
    assert all(c.severity == "quality" for c in failed)  # quantization loss warns, never refuses
    assert len(result.warnings) == len({(c.artifact, c.name) for c in failed})
    # a format with a warning is written and usable, but not "verified"; the rest are
    assert all(f.verified == (not f.warnings) for f in result.formats)
    assert result.verified == (not result.warnings)
    assert {f.format for f in result.formats if f.verified} >= {"mlx", "peft", "merged"}
    for c in checks:
        print(f"{c.artifact}: {c.name} = {c.value:.3g} ({c.op} {c.limit:.3g}) {c.severity}")
    assert {p.name for p in out.iterdir()} == {"mlx", "peft", "merged", "gguf", "gguf-lora", "ollama",
                                               "README.md", "manifest.json"}
    assert sorted(p.name for p in (out / "gguf").iterdir()) == [
        "README.md", "manifest.json", "mmproj-sdft-local-f16.gguf", "sdft-local-q8_0.gguf"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_manifests_hash_every_file_and_record_the_source(exported_all):
    out, _, result = exported_all
    assert verify_files(out) == []
    top = read_manifest(out)
    assert top["check"] == {"verdict": "warn", "forced": False}
    assert top["source"]["run_id"] == 7 and top["source"]["adapter_format"] == "peft"
    assert "gguf/sdft-local-q8_0.gguf" in top["files"]
    gguf = read_manifest(out / "gguf")
    assert gguf["verification"]["reference"]["runtime"] == "torch"
    assert gguf["verification"]["tolerances"]["greedy_q8_0"] == 0.95
    assert {c["name"] for c in gguf["verification"]["checks"]} >= {
        "text logits vs trained model (llama.cpp)", "first image-chat token vs trained model",
        "greedy agreement with trained model (llama.cpp)"}
    (out / "peft" / "adapter_config.json").write_text("{}")
    assert verify_files(out / "peft") == ["changed: adapter_config.json"]


def test_ollama_modelfile_points_at_the_verified_files(exported_all):
    out, _, _ = exported_all
    used = check_modelfile(out / "ollama" / "Modelfile")
    assert sorted(p.name for p in used) == ["mmproj-sdft-local-f16.gguf", "sdft-local-q8_0.gguf"]
    text = (out / "ollama" / "Modelfile").read_text()
    assert "FROM ./sdft-local-q8_0.gguf" in text and "ADAPTER" not in text


def test_readme_gives_commands_for_every_tool(exported_all):
    out, _, _ = exported_all
    readme = (out / "README.md").read_text()
    for needle in ("llama-mtmd-cli -m gguf/sdft-local-q8_0.gguf --mmproj gguf/mmproj-sdft-local-f16.gguf",
                   "--lora gguf-lora/sdft-local-lora.gguf", "MTMDChatHandler",
                   "python -m mlx_vlm generate", "--adapter-path mlx",
                   "PeftModel.from_pretrained(model, \"peft\")",
                   "ollama create my-model -f Modelfile"):
        assert needle in readme, needle
    assert "vision tower" in (out / "gguf-lora" / "README.md").read_text()  # vision LoRA note


def test_gguf_lora_alone_ships_the_merged_mmproj(exported_all):
    out, _, result = exported_all
    lora = next(f for f in result.formats if f.format == "gguf-lora")
    assert lora.artifacts == {"lora": "sdft-local-lora.gguf", "mmproj": "mmproj-sdft-local-f16.gguf"}
    assert any("vision tower" in n for n in lora.notes)


def test_existing_target_is_refused_without_overwrite(tiny_model_dir, peft_dir, tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExistsError, match="--overwrite"):
        next(export_gguf_lora(tiny_model_dir, peft_dir, out, ExportOptions(verify=False)))
    # --overwrite replaces earlier exports only: a folder of someone's files is never deleted
    with pytest.raises(ExistsError, match="not an earlier export"):
        next(export_gguf_lora(tiny_model_dir, peft_dir, out, ExportOptions(verify=False, overwrite=True)))
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    drain(export_gguf_lora(tiny_model_dir, peft_dir, out, ExportOptions(verify=False)))
    (out / "sdft-local-lora.gguf").write_bytes(b"stale")
    drain(export_gguf_lora(tiny_model_dir, peft_dir, out, ExportOptions(verify=False, overwrite=True)))
    assert (out / "sdft-local-lora.gguf").read_bytes() != b"stale"
    assert read_manifest(out)["verification"] == {**read_manifest(out)["verification"],
                                                  "verified": False, "skipped": True}


def test_a_wrong_conversion_is_caught_and_nothing_is_written(tiny_model_dir, peft_dir, tmp_path, monkeypatch):
    """A GGUF LoRA with a wrong alpha loads fine in llama.cpp; only verification can notice."""
    from sdft_local.export import gguf_lora, workspace

    real = gguf_lora.write_lora_gguf

    def wrong_alpha(adapter, config, path, **kw):
        return real(type(adapter)(adapter.rank, adapter.alpha * 1.5, adapter.modules), config, path, **kw)

    monkeypatch.setattr(workspace, "write_lora_gguf", wrong_alpha)
    with pytest.raises(ExportError, match="did not match the trained model"):
        drain(export_gguf_lora(tiny_model_dir, peft_dir, tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()
    assert not list(tmp_path.iterdir())


def test_adapter_formats_need_an_adapter(tiny_model_dir, tmp_path):
    source = ExportSource(tiny_model_dir, None)
    with pytest.raises(ExportError, match="there is none"):
        next(export_formats(source, "peft", tmp_path / "p"))
    result = drain(export_formats(source, "merged", tmp_path / "m", ExportOptions(verify=False)))
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["source"]["adapter_dir"] is None
    on_disk = {p.name for p in (tmp_path / "m").iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk and set(result.formats[0].files) == on_disk | {"manifest.json"}


def test_ollama_adapter_mode_uses_base_plus_gguf_lora(tiny_model_dir, peft_dir, tmp_path):
    from sdft_local.export import export_ollama

    result = drain(export_ollama(tiny_model_dir, peft_dir, tmp_path / "o", quant="f16",
                                 options=ExportOptions(ollama_adapter=True)))
    fmt = result.formats[0]
    assert fmt.artifacts == {"model": "sdft-local-base-f16.gguf", "mmproj": "mmproj-sdft-local-f16.gguf",
                             "lora": "sdft-local-lora.gguf", "modelfile": "Modelfile"}
    assert "ADAPTER ./sdft-local-lora.gguf" in (tmp_path / "o" / "Modelfile").read_text()
    lora_check = next(c for c in fmt.checks if c.name.startswith("text logits"))
    assert lora_check.artifact == "sdft-local-base-f16.gguf + sdft-local-lora.gguf" and lora_check.passed
    assert "--lora sdft-local-lora.gguf" in (tmp_path / "o" / "README.md").read_text()


@pytest.mark.mlx
def test_an_mlx_run_exports_to_peft_and_gguf_lora(quant_model_dir, quant_peft_dir, tmp_path):
    """The MLX trainer's native adapter: the trained model is mlx-vlm + that adapter."""
    pytest.importorskip("mlx_vlm")
    from sdft_local.export.adapters import read_peft, write_mlx

    write_mlx(read_peft(quant_peft_dir), tmp_path / "native")
    source = ExportSource(quant_model_dir, tmp_path / "native", backend="mlx")
    result = drain(export_formats(source, "peft,gguf-lora", tmp_path / "out"))
    assert result.verified
    peft, lora = result.formats
    assert read_manifest(peft.path)["verification"]["reference"] == {
        "runtime": "mlx", "how": "mlx with the run's own mlx adapter"}
    assert all(c.passed for c in peft.checks + lora.checks)
    assert lora.artifacts == {"lora": "sdft-local-lora.gguf"}  # text-only LoRA: the stock mmproj fits
    assert "mmproj-Qwen2-VL-2B-Instruct-f16.gguf" in (lora.path / "README.md").read_text()
