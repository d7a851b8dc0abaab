"""GapMeter: how long the Qt event loop was kept from running, measured by a 10 ms timer's ticks.

    meter = GapMeter(); meter.start(); ...work while the event loop runs...; worst_seconds = meter.stop()
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer


class GapMeter:
    """A 10 ms timer on the UI thread; ``worst`` is the longest time between two of its ticks."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.worst, self._last = 0.0, 0.0

    def start(self) -> None:
        self.worst, self._last = 0.0, time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.worst

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last)
        self._last = now
