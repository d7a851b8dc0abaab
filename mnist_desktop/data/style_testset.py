"""A test set of handwriting styles MNIST lacks, as drawings a person makes in the window's canvas.

    drawings = style_drawings("slashed-zero", 50, seed=0)   # list of Drawing (280 x 280, pen ~18)
    for style, digit, drawing in style_test_set(per_style=50, seed=0): ...

Each style (``TEST_STYLES``: style -> the digit it is) is a pen path in a unit box, traced in the order and
direction people draw it (the oval of a zero counter-clockwise from the top, then the slash as a second
stroke from lower left to upper right; the flag of a one from the lower left up to the top and straight on
down), then given a random size (100-240 px tall), slant (up to ±22°), width, placement on the 280 x 280
canvas, pen width (15-21 px around the window's 18) and hand tremor, and sampled as the canvas records a
moving pen (a point every 4-9 px).

This is deliberately NOT ``data.styles`` (the training synthesis): different code, shapes traced from
curves rather than added to MNIST digits or drawn from its templates, other parameter ranges and other
random streams, and it goes through the app's whole reading path (render at 280 x 280 -> crop, 20 x 20,
centre of mass), so a model that scores well here learned the styles, not the synthesis.
"""

from __future__ import annotations

import math

import numpy as np

from mnist_desktop.drawing import Drawing

CANVAS = 280
PEN = 18.0

TEST_STYLES = {
    "slashed-zero": 0, "bare-one": 1, "flagged-one": 1, "serif-one": 1, "looped-two": 2, "open-four": 4,
    "crossed-seven": 7, "straight-nine": 9, "hooked-nine": 9, "curved-nine": 9,
}


# ---- pen paths in a unit box (x right, y down, the digit about 0..1 tall) ------------------------------------

def _ellipse(cx, cy, rx, ry, a0, a1, n=40) -> np.ndarray:
    """Angles in degrees, 0 = right, 90 = down (y points down): a0 -> a1 counter-clockwise on screen if
    a1 < a0."""
    a = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)


