"""Time every export format on a tiny model with a random LoRA adapter; prints JSON.

Builds the tiny Qwen2-VL (any TinySpec field can be overridden, e.g. `--spec hidden_size=256
intermediate_size=512 mrope_section=8,12,12`), a PEFT adapter on every text and vision Linear with
random lora_B, and runs `export_formats(..., "all")` once, recording the wall time of each step
and each format from the progress records, plus the verification results. Usage:
python bench/export.py [--quant q8_0] [--no-verify] [--spec KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    args = _parse()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, adapter_dir = _build(Path(tmp), _spec(args.spec))
        print(json.dumps(_run(model_dir, adapter_dir, Path(tmp) / "out", args), indent=2))


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quant", default="q8_0")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--spec", nargs="*", default=[], metavar="KEY=VALUE")
    return parser.parse_args()


def _spec(pairs: list[str]):
    from sdft_local.models.tiny import TinySpec

    values = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        values[key] = tuple(int(x) for x in raw.split(",")) if "," in raw else json.loads(raw)
    return TinySpec(**values)


def _build(tmp: Path, spec) -> tuple[Path, Path]:
    import torch
    from peft import LoraConfig, get_peft_model

    from sdft_local.models.loaders import load_torch_student
    from sdft_local.models.tiny import build_tiny_qwen2vl

    model_dir = build_tiny_qwen2vl(tmp / "model", spec=spec)
    model, _ = load_torch_student(model_dir, device="cpu", dtype="float32")
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
               "attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"]
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=targets))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    peft_model.save_pretrained(str(tmp / "adapter"))
    return model_dir, tmp / "adapter"


def _run(model_dir: Path, adapter_dir: Path, out: Path, args) -> dict:
    from sdft_local.export import (VerificationFinished, ExportOptions, ExportSource, FormatExported,
                                   StepStarted, export_formats)

    source = ExportSource(model_dir, adapter_dir, base_ref=str(model_dir))
    options = ExportOptions(quant=args.quant, verify=not args.no_verify)
    steps, formats, checks = [], {}, []
    start = last = time.perf_counter()
    for event in export_formats(source, "all", out, options):
        now = time.perf_counter()
        if steps:
            steps[-1]["seconds"] = round(now - last, 3)
        if isinstance(event, StepStarted):
            steps.append({"format": event.format, "step": event.step})
            last = now
        elif isinstance(event, VerificationFinished):
            c = event.check
            checks.append({"artifact": c.artifact, "check": c.name, "value": c.value,
                           "limit": c.limit, "passed": c.passed, "severity": c.severity})
        elif isinstance(event, FormatExported):
            formats[event.result.format] = round(now - start, 3)
    return {"quant": args.quant, "verify": not args.no_verify,
            "total_seconds": round(time.perf_counter() - start, 3),
            "finished_at_seconds": formats, "steps": steps, "checks": checks}


if __name__ == "__main__":
    main()
