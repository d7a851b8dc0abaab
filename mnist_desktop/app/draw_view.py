"""The Draw view: draw a digit, see each preprocessing step and the network's answer live.

    canvas.changed --(0 ms single-shot timer: only the latest state)--> _update_prediction():
        pixels -> preprocess.to_mnist -> confidence.outputs_and_features (one pass) -> confidence.assess
            (not a digit? unsure?) -> preview.set_result + chart.set_probabilities(probs, verdict=...)
        [saliency on] -> explain.saliency_on_input(method=the picker's attribution) -> heatmap.heat_rgba
            -> canvas.set_overlay + preview.set_saliency

Fast mouse moves never queue work: however many ``changed`` arrive before the event loop is idle, one
update runs, on the newest strokes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QBoxLayout, QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider,
                               QVBoxLayout, QWidget)

from mnist_desktop.app.canvas import CANVAS_SIZE, PEN_WIDTH_RANGE, DrawingCanvas
from mnist_desktop.app.draw_models import OPEN_MODEL_TEXT, ModelPickerMixin, _Choice  # noqa: F401 (tests)
from mnist_desktop.app.draw_saliency import SALIENCY_EVERY_MS, SaliencyOverlay  # noqa: F401 (tests, benchmarks)
from mnist_desktop.app.imageio import PREDICT_MAX_SIDE, load_image
from mnist_desktop.app.jobs import Job, JobRunner
from mnist_desktop.app.digit_thumbs import LabelRow
from mnist_desktop.app.reflow import Reflow, scrolling_page
from mnist_desktop.app.focus_ring import FocusRing
from mnist_desktop.app.state import AppState, LoadedModel, app_data_dir
from mnist_desktop.app.widgets import MessageBanner, PreprocessPreview, ProbabilityChart
from mnist_desktop.confidence import (Calibration, Verdict, assess, cached_calibration_path, calibrate,
                                      find_calibration, load_matching, outputs_and_features)
from mnist_desktop.drawing import read_drawing, write_drawing
from mnist_desktop.engine.losses import outputs_to_probabilities
from mnist_desktop.preprocess import Preprocessed, ink_from_pixels, to_mnist

log = logging.getLogger(__name__)


def calibration_dir() -> Path:
    """Where the window keeps the calibrations it computed (app data folder / calibrations)."""
    folder = app_data_dir() / "calibrations"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


STACKED_CANVAS_HEIGHT = 300
QWIDGETSIZE_MAX = (1 << 24) - 1
NO_MODEL_HINT = "No model loaded\nFile › Open model… (Ctrl+M)"


@dataclass(frozen=True)
class Prediction:
    """What the view shows for one state of the canvas.

    pre: the preprocessing steps, None for a blank input. probs: (10,) or None (blank, or no model).
    verdict: what the chart says (a digit, "3 or 5?", not a digit); None when probs is None.
    """

    pre: Preprocessed | None
    probs: np.ndarray | None
    model: LoadedModel | None
    verdict: Verdict | None = None

    @property
    def digit(self) -> int | None:
        return None if self.probs is None else int(np.argmax(self.probs))


class DrawView(ModelPickerMixin, QWidget):
    """Canvas on the left; model picker, preprocessing preview and probability bars on the right.

    Signals:
        prediction_updated(Prediction): after the preview and bars show a new state.
        open_model_requested(): the picker's "Open model…" entry was chosen (the window shows a dialog).
    Public parts other code may use: ``canvas``, ``preview`` (its ``header`` row takes extra controls,
    e.g. a saliency toggle), ``chart``, ``banner``, ``model_picker``, ``pen_slider``, ``saliency_button``
    (checkable, shortcut S: the saliency overlay; ``set_saliency_visible``), ``attribution_picker`` (which
    map the overlay shows; ``set_attribution_method``) and ``saliency_legend``.
    """

    prediction_updated = Signal(object)
    open_model_requested = Signal()
    attribution_changed = Signal(str)      # the overlay's map: one of explain.ATTRIBUTIONS

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._prediction = Prediction(None, None, None)
        self._test_digit: tuple[np.ndarray, np.ndarray] | None = None   # (canvas pixels, its 28x28) of show_digit
        self._choices: list[_Choice] = []
        self._calibration: tuple[LoadedModel | None, Calibration | None] = (None, None)
        # A model without a calibration file gets one computed here, in the background, from the MNIST
        # training digits if they are on this machine (kept in the app's data folder by the weights'
        # digest). Off by default (tests, scripts); run_app turns it on.
        self.auto_calibrate = False
        self.jobs = JobRunner(self, name="calibrate")
        self.jobs.finished.connect(self._on_job_finished)

        right = self._build_right()                # first: the saliency overlay draws on its preview too
        left = self._build_left()
        self.banner = MessageBanner(reserve_lines=2)   # room kept: a message never moves the canvas
        body = QBoxLayout(QBoxLayout.LeftToRight)   # side by side; one above the other in a narrow window
        body.addLayout(left, 11)
        body.addSpacing(6)
        body.addLayout(right, 10)
        self.reflow = Reflow(self, body, changed=self._on_reflow)
        outer = QVBoxLayout(scrolling_page(self))  # smaller than its least size, the view scrolls
        outer.addLayout(body, 1)
        self.layout().insertWidget(0, self.banner)  # the banner stays in sight above the scrolled part

        ## coalescing: many `changed` -> one update on the newest state
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._update_prediction)
        self._saliency_timer = self.saliency.timer

        self.canvas.changed.connect(self._on_canvas_changed)
        self.canvas.stroke_finished.connect(self._schedule)
        self.canvas.file_dropped.connect(self._on_canvas_file_dropped)
        self.pen_slider.valueChanged.connect(self._on_pen_slider_changed)
        self.undo_button.clicked.connect(self.undo)
        self.clear_button.clicked.connect(self.clear)
        self.model_picker.activated.connect(self._on_model_picker_activated)
        self.state.model_changed.connect(self._on_state_model_changed)

        self._populate_shipped()
        self._on_pen_slider_changed(self.pen_slider.value())
        self._on_state_model_changed(self.state.model)
        self.focus_ring = FocusRing(self)          # every Tab stop shows where the keyboard is

    def _on_reflow(self, stacked: bool) -> None:
        # one column: a canvas of a sensible size, so the prediction under it is a short scroll away
        self.canvas.setMaximumHeight(STACKED_CANVAS_HEIGHT if stacked else QWIDGETSIZE_MAX)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.focus_ring.follow()

    def _build_left(self) -> QVBoxLayout:
        """The canvas, the pen row (width, Undo, Clear), the saliency controls and legend, the "It's a…" row."""
        self.canvas = DrawingCanvas()
        self.pen_slider = QSlider(Qt.Horizontal)
        self.pen_slider.setRange(int(PEN_WIDTH_RANGE[0]), int(PEN_WIDTH_RANGE[1]))
        self.pen_slider.setValue(round(self.canvas.pen_width))
        self.pen_slider.setToolTip("Pen width in canvas pixels (the canvas is 280×280, like the drawing files)")
        self.pen_slider.setMinimumWidth(100)
        self.pen_label = QLabel()
        self.pen_label.setMinimumWidth(self.pen_label.fontMetrics().horizontalAdvance(f"40 / {CANVAS_SIZE}") + 4)
        self.pen_label.setToolTip(f"Pen width in canvas pixels: the canvas is {CANVAS_SIZE}×{CANVAS_SIZE}, "
                                  "whatever its size on screen")
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Undo the last stroke, clear or opened file (Ctrl+Z)")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Clear the canvas (Del or Esc); Undo brings it back")
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Pen"))
        tools.addWidget(self.pen_slider, 1)
        tools.addWidget(self.pen_label)
        tools.addSpacing(12)
        tools.addWidget(self.undo_button)
        tools.addWidget(self.clear_button)
        self.saliency = SaliencyOverlay(self.canvas, self.preview, self)
        self.saliency_button, self.attribution_picker = self.saliency.button, self.saliency.picker
        self.saliency_legend = self.saliency.legend
        self.saliency.changed.connect(self._schedule)
        self.saliency.attribution_changed.connect(self.attribution_changed)
        explain_row = QHBoxLayout()               # a row of its own: the view still fits a 960-px window
        explain_row.addWidget(self.saliency_button)
        explain_row.addWidget(self.attribution_picker)
        explain_row.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addLayout(tools)
        left.addLayout(explain_row)
        left.addWidget(self.saliency_legend)
        self.label_row = LabelRow()          # "It's a…": the window collects the drawing (My digits)
        left.addWidget(self.label_row)
        return left

    def _build_right(self) -> QVBoxLayout:
        """The model picker, the preprocessing preview and the prediction."""
        self.model_picker = QComboBox()
        self.model_picker.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.model_picker.setMinimumContentsLength(24)
        self.model_picker.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.model_picker.setPlaceholderText("No model loaded")
        self.model_picker.setToolTip("The network that reads your digit: name · architecture · MNIST test accuracy")
        picker_row = QHBoxLayout()
        picker_row.addWidget(QLabel("Model"))
        picker_row.addWidget(self.model_picker, 1)

        self.preview = PreprocessPreview()
        preview_box = QGroupBox("How your drawing becomes the network's input")
        QVBoxLayout(preview_box).addWidget(self.preview)
        self.chart = ProbabilityChart()
        chart_box = QGroupBox("Prediction")
        QVBoxLayout(chart_box).addWidget(self.chart)
        right = QVBoxLayout()
        right.addLayout(picker_row)
        right.addWidget(preview_box, 0)
        right.addWidget(chart_box, 1)
        return right

    # ---- public -----------------------------------------------------------------------------

    @property
    def saliency_visible(self) -> bool:
        """Whether the saliency overlay is switched on (it shows only while there is a prediction)."""
        return self.saliency.visible

    def set_saliency_visible(self, on: bool) -> None:
        self.saliency_button.setChecked(bool(on))

    @property
    def attribution_method(self) -> str:
        """The overlay's map: "strokes" (default), "integrated" or "gradient" (explain.ATTRIBUTIONS)."""
        return self.attribution_picker.currentData()

    def set_attribution_method(self, name: str) -> None:
        """Pick the overlay's map by name; an unknown name (an old settings file) keeps the current one."""
        i = self.attribution_picker.findData(name)
        if i >= 0:
            self.attribution_picker.setCurrentIndex(i)

    @property
    def prediction(self) -> Prediction:
        """What the preview and bars currently show."""
        return self._prediction

    def refresh_now(self) -> Prediction:
        """Update preview and bars from the canvas now (instead of on the next idle event loop)."""
        self._timer.stop()
        self._update_prediction()
        return self._prediction

    def undo(self) -> None:
        self.canvas.undo()

    def clear(self) -> None:
        self.canvas.clear()

    def set_pen_width(self, width: float) -> None:
        self.pen_slider.setValue(round(width))

    def show_message(self, text: str, level: str = "error") -> None:
        """A non-modal message above the view (errors stay until dismissed)."""
        self.banner.show_message(text, level)

    def open_image(self, path: str | os.PathLike) -> bool:
        """Show an image file on the canvas and classify it; False (message shown, canvas kept) on error."""
        try:
            pixels = load_image(path, max_side=PREDICT_MAX_SIDE)   # as `predict` does: same pixels, bounded memory
            gray, inverted = ink_from_pixels(pixels)
            pre = to_mnist(gray, inverted=inverted)
        except (ValueError, OSError) as exc:   # ImageLoadError is a ValueError
            self.show_message(f"Could not open the image: {exc}")
            return False
        if pre is None:
            self.show_message(f"{Path(path).name}: no ink found in this image (it looks blank). "
                              "The canvas is unchanged.", "warning")
            return False
        self.canvas.set_image(pixels)
        self.banner.dismiss()
        note = " (dark ink on light paper: inverted to white on black)" if inverted else ""
        self.show_message(f"Opened {Path(path).name}{note}. Draw to replace it; Undo brings it back.", "info")
        return True

    def show_digit(self, image28: np.ndarray, label: int | None = None) -> None:
        """Put a 28x28 digit (float in [0, 1], white on black, e.g. an MNIST test digit) on the canvas,
        enlarged 10x with sharp pixels, so preview and bars follow; undoable like an opened image."""
        image = np.clip(np.asarray(image28, np.float32).reshape(28, 28), 0.0, 1.0)
        big = np.repeat(np.repeat(np.round(image * 255).astype(np.uint8), 10, axis=0), 10, axis=1)
        self._test_digit = (big, image)
        self.canvas.set_image(big)
        what = "A test digit" if label is None else f"A test digit labelled {int(label)}"
        self.show_message(f"{what}, from the Evaluate view. Draw to replace it; Undo brings back your drawing.",
                          "info")
        self.refresh_now()

    def open_drawing(self, path: str | os.PathLike) -> bool:
        """Load a .json drawing onto the canvas; False (message shown, canvas kept) on error."""
        try:
            drawing = read_drawing(path)
        except (ValueError, OSError) as exc:   # DrawingError is a ValueError
            self.show_message(f"Could not open the drawing: {exc}")
            return False
        self.canvas.set_drawing(drawing)
        self.pen_slider.blockSignals(True)
        self.pen_slider.setValue(round(self.canvas.pen_width))
        self.pen_slider.blockSignals(False)
        self._on_pen_slider_changed(self.pen_slider.value(), apply=False)
        self.banner.dismiss()
        return True

    def save_problem(self) -> str | None:
        """Why the canvas cannot be saved as a drawing (asked before the save dialog opens), or None."""
        if self.canvas.image() is not None:
            return "The canvas shows an opened image; only drawn strokes can be saved as a drawing."
        if self.canvas.is_blank():
            return "Nothing to save: the canvas is empty."
        return None

    def save_drawing(self, path: str | os.PathLike) -> bool:
        """Write the strokes as a .json drawing; False (message shown) if there is nothing to save."""
        problem = self.save_problem()
        if problem is not None:
            self.show_message(problem, "warning")
            return False
        try:
            write_drawing(path, self.canvas.drawing())
        except (ValueError, OSError) as exc:
            self.show_message(f"Could not save the drawing: {exc}")
            return False
        self.show_message(f"Saved {Path(path).name}.", "info")
        return True

    # ---- model picker -----------------------------------------------------------------------------

    # ---- live prediction ---------------------------------------------------------------------------

    def _on_canvas_changed(self) -> None:
        if self.banner.level != "error":     # notes about what the canvas showed go with it (Clear, a stroke)
            self.banner.dismiss()
        self.undo_button.setEnabled(self.canvas.can_undo())
        self._schedule()

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _update_prediction(self) -> None:
        image = self.canvas.image()
        if image is not None:
            gray, inverted = ink_from_pixels(image)
        else:
            gray, inverted = self.canvas.pixels(), False
        pre = to_mnist(gray, inverted=inverted)
        if pre is not None and image is not None and self._test_digit is not None and image is self._test_digit[0]:
            # a test digit from the Evaluate view is MNIST-made already: the network gets its own 28x28
            # pixels, so it says here what it said there (preprocessing it again would resample it)
            pre = replace(pre, image=self._test_digit[1])
        model = self.state.model
        probs = verdict = None
        if pre is not None and model is not None:
            out, feats = outputs_and_features(model.net, pre.image.reshape(1, 784))
            probs = outputs_to_probabilities(out, model.net.loss)[0]
            verdict = assess(probs, pre.image, outputs=out[0], features=feats[0],
                             calibration=self._calibration_of(model),
                             drawing=self.canvas.drawing() if image is None else None)
        if pre is None:
            self.preview.set_input(gray)
        else:
            self.preview.set_result(pre)
        if model is None:
            self.chart.set_probabilities(None, NO_MODEL_HINT)
        elif probs is None:
            self.chart.set_probabilities(None, "Draw a digit")
        else:
            self.chart.set_probabilities(probs, verdict=verdict)
        self.saliency.follow(pre, probs, model, pen_down=self.canvas.is_drawing())
        self.undo_button.setEnabled(self.canvas.can_undo())
        self.clear_button.setEnabled(not self.canvas.is_blank())
        self._prediction = Prediction(pre, probs, model, verdict)
        self.prediction_updated.emit(self._prediction)

    def _calibration_of(self, model: LoadedModel) -> Calibration | None:
        """The model's calibration: the file beside it, else one this window computed before (app data
        folder), for these weights; looked up once per model. Without one, ``auto_calibrate`` starts
        computing it; until then the verdict uses the shape rules only."""
        if self._calibration[0] is not model:
            cal = find_calibration(model.net, model.path)
            if cal is None:
                cal = load_matching(cached_calibration_path(calibration_dir(), model.net), model.net)
            self._calibration = (model, cal)
            if cal is None and self.auto_calibrate:
                self._start_calibration(model)
        return self._calibration[1]

    def _start_calibration(self, model: LoadedModel) -> None:
        from mnist_desktop.data.datasets import find_dataset

        folder = find_dataset("mnist")          # never downloads: only digits already on this machine
        if folder is None:
            log.info("no MNIST training digits found: %s keeps the shape rules only", model.label)
            return
        net = model.net.copy()                  # the view keeps predicting with the original meanwhile

        def work(job: Job) -> Calibration:
            from mnist_desktop.data import load_dataset

            data = load_dataset("mnist", folder)
            return calibrate(net, data.x_train, data.y_train, should_stop=job.is_cancelled)

        self.jobs.start("calibrate", work, model=model)

    def _on_job_finished(self, job: Job) -> None:
        model = job.info.get("model")
        if job.error is not None:
            log.warning("could not calibrate %s: %s", getattr(model, "label", "the model"), job.error)
            return
        cal: Calibration = job.result
        try:
            cal.save(cached_calibration_path(calibration_dir(), model.net))
        except OSError as exc:
            log.warning("could not keep the calibration: %s", exc)
        if self._calibration[0] is model:
            self._calibration = (model, cal)
            self._schedule()

    def shutdown(self, timeout: float = 3.0) -> None:
        """Stop a background calibration (the window is closing)."""
        self.jobs.shutdown(timeout)

    # ---- small slots -------------------------------------------------------------------------------

    def _on_pen_slider_changed(self, value: int, apply: bool = True) -> None:
        self.pen_label.setText(f"{value} / {CANVAS_SIZE}")   # canvas pixels, not the screen's
        if apply:
            self.canvas.set_pen_width(value)

    def _on_canvas_file_dropped(self, path: str) -> None:
        if Path(path).suffix.lower() == ".json":
            self.open_drawing(path)
        else:
            self.open_image(path)
