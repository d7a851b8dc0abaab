"""Drawings that are not digits, as a person might make them on the canvas: for measuring how often the
"that doesn't look like a digit" check catches them (benchmarks/not_a_digit.py) and for tests.

    drawings = generate("x", 20, np.random.default_rng(0))      # 20 drawings of an X
    for kind, d in generate_all(50, rng): write_drawing(f"{kind}.json", d)

Kinds (``KINDS``), each varied in size (a third to nine tenths of the 280-pixel canvas), place, slant and
pen width (8-24 px, the canvas slider's useful range):
    dot        a single tap: one point, or a wiggle a few pixels long
    dots       2-5 taps scattered over the canvas
    scribble   a scrawl: a random walk of 25-70 points, back and forth over the same patch
    x          two crossing strokes, each 45 +- 20 degrees from the vertical
    line       one straight stroke within 35 degrees of the horizontal (a near-vertical line is a 1)
    circle     an oval with noise: 2-5 random scratches and dots through and around it
    hash       a '#': two roughly vertical and two roughly horizontal strokes
    zigzag     a saw-tooth going across (more than four teeth: no digit has them)
    filled     an area hatched solid, as when a child colours in a shape

``rasterize`` draws a drawing with NumPy (anti-aliased round pen), close to the Qt renderer in
app/imageio.py, so the confidence rules can be tested without Qt; the benchmark uses the Qt renderer.
NumPy only.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from mnist_desktop.drawing import Drawing

KINDS = ("dot", "dots", "scribble", "x", "line", "circle", "hash", "zigzag", "filled")
CANVAS = 280


def _pen(rng: np.random.Generator) -> float:
    return float(rng.uniform(8.0, 24.0))


def _frame(rng: np.random.Generator, lo: float = 0.33, hi: float = 0.9) -> tuple[float, float, float]:
    """(centre x, centre y, size): a square region of the canvas the shape fills."""
    size = rng.uniform(lo, hi) * CANVAS
    cx = rng.uniform(size / 2, CANVAS - size / 2)
    cy = rng.uniform(size / 2, CANVAS - size / 2)
    return float(cx), float(cy), float(size)


def _line(p, q, n: int = 8, rng: np.random.Generator | None = None, wobble: float = 0.0):
    """n + 1 points from p to q, each moved by up to ``wobble`` pixels (a hand is not a ruler)."""
    t = np.linspace(0.0, 1.0, n + 1)[:, None]
    pts = (1 - t) * np.asarray(p, float) + t * np.asarray(q, float)
    if rng is not None and wobble > 0:
        pts[1:-1] += rng.normal(0.0, wobble, pts[1:-1].shape)
    return pts


def _clip(pts) -> list[tuple[float, float]]:
    pts = np.clip(np.asarray(pts, float), 2.0, CANVAS - 2.0)
    return [(round(float(x), 1), round(float(y), 1)) for x, y in pts]


def _dot(rng):
    x, y = rng.uniform(40, CANVAS - 40, 2)
    if rng.random() < 0.5:
        return [_clip([(x, y)])]
    return [_clip([(x, y)] + [(x + dx, y + dy) for dx, dy in rng.normal(0, 2.0, (rng.integers(1, 5), 2))])]


def _dots(rng):
    n = int(rng.integers(2, 6))
    cx, cy, size = _frame(rng, 0.4, 0.9)
    pts = rng.uniform(-size / 2, size / 2, (n, 2)) + (cx, cy)
    return [_clip([p]) for p in pts]


def _scribble(rng):
    cx, cy, size = _frame(rng, 0.25, 0.8)
    n = int(rng.integers(25, 71))
    p = np.array([cx, cy]) + rng.uniform(-size / 4, size / 4, 2)
    v = rng.normal(0, 1, 2)
    pts = [p.copy()]
    for _ in range(n):
        v = 0.5 * v + rng.normal(0, 1, 2)
        step = v / (np.linalg.norm(v) + 1e-9) * rng.uniform(0.1, 0.35) * size
        p = p + step
        p = np.clip(p, [cx - size / 2, cy - size / 2], [cx + size / 2, cy + size / 2])
        pts.append(p.copy())
    return [_clip(pts)]


def _rot(angle_deg: float):
    a = math.radians(angle_deg)
    return np.array([math.sin(a), math.cos(a)])    # direction from the vertical (x right, y down)


def _x(rng):
    cx, cy, size = _frame(rng, 0.35, 0.9)
    strokes = []
    for sign in (-1, 1):
        d = _rot(sign * (45 + rng.uniform(-20, 20))) * size / 2 * rng.uniform(0.8, 1.0)
        c = np.array([cx, cy]) + rng.normal(0, size * 0.04, 2)
        strokes.append(_clip(_line(c - d, c + d, 8, rng, 1.0)))
    return strokes


def _hline(rng):
    cx, cy, size = _frame(rng, 0.35, 0.9)
    a = math.radians(rng.uniform(-35, 35))
    d = np.array([math.cos(a), math.sin(a)]) * size / 2
    return [_clip(_line((cx, cy) - d, (cx, cy) + d, 8, rng, 1.0))]


def _circle(rng):
    cx, cy, size = _frame(rng, 0.4, 0.85)
    rx, ry = size / 2 * rng.uniform(0.6, 1.0), size / 2 * rng.uniform(0.6, 1.0)
    t = np.linspace(0, 2 * np.pi, 40) + rng.uniform(0, 2 * np.pi)
    ring = np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1) + rng.normal(0, 1.5, (40, 2))
    strokes = [_clip(ring)]
    for _ in range(int(rng.integers(2, 6))):
        p = np.array([cx, cy]) + rng.uniform(-size / 2, size / 2, 2)
        if rng.random() < 0.3:
            strokes.append(_clip([p]))
        else:
            q = p + rng.normal(0, size / 3, 2)
            strokes.append(_clip(_line(p, q, 4, rng, 1.0)))
    return strokes


def _hash(rng):
    cx, cy, size = _frame(rng, 0.4, 0.9)
    h = size / 2
    strokes = []
    for off in (-h / 3, h / 3):
        tilt = rng.uniform(-0.2, 0.2) * h
        strokes.append(_clip(_line((cx + off - tilt, cy - h), (cx + off + tilt, cy + h), 6, rng, 1.0)))
    for off in (-h / 3, h / 3):
        tilt = rng.uniform(-0.2, 0.2) * h
        strokes.append(_clip(_line((cx - h, cy + off - tilt), (cx + h, cy + off + tilt), 6, rng, 1.0)))
    return strokes


def _zigzag(rng):
    cx, cy, size = _frame(rng, 0.45, 0.9)
    teeth = int(rng.integers(5, 9))
    amp = size * rng.uniform(0.12, 0.3)
    xs = np.linspace(cx - size / 2, cx + size / 2, 2 * teeth + 1)
    ys = cy + amp * np.where(np.arange(len(xs)) % 2 == 0, -1, 1) + rng.normal(0, 2, len(xs))
    return [_clip(np.stack([xs, ys], 1))]


def _filled(rng):
    cx, cy, size = _frame(rng, 0.3, 0.7)
    w, h = size * rng.uniform(0.6, 1.0), size * rng.uniform(0.6, 1.0)
    rows = int(rng.integers(6, 12))
    ys = np.linspace(cy - h / 2, cy + h / 2, rows)
    pts = []
    for i, y in enumerate(ys):
        xa, xb = cx - w / 2 + rng.normal(0, 3), cx + w / 2 + rng.normal(0, 3)
        pts += [(xa, y), (xb, y)] if i % 2 == 0 else [(xb, y), (xa, y)]
    return [_clip(pts)]


_MAKERS = {"dot": _dot, "dots": _dots, "scribble": _scribble, "x": _x, "line": _hline, "circle": _circle,
           "hash": _hash, "zigzag": _zigzag, "filled": _filled}


def make(kind: str, rng: np.random.Generator) -> Drawing:
    """One drawing of ``kind`` (one of KINDS) on a 280x280 canvas."""
    try:
        maker = _MAKERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})") from None
    pen = _pen(rng)
    if kind == "filled":
        pen = max(pen, 14.0)       # hatching with a thin pen leaves stripes, not an area
    return Drawing(CANVAS, CANVAS, round(pen, 1), maker(rng))


def generate(kind: str, n: int, rng: np.random.Generator) -> list[Drawing]:
    return [make(kind, rng) for _ in range(n)]


def generate_all(n_per_kind: int, rng: np.random.Generator, kinds=KINDS) -> Iterator[tuple[str, Drawing]]:
    for kind in kinds:
        for d in generate(kind, n_per_kind, rng):
            yield kind, d


# ---- a NumPy renderer, for tests without Qt ------------------------------------------------------------


def rasterize(drawing: Drawing) -> np.ndarray:
    """Drawing -> (height, width) float32 in [0, 1], white on black: every pixel within pen_width / 2 of a
    stroke is ink, with a one-pixel anti-aliased edge; a one-point stroke is a round dot."""
    H, W = drawing.height, drawing.width
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32) + np.float32(0.5)
    r = drawing.pen_width / 2.0
    dist = np.full((H, W), np.inf, np.float32)
    for stroke in drawing.strokes:
        pts = np.asarray(stroke, np.float32).reshape(-1, 2)
        if len(pts) == 0:
            continue
        segs = [(pts[0], pts[0])] if len(pts) == 1 else list(zip(pts[:-1], pts[1:]))
        for a, b in segs:
            lo = np.floor(np.minimum(a, b) - r - 1).astype(int)
            hi = np.ceil(np.maximum(a, b) + r + 2).astype(int)
            x0, y0 = max(lo[0], 0), max(lo[1], 0)
            x1, y1 = min(hi[0], W), min(hi[1], H)
            if x0 >= x1 or y0 >= y1:
                continue
            px, py = xx[y0:y1, x0:x1], yy[y0:y1, x0:x1]
            ab = b - a
            L2 = float(ab @ ab)
            t = 0.0 if L2 == 0 else np.clip(((px - a[0]) * ab[0] + (py - a[1]) * ab[1]) / L2, 0.0, 1.0)
            d = np.hypot(px - (a[0] + t * ab[0]), py - (a[1] + t * ab[1]))
            np.minimum(dist[y0:y1, x0:x1], d, out=dist[y0:y1, x0:x1])
    return np.clip(r + 0.5 - dist, 0.0, 1.0).astype(np.float32)
