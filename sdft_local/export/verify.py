"""What "verified" means: comparisons of an artifact's outputs with the trained model's.

Owns `Tolerances` (defaults measured on tiny models; every manifest records the values used),
`CheckResult` (one comparison: value, the limit it should meet, the limit beyond which the
export is refused) and the comparison functions: logits within atol + rtol · max|reference|,
teacher-forced greedy agreement, and the first greedy token of an image chat.

Two limits, because the tight ones are calibrated on tiny models: a float file outside its tight
limit but within `refuse_rtol` (5% of the largest logit; a wrong tensor, bias, scale or rope is
far beyond that) is kept with a warning, since a 28-layer model's float noise may exceed limits
measured on 2 layers; beyond it the conversion is wrong and the export is refused. "quality"
checks (quantized files) never refuse: their loss comes from the quantization, not the converter,
which the float check of the same export has already proven.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SEVERITIES = ("hard", "quality")


@dataclass(frozen=True)
class Tolerances:
    """Limits for each comparison (logit limits: atol + rtol × max |reference logit|)."""

    f32_atol: float = 1e-3
    f32_rtol: float = 1e-4
    f16_atol: float = 1e-3
    f16_rtol: float = 1e-2
    bf16_rtol: float = 3e-2
    same_runtime_atol: float = 1e-5
    cross_runtime_atol: float = 1e-4
    cross_runtime_rtol: float = 1e-4
    greedy_q8_0: float = 0.95
    greedy_q4_k_m: float = 0.80
    refuse_rtol: float = 5e-2

    def refuse_limit(self, limit: float, scale: float) -> float:
        """Beyond this max |Δ logit| a float conversion is wrong, not just noisy."""
        return max(limit, self.refuse_rtol * scale)

    def logit_limit(self, dtype: str, scale: float) -> float:
        """The allowed max |Δ logit| for a file stored in `dtype` (f32, f16, bf16), when the
        reference's largest |logit| is `scale`."""
        atol, rtol = {
            "f32": (self.f32_atol, self.f32_rtol),
            "f16": (self.f16_atol, self.f16_rtol),
            "bf16": (self.f16_atol, self.bf16_rtol),
        }[dtype]
        return atol + rtol * scale

    def greedy_limit(self, quant: str) -> float:
        return {"q8_0": self.greedy_q8_0, "q4_k_m": self.greedy_q4_k_m}[quant]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CheckResult:
    """One verification: `value` compared with `limit` ("<=" or ">=")."""

    artifact: str
    name: str
    metric: str
    value: float
    limit: float
    op: str
    passed: bool
    severity: str = "hard"
    detail: str = ""
    refuse_limit: float | None = None

    @property
    def refused(self) -> bool:
        """Whether this result proves the conversion wrong (the export is then refused)."""
        return self.refuse_limit is not None and not _within(self.value, self.refuse_limit, self.op)

    def as_dict(self) -> dict:
        return {**asdict(self), "refused": self.refused}


def check(artifact: str, name: str, metric: str, value: float, limit: float, *, op: str = "<=",
          severity: str = "hard", detail: str = "", refuse_limit: float | None = None) -> CheckResult:
    """A hard check refuses beyond `refuse_limit` (default: `limit`); a quality check never does."""
    assert op in ("<=", ">=") and severity in SEVERITIES
    if severity == "hard":
        refuse_limit = float(limit if refuse_limit is None else refuse_limit)
    else:
        refuse_limit = None
    return CheckResult(artifact, name, metric, float(value), float(limit), op,
                       _within(value, limit, op), severity, detail, refuse_limit)


def _within(value: float, limit: float, op: str) -> bool:
    return bool(value <= limit) if op == "<=" else bool(value >= limit)


def max_abs_diff(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The largest |a - b| over every (artifact, reference) logits pair."""
    return max(float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())
               for a, b in pairs)


def max_abs(arrays) -> float:
    return max(float(np.abs(a).max()) for a in arrays)


def greedy_agreement(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Fraction of positions where both logits pick the same next token (teacher-forced)."""
    same = sum(int((a.argmax(-1) == b.argmax(-1)).sum()) for a, b in pairs)
    total = sum(int(a.shape[0]) for a, _ in pairs)
    return same / total


def first_token_gap(logits: np.ndarray, reference: np.ndarray) -> float:
    """How much worse the artifact's greedy token is in the reference's logits (0 if the same).

    0 means the same first token; a small positive value means a near-tie in the reference that
    numerical noise may legitimately flip.
    """
    chosen = int(np.argmax(logits))
    return float(reference.max() - reference[chosen])
