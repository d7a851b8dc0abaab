"""The Train view's live weights: the first layer (MLP hidden units as 28x28 tiles, CNN filters) and the
ten back-projected digits of the network being trained, refreshed as snapshots arrive; after the run a
slider replays them.

    panel = LiveWeightsPanel()
    panel.start_run()                 # forget the last run's snapshots
    panel.add(snapshot)               # a live_weights.WeightSnapshot from the worker ("weights" report)
    panel.finish_run()                # the slider now replays the run (it shows the last snapshot)
    panel.show_snapshot(0)            # what the slider does

The snapshots are computed by the training worker on a copy of the network (live_weights.take_snapshot:
explain.first_layer and explain.backproject_batch, the Imagine view's maths); this panel only colours them
(heatmap) and shows them with the Imagine view's ImageBox.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget

from mnist_desktop import heatmap
from mnist_desktop.app.imagine_widgets import ImageBox
from mnist_desktop.app.style import MUTED_TEXT
from mnist_desktop.live_weights import DEFAULT_CAP, SnapshotLog, WeightSnapshot, digits_rgb, weights_rgb


class LiveWeightsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None, cap: int = DEFAULT_CAP) -> None:
        super().__init__(parent)
        self.log = SnapshotLog(cap)
        self.shown: WeightSnapshot | None = None
        self.updates = 0                    # snapshots shown while a run was going (tests wait on it)
        self._running = False
        self.enabled_box = QCheckBox("Live weights")   # the panel's title too
        font = self.enabled_box.font()
        font.setBold(True)
        self.enabled_box.setFont(font)
        self.enabled_box.setChecked(True)
        self.enabled_box.setToolTip("While a network trains, picture its first-layer weights and the ten "
                                    "back-projected digits every few hundred batches (on a copy of the "
                                    "weights; training slows by under 5%). Takes effect at the next Start.")
        head = QHBoxLayout()
        head.addWidget(self.enabled_box)
        head.addStretch(1)
        self.weights_box = ImageBox("First layer", min_size=120)
        self.weights_box.setToolTip("The first layer's weights, one square per hidden unit (28x28: the weight "
                                    "of each pixel) or per convolution filter; red: ink there turns the unit "
                                    "up, blue: down. Noise at the start turns into strokes as it learns.")
        self.digits_box = ImageBox("The ten digits, back-projected (0-4, 5-9)", min_size=80)
        self.digits_box.setToolTip("Each digit's output pushed back through the weights, as in the Imagine "
                                   "view: red pixels count for the digit, blue against it.")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setToolTip("After a run: replay the snapshots, from the initial weights to the last epoch.")
        self.slider.setPageStep(1)
        self.position_label = QLabel("No run yet: press Start.")
        self.position_label.setStyleSheet(f"color: {MUTED_TEXT};")
        self.position_label.setWordWrap(True)
        self.position_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)   # never widens the view
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.weights_box, 3)
        layout.addWidget(self.digits_box, 2)
        layout.addWidget(self.slider)
        layout.addWidget(self.position_label)
        self.slider.valueChanged.connect(self.show_snapshot)
        for box in (self.weights_box, self.digits_box):
            box.clear("appears when training starts")

    @property
    def wanted(self) -> bool:
        """Live weights asked for (the check box)."""
        return self.enabled_box.isChecked()

    def start_run(self) -> None:
        self.log.clear()
        self.shown = None
        self.updates = 0
        self._running = True
        self.slider.setEnabled(False)
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        text = "waiting for the first snapshot…" if self.wanted else "live weights are off"
        for box in (self.weights_box, self.digits_box):
            box.clear(text)
        self.position_label.setText("Training: the pictures follow the weights every few hundred batches."
                                    if self.wanted else "Live weights are off (tick the box, then Start).")

    def add(self, snap: WeightSnapshot) -> None:
        self.log.add(snap)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.log) - 1)
        self.slider.setValue(len(self.log) - 1)
        self.slider.blockSignals(False)
        self._show(snap)
        if self._running:
            self.updates += 1

    def finish_run(self) -> None:
        self._running = False
        n = len(self.log)
        self.slider.setEnabled(n > 1)
        if n:
            self.show_snapshot(n - 1)

    def show_snapshot(self, index: int) -> None:
        if 0 <= index < len(self.log):
            if self.slider.value() != index:
                self.slider.setValue(index)   # comes back here through valueChanged
                return
            self._show(self.log[index])

    def _show(self, snap: WeightSnapshot) -> None:
        self.shown = snap
        grid = weights_rgb(snap, cell=None if snap.kind == "dense" else 28)
        if grid is None:
            self.weights_box.clear("this network's first layer is not a picture")
        else:
            self.weights_box.set_image(grid)
            what = "hidden units" if snap.kind == "dense" else "filters"
            shown = len(snap.tiles)
            self.weights_box.caption.setText(f"First layer: {shown} of {snap.total} {what}" if shown < snap.total
                                             else f"First layer: {snap.total} {what}")
        self.digits_box.set_image(digits_rgb(snap))
        i = self.log.items.index(snap) if snap in self.log.items else len(self.log) - 1
        self.position_label.setText(f"Snapshot {i + 1} of {len(self.log)}: {snap.label()}"
                                    + ("" if self._running else "  ·  drag the slider to replay the run"))
