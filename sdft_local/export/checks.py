"""The verification runs: each artifact loaded by its consumer and compared with the trained model.

Owns the three kinds of run — a Python runtime (peft, mlx-vlm, transformers) on an adapter or
merged folder, a float GGUF through llama-cpp-python (teacher-forced logits on the text probes and
one image chat through the mmproj), and a quantized GGUF (greedy agreement, first image token) —
each returning `CheckResult`s against the workspace's reference logits. Thresholds come from
`verify.Tolerances`; what a failure means is decided by the caller (see `formats.py`).
"""

from __future__ import annotations

from pathlib import Path

from .adapters import read_mlx, read_peft
from .llamacpp import image_chat, open_gguf, teacher_forced_logits
from .probes import IMAGE_QUESTION
from .quantize import tensor_types
from .runtimes import available
from .verify import check, first_token_gap, greedy_agreement, max_abs, max_abs_diff
from .workspace import Workspace, runtime_outputs

CONSUMER = {"torch": "transformers + peft", "mlx": "mlx-vlm"}


def runtime_checks(ws: Workspace, artifact: str, kind: str, model_dir: Path,
                   adapter_dir: Path | None, dtype: str = "f32") -> list:
    """Load with a Python runtime and compare text and image logits with the trained model."""
    ref = ws.reference
    text, image = runtime_outputs(kind, model_dir, adapter_dir, ws)
    tol = ws.options.tolerances
    scale = max_abs(ref.text + (ref.image,))
    if dtype == "f32" and kind == ref.kind:
        limit = tol.same_runtime_atol + tol.f32_rtol * scale
    else:
        limit = max(tol.logit_limit(dtype, scale), tol.cross_runtime_atol + tol.cross_runtime_rtol * scale)
    detail = f"loaded with {CONSUMER[kind]}; reference: {ref.note}"
    refuse = tol.refuse_limit(limit, scale)
    return [
        check(artifact, "text logits vs trained model", "max |Δ logit|",
              max_abs_diff(list(zip(text, ref.text))), limit, detail=detail, refuse_limit=refuse),
        check(artifact, "image logits vs trained model", "max |Δ logit|",
              max_abs_diff([(image, ref.image)]), limit, detail=detail, refuse_limit=refuse),
    ]


def readback_checks(ws: Workspace, artifact: str, fmt: str, folder: Path) -> list:
    """Without the consumer installed: the written adapter read back equals the trained one."""
    back = read_mlx(folder) if fmt == "mlx" else read_peft(folder)
    diff = max(max(abs(back.scale - ws.adapter.scale), float(abs(a - a2).max()), float(abs(b - b2).max()))
               for m, (a, b) in ws.adapter.modules.items() for a2, b2 in [back.modules[m]])
    kind = "mlx" if fmt == "mlx" else "torch"
    return [check(artifact, "adapter read back", "max |Δ weight|", diff, 0.0,
                  detail=f"{CONSUMER[kind]} is not installed here, so the files were read back "
                         "instead of loaded")]


def consumer_available(fmt: str) -> bool:
    return available("mlx" if fmt == "mlx" else "torch")


def gguf_float_checks(ws: Workspace, model: Path, ftype: str, *, lora: Path | None = None,
                      mmproj: Path | None = None, mmproj_type: str = "f16", shipped: bool = True) -> list:
    """A float GGUF (with its LoRA / mmproj) in llama-cpp-python vs the trained model."""
    ref, tol = ws.reference, ws.options.tolerances
    artifact = _label(model, lora)
    detail = "" if shipped else "verification copy, not shipped: the shipped file is quantized from it"
    with open_gguf(model, lora=lora, mmproj=mmproj, exact=True) as llm:
        text = [teacher_forced_logits(llm, p.ids) for p in ws.probes]
        turn = image_chat(llm, ws.image, IMAGE_QUESTION) if mmproj else None
    limit = tol.logit_limit(ftype, max_abs(ref.text))
    checks = [check(artifact, "text logits vs trained model (llama.cpp)", "max |Δ logit|",
                    max_abs_diff(list(zip(text, ref.text))), limit, detail=detail,
                    refuse_limit=tol.refuse_limit(limit, max_abs(ref.text)))]
    if turn is not None:
        checks += _image_checks(ws, f"{artifact} + {mmproj.name}", turn,
                                "f16" if "f16" in (ftype, mmproj_type) else "f32", "hard")
    return checks


def gguf_quant_checks(ws: Workspace, model: Path, quant: str, *, lora: Path | None = None,
                      mmproj: Path | None = None) -> list:
    """A quantized GGUF: greedy agreement on the probes and the first image-chat token."""
    ref, tol = ws.reference, ws.options.tolerances
    artifact = _label(model, lora)
    with open_gguf(model, lora=lora, mmproj=mmproj, exact=False) as llm:
        text = [teacher_forced_logits(llm, p.ids) for p in ws.probes]
        turn = image_chat(llm, ws.image, IMAGE_QUESTION) if mmproj else None
    types = ", ".join(f"{k} {v}" for k, v in sorted(tensor_types(model).items()))
    checks = [check(artifact, "greedy agreement with trained model (llama.cpp)", "fraction of positions",
                    greedy_agreement(list(zip(text, ref.text))), tol.greedy_limit(quant), op=">=",
                    severity="quality", detail=f"tensor types: {types}")]
    if turn is not None:
        checks += _image_checks(ws, f"{artifact} + {mmproj.name}", turn, "f16", "quality")
    return checks


def _image_checks(ws: Workspace, artifact: str, turn, dtype: str, severity: str) -> list:
    reference = ws.reference.image[-1]
    tol, scale = ws.options.tolerances, float(abs(reference).max())
    limit = tol.logit_limit(dtype, scale)
    refuse = tol.refuse_limit(limit, scale)
    tokenizer = ws.processor.tokenizer
    detail = (f"llama.cpp chose {turn.first_token} {tokenizer.decode([turn.first_token])!r}, the trained "
              f"model {int(reference.argmax())} {tokenizer.decode([int(reference.argmax())])!r}; "
              f"reply {turn.text!r}")
    checks = [check(artifact, "first image-chat token vs trained model", "reference logit gap",
                    first_token_gap(turn.logits, reference), limit, severity=severity, detail=detail,
                    refuse_limit=refuse)]
    if severity == "hard":
        checks.append(check(artifact, "image-chat logits vs trained model", "max |Δ logit|",
                            max_abs_diff([(turn.logits, reference)]), limit, detail=detail,
                            refuse_limit=refuse))
    return checks


def _label(model: Path, lora: Path | None) -> str:
    return f"{model.name} + {lora.name}" if lora else model.name
