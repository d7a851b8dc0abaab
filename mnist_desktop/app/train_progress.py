"""The Train view's run controls and progress: Start / Pause / Stop with their keyboard shortcuts, and the
status line with this epoch's and the whole run's progress bars (images/s, loss, ETA while a run goes on;
how it ended, without a stale ETA, once it is over)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from mnist_desktop.app.tooltips import wrapped

START_KEYS, PAUSE_KEYS, STOP_KEYS = "F5", "F6", "Shift+F5"   # as a debugger's run / pause / stop
PAUSE_TIP = "Hold training after the current batch; press again to resume."
RESUME_TIP = "Go on training from where it was paused."


def format_duration(seconds: float) -> str:
    """12 -> '0:12', 754 -> '12:34', 4000 -> '1:06:40'; '–' when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _keys(text: str) -> str:
    return QKeySequence(text).toString(QKeySequence.NativeText)


class RunButtons(QHBoxLayout):
    """Start, Pause (Resume while paused) and Stop, each with a shortcut that works while ``page`` shows
    (a shortcut of a hidden page does nothing, so the window's other views keep these keys free)."""

    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self.start_button = self._button("Start", "Train a new network with these settings (the plots start "
                                                  "over).", START_KEYS, page)
        self.start_button.setDefault(True)
        self.pause_button = self._button("Pause", PAUSE_TIP, PAUSE_KEYS, page)
        self.stop_button = self._button("Stop", "End the run after the current batch. The network after the last "
                                                "finished epoch is kept (in the first epoch: as trained so far).",
                                        STOP_KEYS, page)

    def _button(self, text: str, tip: str, keys: str, page: QWidget) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(wrapped(f"{tip} ({_keys(keys)})"))
        shortcut = QShortcut(QKeySequence(keys), page)
        shortcut.setContext(Qt.WindowShortcut)
        shortcut.activated.connect(lambda: button.isEnabled() and button.click())
        self.addWidget(button)
        return button

    def set_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setToolTip(f"{RESUME_TIP if paused else PAUSE_TIP} ({_keys(PAUSE_KEYS)})")

    @staticmethod
    def shortcut_rows() -> list[tuple[str, str]]:
        """(keys, what) for Help › Keyboard shortcuts."""
        return [(_keys(START_KEYS), "Train: Start a run"), (_keys(PAUSE_KEYS), "Train: Pause / Resume"),
                (_keys(STOP_KEYS), "Train: Stop (keeps the network trained so far)")]


class RunProgress(QWidget):
    """The status line above two bars: ``status_label``, ``epoch_bar`` and ``run_bar`` (0..1000)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_label = QLabel()
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # its text changes with every batch report: a fixed size hint keeps that from re-laying out the view
        self.status_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.epoch_bar = QProgressBar()
        self.epoch_bar.setToolTip("This epoch's batches")
        self.run_bar = QProgressBar()
        self.run_bar.setToolTip("The whole run: every epoch's batches")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.status_label, 0, 0, 1, 2)
        grid.addWidget(QLabel("Epoch"), 1, 0)
        grid.addWidget(self.epoch_bar, 1, 1)
        grid.addWidget(QLabel("Run"), 2, 0)
        grid.addWidget(self.run_bar, 2, 1)
        grid.setColumnStretch(1, 1)
        self.reset()

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(wrapped(text) if self.status_label.width() < self.status_label.sizeHint().width()
                                     else "")

    def reset(self) -> None:
        for bar in (self.epoch_bar, self.run_bar):
            bar.setRange(0, 1000)
            bar.setValue(0)
            bar.setTextVisible(True)
            bar.setFormat("")

    def show_batches(self, p, epochs: int, *, paused: bool, stopping: bool) -> None:
        """A BatchProgress report: both bars, and the status line unless the run is stopping."""
        r = p.last
        # QProgressBar.setValue repaints at once (a paint of its own, before the format changes and is painted
        # again); with updates off the bars, label and all are painted once, in the next pass of the event loop
        self.setUpdatesEnabled(False)
        try:
            self.epoch_bar.setValue(round(1000 * r.batch / r.batches))
            self.epoch_bar.setFormat(f"epoch {r.epoch}/{epochs} · batch {r.batch:,}/{r.batches:,}")
            self.run_bar.setValue(round(1000 * p.run_fraction))
            self.run_bar.setFormat(f"{p.run_fraction * 100:.0f}% · ETA {format_duration(p.eta_s)}")
        finally:
            self.setUpdatesEnabled(True)
        state = " · paused" if paused else ""
        scoring = " · scoring the epoch…" if r.batch == r.batches else ""
        if not stopping:
            self.set_status(f"Training: {p.images_per_s:,.0f} images/s · loss {r.loss:.4f} · "
                            f"lr {r.lr:.3g} · {format_duration(p.eta_s)} left{scoring}{state}")

    def show_end(self, outcome) -> None:
        """How the run ended; the bars keep how far it got, without an ETA."""
        self.set_status(f"{outcome.status.capitalize()} after {format_duration(outcome.wall_seconds)}.")
        if outcome.history and outcome.status == "finished":
            self.epoch_bar.setValue(1000)
            self.run_bar.setValue(1000)
            self.run_bar.setFormat("100%")
        else:
            self.run_bar.setFormat(f"{outcome.status} at {self.run_bar.value() / 10:.0f}%")
            self.epoch_bar.setFormat(self.epoch_bar.format().split(" · ")[0] if self.epoch_bar.format() else "")
