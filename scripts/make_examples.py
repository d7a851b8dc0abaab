"""Writes resources/examples/digit-0.json ... digit-9.json: one drawing of each digit for the window's
File › Try an example menu, made from hand-placed control points (no dataset involved), smoothed with a
Catmull-Rom spline the way a pen moves.

    python scripts/make_examples.py            # rewrite the ten files
    python scripts/make_examples.py --check    # print what the shipped models read (predict, no files written)

A point written as "|" in a stroke makes a corner (the spline restarts there), as a pen does at the top of a 7.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_desktop.drawing import Drawing, write_drawing  # noqa: E402

OUT = ROOT / "resources" / "examples"
SIDE, PEN = 280, 18.0
C = "|"   # a corner

# digit -> strokes, each a list of (x, y) control points on a 280 x 280 canvas (y down) or C
DIGITS = {
    0: [[(140, 48), (100, 62), (84, 120), (90, 185), (130, 228), (170, 215), (192, 150), (186, 85), (160, 52), (138, 50)]],
    1: [[(118, 82), (150, 50), C, (150, 50), (146, 140), (142, 232)]],
    2: [[(88, 95), (112, 60), (155, 52), (188, 78), (184, 122), (150, 165), (96, 226), C, (96, 226), (150, 224), (202, 222)]],
    3: [[(92, 72), (138, 50), (184, 76), (172, 118), (128, 134), C, (128, 134), (178, 152), (190, 196), (148, 228), (88, 214)]],
    4: [[(150, 48), (118, 108), (84, 166), C, (84, 166), (150, 166), (206, 164)], [(170, 100), (166, 170), (162, 236)]],
    5: [[(188, 56), (108, 58), C, (108, 58), (100, 132), C, (100, 132), (150, 118), (190, 150), (186, 204), (142, 230), (90, 212)]],
    6: [[(178, 54), (128, 88), (98, 158), (108, 216), (156, 228), (186, 190), (164, 148), (118, 150), (100, 184)]],
    7: [[(84, 62), (140, 60), (198, 58), C, (198, 58), (162, 146), (128, 234)]],
    8: [[(176, 76), (140, 50), (100, 74), (110, 114), (140, 134), (184, 168), (176, 218), (140, 232), (100, 216),
         (96, 170), (140, 134), (170, 110), (176, 76)]],
    9: [[(182, 90), (150, 56), (106, 70), (100, 114), (140, 130), (180, 104), (182, 90), C, (182, 90), (172, 160), (156, 236)]],
}


def catmull_rom(points: list[tuple[float, float]], per_segment: int = 10) -> list[tuple[float, float]]:
    """Points on the Catmull-Rom spline through ``points`` (ends repeated), ``per_segment`` per span."""
    p = np.asarray(points, np.float64)
    if len(p) < 3:
        t = np.linspace(0, 1, per_segment + 1)[:, None]
        return [tuple(v) for v in (p[0] + t * (p[-1] - p[0]))] if len(p) == 2 else [tuple(p[0])]
    q = np.vstack([p[:1], p, p[-1:]])
    out = []
    for i in range(1, len(q) - 2):
        p0, p1, p2, p3 = q[i - 1], q[i], q[i + 1], q[i + 2]
        for t in np.linspace(0, 1, per_segment, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                              + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(p[-1])
    return [(float(x), float(y)) for x, y in out]


def stroke_points(spec: list) -> list[tuple[float, float]]:
    """A stroke's control points, split at corners, each run smoothed, joined into one pen stroke."""
    runs, run = [], []
    for item in spec:
        if item == C:
            runs.append(run)
            run = []
        else:
            run.append(item)
    runs.append(run)
    points: list[tuple[float, float]] = []
    for r in runs:
        pts = catmull_rom(r)
        points.extend(pts if not points else pts[1:])
    return points


def drawing(digit: int) -> Drawing:
    return Drawing(SIDE, SIDE, PEN, [stroke_points(s) for s in DIGITS[digit]])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only print what the shipped models read")
    args = parser.parse_args(argv)
    if args.check:
        from mnist_desktop import cli
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for d in DIGITS:
                path = Path(tmp) / f"digit-{d}.json"
                write_drawing(path, drawing(d))
                paths.append(str(path))
            for model in ("cnn", "mlp"):
                print(model)
                cli.main(["predict", *paths, "--model", str(ROOT / "mnist_desktop" / "models" / f"{model}.npz")])
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for d in DIGITS:
        write_drawing(OUT / f"digit-{d}.json", drawing(d))
    print(f"wrote {len(DIGITS)} drawings to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
