"""A small SVG plotter for the report's charts: panels with nice-tick axes, lines, bars, areas and legends.

Hand-written text, no plotting stack: a chart costs milliseconds, and identical inputs give identical
bytes on every platform (coordinates are printed with one decimal, values come in as floats).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

BLUE = "#1f77b4"
ORANGE = "#ff7f0e"
GREEN = "#2ca02c"
RED = "#d62728"
PURPLE = "#9467bd"
GREY = "#7f7f7f"
LIGHT_GREY = "#d3d3d3"
_GRID = "#e6e6e6"
_FONT = 12
# Pixels one character of the font takes, roughly: enough to keep labels clear of each other.
_CHAR_WIDTH = 7.0


def _n(value: float) -> str:
    """A coordinate: one decimal, no `-0.0`."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _rect(x: float, y: float, width: float, height: float, paint: str) -> str:
    return f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" {paint}/>'


def _line(x1: float, y1: float, x2: float, y2: float, paint: str) -> str:
    return f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" {paint}/>'


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 × 10ⁿ) covering [lo, hi] with about `count` intervals."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw * (1 - 1e-9))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [k * step for k in range(first, last + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick's text with as many decimals as the step has, thousands separated, never `-0`."""
    fraction = f"{abs(step):.10f}".rstrip("0").partition(".")[2]
    text = f"{value:,.{len(fraction)}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """The texts of a run of evenly spaced ticks."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return [tick_label(t, step) for t in ticks]


def left_margin(ticks: Sequence[float]) -> float:
    """Pixels left of a panel for its y tick labels and the rotated y axis label."""
    return label_width(tick_labels(ticks)) + 34


def value_ticks(values: Sequence[float], include_zero: bool = True) -> list[float]:
    """The ticks of an axis that must show every one of `values` (and zero, for bars)."""
    finite = [v for v in values if math.isfinite(v)]
    if include_zero:
        finite.append(0.0)
    if not finite:
        return [0.0, 1.0]
    return nice_ticks(min(finite), max(finite))


