"""How fast is the Imagine view? Times, per model:

  backproject x10   all ten back-projections, fed back through the network and coloured (bar: < 50 ms)
  maximize x1       one activation maximisation with the default settings, per digit (bar: < 2 s each)
  maximize x10      all ten at once, batched (what imagine_all does)

and how the maximised images are read when fed back (the smallest probability of the ten).

    PYTHONPATH=. python benchmarks/explain_speed.py [--model M.npz ...] [--repeats N]

Default models: the shipped ones, else /work/dev-models/mlp-128x2.npz.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_desktop import explain, heatmap  # noqa: E402
from mnist_desktop.engine.serialize import ModelFileError, load  # noqa: E402
from mnist_desktop.shipped import shipped_models  # noqa: E402

DEV_MODEL = Path("/work/dev-models/mlp-128x2.npz")


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time in seconds over ``repeats`` calls (after one warm-up call), and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bench(path: Path, repeats: int) -> None:
    net, spec = load(path)
    acc = spec.get("test_accuracy")
    print(f"\n{path.name}: {net.describe()}" + (f", test accuracy {acc * 100:.2f}%" if acc else ""))

    def ten_heatmaps():
        results = explain.imagine_all(net, "backproject")
        return results, [heatmap.diverging_rgb(r.image) for r in results]

    t_bp, (bp, _) = timed(ten_heatmaps, repeats)
    t_one = []
    for d in range(10):
        t, _ = timed(lambda: explain.maximize(net, d), 1)
        t_one.append(t)
    t_all, mx = timed(lambda: explain.imagine_all(net, "maximize"), max(1, repeats // 10))
    ink = np.mean([r.image.mean() for r in mx])
    print(f"  backproject x10 (+ feed-back, colouring): {t_bp * 1000:8.1f} ms   bar  50 ms  "
          f"{'ok' if t_bp < 0.05 else 'OVER'}")
    print(f"  maximize x1, per digit: median {statistics.median(t_one) * 1000:8.1f} ms, "
          f"max {max(t_one) * 1000:.1f} ms   bar 2000 ms  {'ok' if max(t_one) < 2 else 'OVER'}")
    print(f"  maximize x10, batched:  {t_all * 1000:8.1f} ms")
    print("  fed back, p(asked digit):")
    print("    backproject  " + " ".join(f"{r.digit}:{r.probability:.2f}" + ("" if r.recognised else f"(->{r.predicted})")
                                         for r in bp))
    print("    maximize     " + " ".join(f"{r.digit}:{r.probability:.2f}" + ("" if r.recognised else f"(->{r.predicted})")
                                         for r in mx))
    print(f"    maximize: {sum(r.recognised for r in mx)}/10 recognised, min p {min(r.probability for r in mx):.3f}, "
          f"mean pixel {ink:.3f} (MNIST: 0.13)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", type=Path, help="model file (repeatable)")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    models = args.model or shipped_models() or ([DEV_MODEL] if DEV_MODEL.is_file() else [])
    if not models:
        print("no model: pass --model PATH", file=sys.stderr)
        return 2
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS") if k in os.environ}
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, threads {threads or 'default'}; load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for path in models:
        try:
            bench(path, args.repeats)
        except ModelFileError as exc:
            print(f"\n{path}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
