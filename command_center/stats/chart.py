"""A bar chart drawn with OpenCV, which the server has already (no plotting library to install)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from command_center.stats.schemas import DayCount

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_INK = (40, 40, 40)
_GRID = (225, 225, 225)
_BAR = (60, 80, 200)  # BGR: a muted red, the colour of alerts on the wall display
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 56, 48


def _step(top: int) -> int:
    """A 1-2-5 tick step giving at most about five grid lines up to ``top``."""
    raw = max(top / 5, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


def bar_chart_png(days: Sequence[DayCount], *, title: str, width: int = 900, height: int = 420) -> bytes:
    """A PNG bar chart of counts per day, with the value above each bar and ``MM-DD`` below it."""
    image = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(image, title, (_LEFT, 32), _FONT, 0.7, _INK, 2, cv2.LINE_AA)
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM
    base_y = _TOP + plot_h
    top = max([d.count for d in days] + [1])
    step = _step(top)
    scale_top = step * math.ceil(top / step)
    for value in range(0, scale_top + 1, step):
        y = base_y - round(value / scale_top * plot_h)
        cv2.line(image, (_LEFT, y), (_LEFT + plot_w, y), _GRID, 1)
        label = str(value)
        (text_w, _), _ = cv2.getTextSize(label, _FONT, 0.45, 1)
        cv2.putText(image, label, (_LEFT - 8 - text_w, y + 5), _FONT, 0.45, _INK, 1, cv2.LINE_AA)
    slot = plot_w / max(len(days), 1)
    for n, day in enumerate(days):
        x0 = round(_LEFT + n * slot + slot * 0.15)
        x1 = round(_LEFT + (n + 1) * slot - slot * 0.15)
        y = base_y - round(day.count / scale_top * plot_h)
        if day.count:
            cv2.rectangle(image, (x0, y), (x1, base_y), _BAR, cv2.FILLED)
        centre = (x0 + x1) // 2
        for text, ty, size in ((str(day.count), y - 6, 0.45), (day.day.strftime("%m-%d"), base_y + 20, 0.4)):
            (text_w, _), _ = cv2.getTextSize(text, _FONT, size, 1)
            cv2.putText(image, text, (centre - text_w // 2, ty), _FONT, size, _INK, 1, cv2.LINE_AA)
    cv2.line(image, (_LEFT, base_y), (_LEFT + plot_w, base_y), _INK, 1)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("OpenCV could not encode the chart as PNG")
    return encoded.tobytes()
