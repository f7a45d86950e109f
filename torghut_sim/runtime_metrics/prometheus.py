"""A parser of the Prometheus text exposition format 0.0.4 (what the runtime's `GET /metrics` serves).

Only what the format defines for counters and gauges is read: `# HELP`, `# TYPE`, samples with optional
labels and an optional timestamp (ignored). A family's samples are keyed by their sorted label pairs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from torghut_sim.errors import TorghutSimError

LabelKey = tuple[tuple[str, str], ...]

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(\{{.*\}})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class MetricsTextError(TorghutSimError):
    """A scrape that is not the Prometheus text format."""

    reason = "metrics_text_invalid"


@dataclass
class Family:
    """One metric family: its type, help text and samples by label set."""

    name: str
    type: str = "untyped"
    help: str = ""
    samples: dict[LabelKey, float] = field(default_factory=dict)


@dataclass
class Scrape:
    """Every family of one scrape, by name."""

    families: dict[str, Family] = field(default_factory=dict)

    def family(self, name: str) -> Family:
        """The family, created empty (untyped) when the text did not mention it."""
        return self.families.setdefault(name, Family(name))

    def value(self, name: str, **labels: str) -> float:
        """One sample's value; an absent family or label set counts as 0."""
        fam = self.families.get(name)
        if fam is None:
            return 0.0
        return fam.samples.get(tuple(sorted(labels.items())), 0.0)


def _labels(text: str, line_no: int) -> LabelKey:
    """`{a="x",b="y"}` (braces included) as sorted pairs, with the format's escapes undone."""
    body, pos, out = text[1:-1], 0, {}
    while pos < len(body):
        while pos < len(body) and body[pos] in " ,":
            pos += 1
        if pos >= len(body):
            break
        match = _LABEL_NAME.match(body, pos)
        if match is None or body[match.end() : match.end() + 2] != '="':
            raise MetricsTextError(f"line {line_no}: malformed label set {text!r}")
        name, pos = match.group(0), match.end() + 2
        value: list[str] = []
        while True:
            if pos >= len(body):
                raise MetricsTextError(f"line {line_no}: unterminated label value in {text!r}")
            char = body[pos]
            if char == "\\" and pos + 1 < len(body):
                value.append(_ESCAPES.get(body[pos + 1], "\\" + body[pos + 1]))
                pos += 2
            elif char == '"':
                pos += 1
                break
            else:
                value.append(char)
                pos += 1
        if name in out:
            raise MetricsTextError(f"line {line_no}: label {name} repeated")
        out[name] = "".join(value)
    return tuple(sorted(out.items()))


def _number(text: str, line_no: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MetricsTextError(f"line {line_no}: value {text!r} is not a number") from None
    if math.isnan(value):
        raise MetricsTextError(f"line {line_no}: NaN value")
    return value


def parse_metrics(text: str) -> Scrape:
    """Parse a whole exposition; MetricsTextError (one line, with the line number) on anything malformed."""
    scrape = Scrape()
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line[1:].strip().split(None, 2)
            if len(parts) >= 2 and parts[0] in ("HELP", "TYPE"):
                fam = scrape.family(parts[1])
                rest = parts[2] if len(parts) > 2 else ""
                if parts[0] == "TYPE":
                    if rest not in ("counter", "gauge", "untyped", "histogram", "summary"):
                        raise MetricsTextError(f"line {line_no}: unknown type {rest!r}")
                    fam.type = rest
                else:
                    fam.help = rest.replace("\\n", "\n").replace("\\\\", "\\")
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise MetricsTextError(f"line {line_no}: not a sample: {line[:80]!r}")
        name, labels, value = match.group(1), match.group(2), match.group(3)
        fam = scrape.family(name)
        key = _labels(labels, line_no) if labels else ()
        if key in fam.samples:
            raise MetricsTextError(f"line {line_no}: {name}{labels or ''} appears twice")
        fam.samples[key] = _number(value, line_no)
    return scrape
