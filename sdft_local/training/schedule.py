"""The learning-rate schedule both backends follow: linear warmup, then cosine decay to a floor.

A pure function of the step, so a resumed run continues on exactly the same curve. It does not
own the optimizer.
"""

from __future__ import annotations

import math


def warmup_steps(total: int, warmup_ratio: float) -> int:
    return int(round(total * warmup_ratio))


def lr_at(step: int, total: int, peak: float, warmup: int, min_ratio: float) -> float:
    """Learning rate for optimizer step `step` (0-based) of `total`.

    Warmup ramps from peak/warmup at step 0 to the peak; the cosine then falls to
    `peak * min_ratio` at the last step.
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    span = max(1, total - warmup - 1)
    progress = min(1.0, (step - warmup) / span)
    floor = peak * min_ratio
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
