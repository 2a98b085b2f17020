"""Can the base model see who is who? A ridge probe on its own image features; prints JSON.

Recognition that is not learned can be the vision tower's fault (it cannot tell the pets apart)
or the language model's (it does not read what the tower gives it). This probe settles which: it
fits a ridge classifier on the mean and max of the base model's merged image tokens (what the
language model receives) over the demo pets' training photos and drawn unrelated scenes, and
scores it on held-out photos. The obvious alternative, reported beside it, is the majority
guess. The training scenes come from the recognition set's seed space, the held-out scenes
from the check's probe suite, as in training and in the check.

Usage: python bench/vision_probe.py [--model demo] [--lam 1.0] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def features(student, images) -> np.ndarray:
    """Mean and max over the merged image tokens of each image: (n, 2 * hidden)."""
    rows = []
    for image in images:
        vision = student.processor.image_processor(images=[image], return_tensors="np")
        tokens = student.image_features(np.asarray(vision["pixel_values"], np.float32),
                                        np.asarray(vision["image_grid_thw"])[0])
        tokens = tokens.float().cpu().numpy()
        rows.append(np.concatenate([tokens.mean(0), tokens.max(0)]))
    return np.stack(rows)


def ridge_accuracy(x_train, y_train, x_test, y_test, lam: float) -> float:
    """One-vs-rest ridge regression on standardized features; accuracy of the argmax."""
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    a, b = (x_train - mean) / std, (x_test - mean) / std
    a, b = np.hstack([a, np.ones((len(a), 1))]), np.hstack([b, np.ones((len(b), 1))])
    classes = sorted(set(y_train))
    targets = np.stack([(np.array(y_train) == c).astype(float) * 2 - 1 for c in classes], 1)
    weights = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ targets)
    predicted = [classes[i] for i in (b @ weights).argmax(1)]
    return float(np.mean([p == t for p, t in zip(predicted, y_test)]))


def majority(y_train, y_test) -> float:
    top = max(set(y_train), key=list(y_train).count)
    return float(np.mean([t == top for t in y_test]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="demo")
    p.add_argument("--lam", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from PIL import Image

    from sdft_local.check.probes import general_suite
    from sdft_local.demo.entities import BISCUIT, PIXEL, entity_photo
    from sdft_local.demo.run import HELDOUT_FRACTION
    from sdft_local.models.registry import resolve_model
    from sdft_local.store import heldout_count
    from sdft_local.training import TrainConfig
    from sdft_local.training.run import make_student
    from sdft_local.training.scenes import draw_scenes

    student = make_student("torch", resolve_model(args.model), TrainConfig(backend="torch"))
    train, test = [], []
    for pet in (BISCUIT, PIXEL):
        photos = [entity_photo(pet, i) for i in range(pet.photos)]
        held = heldout_count(len(photos), HELDOUT_FRACTION)
        test += [(img, pet.name) for img in photos[:held]]
        train += [(img, pet.name) for img in photos[held:]]
    with tempfile.TemporaryDirectory() as tmp:
        train += [(Image.open(path).convert("RGB"), "scene") for path in draw_scenes(Path(tmp), 24)]
    test += [(img, "scene") for img in general_suite(150, 0).photos(24)]
    x_train, y_train = features(student, [i for i, _ in train]), [y for _, y in train]
    x_test, y_test = features(student, [i for i, _ in test]), [y for _, y in test]
    pets = [i for i, y in enumerate(y_test) if y != "scene"]
    pets_train = [i for i, y in enumerate(y_train) if y != "scene"]
    result = {
        "model": args.model, "train_images": len(train), "heldout_images": len(test), "lambda": args.lam,
        "three_way": {"ridge": ridge_accuracy(x_train, y_train, x_test, y_test, args.lam),
                      "majority": majority(y_train, y_test)},
        "biscuit_vs_pixel": {
            "ridge": ridge_accuracy(x_train[pets_train], [y_train[i] for i in pets_train],
                                    x_test[pets], [y_test[i] for i in pets], args.lam),
            "majority": majority([y_train[i] for i in pets_train], [y_test[i] for i in pets])},
    }
    for name in ("three_way", "biscuit_vs_pixel"):
        result[name]["ratio"] = round(result[name]["ridge"] / max(result[name]["majority"], 1e-9), 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
