"""The Train view's live plots: accuracy per epoch (train green, test blue, with a legend) and the training
loss per batch (faint raw values and their moving average), both against epochs. Hovering shows the
values under the cursor next to it.

    plots = TrainingPlots()
    plots.add_epoch(record)                 # an EpochRecord: one point on each accuracy curve
    plots.add_batches(progress)             # a worker.BatchProgress: the loss points since the last one
    plots.clear()                           # a new run
    plots.hover_text("accuracy", 2.1)       # what hovering at epoch 2.1 shows
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QVBoxLayout, QWidget

from mnist_desktop.app.style import (LEGEND_BORDER, LOSS_COLOR, MUTED_TEXT, PLOT_BACKGROUND, PLOT_FOREGROUND,
                                     RAW_LOSS_COLOR, TEST_COLOR, TRAIN_COLOR)
REDRAW_MS = 1000         # the loss plot is redrawn at most once a second: painting it is the UI thread's main cost while training


class _Series:
    """Growing (x, y...) columns in amortised O(1) per point (capacity doubles), read as views."""

    def __init__(self, columns: int) -> None:
        self._data = np.zeros((columns, 256))
        self.n = 0

    def append(self, *cols: np.ndarray) -> None:
        k = len(cols[0])
        if self.n + k > self._data.shape[1]:
            grown = np.zeros((self._data.shape[0], max(2 * self._data.shape[1], self.n + k)))
            grown[:, :self.n] = self._data[:, :self.n]
            self._data = grown
        for i, c in enumerate(cols):
            self._data[i, self.n:self.n + k] = c
        self.n += k

    def column(self, i: int) -> np.ndarray:
        return self._data[i, :self.n]

    def clear(self) -> None:
        self.n = 0


def _style_plot(item: pg.PlotItem, left: str, bottom: str, font: QFont) -> None:
    item.setMenuEnabled(False)
    item.hideButtons()
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setLabel("left", left)
    item.setLabel("bottom", bottom)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(PLOT_FOREGROUND))
        axis.setTextPen(pg.mkPen(PLOT_FOREGROUND))
        axis.label.setFont(font)


class TrainingPlots(QWidget):
    """Two plots stacked: ``accuracy_plot`` (train and test accuracy in %, per epoch) and ``loss_plot``
    (training loss per batch). Before the first run both show their axes and a hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        font = QFont(self.font())
        self._epochs = _Series(3)        # epoch, train %, test %
        self._loss = _Series(3)          # where the batch ends (epochs), loss, smoothed loss
        self._test_name = "test"
        self._epochs_planned = 1

        self.accuracy_plot = pg.PlotWidget(background=PLOT_BACKGROUND)
        acc = self.accuracy_plot.getPlotItem()
        _style_plot(acc, "accuracy (%)", "epoch", font)
        acc.setTitle("Accuracy after each epoch", color=PLOT_FOREGROUND)
        self.legend = acc.addLegend(offset=(-10, -10), labelTextColor=PLOT_FOREGROUND,
                                    brush=pg.mkBrush(255, 255, 255, 220), pen=pg.mkPen(LEGEND_BORDER))
        self.train_curve = acc.plot([], [], pen=pg.mkPen(TRAIN_COLOR, width=2), symbol="o", symbolSize=6,
                                    symbolBrush=TRAIN_COLOR, symbolPen=None, name="train")
        self.test_curve = acc.plot([], [], pen=pg.mkPen(TEST_COLOR, width=2), symbol="o", symbolSize=6,
                                   symbolBrush=TEST_COLOR, symbolPen=None, name="test")

        self.loss_plot = pg.PlotWidget(background=PLOT_BACKGROUND)
        loss = self.loss_plot.getPlotItem()
        _style_plot(loss, "training loss", "epoch", font)
        loss.setTitle("Loss per batch (line: moving average; faint: each batch)", color=PLOT_FOREGROUND)
        loss.setClipToView(True)
        loss.setDownsampling(auto=True, mode="peak")
        self.raw_loss_curve = loss.plot([], [], pen=pg.mkPen(RAW_LOSS_COLOR, width=1), antialias=False)
        self.loss_curve = loss.plot([], [], pen=pg.mkPen(LOSS_COLOR, width=2), antialias=False)
        self._loss_top, self._loss_scaled = 2.5, False   # the loss plot's y range is [0, _loss_top]
        self._redraw = QTimer(self)              # coalesces batch reports into one redraw per REDRAW_MS
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._draw_loss)

        self.hints = {}
        self.readouts = {}
        for key, plot in (("accuracy", self.accuracy_plot), ("loss", self.loss_plot)):
            plot.setMinimumHeight(120)
            item = plot.getPlotItem()
            hint = pg.TextItem("", color=MUTED_TEXT, anchor=(0.5, 0.5))
            hint.setFont(font)
            item.addItem(hint, ignoreBounds=True)
            self.hints[key] = hint
            readout = pg.TextItem("", color=PLOT_FOREGROUND, anchor=(0, 1), fill=pg.mkBrush(255, 255, 255, 230),
                                  border=pg.mkPen("#bbbbbb"))
            readout.setZValue(20)
            readout.hide()
            item.addItem(readout, ignoreBounds=True)
            self.readouts[key] = readout
            plot.scene().sigMouseMoved.connect(lambda pos, k=key: self._on_mouse_moved(k, pos))
            plot.viewport().setMouseTracking(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.accuracy_plot, 1)
        layout.addWidget(self.loss_plot, 1)
        self.clear()

    # ---- data in ----------------------------------------------------------------------------------------------

    def clear(self, epochs: int = 10, test_name: str = "test", hint: str | None = None) -> None:
        """Empty plots for a run of ``epochs`` epochs (the x range), the test curve named ``test_name``;
        ``hint`` in the accuracy plot (default: what will appear there)."""
        self._epochs.clear()
        self._loss.clear()
        self._test_name = test_name
        self.legend.getLabel(self.test_curve).setText(test_name)
        self._epochs_planned = max(1, int(epochs))
        for curve in (self.train_curve, self.test_curve, self.raw_loss_curve, self.loss_curve):
            curve.setData([], [])
        acc, loss = self.accuracy_plot.getPlotItem(), self.loss_plot.getPlotItem()
        acc.enableAutoRange(enable=False)
        acc.setXRange(0, self._epochs_planned, padding=0.02)
        acc.setYRange(0, 100, padding=0.02)
        loss.enableAutoRange(enable=False)       # ranges are set here, not recomputed on every redraw
        loss.setXRange(0, self._epochs_planned, padding=0.02)
        self._loss_top, self._loss_scaled = 2.5, False
        loss.setYRange(0, self._loss_top, padding=0.02)
        self._redraw.stop()
        self.set_hint("accuracy", hint if hint is not None else
                      "Press Start: train and test accuracy are plotted after each epoch")
        self.set_hint("loss", "The loss of every batch appears here while training")
        for readout in self.readouts.values():
            readout.hide()

    def set_hint(self, key: str, text: str) -> None:
        hint = self.hints[key]
        hint.setText(text)
        hint.setVisible(bool(text))
        vb = (self.accuracy_plot if key == "accuracy" else self.loss_plot).getPlotItem().getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        hint.setPos((x0 + x1) / 2, (y0 + y1) / 2)

    def add_epoch(self, record) -> None:
        """An EpochRecord: train and test accuracy (0..1) become points at x = record.epoch."""
        self._epochs.append(np.array([record.epoch]), np.array([record.train_acc * 100]),
                            np.array([record.test_acc * 100]))
        x = self._epochs.column(0)
        self.train_curve.setData(x, self._epochs.column(1))
        self.test_curve.setData(x, self._epochs.column(2))
        lo = float(np.nanmin(self._epochs.column(1)[-50:].tolist() + self._epochs.column(2)[-50:].tolist()))
        acc = self.accuracy_plot.getPlotItem()
        acc.setYRange(max(0.0, min(lo, 90.0) - 5), 100, padding=0.02)   # zoom in as accuracy climbs
        self.set_hint("accuracy", "")

    def add_batches(self, progress) -> None:
        """A worker.BatchProgress: loss points at where each batch ends (in epochs), drawn within REDRAW_MS."""
        self._loss.append(progress.steps, progress.losses, progress.smoothed)
        if not self._redraw.isActive():
            self._redraw.start()

    def _draw_loss(self) -> None:
        x = self._loss.column(0)
        self.raw_loss_curve.setData(x, self._loss.column(1))
        self.loss_curve.setData(x, self._loss.column(2))
        # the y range changes rarely (set by the first batches, raised if the average climbs above it), so the
        # axis is not re-laid out on every redraw
        top = self._loss_top
        if not self._loss_scaled:
            top = float(np.nanmax(self._loss.column(1))) * 1.05
            self._loss_scaled = True
        elif self._loss.column(2)[-1] > top:
            top = float(self._loss.column(2)[-1]) * 1.3
        if np.isfinite(top) and top > 0 and top != self._loss_top:
            self._loss_top = top
            self.loss_plot.getPlotItem().setYRange(0, top, padding=0.02)
        if self.hints["loss"].isVisible():
            self.set_hint("loss", "")

    def flush(self) -> None:
        """Draw what arrived without waiting for the next redraw (the end of a run, screenshots)."""
        if self._redraw.isActive():
            self._redraw.stop()
        if self._loss.n:
            self._draw_loss()

    @property
    def epoch_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(epochs, train accuracy %, test accuracy %) plotted so far, copies."""
        return tuple(self._epochs.column(i).copy() for i in range(3))

    @property
    def loss_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x in epochs, raw loss, smoothed loss) plotted so far, copies."""
        return tuple(self._loss.column(i).copy() for i in range(3))

    # ---- hovering ---------------------------------------------------------------------------------------------

    def hover_text(self, key: str, x: float) -> str:
        """What hovering at ``x`` (epochs) over plot ``key`` ("accuracy" or "loss") shows; "" for nothing."""
        series = self._epochs if key == "accuracy" else self._loss
        if series.n == 0:
            return ""
        xs = series.column(0)
        i = int(np.argmin(np.abs(xs - x)))          # the nearest point
        if key == "accuracy":
            return (f"epoch {int(xs[i])}\ntrain {series.column(1)[i]:.2f}%\n"
                    f"{self._test_name} {series.column(2)[i]:.2f}%")
        return f"epoch {xs[i]:.2f}\nloss {series.column(1)[i]:.4f}\naverage {series.column(2)[i]:.4f}"

    def _on_mouse_moved(self, key: str, pos: QPointF) -> None:
        plot = self.accuracy_plot if key == "accuracy" else self.loss_plot
        vb = plot.getPlotItem().getViewBox()
        readout = self.readouts[key]
        if not vb.sceneBoundingRect().contains(pos):
            readout.hide()
            return
        p = vb.mapSceneToView(pos)
        text = self.hover_text(key, p.x())
        if not text:
            readout.hide()
            return
        readout.setText(text)
        (x0, x1), _ = vb.viewRange()
        readout.setAnchor((1, 1) if p.x() > (x0 + x1) / 2 else (0, 1))   # stay inside the plot
        readout.setPos(p)
        readout.show()
