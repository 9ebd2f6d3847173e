"""How the engine writes figures for people, and the history keys of an accuracy estimate.

A percent never reads "100 %" or "0 %" unless it is exactly 1 or 0 (0.996 is "99.6 %"); an interval is rounded
outwards, so that it still holds what it held. The Model page's headline, the finish section and notebooks use
the same words. Imports nothing of the engine.
"""

from __future__ import annotations

import math

__all__ = ["ESTIMATE_KEYS", "format_interval", "format_percent"]

#: The history keys an accuracy estimate writes (``AccuracyEstimate.to_entry()``).
ESTIMATE_KEYS = ("estimate", "estimate_low", "estimate_high", "estimate_target", "estimate_n", "estimate_note")


def format_percent(x: float) -> str:
    """A whole percent, except that only 1 reads "100 %" and only 0 reads "0 %" (0.996 is "99.6 %")."""
    whole = round(100 * x)
    if (whole == 100 and x < 1) or (whole == 0 and x > 0):
        text = f"{100 * x:.1f}"
        return {"100.0": "> 99.9 %", "0.0": "< 0.1 %"}.get(text, f"{text} %")
    return f"{whole:.0f} %"


def format_interval(low: float, high: float) -> str:
    """The interval in whole percents, rounded outwards (it still holds what it held)."""
    return f"{math.floor(100 * low + 1e-9):.0f}–{math.ceil(100 * high - 1e-9):.0f} %"
