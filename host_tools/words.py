"""Counts in the words every face prints: "1 rep", "3 reps", never "1 reps" or "rep(s)".

count(1, "new rep")            # "1 new rep"
count(2, "day")                # "2 days"
count(3, "log segment")        # "3 log segments"
"""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
