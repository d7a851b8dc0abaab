"""The drawing file: a digit as the strokes a person drew, not as pixels.

    {"width": 280, "height": 280, "pen_width": 18.0, "strokes": [[[x, y], ...], ...]}

Canvas coordinates, y grows downwards, pixel (0, 0) spans [0, 1) x [0, 1). A stroke of a single point is
a dot; an empty stroke draws nothing. Rendering (strokes -> pixels) is done by ``mnist_desktop.app.imageio.render_drawing`` so the window
and the command line produce identical pixels; this module only reads, checks and writes the format.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from mnist_desktop.fileio import ReadError, atomic_write, read_capped

# The window's canvas is 280x280 with a 4-40 px pen and a drawn digit has a few hundred points; these
# bounds are far beyond that and keep reading and rendering any file under a second and well under 1 GB.
MAX_SIDE = 2048          # a canvas side beyond this is not a drawing of a digit
MAX_PEN = 256.0          # pixels
MAX_POINTS = 50_000      # all strokes together
MAX_FILE_BYTES = 8 * 1024 * 1024   # read at most this much, whatever the file claims to be
MAX_COORD = 1e5          # points may leave the canvas a little, not by a hundred thousand pixels
MAX_INK = 50_000_000     # rendering work, see ink_pixels: at most about 1.5 s of Qt's painter


class DrawingError(ValueError):
    """A drawing file or text that is not a valid drawing; the message names the file and the problem."""


@dataclass
class Drawing:
    """width, height: canvas size in pixels; pen_width: stroke width in pixels; strokes: lists of (x, y)."""

    width: int
    height: int
    pen_width: float
    strokes: list[list[tuple[float, float]]] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        return sum(len(s) for s in self.strokes)


def drawing_to_json(d: Drawing) -> str:
    """Drawing -> JSON text (one line; coordinates rounded to 0.01 px, far below what anti-aliasing shows)."""
    _check(d, "drawing")
    return json.dumps({
        "width": int(d.width),
        "height": int(d.height),
        "pen_width": float(d.pen_width),
        "strokes": [[[round(float(x), 2), round(float(y), 2)] for x, y in s] for s in d.strokes],
    }, separators=(",", ":"))


def drawing_from_json(text: str | bytes, *, source: str = "drawing") -> Drawing:
    """JSON text -> Drawing; DrawingError (naming ``source``) for anything malformed."""
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DrawingError(f"{source}: not valid JSON ({exc})") from None
    except ValueError as exc:  # e.g. a number of 10,000 digits
        raise DrawingError(f"{source}: not a drawing ({str(exc).splitlines()[0][:100]})") from None
    except RecursionError:
        raise DrawingError(f"{source}: not valid JSON (nested too deeply)") from None
    if not isinstance(obj, dict):
        raise DrawingError(f"{source}: expected a JSON object with width, height, pen_width and strokes, "
                           f"got {type(obj).__name__}")
    missing = [k for k in ("width", "height", "pen_width", "strokes") if k not in obj]
    if missing:
        raise DrawingError(f"{source}: not a drawing: missing {', '.join(missing)}")
    width = _number(obj["width"], source, "width")
    height = _number(obj["height"], source, "height")
    if width != int(width) or height != int(height):
        raise DrawingError(f"{source}: width and height must be whole numbers, got {width} x {height}")
    pen = _number(obj["pen_width"], source, "pen_width")
    raw = obj["strokes"]
    if not isinstance(raw, list):
        raise DrawingError(f"{source}: strokes must be a list of strokes, got {type(raw).__name__}")
    strokes: list[list[tuple[float, float]]] = []
    for k, stroke in enumerate(raw):
        if not isinstance(stroke, list):
            raise DrawingError(f"{source}: stroke {k} must be a list of [x, y] points, got {type(stroke).__name__}")
        points = []
        for n, p in enumerate(stroke):
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise DrawingError(f"{source}: stroke {k}, point {n} must be [x, y], got {_short(p)}")
            points.append((_number(p[0], source, f"stroke {k}, point {n}, x"),
                           _number(p[1], source, f"stroke {k}, point {n}, y")))
        strokes.append(points)
    d = Drawing(int(width), int(height), float(pen), strokes)
    _check(d, source)
    return d


def read_drawing(path: str | os.PathLike) -> Drawing:
    """Read and validate a drawing file; DrawingError (a ValueError) naming the file for any problem."""
    path = Path(path)
    try:  # regular files only (a FIFO would block, /dev/zero never ends), at most MAX_FILE_BYTES read
        raw = read_capped(path, MAX_FILE_BYTES, "drawing file")
    except ReadError as exc:
        raise DrawingError(str(exc)) from None
    return drawing_from_json(raw, source=str(path))


def write_drawing(path: str | os.PathLike, drawing: Drawing) -> None:
    """Write atomically (temp file + rename): an interrupted save never leaves half a drawing."""
    text = drawing_to_json(drawing) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


# ---- checks ----------------------------------------------------------------------------------------


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value, source: str, what: str) -> float:
    # bool is an int in Python but true/false in a drawing is a mistake, not a coordinate
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DrawingError(f"{source}: {what} must be a number, got {_short(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise DrawingError(f"{source}: {what} is {value}, expected a finite number")
    return value


def _check(d: Drawing, source: str) -> None:
    for name, side in (("width", d.width), ("height", d.height)):
        if not 1 <= side <= MAX_SIDE:
            raise DrawingError(f"{source}: {name} {side} is out of range (1 to {MAX_SIDE} pixels)")
    if not (isinstance(d.pen_width, (int, float)) and math.isfinite(d.pen_width)
            and 0 < d.pen_width <= min(MAX_PEN, max(d.width, d.height))):
        raise DrawingError(f"{source}: pen_width {d.pen_width} is out of range (above 0, at most "
                           f"{min(MAX_PEN, max(d.width, d.height)):g} pixels)")
    if d.n_points > MAX_POINTS:
        raise DrawingError(f"{source}: {d.n_points:,} points is more than a drawing can have ({MAX_POINTS:,})")
    for k, stroke in enumerate(d.strokes):
        for n, (x, y) in enumerate(stroke):
            if not (math.isfinite(x) and math.isfinite(y)):
                raise DrawingError(f"{source}: stroke {k}, point {n} is ({x}, {y}), expected finite numbers")
            if abs(x) > MAX_COORD or abs(y) > MAX_COORD:
                raise DrawingError(f"{source}: stroke {k}, point {n} ({x}, {y}) is absurdly far off the canvas")
    ink = ink_pixels(d)
    if ink > MAX_INK:
        raise DrawingError(f"{source}: too much ink to be a drawing of a digit (the strokes would take "
                           f"{ink / MAX_INK:,.1f} times the rendering work allowed; {d.n_points:,} points, "
                           f"{d.pen_width:g}-pixel pen)")


def ink_pixels(d: Drawing) -> float:
    """The work of rendering ``d``, in pixel-like units. Qt's anti-aliased painter, for a pen wider than
    a pixel, takes time in proportion to each segment's bounding box (measured: a 900-pixel diagonal
    with a 2-pixel pen takes 10 ms), and even a hair-thin line costs a span for each row it crosses: per
    segment (|dx| + pen + 1) x (|dy| + pen + 1) + 16 x (length + pen), plus a dot per stroke."""
    pen = float(d.pen_width)
    total = 0.0
    for stroke in d.strokes:
        if len(stroke) == 0:
            continue
        total += (pen + 1.0) * (pen + 17.0)
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            dx, dy = abs(x1 - x0), abs(y1 - y0)
            total += (dx + pen + 1.0) * (dy + pen + 1.0) + 16.0 * (math.hypot(dx, dy) + pen)
    return total
