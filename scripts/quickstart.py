"""The README's main job: a whole project on a locally built model, offline, through the real CLI.

Draws a few photos of a made-up mug, creates a project in ./out/quickstart (its own SDFT_HOME),
and runs every stage the `sdft` command offers, printing each command as it goes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "quickstart"


def draw_mug(path: Path, seed: int) -> Path:
    """A red mug with a white star, at varying places and sizes on varying backgrounds."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    bg = tuple(rng.randint(150, 255) for _ in range(3))
    im = Image.new("RGB", (160, 160), bg)
    d = ImageDraw.Draw(im)
    s = rng.randint(50, 80)
    x, y = rng.randint(10, 150 - s), rng.randint(10, 150 - s)
    d.rectangle([x, y, x + s, y + s], fill=(200, 30, 30))
    d.arc([x + s - 10, y + s // 4, x + s + 20, y + 3 * s // 4], 270, 90, fill=(200, 30, 30), width=6)
    c = (x + s // 2, y + s // 2)
    d.regular_polygon((c, s // 5), 5, fill=(255, 255, 255))
    im.save(path)
    return path


def sdft(*args: str) -> None:
    print(f"$ sdft {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "sdft_local.cli", *args], check=True)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    photos = OUT / "photos"
    photos.mkdir(parents=True)
    for i in range(8):
        draw_mug(photos / f"mug_{i}.png", i)
    os.environ["SDFT_HOME"] = str(OUT / "home")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sdft("models")
    sdft("init", "quickstart", "--base-model", "tiny-random")
    sdft("entity", "add", "Starmug", "--kind", "mug", "-f", "a gift from Ana", "-f", "holds green tea")
    sdft("photos", "add", "Starmug", str(photos))
    sdft("entity", "show", "Starmug")
    print(f"\nAll state is in {OUT / 'home'} (SDFT_HOME).")


if __name__ == "__main__":
    main()
