"""Which saliency map lands on the strokes that decided? The Draw view's three overlays, measured.

    PYTHONPATH=. python benchmarks/attribution.py [--model M] [--drawn DIR] [--n 300]

For --n drawn digits (/work/shared/datasets/drawn-digits, spread over the ten digits), rendered and
preprocessed as the canvas does, and each map of explain.attribution ("strokes" = gradient x input of the
log-odds, "integrated" = integrated gradients, "gradient" = |d logit / d pixel|, today's overlay):
  - on ink, 28x28: the fraction of the map's mass on pixels the network sees as ink (>= 0.25);
  - on ink, overlay: the same for what the user sees: the map blurred as the Draw view blurs it
    (SALIENCY_SMOOTH) and carried back onto the 280x280 drawing, mass on the drawing's ink (>= 0.5);
  - erase top 10%: the network's mean probability for the digit it read after the 10% of ink pixels the
    map ranks highest are erased (set to 0); lower = the map found the ink that decided. "random" erases
    10% of ink pixels at random, for comparison (mean of 3 draws);
  - ms: median time of one map (one image; the Draw view computes one per update while the overlay is on).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import mnist_desktop.app  # noqa: E402,F401  (the app's BLAS thread setting)

from mnist_desktop.app.draw_saliency import SALIENCY_SMOOTH  # noqa: E402
from mnist_desktop.app.imageio import ensure_gui_app, render_drawing  # noqa: E402
from mnist_desktop.drawing import read_drawing  # noqa: E402
from mnist_desktop.engine.serialize import load  # noqa: E402
from mnist_desktop.explain import ATTRIBUTIONS, attribution, saliency_on_input  # noqa: E402
from mnist_desktop.preprocess import to_mnist  # noqa: E402
from mnist_desktop.shipped import default_model_path  # noqa: E402
from not_a_digit import cpu_model  # noqa: E402

DRAWN = Path("/work/shared/datasets/drawn-digits")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--drawn", default=str(DRAWN))
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    model = args.model or str(default_model_path())
    net, spec = load(model)
    ensure_gui_app()
    files = sorted(Path(args.drawn).glob("*.json"))
    files = files[:: max(1, len(files) // args.n)][: args.n]
    pres = [to_mnist(render_drawing(read_drawing(f))) for f in files]
    print(f"{dt.date.today()}  {cpu_model()}, {os.cpu_count()} cores; model {model} ({net.describe()}); "
          f"{len(pres)} drawn digits")
    rng = np.random.default_rng(0)
    x = np.stack([p.image.reshape(-1) for p in pres])
    digits = net.predict(x)
    p0 = net.predict_proba(x)[np.arange(len(x)), digits]
    print(f"{'map':11s} {'on ink 28x28':>13s} {'on ink overlay':>15s} {'erase top 10%':>14s} {'ms':>6s}")
    print(f"{'(none)':11s} {'':13s} {'':15s} {p0.mean():14.3f}")
    random_after = []
    for method in ATTRIBUTIONS:
        on_ink, on_canvas, erased, times = [], [], [], []
        for pre, d in zip(pres, digits):
            t0 = time.perf_counter()
            a = attribution(net, pre.image, int(d), method)
            times.append(time.perf_counter() - t0)
            ink = pre.image >= 0.25
            on_ink.append(a[ink].sum() / max(a.sum(), 1e-12))
            _, back = saliency_on_input(net, pre, int(d), smooth=SALIENCY_SMOOTH, method=method)
            on_canvas.append(back[pre.gray >= 0.5].sum() / max(back.sum(), 1e-12))
            idx = np.flatnonzero(pre.image.reshape(-1) > 0)
            k = max(1, len(idx) // 10)
            top = idx[np.argsort(-a.reshape(-1)[idx], kind="stable")[:k]]
            xe = pre.image.reshape(-1).copy()
            xe[top] = 0
            erased.append(net.predict_proba(xe[None])[0, d])
            if method == ATTRIBUTIONS[0]:
                for _ in range(3):
                    xr = pre.image.reshape(-1).copy()
                    xr[rng.choice(idx, k, replace=False)] = 0
                    random_after.append(net.predict_proba(xr[None])[0, d])
        print(f"{method:11s} {100 * np.mean(on_ink):12.1f}% {100 * np.mean(on_canvas):14.1f}% "
              f"{np.mean(erased):14.3f} {1000 * np.median(times):6.2f}")
    print(f"{'random':11s} {'':13s} {'':15s} {np.mean(random_after):14.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
