"""Adapting in the window: how long from the Adapt click to the adapted model in use, and how long the
event loop was kept from running meanwhile (the Draw view must stay responsive: stalls < 50 ms).

The window (offscreen) collects 3 drawings of each digit of one writer into a temporary app data folder,
then presses Adapt while a timer keeps drawing on the Draw view's canvas (a stroke point every 20 ms, each
one repredicted as a user's pen would be). A 10 ms timer records every gap of the event loop.

    OPENBLAS_NUM_THREADS=1 python benchmarks/adapt_window.py --models cnn,mlp --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="adapt-bench-")   # never the user's data folder
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from personalize import cpu_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writer", default="/work/shared/datasets/writers/syn-rkt-dig19")
    p.add_argument("--models", default="cnn,mlp")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    app = QApplication([])
    from mnist_desktop.app.main_window import MainWindow
    from mnist_desktop.drawing import read_drawing
    from mnist_desktop.personalize import label_from_name
    from mnist_desktop.shipped import resolve_model

    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {cpu_model()}, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    window = MainWindow(persist=False)
    window.resize(1280, 800)
    window.show()
    digits = window.my_digits_view
    files = sorted(Path(args.writer).glob("*.json"))
    for d in range(10):
        for f in [f for f in files if label_from_name(f) == d][:3]:
            digits.collect(read_drawing(f), d)
    print(f"{sum(digits.collection.counts())} drawings of {Path(args.writer).name} collected")
    stroke = [(60 + 160 * t, 140 + 80 * np.sin(6 * t)) for t in np.linspace(0, 1, 200)]
    for model in args.models.split(","):
        for r in range(args.repeats):
            window.open_model(resolve_model(model))
            window.show_view("draw")
            gaps, last, state = [], [time.perf_counter()], {"i": 0, "done": None}

            def tick():
                now = time.perf_counter()
                gaps.append(now - last[0])
                last[0] = now

            def draw():
                i = state["i"] = (state["i"] + 1) % len(stroke)
                if i == 1:
                    window.draw_view.canvas.clear()
                window.draw_view.canvas.add_stroke(stroke[max(0, i - 2):i + 1])

            meter, pen = QTimer(), QTimer()
            meter.setInterval(10)
            meter.timeout.connect(tick)
            pen.setInterval(20)
            pen.timeout.connect(draw)
            digits.adapted.connect(lambda m: state.__setitem__("done", time.perf_counter()))
            meter.start()
            pen.start()
            t0 = time.perf_counter()
            digits.start_adapt()
            while state["done"] is None:
                app.processEvents()
                time.sleep(0.001)
            seconds = state["done"] - t0
            meter.stop()
            pen.stop()
            # the calibration and the before/after that follow are not part of this measurement: stopped,
            # and awaited, so the next run starts on an idle machine
            stopped = [digits.runner.cancel(kind) for kind in ("calibrate", "check")]
            for job in filter(None, stopped):
                job.join(60)
            digits.adapted.disconnect()
            g = np.array(gaps) * 1000
            print(f"{model} run {r + 1}: Adapt click -> adapted model selected {seconds:.2f} s; event-loop gaps "
                  f"median {np.median(g):.1f} ms, p99 {np.percentile(g, 99):.1f} ms, max {g.max():.1f} ms "
                  f"({len(g)} ticks); selected: {window.state.model.name}", flush=True)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
