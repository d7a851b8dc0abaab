"""Teach it your handwriting, measured as a user would experience it (issue 11).

For each writer in ../shared/datasets/writers (one folder per person): draw k drawings of each digit as
the examples, adapt the model to them (``personalize.adapt``, the defaults the app and ``adapt`` use),
and score it on the rest of that writer's drawings; several random draws per writer and k. Beside it,
the adapted network's accuracy on the 10,000 MNIST test digits, and the wall and CPU time of each adaptation.

The adaptation changes only the network's head (``personalize.head_start`` onward); the trunk before it is
the base network's, unchanged. So every network is scored as head(trunk(x)) with the trunk's outputs for
the MNIST test set and the writers computed once per model: the same network, the same predictions, ~50x
less work. The first adapted model of each k is also scored whole by ``evaluation.evaluate`` and the two
accuracies printed side by side (they agree; the whole-network pass folds batch norms, so float rounding
could move a borderline digit).

    MNIST_DIR=/work/shared/datasets/mnist OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/personalize.py --models cnn,mlp --k 1,3,5 --draws 3
    ... --models cnn --k 3 --distort 1      # the same writers made farther from MNIST (see distort_writers)
    ... --models cnn --k 3 --styles 1       # ... or given habits MNIST lacks (see style_writers)

Drawings become 28x28 through the same path as ``predict`` (app.imageio.preprocess_file).
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
from mnist_desktop.evaluation import evaluate  # noqa: E402
from mnist_desktop.shipped import resolve_model  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)


def render_writers(root: Path, cache: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """-> images (N, 784) float32, labels (N,), writer index (N,), writer names."""
    writers = sorted(p.name for p in root.iterdir() if p.is_dir())
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if list(z["writers"]) == writers:
                return z["x"].astype(np.float32) / 255, z["y"], z["w"], writers
    from mnist_desktop.app.imageio import ensure_gui_app, preprocess_file

    ensure_gui_app()
    xs, ys, ws = [], [], []
    for wi, name in enumerate(writers):
        for f in sorted((root / name).glob("*.json")):
            pre = preprocess_file(f)
            if pre is None:
                continue
            xs.append(pre.image.reshape(784))
            ys.append(personalize.drawing_label(f))
            ws.append(wi)
    x, y, w = np.array(xs, np.float32), np.array(ys), np.array(ws)
    if cache is not None:
        np.savez_compressed(cache, x=np.round(x * 255).astype(np.uint8), y=y, w=w, writers=np.array(writers))
        return np.round(x * 255).astype(np.uint8).astype(np.float32) / 255, y, w, writers
    return x, y, w, writers


def draw_examples(idx: np.ndarray, y: np.ndarray, k: int, writer: int, draw: int) -> tuple[np.ndarray, np.ndarray]:
    """One draw of a writer's examples: up to ``k`` of each digit among the drawings ``idx`` (labels ``y``),
    picked at random (seeded by writer and draw, so every script draws the same). -> (examples, the rest)."""
    rng = np.random.default_rng(1000 * writer + draw)
    ex = np.concatenate([rng.choice(idx[y[idx] == d], min(k, int(np.sum(y[idx] == d))), replace=False)
                         for d in range(10) if np.any(y[idx] == d)])
    return ex, np.setdiff1d(idx, ex)


def distort_writers(x: np.ndarray, w: np.ndarray, amount: float, seed: int = 7) -> np.ndarray:
    """A harder set of writers from the same drawings: each writer's digits all slanted (shear 0.3-0.5) and
    turned (10-20 degrees), both times ``amount``, in a direction and by an amount drawn once per writer,
    then normalised again as MNIST was (long side, centre of mass): one person's consistent habit, which the
    base network reads worse and adaptation has to learn."""
    from mnist_desktop.data.augment import affine_transform, pull_matrices
    from mnist_desktop.data.styles import _long_side, renormalize

    rng = np.random.default_rng(seed)
    out = x.reshape(-1, 28, 28).copy()
    for i in np.unique(w):
        shear = rng.choice([-1, 1]) * rng.uniform(0.3, 0.5) * amount
        angle = rng.choice([-1, 1]) * rng.uniform(10, 20) * amount
        images = out[w == i]
        moved = affine_transform(images, np.repeat(pull_matrices(angle, 1.0, 0, 0, shear), len(images), 0))
        out[w == i] = renormalize(moved, _long_side(images))
    return out.reshape(len(x), 784).astype(np.float32)


def style_writers(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int = 1) -> np.ndarray:
    """Writers who differ from MNIST as the issue's users do: each writer draws all their zeros slashed,
    ones flagged and/or sevens crossed (each habit with chance 0.6, at least one; ``data.styles.stylize``,
    the strokes added to the writer's own digits), the same habits in every drawing of theirs."""
    from mnist_desktop.data.styles import stylize

    rng = np.random.default_rng(seed)
    out = x.reshape(-1, 28, 28).copy()
    for i in np.unique(w):
        habits: list[str] = []
        while not habits:
            habits = [h for h in ("slashed-zero", "flagged-one", "crossed-seven") if rng.random() < 0.6]
        out[w == i] = stylize(out[w == i], y[w == i], rng, styles=tuple(habits), rates={h: 1.0 for h in habits})
    return out.reshape(len(x), 784).astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writers", default=os.environ.get("WRITERS_DIR", "/work/shared/datasets/writers"))
    p.add_argument("--models", default="cnn,mlp")
    p.add_argument("--k", default="1,3,5")
    p.add_argument("--draws", type=int, default=3)
    p.add_argument("--data", help="MNIST folder (default: $MNIST_DIR, then the cache)")
    p.add_argument("--no-mnist", action="store_true", help="skip the MNIST test of every adapted model")
    p.add_argument("--cache", help="npz file to keep the rendered writers in between runs")
    p.add_argument("--json", help="write every measurement to this file")
    p.add_argument("--distort", type=float, default=0.0, metavar="F",
                   help="writers farther from MNIST: each writer's drawings all slanted by F x 0.3-0.5 and turned by "
                        "F x 10-20 degrees (one random direction and amount per writer), then normalised again")
    p.add_argument("--styles", type=int, default=0, metavar="SEED",
                   help="writers with habits MNIST lacks: each writer's zeros slashed, ones flagged and/or sevens "
                        "crossed, in every drawing (the habits drawn per writer from SEED; 0: none)")
    p.add_argument("--set", default="{}", metavar="JSON",
                   help='AdaptSettings to change, e.g. \'{"agreement": 0.95}\' (default: the app\'s settings)')
    args = p.parse_args()

    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {cpu_model()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, NumPy {np.__version__}; load average {os.getloadavg()[0]:.1f}")
    x, y, w, writers = render_writers(Path(args.writers), Path(args.cache) if args.cache else None)
    print(f"{len(y)} drawings by {len(writers)} writers")
    if args.distort:
        x = distort_writers(x, w, args.distort)
        print(f"each writer's drawings slanted and turned (--distort {args.distort:g})")
    if args.styles:
        x = style_writers(x, y, w, args.styles)
        print(f"each writer's zeros slashed, ones flagged and/or sevens crossed (--styles {args.styles})")
    test = None if args.no_mnist else load_dataset("mnist", args.data, test_only=True)
    replay = personalize.load_replay()
    changes = json.loads(args.set)
    settings = personalize.AdaptSettings(**changes)
    print("settings: " + json.dumps(settings.to_dict()))
    ks = [int(k) for k in args.k.split(",")]
    rows, records = [], []
    for model in args.models.split(","):
        path = resolve_model(model)
        net, spec = load(path)
        base_mnist = evaluate(net, test.x_test, test.y_test).accuracy if test is not None else float("nan")
        start = personalize.head_start(net)
        trunk_x = personalize.trunk_features(net, start, x)
        trunk_test = personalize.trunk_features(net, start, test.x_test) if test is not None else None

        def score(n, feats, labels):
            return float(np.mean(personalize._head_predict(n, start, feats) == labels))

        base_w = [score(net, trunk_x[w == i], y[w == i]) for i in range(len(writers))]
        print(f"\n{model}: {spec.get('name')}, MNIST test {base_mnist * 100:.2f}%; unadapted per writer: "
              + " ".join(f"{a * 100:.1f}" for a in base_w) + f" (mean {np.mean(base_w) * 100:.2f}%)")
        for k in ks:
            per_writer, mnist, seconds, cpus = [], [], [], []
            for i, name in enumerate(writers):
                idx = np.flatnonzero(w == i)
                accs = []
                for draw in range(args.draws):
                    ex, rest = draw_examples(idx, y, k, i, draw)
                    t0, c0 = time.perf_counter(), time.process_time()
                    result = personalize.adapt(net, personalize.Examples(x[ex], y[ex]), replay=replay,
                                               settings=personalize.AdaptSettings(**{**changes, "seed": draw}))
                    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
                    assert result.head_start == start
                    acc = score(result.net, trunk_x[rest], y[rest])
                    m = score(result.net, trunk_test, test.y_test) if test is not None else float("nan")
                    if test is not None and i == 0 and draw == 0:
                        whole = evaluate(result.net, test.x_test, test.y_test).accuracy
                        print(f"  check: first adapted {model}, MNIST test scored whole {whole * 100:.2f}%, "
                              f"as head(trunk) {m * 100:.2f}%", flush=True)
                    accs.append(acc)
                    mnist.append(m)
                    seconds.append(dt)
                    cpus.append(cpu)
                    records.append({"model": model, "k": k, "writer": name, "draw": draw, "examples": len(ex),
                                    "accuracy": acc, "base_accuracy": base_w[i], "mnist": m, "seconds": dt, "cpu_seconds": cpu,
                                    "memory_weight": result.memory_weight})
                per_writer.append(float(np.mean(accs)))
                print(f"  k={k} {name:<14} base {base_w[i] * 100:5.1f}%  adapted {np.mean(accs) * 100:5.1f}% "
                      f"(draws {', '.join(f'{a * 100:.1f}' for a in accs)})", flush=True)
            row = (model, k, np.mean(base_w), np.mean(per_writer), np.min(per_writer), base_mnist,
                   np.min(mnist), np.mean(mnist), np.median(seconds), np.max(seconds), np.median(cpus))
            rows.append(row)
            weights = [r["memory_weight"] for r in records if r["model"] == model and r["k"] == k]
            print(f"  k={k}: class-mean memory weight per adaptation: "
                  + ", ".join(f"{v:g} x{weights.count(v)}" for v in sorted(set(weights), reverse=True)))
            print(f"  k={k}: mean per-writer {row[3] * 100:.2f}% (worst writer {row[4] * 100:.2f}%), MNIST "
                  f"min {row[6] * 100:.2f}% mean {row[7] * 100:.2f}%, adapt median {row[8]:.2f} s max {row[9]:.2f} s "
                  f"(CPU time median {row[10]:.2f} s)",
                  flush=True)
    print("\n| model | k per digit | writers unadapted | writers adapted (mean) | worst writer | MNIST base | "
          "MNIST adapted (min / mean) | adapt wall time (median / max) | CPU time (median) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m, k, b, a, lo, mb, mmin, mmean, tmed, tmax, cmed in rows:
        print(f"| {m} | {k} | {b * 100:.2f}% | **{a * 100:.2f}%** | {lo * 100:.2f}% | {mb * 100:.2f}% | "
              f"{mmin * 100:.2f}% / {mmean * 100:.2f}% | {tmed:.2f} s / {tmax:.2f} s | {cmed:.2f} s |")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
