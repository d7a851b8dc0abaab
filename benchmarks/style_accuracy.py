"""Per-style accuracy on the generated style test set (slashed zeros, flagged ones, crossed sevens, ...).

    PYTHONPATH=. python benchmarks/style_accuracy.py [--per-style 100] [--seed 0] [--model M ...]
        [--out DIR]  (also write the drawings as JSON files, to open them in the window)
        [--grid PNG] (also save the 28x28 images the network sees, one row per style)

The drawings come from ``mnist_desktop.data.style_testset`` (not the training synthesis in data/styles.py)
and go the way ``mnist-desktop predict`` reads a drawing: render_drawing (Qt, the canvas's painter) ->
preprocess.to_mnist -> one batched network call. Default models: both shipped ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mnist_desktop.app.imageio import ensure_gui_app, render_drawing  # noqa: E402
from mnist_desktop.data.style_testset import TEST_STYLES, style_test_set  # noqa: E402
from mnist_desktop.drawing import write_drawing  # noqa: E402
from mnist_desktop.engine.serialize import load  # noqa: E402
from mnist_desktop.preprocess import to_mnist  # noqa: E402
from mnist_desktop.shipped import MODELS_DIR  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", help="model file (repeatable; default: both shipped models)")
    ap.add_argument("--per-style", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", metavar="DIR", help="write the drawings here as <style>_<n>_<digit>.json")
    ap.add_argument("--grid", metavar="PNG", help="save the network's 28x28 inputs, one row per style")
    args = ap.parse_args(argv)
    models = args.model or [str(MODELS_DIR / "cnn.npz"), str(MODELS_DIR / "mlp.npz")]
    ensure_gui_app()
    t0 = time.perf_counter()
    items = style_test_set(args.per_style, args.seed)
    x = np.stack([to_mnist(render_drawing(d)).image.reshape(784) for _, _, d in items]).astype(np.float32)
    y = np.array([digit for _, digit, _ in items])
    styles = np.array([name for name, _, _ in items])
    print(f"{len(items):,} drawings ({args.per_style} per style, seed {args.seed}) generated and read in "
          f"{time.perf_counter() - t0:.1f}s; {cpu_model()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        count = Counter()
        for name, digit, d in items:
            write_drawing(out / f"{name}_{count[name]:03d}_{digit}.json", d)
            count[name] += 1
        print(f"wrote {len(items):,} drawings to {out}")
    if args.grid:
        from mnist_desktop.heatmap import write_png

        cols = min(args.per_style, 16)
        rows = [np.concatenate([x[styles == s][i].reshape(28, 28) for i in range(cols)], axis=1) for s in TEST_STYLES]
        img = (np.concatenate(rows, axis=0) * 255).astype(np.uint8)
        write_png(args.grid, np.kron(img, np.ones((3, 3), np.uint8)))
        print(f"saved {args.grid}")
    worst = 1.0
    for path in models:
        net, spec = load(path)
        pred = net.predict(x)
        ok = pred == y
        print(f"\n{path} ({spec.get('name', '')}): all styles {ok.mean() * 100:.1f}% ({ok.sum()}/{len(y)})")
        for s in TEST_STYLES:
            m = styles == s
            wrong = Counter(int(p) for p in pred[m][~ok[m]])
            acc = ok[m].mean()
            worst = min(worst, acc) if path == models[0] else worst
            print(f"  {s:14} {acc * 100:5.1f}% ({ok[m].sum()}/{m.sum()})"
                  + ("  read as " + ", ".join(f"{d}: {n}" for d, n in wrong.most_common()) if wrong else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
