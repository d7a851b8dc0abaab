"""How far can a memory of the user's digits go without costing MNIST? (issue 11's writers' bar)

``personalize.adapt`` adds a memory of the user's examples to a fine-tuned head, with a weight its guard
chooses. This script takes the guard away and maps the trade-off itself: for each writer and draw (the
same ones as benchmarks/personalize.py: k drawings of each digit as the examples, the rest scored), the
head is fine-tuned once without a memory, then every memory below is added at every weight in
``--weights`` and scored on the writer's other digits and on the 10,000 MNIST test digits:

- ``class-mean``: the shipped memory (``personalize.memory_terms`` on the head's input features);
- ``nearest-example``: one prototype per example (the mean of its augmented variants), a class's score the
  log-sum-exp of its prototypes' scores: a writer's two ways of making a digit are kept apart;
- ``gated``: the class-mean memory times a gate that closes for digits far from every class mean of the
  user's (farther than 90% of the user's own examples are from the mean of the others of their digit):
  the memory only where the digit looks like this writer's;
- ``penultimate``: the class-mean memory on the fine-tuned head's penultimate features (256 for the CNN).

For each it prints the writers' mean and the lowest / mean MNIST accuracy at each weight, then the best
writers' mean at one weight for all with every adapted model >= ``--mnist-bar`` on MNIST, and the same
with the weight chosen per adaptation knowing its MNIST accuracy (an oracle: no rule that sees only the
user's digits and the shipped MNIST training digits can do as well). The last line is the shipped method
itself (its guard choosing the class-mean memory's weight), the number benchmarks/personalize.py prints.

    MNIST_DIR=/work/shared/datasets/mnist OPENBLAS_NUM_THREADS=1 \\
        PYTHONPATH=. python benchmarks/memory_frontier.py --cache /tmp/writers.npz [--distort 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from mnist_desktop import personalize  # noqa: E402
from mnist_desktop.data import load_dataset  # noqa: E402
from mnist_desktop.engine.serialize import load  # noqa: E402
from mnist_desktop.shipped import resolve_model  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)
from personalize import distort_writers, draw_examples, render_writers  # noqa: E402

KINDS = ("class-mean", "nearest-example", "gated", "penultimate")
GATE_QUANTILE, GATE_WIDTH = 0.9, 0.3


def _centred(scores: np.ndarray) -> np.ndarray:
    return scores - scores.mean(1, keepdims=True)


def memories(prep: "personalize._Prepared", head: list) -> dict:
    """The memories of ``prep``'s user variants: kind -> function (head input features) -> scores (n, 10)."""
    uf, ul, src = prep.u_feats.astype(np.float64), prep.u_labels, prep.src
    W, b = personalize.memory_terms(uf, ul)
    means = np.stack([uf[ul == c].mean(0) for c in range(10)])
    s = float(np.mean(((uf - means[ul]) ** 2).sum(1)))
    ids = np.unique(src)
    protos = np.stack([uf[src == j].mean(0) for j in ids])
    plabel = np.array([ul[src == j][0] for j in ids])
    loo = []        # each example's variants' distance to the mean of the other examples of its digit
    for j in ids:
        others = (ul == ul[src == j][0]) & (src != j)
        if others.any():
            loo.append(((uf[src == j] - uf[others].mean(0)) ** 2).sum(1) / s)
    edge = float(np.quantile(np.concatenate(loo), GATE_QUANTILE)) if loo else 1.0
    pu = personalize._penultimate(head, prep.u_feats).astype(np.float64)
    Wp, bp = personalize.memory_terms(pu, ul)

    def sq(f, m):
        return (f ** 2).sum(1)[:, None] - 2 * f @ m.T + (m ** 2).sum(1)[None]

    def nearest(f):    # digits without an example get the mean of the others' scores, as in memory_terms
        z = -sq(f, protos) / (2 * s)
        out = np.full((len(f), 10), np.nan)
        for c in np.unique(plabel):
            out[:, c] = np.logaddexp.reduce(z[:, plabel == c], axis=1)
        return _centred(np.where(np.isnan(out), np.nanmean(out, 1, keepdims=True), out))

    def gated(f):
        gate = 1 / (1 + np.exp((sq(f, means).min(1) / s - edge) / GATE_WIDTH))
        return _centred(f @ W + b) * gate[:, None]

    return {"class-mean": lambda f: f @ W + b, "nearest-example": nearest, "gated": gated,
            "penultimate": lambda f: personalize._penultimate(head, f).astype(np.float64) @ Wp + bp}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writers", default=os.environ.get("WRITERS_DIR", "/work/shared/datasets/writers"))
    p.add_argument("--model", default="cnn")
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--draws", type=int, default=3)
    p.add_argument("--data", help="MNIST folder (default: $MNIST_DIR, then the cache)")
    p.add_argument("--cache", help="npz file to keep the rendered writers in between runs")
    p.add_argument("--distort", type=float, default=0.0, metavar="F", help="as in benchmarks/personalize.py")
    p.add_argument("--weights", default="0,2,4,6,8,10,12,16,24")
    p.add_argument("--mnist-bar", type=float, default=99.4, help="percent every adapted model must keep on MNIST")
    p.add_argument("--set", default="{}", metavar="JSON", help="AdaptSettings to change for the fine-tune")
    args = p.parse_args()

    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {cpu_model()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, NumPy {np.__version__}; load average {os.getloadavg()[0]:.1f}")
    x, y, w, writers = render_writers(Path(args.writers), Path(args.cache) if args.cache else None)
    if args.distort:
        x = distort_writers(x, w, args.distort)
    print(f"{len(y)} drawings by {len(writers)} writers" + (f", --distort {args.distort:g}" if args.distort else ""))
    test = load_dataset("mnist", args.data, test_only=True)
    replay = personalize.load_replay()
    net, spec = load(resolve_model(args.model))
    start = personalize.head_start(net)
    trunk_x = personalize.trunk_features(net, start, x).astype(np.float64)
    trunk_test = personalize.trunk_features(net, start, test.x_test).astype(np.float64)
    weights = [float(v) for v in args.weights.split(",")]
    changes = json.loads(args.set)
    # acc[kind]: (writer, draw, weight) on the writer's other digits; mnist[kind]: (adaptation, weight)
    acc = {k: np.zeros((len(writers), args.draws, len(weights))) for k in KINDS}
    mnist = {k: np.zeros((len(writers) * args.draws, len(weights))) for k in KINDS}
    flips = np.zeros((len(writers) * args.draws, len(weights)))   # class-mean: MNIST test readings changed
    shipped_acc, shipped_mnist = np.zeros((len(writers), args.draws)), []
    for i, name in enumerate(writers):
        idx = np.flatnonzero(w == i)
        for draw in range(args.draws):
            ex, rest = draw_examples(idx, y, args.k, i, draw)     # the draws of benchmarks/personalize.py
            settings = personalize.AdaptSettings(**{**changes, "seed": draw})
            prep = personalize._Prepared(net, personalize.Examples(x[ex], y[ex]), replay, settings, None, None)
            guard = prep.fold_memory
            prep.fold_memory = lambda n, uf, ul: (n, 0.0)        # the fine-tuned head alone
            tuned, _ = prep.fit()
            head = tuned.layers[start:]
            out_w = personalize._head_outputs(head, trunk_x[rest]).astype(np.float64)
            out_m = personalize._head_outputs(head, trunk_test).astype(np.float64)
            for kind, mem in memories(prep, head).items():
                mw, mm = mem(trunk_x[rest]), mem(trunk_test)
                for j, a in enumerate(weights):
                    acc[kind][i, draw, j] = np.mean((out_w + a * mw).argmax(1) == y[rest])
                    read = (out_m + a * mm).argmax(1)
                    mnist[kind][i * args.draws + draw, j] = np.mean(read == test.y_test)
                    if kind == "class-mean":
                        flips[i * args.draws + draw, j] = np.mean(read != out_m.argmax(1))
            shipped, weight = guard(tuned, prep.u_feats, prep.u_labels)
            shipped_acc[i, draw] = np.mean(personalize._head_predict(shipped, start, trunk_x[rest]) == y[rest])
            shipped_mnist.append(np.mean(personalize._head_predict(shipped, start, trunk_test) == test.y_test))
        print(f"  {name:<14} done {time.strftime('%H:%M:%S')}", flush=True)

    bar = args.mnist_bar / 100
    print(f"\n{args.model}, k = {args.k}, {args.draws} draws; writers' mean (of per-writer means) / MNIST lowest / "
          f"MNIST mean, in %, at each memory weight:")
    print("| memory | " + " | ".join(f"{a:g}" for a in weights) + f" | best one weight, MNIST >= {args.mnist_bar:g}% "
          "| best weight per adaptation (oracle) |")
    print("| --- |" + " ---: |" * (len(weights) + 2))
    for kind in KINDS:
        writer_mean = acc[kind].mean(1).mean(0)
        ok = mnist[kind].min(0) >= bar
        best = max((writer_mean[j], weights[j]) for j in np.flatnonzero(ok)) if ok.any() else (float("nan"), 0)
        # oracle: each adaptation takes the weight with the best writer accuracy among those keeping the bar
        allowed = (mnist[kind] >= bar).reshape(len(writers), args.draws, len(weights))
        best_each = np.where(allowed, acc[kind], -1).max(2)
        oracle = np.where(allowed.any(2), best_each, acc[kind][..., 0]).mean(1).mean(0)
        cells = [f"{writer_mean[j] * 100:.2f} / {mnist[kind][:, j].min() * 100:.2f} / {mnist[kind][:, j].mean() * 100:.2f}"
                 for j in range(len(weights))]
        print(f"| {kind} | " + " | ".join(cells) + f" | {best[0] * 100:.2f} (weight {best[1]:g}) | {oracle * 100:.2f} |")
    # a guard that sees the MNIST test digits themselves (not their labels): the largest weight whose memory
    # changes the reading of no more than a share of them; what any check of changed readings can reach
    print("\nclass-mean memory, its weight the largest that changes at most this share of the 10,000 MNIST test "
          "digits' readings (a guard seeing the test digits, not their labels):")
    for budget in (0.002, 0.0025, 0.003, 0.0035, 0.004):
        pick = np.array([max(j for j in range(len(weights)) if f[j] <= budget or j == 0) for f in flips])
        chosen = acc["class-mean"].reshape(-1, len(weights))[np.arange(len(pick)), pick]
        kept = mnist["class-mean"][np.arange(len(pick)), pick]
        print(f"  <= {budget * 100:.2f}%: writers' mean {chosen.reshape(len(writers), -1).mean(1).mean() * 100:.2f}%, "
              f"MNIST lowest {kept.min() * 100:.2f}%")
    print(f"\nshipped method (its guard picks the class-mean memory's weight): writers' mean "
          f"{shipped_acc.mean(1).mean() * 100:.2f}%, MNIST lowest {min(shipped_mnist) * 100:.2f}% mean "
          f"{np.mean(shipped_mnist) * 100:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
