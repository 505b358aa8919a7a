"""How the benchmarks print: ratios against the baseline of the same run, PASS/MISS, plain tables."""

from __future__ import annotations

from collections.abc import Sequence


def ratio(a: float, b: float | None) -> str:
    """``a / b`` as '1.23x', or '-' when there is no b."""
    return f"{a / b:.2f}x" if b else "-"


def verdict(ok: bool) -> str:
    """PASS or MISS."""
    return "PASS" if ok else "MISS"


def print_rows(rows: Sequence[Sequence[str]], *, indent: str = "") -> None:
    """A plain text table: the first row is the header, the first column left-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print((indent + "  ".join(cells)).rstrip() if indent else "  ".join(cells))
        if n == 0:
            print(indent + "  ".join("-" * w for w in widths))
