"""One-image inference latency of the shipped models: what the Draw view pays on every stroke update.

    python benchmarks/latency.py [--model PATH ...] [--preset NAME ...] [--calls 2000] [--drawing FILE.json]
                                 [--threads 1] [--profile]

For each shipped model (``mnist_desktop.shipped.shipped_models()``), each ``--model`` given and an untrained
network of each ``--preset`` architecture (speed does not depend on the weights):

- ``predict_proba``: ``net.predict_proba(x)`` on one (1, 784) image, ``--calls`` times after
  ``--warmup`` calls, each call timed alone (median, p95, min, in ms);
- ``drawing -> probs``: the whole path from a drawing to probabilities, as the Draw view runs it:
  render the strokes (``imageio.render_drawing``), ``preprocess.to_mnist``, ``predict_proba`` (median, p95
  of ``--calls // 10`` runs, rendering included).

The image is a real drawn digit (``--drawing``, default the first file of the drawn-digits set) after
preprocessing; speed does not depend on the pixel values. Bar: median ``predict_proba`` < 2 ms for the
shipped CNN. ``--profile`` adds a cProfile of the single-image calls (top functions by own time). The header gives the date, the machine (CPU, cores), NumPy and its BLAS, the BLAS thread
setting and the load average: on a busy machine, repeat the run and compare the spread.

Threads: ``--threads`` (default 1, what the app uses: the engine makes OpenBLAS single-threaded at run time,
because one-image products are too small to share and spinning threads steal the GUI's core) is put in
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before NumPy is imported (the engine then leaves the pool as chosen);
a value already in the environment wins.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

DRAWINGS = Path("/work/shared/datasets/drawn-digits")


def _set_threads(argv) -> str:
    """OPENBLAS_NUM_THREADS must be set before NumPy is first imported; a value in the environment wins."""
    threads = "1"
    if "--threads" in argv and argv.index("--threads") + 1 < len(argv):
        threads = argv[argv.index("--threads") + 1]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, threads)
    return os.environ["OPENBLAS_NUM_THREADS"]


def machine_header(np, threads: str) -> list[str]:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        blas = "unknown BLAS"
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}",
        f"python {platform.python_version()}, numpy {np.__version__} ({blas}), "
        f"OPENBLAS_NUM_THREADS={threads}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        f"load average (1/5/15 min): {load}",
    ]


def time_calls(fn, calls: int, warmup: int):
    """Run ``fn`` warmup times, then ``calls`` times, each timed alone -> (ms per call array, CPU s total)."""
    import numpy as np

    for _ in range(warmup):
        fn()
    times = np.empty(calls)
    c0 = time.process_time()
    for i in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        times[i] = time.perf_counter_ns() - t0
    return times / 1e6, time.process_time() - c0


def profile_calls(fn, calls: int, top: int = 12) -> str:
    """cProfile ``calls`` calls of ``fn`` -> the top functions by own time, as text."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue().strip()


def sample_drawing(path: Path | None) -> Path | None:
    if path is not None:
        return path
    files = sorted(DRAWINGS.glob("*.json")) if DRAWINGS.is_dir() else []
    return files[0] if files else None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    threads = _set_threads(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, action="append", default=[], help="also time this model file")
    parser.add_argument("--preset", action="append", default=[],
                        help="also time an untrained network of this preset's architecture, e.g. cnn-bn-deep")
    parser.add_argument("--profile", action="store_true", help="cProfile the single-image calls of each model")
    parser.add_argument("--calls", type=int, default=2000, help="timed single-image calls per model (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first (default 200)")
    parser.add_argument("--drawing", type=Path, help="drawing (.json) for the input and the full path")
    parser.add_argument("--threads", default="1", help="BLAS threads (default 1, like the app)")
    args = parser.parse_args(argv)

    import numpy as np

    from mnist_desktop import shipped
    from mnist_desktop.engine.network import Network
    from mnist_desktop.engine.presets import get_preset
    from mnist_desktop.engine.serialize import ModelFileError, load
    from mnist_desktop.preprocess import to_mnist

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # rendering a drawing needs Qt, never a display
    from mnist_desktop.app.imageio import ensure_gui_app, render_drawing
    from mnist_desktop.drawing import read_drawing

    ensure_gui_app()
    paths = [*shipped.shipped_models(), *args.model]
    for line in machine_header(np, threads):
        print(line)
    if not paths and not args.preset:
        print("no model: none is shipped (mnist_desktop/models/ is empty) and no --model or --preset was given")
        return 1
    drawing_path = sample_drawing(args.drawing)
    if drawing_path is None:
        print(f"no drawing found ({DRAWINGS} is missing); give one with --drawing")
        return 1
    drawing = read_drawing(drawing_path)
    pre = to_mnist(render_drawing(drawing))
    x = pre.image.reshape(1, 784)
    print(f"input: {drawing_path.name}; {args.calls} timed calls after {args.warmup} warm-up calls; "
          f"full path {max(1, args.calls // 10)} runs")
    print()
    head = (f"{'model':<34}{'params':>10}  {'predict_proba ms':^26}  {'drawing -> probs ms':^18}")
    print(head)
    print(f"{'':<34}{'':>10}  {'median':>8}{'p95':>9}{'min':>9}  {'median':>9}{'p95':>9}")
    worst = 0
    profiles = []
    for path in [*paths, *args.preset]:
        if isinstance(path, str):     # a preset name
            net = Network.from_architecture(get_preset(path).architecture, rng=np.random.default_rng(0))
            name = f"{path} (preset, untrained)"
        else:
            try:
                net, spec = load(path)
            except ModelFileError as exc:
                print(f"{path}: {exc}")
                worst = 1
                continue
            name = f"{spec.get('name') or path.stem} ({path.name})"
        t, _ = time_calls(lambda: net.predict_proba(x), args.calls, args.warmup)

        def full_path():
            p = to_mnist(render_drawing(drawing))
            return net.predict_proba(p.image.reshape(1, 784))

        f, _ = time_calls(full_path, max(1, args.calls // 10), max(1, args.warmup // 10))
        if args.profile:
            profiles.append((name, profile_calls(lambda: net.predict_proba(x), args.calls)))
        print(f"{name[:33]:<34}{net.n_params():>10,}  {np.median(t):>8.3f}{np.percentile(t, 95):>9.3f}"
              f"{t.min():>9.3f}  {np.median(f):>9.3f}{np.percentile(f, 95):>9.3f}")
    print()
    print("bar: median predict_proba < 2 ms for the shipped CNN (models/cnn.npz)")
    for name, text in profiles:
        print(f"\n---- profile: {name}, {args.calls} calls ----\n{text}")
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
