"""Spreads of per-rep values, shared by the report's data layers."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """Median and quartiles of a set of values (n = 0 means no values; the others are None)."""

    n: int
    mean: float | None
    median: float | None
    q1: float | None
    q3: float | None

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            return cls(0, None, None, None, None)
        if len(values) == 1:
            v = float(values[0])
            return cls(1, v, v, v, v)
        q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(len(values), statistics.fmean(values), q2, q1, q3)
