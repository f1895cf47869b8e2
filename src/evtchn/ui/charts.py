"""Charts drawn as SVG geometry on the server (no JavaScript library, nothing fetched from a CDN).

    g = gauge(used=4000, usable=4095)      # arc path, colour class, percentage
    bars = hbars([("dom0 itself", 90), ("web01", 8)])

The templates turn these numbers into <svg> elements with a <title> and a text table next to them, so a
screen reader or a keyboard user gets the same figures as the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Gauge:
    path: str  # the filled arc
    track: str  # the full arc
    percent: float
    level: str  # "ok" | "warn" | "full": a CSS class (colour is never the only cue: the text says it too)


def _arc(fraction: float, r: float = 80.0, cx: float = 100.0, cy: float = 100.0) -> str:
    fraction = min(max(fraction, 0.0), 1.0)
    a0 = math.pi
    a1 = math.pi * (1.0 - fraction)
    x0, y0 = cx + r * math.cos(a0), cy - r * math.sin(a0)
    x1, y1 = cx + r * math.cos(a1), cy - r * math.sin(a1)
    return f"M {x0:.1f} {y0:.1f} A {r:.0f} {r:.0f} 0 0 1 {x1:.1f} {y1:.1f}"


def gauge(used: int, usable: int) -> Gauge:
    frac = used / usable if usable > 0 else 1.0
    level = "full" if used >= usable else "warn" if frac >= 0.8 else "ok"
    return Gauge(path=_arc(frac), track=_arc(1.0), percent=round(100.0 * frac, 1), level=level)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    width: float  # percent of the largest value


def hbars(items: list[tuple[str, int]]) -> list[Bar]:
    top = max((v for _, v in items), default=0)
    return [Bar(label, v, round(100.0 * v / top, 1) if top else 0.0) for label, v in items]
