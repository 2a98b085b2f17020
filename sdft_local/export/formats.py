"""The export formats and the engine that writes them: folders, files, checks, README, manifest.

Owns one writer per format (`mlx`, `peft`, `merged`, `gguf`, `gguf-lora`, `ollama`), each a
generator of progress records that fills a folder and returns a `FormatResult`, and
`export_formats`, which runs the chosen formats into one staged folder (see `staging.py`), refuses
the export when a hard check fails, and yields `ExportFinished`. The format-level entry points
(`export_gguf(model_dir, adapter_dir, out, quant)`, ...) need no project store; `run.py` adds the
store (run lookup, check verdict, exports table).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Iterator

from .. import __version__
from ..errors import ExportError
from ..facts import system_prompt, write_card_file
from .adapters import ADAPTER_CONFIG, MLX_WEIGHTS, PEFT_WEIGHTS, write_mlx, write_peft
from .checks import (consumer_available, gguf_float_checks, gguf_quant_checks, readback_checks,
                     runtime_checks)
from .events import (NEEDS_ADAPTER, VerificationFinished, ExportFinished, ExportOptions, ExportResult,
                     ExportStarted, FormatExported, FormatResult, StepStarted, parse_formats)
from .manifest import MANIFEST, write_manifest
from .merge import write_merged_folder
from .ollama import MODELFILE, check_modelfile, modelfile_text
from .readme import ReadmeInputs, readme_text
from .runtimes import available
from .staging import check_target, scratch_folder, staged_folder
from .verify import check
from .workspace import ExportSource, Workspace, place

# --- format-level entry points (no store needed) -----------------------------------------------

def export_formats(source: ExportSource, formats, out: str | Path,
                   options: ExportOptions = ExportOptions(), *, forced: bool = False) -> Iterator:
    """Export `source` in `formats` into `out` (one format: directly; several: a folder each)."""
    formats = parse_formats(formats)
    _check_source(source, formats)
    target = check_target(Path(out), options.overwrite)
    yield ExportStarted(target, formats, source.run_id)
    results = []
    with staged_folder(target, overwrite=options.overwrite) as staging, scratch_folder(target) as scratch:
        ws = Workspace(source, options, scratch)
        for fmt in formats:
            sub = "" if len(formats) == 1 else fmt
            result = yield from _export_one(fmt, ws, staging / sub, forced)
            results.append(replace(result, path=target / sub if sub else target))
            yield FormatExported(results[-1])
        if len(formats) > 1:
            _write_top_level(ws, staging, results, forced)
    verified = all(r.verified for r in results)
    yield ExportFinished(ExportResult(target, source.run_id, tuple(results), verified,
                                      source.check_verdict, forced))


def export_mlx_adapter(model_dir, adapter_dir, out, options: ExportOptions = ExportOptions()):
    return export_formats(_source(model_dir, adapter_dir), "mlx", out, options)


def export_peft_adapter(model_dir, adapter_dir, out, options: ExportOptions = ExportOptions()):
    return export_formats(_source(model_dir, adapter_dir), "peft", out, options)


def export_merged(model_dir, adapter_dir, out, options: ExportOptions = ExportOptions()):
    return export_formats(_source(model_dir, adapter_dir), "merged", out, options)


def export_gguf(model_dir, adapter_dir, out, quant: str = "q8_0", options: ExportOptions | None = None):
    options = replace(options or ExportOptions(), quant=quant)
    return export_formats(_source(model_dir, adapter_dir), "gguf", out, options)


def export_gguf_lora(model_dir, adapter_dir, out, options: ExportOptions = ExportOptions()):
    return export_formats(_source(model_dir, adapter_dir), "gguf-lora", out, options)


def export_ollama(model_dir, adapter_dir, out, quant: str = "q8_0", options: ExportOptions | None = None):
    options = replace(options or ExportOptions(), quant=quant)
    return export_formats(_source(model_dir, adapter_dir), "ollama", out, options)


def _source(model_dir, adapter_dir) -> ExportSource:
    model_dir = Path(model_dir).expanduser().resolve()
    adapter_dir = Path(adapter_dir).expanduser().resolve() if adapter_dir else None
    return ExportSource(model_dir, adapter_dir, base_ref=str(model_dir))


def _check_source(source: ExportSource, formats: tuple[str, ...]) -> None:
    if not (source.model_dir / "config.json").is_file():
        raise ExportError(f"{source.model_dir} is not a model folder (no config.json)")
    needing = [f for f in formats if f in NEEDS_ADAPTER]
    if source.adapter_dir is None and needing:
        raise ExportError(f"format {', '.join(needing)} exports an adapter, and there is none; "
                          "train a run first, or choose merged, gguf or ollama")
    if source.adapter_dir is not None and not Path(source.adapter_dir).is_dir():
        raise ExportError(f"adapter folder {source.adapter_dir} does not exist; was the run finished?")


# --- one format -----------------------------------------------------------------------------------

def _export_one(fmt: str, ws: Workspace, folder: Path, forced: bool):
    folder.mkdir(parents=True, exist_ok=True)
    artifacts, checks, notes, readme = yield from WRITERS[fmt](ws, folder)
    for c in checks:
        yield VerificationFinished(fmt, c)
    _refuse_on_hard_failure(fmt, checks)
    warnings = tuple(f"{c.artifact}: {c.name} {c.value:.4g} (wanted {c.op} {c.limit:.4g})"
                     for c in checks if not c.passed)
    # Verified = loaded back, nothing refused (else we raised above) and nothing outside its tight
    # limits: a result outside them is a warning, kept in the manifest, and the format is then
    # usable but not verified.
    verified = ws.options.verify and bool(checks) and not warnings
    card = _write_card(ws, folder)
    (folder / "README.md").write_text(readme_text(replace(readme, notes=tuple(notes), facts_card=card)), "utf-8")
    manifest = write_manifest(folder, _manifest(ws, fmt, checks, warnings, notes, verified, forced))
    return FormatResult(fmt, folder, tuple(manifest["files"]) + (MANIFEST,), tuple(checks),
                        verified, warnings, tuple(notes), artifacts)


def _write_card(ws: Workspace, folder: Path) -> str | None:
    """The facts card beside the artifacts (when the project has entities); its system message."""
    if not ws.source.cards:
        return None
    write_card_file(folder, ws.source.cards)
    return system_prompt(ws.source.cards)


def _refuse_on_hard_failure(fmt: str, checks) -> None:
    failed = [c for c in checks if c.refused]
    if failed:
        lines = "; ".join(f"{c.artifact}: {c.name} = {c.value:.4g}, limit {c.op} {c.refuse_limit:.4g}"
                          f"{' (' + c.detail + ')' if c.detail else ''}" for c in failed)
        raise ExportError(f"the {fmt} export did not match the trained model, so nothing was written: "
                          f"{lines}. Please report this with the model folder's config.json")


def _write_mlx(ws: Workspace, folder: Path):
    yield StepStarted("mlx", "writing the MLX adapter")
    _adapter_files(ws, "mlx", folder)
    checks = yield from _adapter_checks(ws, "mlx", folder)
    return {"weights": MLX_WEIGHTS, "config": ADAPTER_CONFIG}, checks, [], _readme(ws, mlx=".")


def _write_peft(ws: Workspace, folder: Path):
    yield StepStarted("peft", "writing the PEFT adapter")
    _adapter_files(ws, "peft", folder)
    checks = yield from _adapter_checks(ws, "peft", folder)
    return {"weights": PEFT_WEIGHTS, "config": ADAPTER_CONFIG}, checks, [], _readme(ws, peft=".")


def _adapter_files(ws: Workspace, fmt: str, folder: Path) -> None:
    if ws.source.adapter_format == fmt:
        for name in ((MLX_WEIGHTS,) if fmt == "mlx" else (PEFT_WEIGHTS,)) + (ADAPTER_CONFIG,):
            shutil.copyfile(ws.source.adapter_dir / name, folder / name)
    elif fmt == "mlx":
        write_mlx(ws.adapter, folder)
    else:
        write_peft(ws.adapter, folder, base_model=ws.source.base_ref)


def _adapter_checks(ws: Workspace, fmt: str, folder: Path):
    if not ws.options.verify:
        return []
    if not consumer_available(fmt):
        return readback_checks(ws, f"{fmt} adapter", fmt, folder)
    kind = "mlx" if fmt == "mlx" else "torch"
    yield StepStarted(fmt, f"loading it back with {'mlx-vlm' if kind == 'mlx' else 'peft'}")
    return runtime_checks(ws, f"{fmt} adapter", kind, ws.source.model_dir, folder)


def _write_merged(ws: Workspace, folder: Path):
    yield StepStarted("merged", "merging the adapter into the base weights")
    weights = ws.weights("merged")
    dtype = write_merged_folder(weights, folder)
    notes = []
    if weights.dequantized:
        notes.append(f"The 4-bit MLX base was dequantized before merging; the merged model is {dtype} "
                     "(larger than the base, and not quantized).")
    checks = []
    if ws.options.verify:
        kind = "mlx" if weights.dequantized or not available("torch") else "torch"
        yield StepStarted("merged", f"loading it back with {'mlx-vlm' if kind == 'mlx' else 'transformers'}")
        checks = runtime_checks(ws, "merged model", kind, folder, None, dtype.lower())
    return {"weights": "model.safetensors", "config": "config.json"}, checks, notes, _readme(ws, merged=".")


def _write_gguf(ws: Workspace, folder: Path):
    quant = ws.options.quant
    model, mmproj, checks = yield from _gguf_model(ws, "gguf", "merged", quant)
    place(model, folder / model.name)
    place(mmproj, folder / mmproj.name)
    return ({"model": model.name, "mmproj": mmproj.name}, checks, _quant_notes(ws, model, quant),
            _readme(ws, gguf_model=model.name, gguf_mmproj=mmproj.name))


def _gguf_model(ws: Workspace, fmt: str, which: str, quant: str, lora: Path | None = None):
    """Build (or reuse) the text GGUF + mmproj of `which` weights and verify them."""
    mtype = ws.options.mmproj_type
    float_type = quant if quant in ("f32", "f16") else ("f16" if which == "merged" else ws.verify_ftype())
    yield StepStarted(fmt, f"writing the text model ({float_type}) and the mmproj ({mtype})")
    mmproj = ws.mmproj_gguf(mtype)
    float_model = ws.text_gguf(which, float_type)
    checks = []
    if ws.options.verify:
        yield StepStarted(fmt, f"checking {float_model.name} in llama.cpp")
        checks += ws.cached_checks(("float", float_model, lora, mmproj), lambda: gguf_float_checks(
            ws, float_model, float_type, lora=lora, mmproj=mmproj, mmproj_type=mtype,
            shipped=quant == float_type))
    model = float_model
    if quant not in ("f32", "f16"):
        yield StepStarted(fmt, f"quantizing to {quant} with llama.cpp")
        model = ws.quantized_gguf(which, quant)
        if ws.options.verify:
            checks += ws.cached_checks(("quant", model, lora, mmproj), lambda: gguf_quant_checks(
                ws, model, quant, lora=lora, mmproj=mmproj))
    return model, mmproj, list(checks)


def _quant_notes(ws: Workspace, model: Path, quant: str) -> list[str]:
    from .quantize import tensor_types

    if quant != "q4_k_m":
        return []
    types = tensor_types(model)
    k_quants = sum(v for k, v in types.items() if k.endswith("_K"))
    fallback = sum(v for k, v in types.items() if k in ("Q5_0", "Q5_1", "Q8_0", "Q4_0", "Q4_1"))
    if fallback > k_quants:
        return [f"llama.cpp used other types for most tensors ({types}): rows must be multiples of "
                "256 for Q4_K, which this model's widths are not."]
    return []


def _write_gguf_lora(ws: Workspace, folder: Path):
    yield StepStarted("gguf-lora", "writing the GGUF LoRA")
    lora = ws.lora_gguf()
    place(lora, folder / lora.name)
    artifacts, notes, lora_mmproj = {"lora": lora.name}, [], None
    mmproj = ws.mmproj_gguf(ws.options.mmproj_type)
    if ws.adapter.vision_modules():
        place(mmproj, folder / mmproj.name)
        artifacts["mmproj"] = mmproj.name
        lora_mmproj = mmproj.name
        notes.append(f"The adapter also trained the vision tower; GGUF LoRA cannot hold that, so it "
                     f"is merged into {mmproj.name}: use that mmproj instead of the stock one.")
    checks = []
    if ws.options.verify:
        base = ws.text_gguf("base", ws.verify_ftype())
        yield StepStarted("gguf-lora", f"checking it on {base.name} in llama.cpp")
        checks = list(ws.cached_checks(("float", base, lora, mmproj), lambda: gguf_float_checks(
            ws, base, ws.verify_ftype(), lora=lora, mmproj=mmproj,
            mmproj_type=ws.options.mmproj_type, shipped=False)))
    return artifacts, checks, notes, _readme(ws, gguf_lora=lora.name, lora_mmproj=lora_mmproj)


def _write_ollama(ws: Workspace, folder: Path):
    adapter_mode = ws.options.ollama_adapter
    if adapter_mode and ws.adapter is None:
        raise ExportError("--ollama-adapter needs a run with an adapter")
    lora = ws.lora_gguf() if adapter_mode else None
    model, mmproj, checks = yield from _gguf_model(
        ws, "ollama", "base" if adapter_mode else "merged", ws.options.quant, lora=lora)
    artifacts = {"model": model.name, "mmproj": mmproj.name, **({"lora": lora.name} if lora else {})}
    for path in (model, mmproj) + ((lora,) if lora else ()):
        place(path, folder / path.name)
    (folder / MODELFILE).write_text(modelfile_text(model.name, mmproj.name, lora.name if lora else None,
                                                   title=f"{ws.source.run_name or ws.options.name}, "
                                                         "exported and verified by sdft-local",
                                                   system=system_prompt(ws.source.cards)), "utf-8")
    referenced = check_modelfile(folder / MODELFILE)
    checks = list(checks) + [check("Modelfile", "references the verified GGUF files", "files",
                                   len(referenced), len(artifacts), op=">=")]
    return ({**artifacts, "modelfile": MODELFILE}, checks, _quant_notes(ws, model, ws.options.quant),
            _readme(ws, ollama=".", gguf_model=model.name, gguf_mmproj=mmproj.name,
                    gguf_lora=lora.name if lora else None, gguf_model_is_base=adapter_mode))


WRITERS = {"mlx": _write_mlx, "peft": _write_peft, "merged": _write_merged, "gguf": _write_gguf,
           "gguf-lora": _write_gguf_lora, "ollama": _write_ollama}


# --- README and manifest ---------------------------------------------------------------------------

def _readme(ws: Workspace, **paths) -> ReadmeInputs:
    title = ws.source.run_name or ws.options.name
    return ReadmeInputs(title=title, base_model=ws.source.base_ref or str(ws.source.model_dir), **paths)


def _manifest(ws: Workspace, fmt: str, checks, warnings, notes, verified: bool, forced: bool) -> dict:
    opts = asdict(ws.options)
    opts.pop("tolerances")
    verification = {"verified": verified, "skipped": not ws.options.verify,
                    "tolerances": ws.options.tolerances.as_dict(),
                    "checks": [c.as_dict() for c in checks], "warnings": list(warnings)}
    if ws.options.verify and checks:
        verification["reference"] = {"runtime": ws.reference.kind, "how": ws.reference.note}
    return {"format": fmt, "created": time.time(), "sdft_local_version": __version__,
            "source": ws.source.describe(),
            "check": {"verdict": ws.source.check_verdict, "forced": forced},
            "options": opts, "notes": list(notes), "verification": verification}


def _write_top_level(ws: Workspace, staging: Path, results, forced: bool) -> None:
    by_fmt = {r.format: r.artifacts for r in results}

    def path(fmt: str, role: str) -> str | None:
        name = by_fmt.get(fmt, {}).get(role)
        return f"{fmt}/{name}" if name else None

    readme = _readme(ws, mlx="mlx" if "mlx" in by_fmt else None, peft="peft" if "peft" in by_fmt else None,
                     merged="merged" if "merged" in by_fmt else None,
                     gguf_model=path("gguf", "model"), gguf_mmproj=path("gguf", "mmproj"),
                     gguf_lora=path("gguf-lora", "lora"), lora_mmproj=path("gguf-lora", "mmproj"),
                     ollama="ollama" if "ollama" in by_fmt else None)
    (staging / "README.md").write_text(readme_text(readme), "utf-8")
    summary = {r.format: {"verified": r.verified, "warnings": list(r.warnings), "notes": list(r.notes)}
               for r in results}
    write_manifest(staging, {"format": "all", "created": time.time(), "sdft_local_version": __version__,
                             "source": ws.source.describe(),
                             "check": {"verdict": ws.source.check_verdict, "forced": forced},
                             "formats": summary})