def _bezier(*ctrl, n=24) -> np.ndarray:
    """A cubic (4 points) or quadratic (3) Bezier curve."""
    p = np.asarray(ctrl, float)
    t = np.linspace(0, 1, n)[:, None]
    if len(p) == 3:
        return (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t ** 2 * p[2]
    return (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2] + t ** 3 * p[3]


def _line(a, b, n=12) -> np.ndarray:
    return _bezier(a, (np.add(a, b)) / 2, b, n=n)


def _join(*parts) -> np.ndarray:
    return np.concatenate([np.asarray(p, float) for p in parts])


def _slashed_zero(r):
    w = r.uniform(0.32, 0.48)
    start = r.uniform(-100, -70)                        # near the top
    oval = _ellipse(0.5, 0.5, w, 0.5, start, start - r.uniform(350, 385))
    over_lo, over_hi = r.uniform(-0.05, 0.3), r.uniform(-0.05, 0.3)
    lo = (0.5 - w * r.uniform(0.5, 1.0) - over_lo * w, 1.0 + over_lo * 0.4 - r.uniform(0.0, 0.15))
    hi = (0.5 + w * r.uniform(0.5, 1.0) + over_hi * w, 0.0 - over_hi * 0.4 + r.uniform(0.0, 0.15))
    return [oval, _line(lo, hi)]


def _bare_one(r):
    bend = r.uniform(-0.06, 0.06)
    return [_bezier((0.5, 0.0), (0.5 + bend, 0.5), (0.5, 1.0))]


def _flagged_one(r, drop=(0.4, 0.9), foot=0.3):
    d = r.uniform(*drop)
    run = r.uniform(0.2, 0.5)
    tip = (0.5, 0.0)
    lead = _bezier((0.5 - run, d), (0.5 - run * r.uniform(0.4, 0.6), d * r.uniform(0.35, 0.55)), tip, n=14)
    stem = _line(tip, (0.5 + r.uniform(-0.04, 0.04), 1.0))
    strokes = [_join(lead, stem[1:])]
    if r.random() < foot:
        half = r.uniform(0.18, 0.32)
        strokes.append(_line((0.5 - half, 1.0), (0.5 + half, 1.0 + r.uniform(-0.03, 0.03))))
    return strokes


def _serif_one(r):
    return _flagged_one(r, drop=(0.06, 0.22), foot=1.0)


def _looped_two(r):
    head = _bezier((0.05, 0.28), (0.1, -0.08), (0.95, -0.1), (0.85, 0.35), n=20)
    rl = r.uniform(0.1, 0.17)
    bx = r.uniform(0.12, 0.25)
    down = _bezier((0.85, 0.35), (0.7, 0.6), (bx + rl, 0.8), n=12)
    loop = _ellipse(bx, 0.86 - rl, rl * 1.2, rl, 0, 320, n=16)
    base = _line(loop[-1], (r.uniform(0.85, 1.05), 0.96 + r.uniform(-0.04, 0.03)))
    return [_join(head, down[1:], loop, base[1:])]


def _open_four(r):
    xm, ym = r.uniform(-0.02, 0.12), r.uniform(0.55, 0.72)
    first = _join(_line((r.uniform(0.25, 0.45), 0.0), (xm, ym)), _line((xm, ym), (1.0, ym + r.uniform(-0.04, 0.04)))[1:])
    xs = r.uniform(0.6, 0.8)
    second = _line((xs + r.uniform(-0.03, 0.03), r.uniform(0.0, 0.25)), (xs, 1.0))
    return [first, second]


def _crossed_seven(r):
    y0 = r.uniform(-0.03, 0.05)
    strokes = []
    top = _line((0.0, y0), (1.0, 0.0))
    diag = _bezier((1.0, 0.0), (0.75, 0.3), (0.45, 0.7), (0.35, 1.0), n=16)
    if r.random() < 0.3:                                 # a little down-stroke at the start of the bar
        top = _join(_line((0.0, 0.12), (0.0, y0), n=5), top[1:])
    strokes.append(_join(top, diag[1:]))
    y = r.uniform(0.45, 0.58)
    x = 0.35 + (1.0 - y) * 0.5
    strokes.append(_line((x - r.uniform(0.2, 0.35), y), (x + r.uniform(0.2, 0.35), y - r.uniform(0.0, 0.05))))
    return strokes


def _nine(r, hook: bool):
    h = r.uniform(0.3, 0.48)                             # the loop's height: a long stem below it
    w = r.uniform(0.3, 0.42)
    cx, cy = 0.5, h / 2
    loop = _ellipse(cx, cy, w, h / 2, r.uniform(-20, 10), -370, n=30)
    x0 = cx + w * 0.95
    end = x0 + r.uniform(-0.25, 0.02)
    if hook:
        stem = _bezier((x0, cy), (x0, 0.7), (end + 0.05, 1.05), (end - r.uniform(0.2, 0.4), 0.9), n=20)
    else:
        stem = _line((x0, cy), (end, 1.0))
    return [_join(loop, stem[1:])]


def _curved_nine(r):
    """A small loop whose stem leaves from its underside or its lower left (the pen starts there, goes round
    counter-clockwise and crosses its own start) and swings out to the right before it runs down and back
    to the left."""
    h = r.uniform(0.24, 0.38)
    w = r.uniform(0.22, 0.36)
    cx, cy = 0.45, h / 2
    leave = r.uniform(45, 165)                           # where the stem leaves the loop: 90 = the bottom
    loop = _ellipse(cx, cy, w, h / 2, leave + r.uniform(-10, 35), leave - 360, n=30)
    x0, y0 = loop[-1]
    swing = r.uniform(0.12, 0.35)
    end = (min(x0, cx) + r.uniform(-0.25, 0.05), 1.0)
    stem = _bezier((x0, y0), (max(x0, cx) + swing * 1.3, y0 + 0.25 * (1 - y0)), (end[0] + swing, 0.75), end, n=20)
    return [_join(loop, stem[1:])]


PATHS = {
    "slashed-zero": _slashed_zero, "bare-one": _bare_one, "flagged-one": _flagged_one, "serif-one": _serif_one,
    "looped-two": _looped_two, "open-four": _open_four, "crossed-seven": _crossed_seven,
    "straight-nine": lambda r: _nine(r, False), "hooked-nine": lambda r: _nine(r, True),
    "curved-nine": _curved_nine,
}


# ---- a person drawing it in the window --------------------------------------------------------------------

def _resample(path: np.ndarray, step: float, r: np.random.Generator) -> np.ndarray:
    """Points along ``path`` (canvas pixels) every ``step`` px or so, as the canvas records a moving pen."""
    seg = np.hypot(*np.diff(path, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] == 0:
        return path[:1]
    n = max(2, int(s[-1] / step) + 1)
    t = np.sort(np.concatenate([[0.0, s[-1]], r.uniform(0, s[-1], n - 2)]))
    return np.stack([np.interp(t, s, path[:, 0]), np.interp(t, s, path[:, 1])], axis=1)


def draw_style(style: str, r: np.random.Generator) -> Drawing:
    """One drawing of ``style`` with its own size, slant, width, placement, pen and tremor."""
    strokes = PATHS[style](r)
    height = r.uniform(100, 240)
    aspect = r.uniform(0.75, 1.2)
    slant = math.tan(math.radians(r.uniform(-22, 22)))
    turn = math.radians(r.uniform(-8, 8))
    c, s = math.cos(turn), math.sin(turn)
    shaped = []
    for p in strokes:
        x, y = (p[:, 0] - 0.5) * aspect * height, (p[:, 1] - 0.5) * height
        x = x - slant * y                                # y points down: a positive slant leans right
        shaped.append(np.stack([c * x - s * y, s * x + c * y], axis=1))
    allp = np.concatenate(shaped)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    pen = float(r.uniform(15, 21))
    margin = pen / 2 + 2
    room = CANVAS - 2 * margin - (hi - lo)
    shrink = min(1.0, *(CANVAS - 2 * margin) / np.maximum(hi - lo, 1e-9))
    if shrink < 1.0:                                     # too big for the canvas: a person draws it smaller
        shaped = [p * shrink for p in shaped]
        lo, hi = lo * shrink, hi * shrink
        room = CANVAS - 2 * margin - (hi - lo)
    offset = margin - lo + r.uniform(0, 1, 2) * np.maximum(room, 0)
    tremor_amp = r.uniform(0.5, 2.0)
    out = []
    for p in shaped:
        q = _resample(p + offset, r.uniform(4, 9), r)
        k = np.arange(len(q))[:, None]
        phase = r.uniform(0, 2 * math.pi, (1, 2))
        q = q + tremor_amp * np.sin(k / r.uniform(3, 8) + phase) + r.normal(0, 0.4, q.shape)
        out.append([(float(x), float(y)) for x, y in q])
    return Drawing(CANVAS, CANVAS, round(pen, 1), out)


def style_drawings(style: str, n: int, seed: int = 0) -> list[Drawing]:
    """``n`` drawings of ``style`` (a key of ``TEST_STYLES``), the same ones for the same seed."""
    if style not in PATHS:
        raise ValueError(f"unknown style {style!r} (known: {', '.join(TEST_STYLES)})")
    r = np.random.default_rng([seed, 12_345, list(TEST_STYLES).index(style)])
    return [draw_style(style, r) for _ in range(n)]


def style_test_set(per_style: int = 50, seed: int = 0, styles=None) -> list[tuple[str, int, Drawing]]:
    """(style, digit, drawing) for ``per_style`` drawings of every style (or of ``styles``)."""
    return [(name, TEST_STYLES[name], d) for name in (styles or TEST_STYLES)
            for d in style_drawings(name, per_style, seed)]
