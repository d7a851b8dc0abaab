"""Adapting in the window: how long from the Adapt click to the adapted model in use, and how long the
event loop was kept from running meanwhile (the Draw view must stay responsive: stalls < 50 ms).

The window (offscreen) collects 3 drawings of each digit of one writer into a temporary app data folder,
then presses Adapt while a timer keeps drawing on the Draw view's canvas as a pen would: one stroke, a
point every 20 ms (each one repredicted, as the Draw view does while a user draws), pen up after 100
points (2 s), the canvas cleared and the next digit begun. A 10 ms timer records every gap of the event
loop, which runs as the app's does (``exec``, not polled).

    python benchmarks/adapt_window.py --models cnn,mlp --repeats 3 [--pen stroke|segments] [--cold]

Before each click the view has prepared the model (``MyDigitsView.prepare``: the replay digits' features,
computed in the background from the first collected digit on, as while a user collects 30 drawings);
``--cold`` clears that first, for the Adapt click that has to compute them itself.

Until 2026-12-04 the pen added a separate 3-point stroke every 20 ms (200 strokes a digit, each
repaint and each prediction re-rendering all of them) and the loop was polled from Python every
millisecond; both loaded the UI thread far beyond what a user's pen does (``--pen segments`` still
draws that way, with the event loop as the app runs it).
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
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from personalize import cpu_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--writer", default="/work/shared/datasets/writers/syn-rkt-dig19")
    p.add_argument("--models", default="cnn,mlp")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="nothing prepared: each click computes the replay features")
    p.add_argument("--pen", choices=("stroke", "segments"), default="stroke",
                   help="stroke: one pen stroke a digit (default); segments: the old load, a new 3-point stroke "
                        "every 20 ms, 200 a digit")
    args = p.parse_args()
    app = QApplication([])
    from mnist_desktop.app.main_window import MainWindow
    from mnist_desktop.drawing import read_drawing
    from mnist_desktop import personalize
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
    stroke = [(60 + 160 * t, 140 + 80 * np.sin(6 * t))   # 2 s of pen (4 s as segments)
              for t in np.linspace(0, 1, 100 if args.pen == "stroke" else 200)]
    for model in args.models.split(","):
        for r in range(args.repeats):
            window.open_model(resolve_model(model))
            window.show_view("draw")
            if args.cold:
                personalize.clear_replay_cache()
            else:   # as after a user's 30 drawings: prepared in the background from the first one on
                digits.prepare()
                while digits.preparer.current("prepare") is not None:
                    app.processEvents(QEventLoop.AllEvents, 50)
            gaps, last, state = [], [time.perf_counter()], {"i": 0, "done": None}

            def tick():
                now = time.perf_counter()
                gaps.append(now - last[0])
                last[0] = now

            def draw():   # a pen: one stroke, a point every 20 ms; then pen up, clear, the next digit
                canvas = window.draw_view.canvas
                i = state["i"] = (state["i"] + 1) % len(stroke)
                if args.pen == "segments":   # the old stress load: a new 3-point stroke every tick
                    if i == 1:
                        canvas.clear()
                    canvas.add_stroke(stroke[max(0, i - 2):i + 1])
                    return
                if i == 0:
                    canvas.end_stroke()
                    canvas.clear()
                elif i == 1:
                    canvas.begin_stroke(stroke[0])
                else:
                    canvas.extend_stroke([stroke[i]])

            meter, pen = QTimer(), QTimer()
            meter.setInterval(10)
            meter.timeout.connect(tick)
            pen.setInterval(20)
            pen.timeout.connect(draw)
            # the event loop runs as the app's does (exec: asleep in Qt until an event comes), not polled from
            # Python: a poll every millisecond would take the GIL from the adapting thread 1,000 times a second
            loop = QEventLoop()

            def adapted(_model) -> None:
                state["done"] = time.perf_counter()
                loop.quit()

            digits.adapted.connect(adapted)
            meter.start()
            pen.start()
            t0 = time.perf_counter()
            if not digits.start_adapt():
                raise SystemExit("adapt_window: Adapt did not start")
            QTimer.singleShot(120_000, loop.quit)
            loop.exec()
            if state["done"] is None:
                raise SystemExit("adapt_window: no adapted model within 2 minutes")
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
                  f"({len(g)} ticks); selected: {window.state.model.name}; {'cold' if args.cold else 'prepared'}",
                  flush=True)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
