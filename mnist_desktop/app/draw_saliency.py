"""The Draw view's saliency overlay: which pixels drove the answer, as a heat map over the drawing and the
28x28 pane. The toggle (shortcut S) and the map picker sit at the end of the pen row, the legend under it.

    overlay = SaliencyOverlay(canvas, preview, parent=view)
    tools.addWidget(overlay.button); tools.addWidget(overlay.picker); left.addWidget(overlay.legend)
    overlay.follow(pre, probs, model, pen_down=canvas.is_drawing())   # after every prediction
    overlay.changed.connect(view._schedule)                           # toggled, or another map picked

While the pen moves the overlay follows at most every SALIENCY_EVERY_MS (one backward pass and a full
repaint each); integrated gradients (16 passes) wait for the pen to lift; with the pen up it follows at once.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QToolButton

from mnist_desktop.app.state import LoadedModel
from mnist_desktop.app.style import MUTED_TEXT
from mnist_desktop.explain import ATTRIBUTION_LABELS, ATTRIBUTIONS, saliency_on_input
from mnist_desktop.heatmap import heat_rgba
from mnist_desktop.preprocess import Preprocessed

SALIENCY_SHORTCUT = "S"
SALIENCY_MAX_SIDE = 400   # overlay pixels on the long side for an opened image (a drawing gets its 280)
SALIENCY_SMOOTH = 0.7     # blur (28x28 pixels) that turns gradient speckle into regions; tuned by eye
SALIENCY_GAMMA = 1.6      # overlay opacity ~ value ** gamma: the strongest pixels show, the haze does not
ATTRIBUTION_SHORT = {"strokes": "Strokes", "integrated": "Integrated", "gradient": "|Gradient|"}
SALIENCY_LEGENDS = {   # what the overlay shows, per explain.ATTRIBUTIONS
    "strokes": "Strokes: bright = the ink that counted most for {digit} against the other digits "
               "(ink × gradient of its log-odds)",
    "integrated": "Integrated gradients: bright = the ink that counted most for {digit} "
                  "(ink × gradient, averaged from a blank image; follows when the pen is lifted)",
    "gradient": "|Gradient|: bright = where ink would change the score for {digit} most, gaps included "
                "(|d score / d pixel|)",
}
SALIENCY_ON_PEN_UP = ("integrated",)   # 16 backward passes (the CNN: ~40-90 ms): not while the pen moves
SALIENCY_EVERY_MS = 120   # while the pen is down the overlay follows at most this often (one backward pass
                          # and a full-canvas repaint each); the bars follow every move; pen up: at once


class SaliencyOverlay(QObject):
    """The toggle (``button``), the map picker (``picker``), the legend line (``legend``), and the overlay
    they control on ``canvas`` (set_overlay) and ``preview`` (set_saliency).

    Signals: changed() when the overlay was switched on or off or another map was picked (the view
    predicts again); attribution_changed(str) with the map's name (explain.ATTRIBUTIONS).
    """

    changed = Signal()
    attribution_changed = Signal(str)

    def __init__(self, canvas, preview, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.preview = canvas, preview
        self.button = QToolButton()
        self.button.setText("Saliency")
        self.button.setCheckable(True)
        self.button.setShortcut(QKeySequence(SALIENCY_SHORTCUT))
        self.button.setToolTip(
            f"Show which pixels drove the answer ({SALIENCY_SHORTCUT}): a heat overlay for the predicted digit "
            "(the map chosen beside this button), computed on the 28×28 input and mapped back onto your drawing")
        self.picker = QComboBox()
        for name in ATTRIBUTIONS:
            self.picker.addItem(ATTRIBUTION_SHORT[name], name)
            self.picker.setItemData(self.picker.count() - 1, ATTRIBUTION_LABELS[name],
                                                Qt.ToolTipRole)
        self.picker.setToolTip(
            "What the overlay shows. Strokes: the ink that counted for the answer (ink × gradient of the "
            "digit's log-odds). Integrated: the same, averaged from a blank image (integrated gradients). "
            "|Gradient|: where ink would change the score most, gaps included")
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet(f"color: {MUTED_TEXT};")
        self.legend.hide()
        self.button.toggled.connect(self._on_button_toggled)
        self.picker.currentIndexChanged.connect(self._on_picker_changed)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SALIENCY_EVERY_MS)
        self.timer.timeout.connect(self._update_pending)
        self._pending: tuple | None = None

    @property
    def visible(self) -> bool:
        """Whether the overlay is switched on (it shows only while there is a prediction)."""
        return self.button.isChecked()

    @property
    def method(self) -> str:
        """The map: "strokes" (default), "integrated" or "gradient" (explain.ATTRIBUTIONS)."""
        return self.picker.currentData()

    def follow(self, pre: Preprocessed | None, probs: np.ndarray | None, model: LoadedModel | None, *,
               pen_down: bool) -> None:
        """A new prediction: update the overlay now, or (pen down) on the timer, or (integrated
        gradients, pen down) when the pen lifts."""
        if self.visible and pen_down and probs is not None:
            if self.method in SALIENCY_ON_PEN_UP:
                pass                                            # the overlay of the last pen-up stays
            else:
                self._pending = (pre, probs, model)             # the newest state, drawn by the timer
                if not self.timer.isActive():
                    self.timer.start()
            return
        self.timer.stop()
        self._pending = None
        self.update(pre, probs, model)

    def update(self, pre: Preprocessed | None, probs: np.ndarray | None, model: LoadedModel | None) -> None:
        """The overlay on the canvas and the 28x28 pane: none while off, blank or without a model."""
        if not self.visible or pre is None or probs is None or model is None:
            self.canvas.set_overlay(None)
            self.preview.set_saliency(None)
            self.legend.setText("Saliency: draw a digit (and load a model) to see which pixels "
                                         "drive the answer." if self.visible else "")
            return
        digit = int(np.argmax(probs))
        method = self.method
        sal, on_input = saliency_on_input(model.net, pre, digit, smooth=SALIENCY_SMOOTH,
                                          max_side=SALIENCY_MAX_SIDE, method=method)
        self.canvas.set_overlay(heat_rgba(on_input, gamma=SALIENCY_GAMMA))
        self.preview.set_saliency(heat_rgba(sal, gamma=SALIENCY_GAMMA))
        self.legend.setText(SALIENCY_LEGENDS[method].format(digit=digit))

    def _update_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.update(*pending)

    def _on_button_toggled(self, on: bool) -> None:
        self.legend.setVisible(on)
        self.changed.emit()

    def _on_picker_changed(self, _index: int) -> None:
        self.attribution_changed.emit(self.method)
        if self.visible:
            self.changed.emit()