@dataclass
class Panel:
    """One plotting area: data coordinates mapped onto a pixel box of the chart."""

    left: float
    top: float
    width: float
    height: float
    x_domain: tuple[float, float]
    y_ticks: list[float]
    parts: list[str] = field(default_factory=list)

    @property
    def y_domain(self) -> tuple[float, float]:
        """The lowest and highest tick: the y range drawn."""
        return self.y_ticks[0], self.y_ticks[-1]

    def sx(self, x: float) -> float:
        """Pixel x of a data x."""
        lo, hi = self.x_domain
        return self.left + (x - lo) / ((hi - lo) or 1.0) * self.width

    def sy(self, y: float) -> float:
        """Pixel y of a data y (up is larger)."""
        lo, hi = self.y_domain
        return self.top + self.height - (y - lo) / ((hi - lo) or 1.0) * self.height

    def text(
        self, x: float, y: float, value: str, anchor: str = "middle", rotate: float = 0, **attrs: str
    ) -> None:
        """Text at pixel coordinates (escaped), optionally rotated about its anchor point."""
        extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
        turn = f' transform="rotate({rotate:g} {_n(x)} {_n(y)})"' if rotate else ""
        self.parts.append(
            f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{turn}{extra}>{escape(value)}</text>'
        )

    def frame(self, title: str, y_label: str | None = None) -> None:
        """Horizontal grid lines with y tick labels, the box, the title and the y axis label."""
        labels = tick_labels(self.y_ticks)
        for tick, label in zip(self.y_ticks, labels, strict=True):
            y = self.sy(tick)
            self.parts.append(_line(self.left, y, self.left + self.width, y, f'stroke="{_GRID}"'))
            self.text(self.left - 6, y + 4, label, anchor="end")
        self.parts.append(_rect(self.left, self.top, self.width, self.height, 'fill="none" stroke="#333333"'))
        if title:
            self.text(self.left + self.width / 2, self.top - 8, title, font_weight="bold")
        if y_label:
            x = self.left - label_width(labels) - 18
            self.text(x, self.top + self.height / 2, y_label, rotate=-90)

    def x_labels(self, positions: Sequence[float], labels: Sequence[str], rotate: bool = False) -> None:
        """Tick marks and their labels under the panel (rotated 45° when they are long or many)."""
        bottom = self.top + self.height
        for x, label in zip(positions, labels, strict=True):
            px = self.sx(x)
            self.parts.append(_line(px, bottom, px, bottom + 4, 'stroke="#333333"'))
            if rotate:
                self.text(px, bottom + 14, label, anchor="end", rotate=-45)
            else:
                self.text(px, bottom + 16, label)

    def x_numeric(self, count: int = 6) -> None:
        """Round x ticks over the x domain, labelled with their values."""
        lo, hi = self.x_domain
        ticks = [t for t in nice_ticks(lo, hi, count=count) if lo <= t <= hi]
        self.x_labels(ticks, tick_labels(ticks))

    def x_title(self, label: str, offset: float = 34) -> None:
        """The x axis label under the tick labels."""
        self.text(self.left + self.width / 2, self.top + self.height + offset, label)

    def zero_line(self) -> None:
        """A grey line at y = 0 when zero is inside the range."""
        lo, hi = self.y_domain
        if lo < 0 < hi:
            y = self.sy(0)
            self.parts.append(
                _line(self.left, y, self.left + self.width, y, f'stroke="{GREY}" stroke-width="0.8"')
            )

    def line(self, xs: Sequence[float], ys: Sequence[float], color: str, markers: bool = False) -> None:
        """A polyline through the points (and small dots on them, when asked)."""
        points = " ".join(f"{_n(self.sx(x))},{_n(self.sy(y))}" for x, y in zip(xs, ys, strict=True))
        self.parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        if markers:
            self.parts.extend(
                f'<circle cx="{_n(self.sx(x))}" cy="{_n(self.sy(y))}" r="2.5" fill="{color}"/>'
                for x, y in zip(xs, ys, strict=True)
            )

    def step_area(self, xs: Sequence[float], ys: Sequence[float], color: str) -> None:
        """The area between zero and a step function that holds each value until the next x."""
        if not xs:
            return
        zero = _n(self.sy(0))
        points = [f"{_n(self.sx(xs[0]))},{zero}"]
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            nxt = xs[i + 1] if i + 1 < len(xs) else x
            points.append(f"{_n(self.sx(x))},{_n(self.sy(y))} {_n(self.sx(nxt))},{_n(self.sy(y))}")
        points.append(f"{_n(self.sx(xs[-1]))},{zero}")
        self.parts.append(
            f'<polygon points="{" ".join(points)}" fill="{color}" fill-opacity="0.4" stroke="none"/>'
        )

    def bars(
        self, xs: Sequence[float], ys: Sequence[float], width: float, colors: Sequence[str] | str
    ) -> None:
        """Vertical bars of data width `width` centred on each x, from zero to y."""
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            color = colors if isinstance(colors, str) else colors[i]
            x0, x1 = self.sx(x - width / 2), self.sx(x + width / 2)
            y0, y1 = sorted((self.sy(0), self.sy(y)))
            self.parts.append(_rect(x0, y0, x1 - x0, y1 - y0, f'fill="{color}"'))

    def span(self, x0: float, x1: float, color: str) -> None:
        """A full-height vertical band between two data x."""
        a, b = self.sx(x0), self.sx(x1)
        self.parts.append(_rect(a, self.top, b - a, self.height, f'fill="{color}" fill-opacity="0.6"'))

    def legend(self, items: Sequence[tuple[str, str]]) -> None:
        """Colour keys with their labels, in the panel's top-right corner."""
        x = self.left + self.width - 8 - max(len(label) for label, _ in items) * _CHAR_WIDTH - 16
        box = f'fill="#ffffff" fill-opacity="0.8" stroke="{LIGHT_GREY}"'
        self.parts.append(_rect(x - 4, self.top + 6, self.left + self.width - x, len(items) * 16 + 4, box))
        for i, (label, color) in enumerate(items):
            y = self.top + 10 + i * 16
            self.parts.append(_rect(x, y, 10, 10, f'fill="{color}"'))
            self.text(x + 14, y + 9, label, anchor="start")

    def message(self, value: str) -> None:
        """A note in the middle of an empty panel."""
        self.text(self.left + self.width / 2, self.top + self.height / 2, value, fill=GREY)


@dataclass
class Chart:
    """One SVG document made of panels."""

    width: int
    height: int
    panels: list[Panel] = field(default_factory=list)

    def panel(
        self, box: tuple[float, float, float, float], x_domain: tuple[float, float], y_ticks: list[float]
    ) -> Panel:
        """A new panel in pixel box (left, top, width, height)."""
        left, top, width, height = box
        panel = Panel(left, top, width, height, x_domain, y_ticks)
        self.panels.append(panel)
        return panel

    def render(self) -> str:
        """The SVG text."""
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" font-family="sans-serif" font-size="{_FONT}">'
        )
        body = [_rect(0, 0, self.width, self.height, 'fill="#ffffff"')]
        for panel in self.panels:
            body.extend(panel.parts)
        return "\n".join([head, *body, "</svg>"]) + "\n"

    def save(self, path: Path) -> Path:
        """Write the SVG to `path` and return it."""
        path.write_text(self.render(), encoding="utf-8", newline="\n")
        return path


def label_width(labels: Sequence[str]) -> float:
    """Pixels the longest label needs."""
    return max((len(label) for label in labels), default=0) * _CHAR_WIDTH
