"""The last hours of an incident's brand as a text sparkline and a small PNG bar chart.

The PNG is written by hand (zlib + a few chunks) so alerts need no plotting library.
"""

from __future__ import annotations

import struct
import zlib
from datetime import datetime

from index.base import Backend, MentionFilter

BARS = "▁▂▃▄▅▆▇█"


def series(backend: Backend, brand: str, until: datetime, hours: int, buckets: int = 24) -> dict:
    """Mentions per bucket for one brand over `hours` ending at `until` (exclusive), empty buckets as 0."""
    interval = max(60, int(hours * 3600 / buckets) // 60 * 60)
    end = -(-until.timestamp() // interval) * interval
    start = end - interval * buckets
    flt = MentionFilter(brand=brand, since=datetime.fromtimestamp(start, until.tzinfo),
                        until=datetime.fromtimestamp(end, until.tzinfo))
    counts, negative = [0] * buckets, [0] * buckets
    for b in backend.counts_over_time(flt, interval, group_by="sentiment_band"):
        i = int((b.start.timestamp() - start) // interval)
        if 0 <= i < buckets:
            counts[i] += b.count
            if b.key == "negative":
                negative[i] += b.count
    return {"start": datetime.fromtimestamp(start, until.tzinfo).isoformat(), "interval_seconds": interval,
            "counts": counts, "negative": negative}


def sparkline(counts: list[int]) -> str:
    top = max(counts, default=0)
    if top <= 0:
        return BARS[0] * len(counts)
    return "".join(BARS[min(len(BARS) - 1, round(c / top * (len(BARS) - 1)))] for c in counts)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bars(counts: list[int], negative: list[int] | None = None, baseline: float | None = None,
             width: int = 480, height: int = 120) -> bytes:
    """All mentions as blue bars, their negative part red, a dotted grey line at the negative baseline."""
    bg, bar, neg, line = (255, 255, 255), (120, 160, 210), (200, 40, 40), (110, 110, 110)
    negative = negative or [0] * len(counts)
    pixels = [[bg] * width for _ in range(height)]
    n = max(len(counts), 1)
    top = max([*counts, baseline or 0, 1])
    slot = width / n
    for i, c in enumerate(counts):
        h = int(c / top * (height - 6))
        x0, x1 = int(i * slot) + 1, max(int((i + 1) * slot) - 1, int(i * slot) + 2)
        red = int(min(negative[i], c) / top * (height - 6))
        for y in range(height - h, height):
            for x in range(x0, min(x1, width)):
                pixels[y][x] = neg if y >= height - red else bar
    if baseline:
        y = max(0, height - 1 - int(baseline / top * (height - 6)))
        for x in range(0, width, 2):
            pixels[y][x] = line
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + \
        _chunk(b"IEND", b"")
