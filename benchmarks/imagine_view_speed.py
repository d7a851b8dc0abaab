"""How fast does the Imagine view update, and does the window stay responsive meanwhile? Per model:

  backproject, all ten   model change -> the ten tiles drawn (on the UI thread)
  maximize, one digit    method switch -> the digit drawn (worker thread)
  maximize, all ten      method switch -> the last of the ten drawn (worker thread, 2 digits per batch)
  UI gap                 the longest wait of a 10 ms UI-thread timer during the all-ten maximisation

    PYTHONPATH=. python benchmarks/imagine_view_speed.py [--model M.npz ...] [--repeats N]

Runs offscreen. Default models: /work/dev-models/mlp-128x2.npz and wide5-15.npz, else the shipped ones.
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

from mnist_desktop.app.imagine_view import ImagineView  # noqa: E402
from mnist_desktop.app.state import AppState, LoadedModel  # noqa: E402
from mnist_desktop.app.widgets import configure_pyqtgraph  # noqa: E402
from mnist_desktop.shipped import shipped_models  # noqa: E402

from gapmeter import GapMeter  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

DEV_MODELS = [Path("/work/dev-models/mlp-128x2.npz"), Path("/work/dev-models/wide5-15.npz")]


def wait_done(app, view, digits) -> None:
    while view.busy or any(view.imagined(d) is None for d in digits):
        app.processEvents()
        time.sleep(0.002)
    app.processEvents()


def bench(app, path: Path, repeats: int) -> None:
    model = LoadedModel.from_file(path)
    print(f"\n{path.name}: {model.description}, {model.accuracy_text}")
    state = AppState()
    view = ImagineView(state)
    view.resize(1240, 700)
    view.show()
    app.processEvents()
    meter = GapMeter()
    t_bp, t_one, t_all, gaps = [], [], [], []
    for _ in range(repeats):
        state.set_model(None)
        view.set_method("backproject")
        view.set_digit(None)
        app.processEvents()
        t0 = time.perf_counter()
        state.set_model(LoadedModel.from_network(model.net.copy(), model.spec))   # a new model: nothing cached
        t_bp.append(time.perf_counter() - t0)

        view.set_digit(3)
        t0 = time.perf_counter()
        view.set_method("maximize")
        wait_done(app, view, [3])
        t_one.append(time.perf_counter() - t0)

        view.set_method("backproject")
        state.set_model(LoadedModel.from_network(model.net.copy(), model.spec))
        view.set_digit(None)
        meter.start()
        t0 = time.perf_counter()
        view.set_method("maximize")
        wait_done(app, view, range(10))
        t_all.append(time.perf_counter() - t0)
        gaps.append(meter.stop())
    view.shutdown()
    view.close()
    med = statistics.median
    print(f"  backproject, all ten (model change -> drawn)   {med(t_bp) * 1000:8.1f} ms")
    print(f"  maximize, one digit (switch -> drawn)          {med(t_one) * 1000:8.1f} ms")
    print(f"  maximize, all ten (switch -> last drawn)       {med(t_all) * 1000:8.1f} ms")
    print(f"  longest UI-thread gap during the all-ten job   {med(gaps) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", type=Path, help="model file(s) (.npz)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    threads_line = launcher.check()
    models = args.model or [p for p in DEV_MODELS if p.exists()] or shipped_models()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_pyqtgraph()
    print(f"Imagine view timings, median of {args.repeats}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {threads_line}; "
          f"load average {os.getloadavg()[0]:.1f}")
    for path in models:
        bench(app, Path(path), args.repeats)


if __name__ == "__main__":
    main()
