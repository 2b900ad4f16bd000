"""A proof's series as a small PNG bar chart, without matplotlib.

The PNG is written by hand (zlib + struct, RFC 2083): 8-bit RGBA, no
interlace, filter 0 on every row. The bytes depend only on the numbers, so the
same series always gives the same file and the same content-hashed name. The
background is transparent and the colours mid-tone, so the chart reads on
Anki's light and night themes alike; labels and values go in HTML beside it.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence

from quizcnn.results import Series

# Mid-tone colours that keep their contrast on white and on near-black.
PALETTE = (
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (44, 160, 44),  # green
    (214, 39, 40),  # red
    (148, 103, 189),  # purple
)
AXIS = (128, 128, 128, 255)
GRID = (128, 128, 128, 70)
HEIGHT = 200
MARGIN = 6
BAR_GAP = 1  # pixels between the bars of one group
GROUP_GAP = 6  # pixels between groups
MAX_WIDTH = 960


def encode_png(width: int, height: int, rgba: bytes | bytearray) -> bytes:
    """Raw RGBA pixels (row-major, 4 bytes each) -> PNG file bytes."""
    if len(rgba) != width * height * 4:
        raise ValueError(f"expected {width * height * 4} bytes of RGBA, got {len(rgba)}")
    stride = width * 4
    raw = b"".join(b"\x00" + bytes(rgba[y * stride : (y + 1) * stride]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class Canvas:
    """A transparent RGBA image with rectangle fills (alpha-blended onto what is there)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.pixels = bytearray(width * height * 4)

    def fill(self, x0: int, y0: int, x1: int, y1: int, colour: Sequence[int]) -> None:
        """Fill the half-open box [x0, x1) x [y0, y1), clipped to the image."""
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        r, g, b = colour[:3]
        a = colour[3] if len(colour) > 3 else 255
        if x0 >= x1:
            return
        for y in range(y0, y1):
            start = (y * self.width + x0) * 4
            if a == 255:
                self.pixels[start : start + (x1 - x0) * 4] = bytes((r, g, b, 255)) * (x1 - x0)
                continue
            for i in range(start, start + (x1 - x0) * 4, 4):
                if self.pixels[i + 3] == 0:  # on transparent: just this colour
                    self.pixels[i : i + 4] = bytes((r, g, b, a))
                # over something opaque (a bar), a faint grid line is not drawn

    def png(self) -> bytes:
        return encode_png(self.width, self.height, self.pixels)


def bar_chart_png(series: Series) -> bytes:
    """Grouped vertical bars: one group per x value, one bar per line, zero line drawn.

    A log-scale series draws each bar's height as log10 of its value over the
    decades that the values span, with a faint line at every decade.
    """
    names = list(series.lines)
    n_groups, n_lines = len(series.x), max(1, len(names))
    bar = _bar_width(n_groups, n_lines)
    group = n_lines * bar + (n_lines - 1) * BAR_GAP
    width = 2 * MARGIN + n_groups * group + max(0, n_groups - 1) * GROUP_GAP
    canvas = Canvas(max(width, 2 * MARGIN + 1), HEIGHT)
    top, bottom = MARGIN, HEIGHT - MARGIN
    to_y, baseline, grid = _scale(
        [v for line in series.lines.values() for v in line], series.log_y, top, bottom
    )
    for y in grid:
        canvas.fill(0, y, canvas.width, y + 1, GRID)
    for g in range(n_groups):
        left = MARGIN + g * (group + GROUP_GAP)
        for k, name in enumerate(names):
            values = series.lines[name]
            value = values[g] if g < len(values) else math.nan
            y = to_y(value)
            if y is None:
                continue
            x = left + k * (bar + BAR_GAP)
            colour = PALETTE[k % len(PALETTE)]
            canvas.fill(x, min(y, baseline), x + bar, max(y, baseline) + (y == baseline), colour)
    canvas.fill(0, baseline, canvas.width, baseline + 1, AXIS)
    return canvas.png()


def _bar_width(n_groups: int, n_lines: int) -> int:
    room = MAX_WIDTH - 2 * MARGIN - max(0, n_groups - 1) * GROUP_GAP
    per_bar = room // max(1, n_groups * n_lines) - BAR_GAP
    return max(2, min(28, per_bar))


def _scale(values: list[float], log_y: bool, top: int, bottom: int):
    """(value -> pixel row or None, row of the baseline, rows of grid lines)."""
    if log_y:
        usable = [v for v in values if math.isfinite(v) and v > 0]
        if not usable:
            return (lambda v: None), bottom, []
        smallest = math.log10(min(usable))
        low = math.floor(smallest)
        if smallest - low < 0.3:  # keep the smallest bar visible above the axis
            low -= 1
        high = max(math.ceil(math.log10(max(usable))), low + 1)

        def to_row(v: float) -> int | None:
            if not math.isfinite(v) or v <= 0:
                return None
            return round(bottom - (math.log10(v) - low) / (high - low) * (bottom - top))

        grid = [round(bottom - (d - low) / (high - low) * (bottom - top)) for d in range(low, high)]
        return to_row, bottom, grid[1:]
    usable = [v for v in values if math.isfinite(v)]
    lo, hi = min([0.0, *usable]), max([0.0, *usable])
    if hi == lo:
        hi = lo + 1.0

    def to_row_linear(v: float) -> int | None:
        if not math.isfinite(v):
            return None
        return round(bottom - (v - lo) / (hi - lo) * (bottom - top))

    return to_row_linear, to_row_linear(0.0), []
