"""How long from "evaluate the current model" to the results shown in the Evaluate view? Per model:

  first, data cold   the view shown with a new model: load MNIST (memoised afterwards), evaluate the 10,000
                     test digits in the worker, draw matrix, bars and gallery (the in-process data memo is
                     cleared first, so the IDX files are decoded again; the OS file cache stays warm)
  new model          a new model (a copy, nothing cached) with the data already loaded
  cached             back to a model file evaluated before (EvaluationCache): no work at all
  UI gap             the longest wait of a 10 ms UI-thread timer during a "new model" evaluation

    PYTHONPATH=. python benchmarks/evaluate_speed.py [--model M.npz ...] [--repeats N] [--data DIR]

Runs offscreen in a MainWindow; bar: < 5 s for the shipped CNN. Data: --data, else $MNIST_DIR, else the cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import launcher  # noqa: E402  (first: the command line loads NumPy before Qt, as `mnist-desktop` does)
from PySide6.QtWidgets import QApplication  # noqa: E402

from mnist_desktop.app.main_window import MainWindow, app_settings  # noqa: E402
from mnist_desktop.app.state import LoadedModel  # noqa: E402
from mnist_desktop.app.widgets import configure_pyqtgraph  # noqa: E402
from mnist_desktop.data import clear_memory_cache, find_dataset  # noqa: E402
from mnist_desktop.shipped import shipped_models  # noqa: E402

from gapmeter import GapMeter  # noqa: E402  (benchmarks/ is on sys.path when a script runs)


def shown(app, view, set_model) -> float:
    """Seconds from set_model() until the view emitted ``evaluated`` (results on screen)."""
    done = []
    view.evaluated.connect(lambda: done.append(time.perf_counter()))
    t0 = time.perf_counter()
    set_model()
    while not done:
        app.processEvents()
        time.sleep(0.001)
    view.evaluated.disconnect()
    app.processEvents()
    return done[0] - t0


def bench(app, window, path: Path, repeats: int) -> None:
    model = LoadedModel.from_file(path)
    view = window.view("evaluate")
    state = window.state
    print(f"\n{path.name}: {model.description}, {model.accuracy_text}")
    meter = GapMeter()
    cold, new, cached, gaps = [], [], [], []
    for _ in range(repeats):
        state.set_model(None)
        view.cache.clear()
        clear_memory_cache()
        cold.append(shown(app, view, lambda: state.set_model(LoadedModel.from_file(path))))
        state.set_model(None)
        meter.start()
        new.append(shown(app, view, lambda: state.set_model(LoadedModel.from_network(model.net.copy(), model.spec))))
        gaps.append(meter.stop())
        state.set_model(None)
        cached.append(shown(app, view, lambda: state.set_model(LoadedModel.from_file(path))))
    n = view.evaluation.n
    med = statistics.median
    print(f"  first, data cold                     {med(cold):8.2f} s   (range {min(cold):.2f}-{max(cold):.2f})")
    print(f"  new model, data loaded               {med(new):8.2f} s   (range {min(new):.2f}-{max(new):.2f})")
    print(f"  back to a model evaluated before     {med(cached) * 1000:8.1f} ms")
    print(f"  longest UI-thread gap (new model)    {med(gaps) * 1000:8.1f} ms")
    print(f"  accuracy shown                       {view.header.accuracy.text():>8} on {n:,} test digits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path, help="model file(s) (.npz)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", help="folder with the MNIST files")
    args = parser.parse_args()
    threads_line = launcher.check()
    models = args.model or shipped_models()
    if not models:
        sys.exit("no model: pass --model M.npz (no shipped model found)")
    folder = find_dataset("mnist", args.data)
    if folder is None:
        sys.exit("MNIST not found: pass --data DIR or set MNIST_DIR")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_pyqtgraph()
    settings = app_settings()
    window = MainWindow(settings=settings, persist=False)
    window.view("evaluate").settings = None          # read only --data/$MNIST_DIR, never write the user's settings
    if args.data:
        os.environ["MNIST_DIR"] = str(Path(args.data).resolve())
    window.resize(1280, 800)
    window.show()
    window.show_view("evaluate")
    app.processEvents()
    print(f"Evaluate view timings, median of {args.repeats}; data {folder}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{threads_line}; load average {os.getloadavg()[0]:.1f}")
    for path in models:
        bench(app, window, Path(path), args.repeats)
    window.view("evaluate").shutdown()
    window.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
