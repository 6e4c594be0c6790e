"""A strict pydantic base for the generator recipe's parts (unknown keys refused, ranges ordered)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

Range = tuple[float, float]


class Strict(BaseModel):
    """Frozen, ``extra="forbid"``; every ``(lo, hi)`` pair of numbers must have ``lo <= hi``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _ranges_ordered(self):
        for name, value in self:
            pair = isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
            if pair and value[0] > value[1]:
                raise ValueError(f"{name}: range [{value[0]}, {value[1]}] is reversed")
        return self


def check_weights(weights: dict[str, float], what: str, known=None) -> dict[str, float]:
    """Weights must be >= 0 with a positive sum; keys within ``known`` when given."""
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"{what}: weights must be >= 0 and not all zero, got {weights}")
    if known is not None:
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise ValueError(f"{what}: unknown {unknown}; known: {', '.join(known)}")
    return weights
