"""The Evaluate view's Robustness tab: sliders that damage the test digits (rotation, noise, stroke
thickness, shift), the accuracy under that damage (recomputed in the background once the sliders rest),
sample damaged digits, and accuracy against rotation angle (on demand).

The tab owns its widgets and what it has computed (the damaged evaluation, the curves); the view owns the
model, the test set, the cache and the jobs, and hands the tab what it needs:

    tab = RobustnessTab(view)        # view: EvaluateView (model, evaluation, dataset, cache, start_pass, ...)
    tab.current_damage(); tab.set_damage(Damage(rotate=20)); tab.update_damage()
    tab.compute_rotation_curve(); tab.rotation_curve()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from mnist_desktop import evaluation
from mnist_desktop.app.evaluate_widgets import THUMB_SCALE, DigitGallery, LabelledSlider, muted_label
from mnist_desktop.app.jobs import Job
from mnist_desktop.app.style import (ACCENT, GRID_LINE, MUTED_TEXT, PLOT_BACKGROUND, PLOT_FOREGROUND, WRONG_COLOR,
                                     scaled_font)
from mnist_desktop.evaluation import Damage, Evaluation, RotationCurve

if TYPE_CHECKING:
    from mnist_desktop.app.evaluate_view import EvaluateView

ROTATION_ANGLES = tuple(range(-60, 61, 10))
DEBOUNCE_MS = 300                    # sliders: recompute once they rest this long
SAMPLES = 10                         # damaged digits shown under the sliders
SLIDER_TIPS = {
    "rotate": "Turn every test digit about its centre (positive: counter-clockwise)",
    "noise": "Add Gaussian noise to every pixel (pixels are 0 = black to 1 = white)",
    "thickness": "Thicker strokes (grey dilation, > 0) or thinner (erosion, < 0); 1 = one 3×3 step",
    "shift": "Move every digit this many pixels right, left, up or down (chosen per digit)",
}


class RobustnessTab(QWidget):
    """``damaged``: (damage, its evaluation) shown, or None (undamaged or not computed yet)."""

    def __init__(self, view: EvaluateView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.damaged: tuple[Damage, Evaluation] | None = None
        self._curves: dict = {}
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.update_damage)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self._build_damage_box())
        layout.addWidget(self._build_curve_box(), 1)
        for s in self.sliders.values():
            s.changed.connect(self._on_slider_changed)
        self.reset_button.clicked.connect(self.reset_damage)
        self.curve_button.clicked.connect(self.compute_rotation_curve)

    def _build_damage_box(self) -> QGroupBox:
        self.sliders = {
            "rotate": LabelledSlider("Rotation", -60, 60, 5, "{:+.0f}°", SLIDER_TIPS["rotate"]),
            "noise": LabelledSlider("Noise σ", 0, 0.8, 0.05, "{:.2f}", SLIDER_TIPS["noise"]),
            "thickness": LabelledSlider("Thickness", -2, 2, 0.25, "{:+.2f}", SLIDER_TIPS["thickness"]),
            "shift": LabelledSlider("Shift", 0, 8, 1, "{:.0f} px", SLIDER_TIPS["shift"]),
        }
        grid = QGridLayout()
        width = max(s.title.sizeHint().width() for s in self.sliders.values())
        for k, s in enumerate(self.sliders.values()):
            s.title.setMinimumWidth(width)
            grid.addWidget(s, k // 2, k % 2)
        grid.setHorizontalSpacing(24)
        self.reset_button = QPushButton("Undamaged")
        self.reset_button.setToolTip("Put every slider back to 0")
        self.damage_accuracy = QLabel("–")
        self.damage_accuracy.setFont(scaled_font(self.font(), 1.9, bold=True))
        self.damage_detail = QLabel()
        self.damage_detail.setTextFormat(Qt.RichText)
        self.damage_detail.setWordWrap(True)
        result_row = QHBoxLayout()
        result_row.addWidget(self.damage_accuracy)
        result_row.addSpacing(8)
        result_row.addWidget(self.damage_detail, 1)
        result_row.addWidget(self.reset_button)
        self.samples = DigitGallery()
        self.samples.setFixedHeight(28 * THUMB_SCALE + 12)
        self.samples.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.samples.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        box = QGroupBox("Damage the test digits")
        dl = QVBoxLayout(box)
        dl.addLayout(grid)
        dl.addLayout(result_row)
        dl.addWidget(muted_label("The first test digits, damaged like this:"))
        dl.addWidget(self.samples)
        return box

    def _build_curve_plot(self) -> pg.PlotWidget:
        plot = pg.PlotWidget(background=PLOT_BACKGROUND)
        item = plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(False, False)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "rotation (degrees, counter-clockwise)")
        item.setLabel("left", "accuracy (%)")
        item.setXRange(ROTATION_ANGLES[0] - 3, ROTATION_ANGLES[-1] + 3, padding=0)
        item.setYRange(-3, 103, padding=0)          # room for the 0 and 100 labels
        item.getAxis("left").setTicks([[(v, str(v)) for v in range(0, 101, 20)]])
        item.getAxis("bottom").setTicks([[(a, f"{a:+d}" if a else "0") for a in ROTATION_ANGLES]])
        for name in ("bottom", "left"):
            item.getAxis(name).setPen(pg.mkPen(PLOT_FOREGROUND))
            item.getAxis(name).setTextPen(pg.mkPen(PLOT_FOREGROUND))
        self.curve = item.plot([], [], pen=pg.mkPen(ACCENT, width=2), symbol="o", symbolSize=7,
                               symbolBrush=ACCENT, symbolPen=None)
        self.curve_marker = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(GRID_LINE, style=Qt.DashLine))
        item.addItem(self.curve_marker)
        self.curve_hint = pg.TextItem("", color=MUTED_TEXT, anchor=(0.5, 0.5))
        self.curve_hint.setPos(0, 50)
        item.addItem(self.curve_hint)
        return plot

    def _build_curve_box(self) -> QGroupBox:
        self.curve_plot = self._build_curve_plot()
        self.curve_button = QPushButton("Compute accuracy vs rotation")
        self.curve_button.setToolTip(f"Evaluate the test set turned {ROTATION_ANGLES[0]}° to "
                                     f"{ROTATION_ANGLES[-1]}° in 10° steps ({len(ROTATION_ANGLES)} passes)")
        self.curve_progress = QProgressBar()
        self.curve_progress.setFormat("%p%")
        self.curve_progress.setMaximumWidth(260)
        self.curve_progress.hide()
        self.curve_note = muted_label()
        curve_row = QHBoxLayout()
        curve_row.addWidget(self.curve_button)
        curve_row.addWidget(self.curve_progress, 1)
        curve_row.addWidget(self.curve_note, 2)
        box = QGroupBox("Accuracy against rotation")
        cl = QVBoxLayout(box)
        cl.addLayout(curve_row)
        cl.addWidget(self.curve_plot, 1)
        return box

    # ---- damage --------------------------------------------------------------------------------------------

    def current_damage(self) -> Damage:
        return Damage(**{k: s.value for k, s in self.sliders.items()})

    def set_damage(self, d: Damage) -> None:
        """Move the sliders to ``d`` (the accuracy follows after the debounce, or at once with
        ``update_damage``)."""
        for k, s in self.sliders.items():
            s.set_value(getattr(d, k))

    def reset_damage(self) -> None:
        self.set_damage(Damage())

    def reset(self) -> None:
        """A new model or test set: forget the damaged evaluation (curves are kept by their keys)."""
        self.damaged = None
        self.curve_progress.hide()
        self.curve_button.setEnabled(True)

    def update_damage(self) -> None:
        """The accuracy under the sliders' damage: cached, or computed in the background."""
        self.timer.stop()
        view = self.view
        if view.evaluation is None or view.model is None:
            return
        self.show_samples()
        d = self.current_damage()
        if d.is_none:
            view.jobs.cancel("damage")
            self.damaged = None
            self.show_damage()
            return
        if self.damaged is not None and self.damaged[0] == d:
            self.show_damage()
            return
        cached = view.cached_evaluation(view.model, d)
        if cached is not None:
            self.damaged = (d, cached)
            self.show_damage()
            return
        running = view.jobs.current("damage")
        if running is not None and running.info["damage"] == d:
            return
        self.damaged = None
        view.start_pass("damage", view.model, d)
        self.damage_accuracy.setText("…")
        self.damage_detail.setText(f"<span style='color:{MUTED_TEXT}'>evaluating the damaged digits…</span>")

    def show_damage(self) -> None:
        base = self.view.evaluation
        if base is None:
            return
        if self.damaged is None:
            self.damage_accuracy.setText(f"{100 * base.accuracy:.2f}%")
            self.damage_detail.setText(f"undamaged: {base.correct:,} of {base.n:,} right. Move a slider to "
                                       f"damage the digits.")
            return
        d, e = self.damaged
        drop = 100 * (e.accuracy - base.accuracy)
        color = WRONG_COLOR if drop < -0.5 else PLOT_FOREGROUND
        self.damage_accuracy.setText(f"{100 * e.accuracy:.2f}%")
        self.damage_detail.setText(f"{d.describe()}: {e.correct:,} of {e.n:,} right, "
                                   f"<b style='color:{color}'>{drop:+.2f} points</b> against undamaged "
                                   f"({100 * base.accuracy:.2f}%)")

    def show_samples(self) -> None:
        data, model = self.view.dataset, self.view.model
        if data is None:
            return
        n = min(SAMPLES, len(data.y_test))
        x = evaluation.damage(data.x_test[:n], self.current_damage())
        probs = model.net.predict_proba(x) if model is not None else np.full((n, 10), 0.1)
        self.samples.set_digits(np.arange(n), x.reshape(n, 28, 28), data.y_test[:n], probs,
                                notes=[f" ({self.current_damage().describe()})"] * n)

    def damaged_digit(self, index: int) -> np.ndarray:
        """Test digit ``index`` as the samples show it: (28, 28) float32, damaged like the sliders say."""
        image = np.asarray(self.view.dataset.x_test[index], np.float32).reshape(1, 784)
        return evaluation.damage(image, self.current_damage()).reshape(28, 28)

    # ---- the rotation curve --------------------------------------------------------------------------------

    def rotation_curve(self) -> RotationCurve | None:
        """The accuracy-vs-rotation curve of the current model, once computed."""
        return self._curves.get(self.view.curve_key())

    def compute_rotation_curve(self) -> None:
        """Accuracy at -60..60 degrees, in the background (kept per model file and test set)."""
        view = self.view
        if view.model is None or view.evaluation is None or view.jobs.current("curve"):
            return
        key = view.curve_key()
        if key in self._curves:
            self.show_curve()
            return
        view.start_curve(view.model, ROTATION_ANGLES, key=key)
        self.curve_button.setEnabled(False)

    def show_curve(self) -> None:
        curve = self.rotation_curve()
        self.curve_marker.setValue(self.sliders["rotate"].value)
        if curve is None:
            self.curve.setData([], [])
            busy = self.view.jobs.current("curve") is not None
            self.curve_hint.setText("computing…" if busy else "Press “Compute accuracy vs rotation”")
            self.curve_note.setText(f"{len(ROTATION_ANGLES)} passes over the test set, in the background")
            return
        self.curve_hint.setText("")
        self.curve.setData(curve.angles, curve.accuracy * 100)
        worst = int(np.argmin(curve.accuracy))
        self.curve_note.setText(f"undamaged {100 * curve.accuracy[curve.angles == 0][0]:.1f}%; at "
                                f"{curve.angles[worst]:+.0f}°: {100 * curve.accuracy[worst]:.1f}%"
                                if (curve.angles == 0).any() else "")

    # ---- the view's jobs -----------------------------------------------------------------------------------

    def on_job_progressed(self, job: Job, done: int, total: int) -> None:
        if job.kind == "damage":
            self.damage_detail.setText(f"<span style='color:{MUTED_TEXT}'>evaluating the damaged digits… "
                                       f"{100 * done // max(total, 1)}%</span>")

    def on_damage_evaluated(self, d: Damage, e: Evaluation) -> None:
        if d == self.current_damage():
            self.damaged = (d, e)
            self.show_damage()

    def on_curve_done(self, job: Job) -> None:
        self.curve_button.setEnabled(True)
        if job.error is None and job.result is not None:
            self._curves[job.info["key"]] = job.result
            self.show_curve()

    def show_error(self, job: Job, error: str) -> None:
        label = self.damage_detail if job.kind == "damage" else self.curve_note
        label.setText(f"<span style='color:{WRONG_COLOR}'>Failed: {error}</span>")

    def _on_slider_changed(self, _value: float) -> None:
        self.show_samples()
        self.timer.start()
