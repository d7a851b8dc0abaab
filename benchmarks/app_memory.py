"""Peak memory of the launched app after the Evaluate view has scored a model on the 10,000 test digits.

    PYTHONPATH=. python benchmarks/app_memory.py [--model cnn] [--runs 3] [--data DIR]

Each run starts the app through its console-script entry point (``mnist_desktop.cli:main``, as
`mnist-desktop` does; no thread variables), showing the Evaluate view offscreen with ``--screenshot``:
the app waits until the view has scored the whole test set and drawn the results, saves the window and
exits. The peak resident set size is the child's own (``ru_maxrss`` of the waited-for process, the
kernel's high-water mark), so it includes Qt, NumPy, the data and every array the evaluation allocated.
Also printed: the wall time of the run, from launch to exit. Bar: < 600 MB with the shipped CNN.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model  # benchmarks/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MNIST_DESKTOP_THREADS")


def one_run(model: str, data: str | None) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one launch."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    if data:
        env["MNIST_DIR"] = data
    with tempfile.TemporaryDirectory() as tmp:
        env["XDG_CONFIG_HOME"] = env["XDG_DATA_HOME"] = tmp      # no user settings read or written
        code = "import sys; from mnist_desktop.cli import main; sys.argv[0] = 'mnist-desktop'; sys.exit(main())"
        cmd = [sys.executable, "-c", code, "--model", model, "--view", "evaluate",
               "--screenshot", str(Path(tmp) / "evaluate.png")]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, _, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        if not (Path(tmp) / "evaluate.png").exists():
            raise SystemExit(f"the app did not save its window: {err[-800:]}")
    return usage.ru_maxrss / 1024, seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="cnn", help="shipped model name or file (default: cnn)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--data", help="folder with the MNIST files (default: $MNIST_DIR, the cache)")
    args = p.parse_args(argv)
    load0 = os.getloadavg()[0]
    results = [one_run(args.model, args.data) for _ in range(args.runs)]
    rss = [r for r, _ in results]
    secs = [s for _, s in results]
    cpu = cpu_model()
    print(f"launched app, Evaluate view, model {args.model}, 10,000 test digits scored and shown, {args.runs} runs:")
    print(f"  peak RSS   median {statistics.median(rss):.0f} MB (range {min(rss):.0f}-{max(rss):.0f})   "
          f"{'meets' if max(rss) < 600 else 'MISSES'} the 600 MB bar")
    print(f"  launch to exit (start, load, evaluate, draw, save)  median {statistics.median(secs):.2f} s "
          f"(range {min(secs):.2f}-{max(secs):.2f})")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; {cpu}, {os.cpu_count()} CPUs; load average {load0:.2f} -> "
          f"{os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
