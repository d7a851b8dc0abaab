"""The Train view's learning-curve mode: train several presets on growing, balanced training sets and
watch accuracy against the number of training images, one point at a time.

    panel = LearningCurvePanel(settings, data_source=data_panel.selection)
    panel.set_presets(["linear", "cnn-seed"]); panel.sizes_edit.setText("100,1k"); panel.images_spin.setValue(10000)
    panel.start(); panel.pause(); panel.resume(); panel.stop()
    panel.save_json("curve.json"); panel.open_json("curve.json"); panel.export_png("curve.png")

The work is learning_curve.CurveRun (the one ``mnist-desktop learning-curve`` runs), a job of the panel's
JobRunner; the plot is curve_plot.CurvePlot, which also paints the exported PNG.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QBoxLayout, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from mnist_desktop.app.curve_plot import CurvePlot, render_png
from mnist_desktop.app.jobs import Job, JobRunner
from mnist_desktop.app.reflow import Reflow
from mnist_desktop.app.state import K_LAST_DIR, setting
from mnist_desktop.app.widgets import MUTED_TEXT, MessageBanner
from mnist_desktop.engine.presets import PRESETS
from mnist_desktop.learning_curve import (DEFAULT_IMAGES, DEFAULT_PRESETS, DEFAULT_SIZES, CurveFileError, CurvePoint,
                                          CurveResult, CurveRun, format_point, load_curve, parse_sizes, save_curve)

K_PRESETS, K_SIZES, K_IMAGES = "curve/presets", "curve/sizes", "curve/images"
JSON_FILTER = "Learning curves (*.json);;All files (*)"


class LearningCurvePanel(QWidget):
    """Signals: point_added(CurvePoint); run_finished(CurveResult) (also after Stop, with the points so far)."""

    point_added = Signal(object)
    run_finished = Signal(object)

    def __init__(self, settings: QSettings | None = None, data_source=None, persist: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings, self.persist = settings, persist
        self.data_source = data_source          # () -> app.data_panel.DataSelection, or ValueError
        self.jobs = JobRunner(self, name="curve")
        self._run: CurveRun | None = None
        self.result: CurveResult | None = None

        self.banner = MessageBanner()
        form = self._build_form(settings)
        left_widget = self._build_left(form)

        right = self._build_right()
        body = QBoxLayout(QBoxLayout.LeftToRight)   # the form above the plot in a narrow window
        body.addWidget(left_widget)
        body.addLayout(right, 1)
        self.reflow = Reflow(self, body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addWidget(self.banner)
        layout.addLayout(body, 1)

        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(lambda: self.resume() if self.paused else self.pause())
        self.stop_button.clicked.connect(self.stop)
        self.open_button.clicked.connect(self.ask_open)
        self.save_button.clicked.connect(self.ask_save)
        self.export_button.clicked.connect(self.ask_export)
        self.jobs.progressed.connect(self._on_progress)
        self.jobs.finished.connect(self._on_finished)
        self._update_buttons()

    def _build_form(self, settings: QSettings | None) -> QFormLayout:
        """The networks list, the sizes and the images per point."""
        self.preset_list = QListWidget()
        self.preset_list.setToolTip("The networks to compare: each trains with its preset's settings.")
        chosen = str(setting(settings, K_PRESETS, str, ",".join(DEFAULT_PRESETS))).split(",")
        for name, preset in PRESETS.items():
            item = QListWidgetItem(name)
            item.setToolTip(preset.summary)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if name in chosen else Qt.Unchecked)
            self.preset_list.addItem(item)
        self.preset_list.setMaximumHeight(self.preset_list.sizeHintForRow(0) * len(PRESETS) + 8)
        self.sizes_edit = QLineEdit(str(setting(settings, K_SIZES, str, ",".join(str(s) for s in DEFAULT_SIZES))))
        self.sizes_edit.setToolTip("Training-set sizes, comma-separated; 1k = 1,000. Each takes the first "
                                   "size/10 images of every digit.")
        self.images_spin = QSpinBox()
        self.images_spin.setRange(100, 10_000_000)
        self.images_spin.setSingleStep(10_000)
        self.images_spin.setGroupSeparatorShown(True)
        self.images_spin.setValue(setting(settings, K_IMAGES, int, DEFAULT_IMAGES))
        self.images_spin.setToolTip("Training images each point sees: small sets train for many epochs, the "
                                    "largest for a few (epochs = images / size, at least 1).")
        form = QFormLayout()
        form.addRow("Networks", self.preset_list)
        form.addRow("Sizes", self.sizes_edit)
        form.addRow("Images per point", self.images_spin)
        return form

    def _build_left(self, form: QFormLayout) -> QWidget:
        """The form, a note, the run buttons and the file buttons in a fixed-width column."""
        self.start_button = QPushButton("Start curve")
        self.start_button.setToolTip("Train every chosen network at every size; points appear as they finish.")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Hold after the current batch; press again to resume.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End after the current batch; the finished points are kept.")
        run_row = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            run_row.addWidget(b)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Show a learning curve saved before (JSON, also written by "
                                    "`mnist-desktop learning-curve --save`).")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the points as JSON, to reopen later.")
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("Save the plot as a PNG picture.")
        file_row = QHBoxLayout()
        for b in (self.open_button, self.save_button, self.export_button):
            file_row.addWidget(b)
        note = QLabel("Training images and data folder: the Train tab's data panel (its per-digit limit is "
                      "not used here).")
        note.setWordWrap(True)
        note.setStyleSheet(f"color: {MUTED_TEXT};")
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(note)
        left.addStretch(1)
        left.addLayout(run_row)
        left.addLayout(file_row)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left.setContentsMargins(0, 0, 0, 0)
        left_widget.setFixedWidth(340)
        return left_widget

    def _build_right(self) -> QVBoxLayout:
        """Status, progress, the plot and the per-point log."""
        self.status_label = QLabel("Choose the networks and sizes, then Start curve.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.plot = CurvePlot()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        mono.setPointSizeF(mono.pointSizeF() * 0.9)
        self.log.setFont(mono)
        self.log.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.log.setFixedHeight(5 * self.log.fontMetrics().lineSpacing() + 12)
        self.log.setPlaceholderText("One line per point, as `mnist-desktop learning-curve` prints them.")
        right = QVBoxLayout()
        right.addWidget(self.status_label)
        right.addWidget(self.progress)
        right.addWidget(self.plot, 1)
        right.addWidget(self.log)
        return right

    # ---- state ---------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._run is not None

    @property
    def paused(self) -> bool:
        return self.running and self._run.paused

    def presets(self) -> list[str]:
        return [self.preset_list.item(i).text() for i in range(self.preset_list.count())
                if self.preset_list.item(i).checkState() == Qt.Checked]

    def set_presets(self, names) -> None:
        for i in range(self.preset_list.count()):
            item = self.preset_list.item(i)
            item.setCheckState(Qt.Checked if item.text() in names else Qt.Unchecked)

    # ---- the run -------------------------------------------------------------------------------------------

    def start(self) -> bool:
        """Start a curve with the chosen networks and sizes; False, with a message, if they are unusable."""
        if self.running:
            return False
        try:
            presets = self.presets()
            if not presets:
                raise ValueError("Tick at least one network to train.")
            sizes = parse_sizes(self.sizes_edit.text())
            if self.data_source is None:
                raise ValueError("No data to train on.")
            selection = self.data_source()
        except ValueError as exc:
            self.banner.show_message(str(exc), "error")
            return False
        self.banner.dismiss()
        if self.settings is not None and self.persist:
            self.settings.setValue(K_PRESETS, ",".join(presets))
            self.settings.setValue(K_SIZES, self.sizes_edit.text())
            self.settings.setValue(K_IMAGES, self.images_spin.value())

        def load():
            from mnist_desktop.data import load_dataset

            return load_dataset(selection.dataset, selection.data_dir)

        run = CurveRun(presets, sizes, load, images=self.images_spin.value())
        self._run, self.result = run, run.result()
        self.log.clear()
        self.plot.set_result(self.result, (presets[0], sizes[0]))
        self.progress.setValue(0)
        self.status_label.setText(f"Loading the data, then {presets[0]} at {sizes[0]:,} images…")
        self.pause_button.setText("Pause")

        def work(job: Job):
            job.on_cancel(run.cancel)
            for point in run.points(lambda *a: job.report("epoch", a)):
                job.report("point", point)
            return run.result()

        self.jobs.start("curve", work)
        self._update_buttons()
        return True

    def pause(self) -> None:
        if self.running and not self.paused:
            self._run.pause()
            self.pause_button.setText("Resume")
            self.status_label.setText(self.status_label.text() + " · paused")

    def resume(self) -> None:
        if self.paused:
            self._run.resume()
            self.pause_button.setText("Pause")
            self.status_label.setText(self.status_label.text().replace(" · paused", ""))

    def stop(self) -> None:
        """End after the current batch; the finished points stay (run_finished follows)."""
        if self.running:
            self._run.cancel()
            self.status_label.setText("Stopping…")
            self.pause_button.setEnabled(False)
            self.stop_button.setEnabled(False)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        self.jobs.shutdown(timeout_s)

    def _on_progress(self, job: Job, values: tuple) -> None:
        kind, payload = values
        run = self._run
        if run is None:
            return
        done = len(run.result().points)
        if kind == "epoch":
            preset, size, epoch, epochs = payload
            self.progress.setValue(round(1000 * (done + epoch / epochs) / run.total))
            if not self.paused:
                self.status_label.setText(f"Training {preset} on {size:,} images: epoch {epoch:,}/{epochs:,} · "
                                          f"point {done + 1} of {run.total}")
            self.plot.set_result(self.result, (preset, size))
        elif kind == "point":
            point: CurvePoint = payload
            self.log.appendPlainText(format_point(point))
            self.progress.setValue(round(1000 * done / run.total))
            self.plot.set_result(self.result, run.current)
            self.point_added.emit(point)

    def _on_finished(self, job: Job) -> None:
        run, self._run = self._run, None
        self.pause_button.setText("Pause")
        if job.error is not None:
            self.banner.show_message(f"The learning curve stopped: {job.error}", "error", timeout_ms=0)
            self.status_label.setText(f"Failed after {len(self.result.points)} points.")
        elif run is not None and run.cancelled:
            self.status_label.setText(f"Stopped: {len(self.result.points)} of {run.total} points.")
        else:
            self.status_label.setText(f"Finished: {len(self.result.points)} points in "
                                      f"{self.result.wall_seconds:.0f} s.")
            self.progress.setValue(1000)
        self.plot.set_result(self.result)
        self._update_buttons()
        self.run_finished.emit(self.result)

    # ---- files ---------------------------------------------------------------------------------------------

    def _has_points(self) -> bool:
        return self.result is not None and bool(self.result.points)

    def save_json(self, path) -> bool:
        if not self._has_points():
            self.banner.show_message("There are no points to save yet: Start a curve first.", "warning")
            return False
        try:
            save_curve(self.result, path)
        except OSError as exc:
            self.banner.show_message(f"Could not save {path}: {exc.strerror or exc}. Nothing was written.", "error")
            return False
        self.banner.show_message(f"Saved {path}.", "info")
        return True

    def open_json(self, path) -> bool:
        if self.running:
            return False
        try:
            result = load_curve(path)
        except CurveFileError as exc:
            self.banner.show_message(str(exc), "error")
            return False
        self.result = result
        self.set_presets(result.presets)
        self.sizes_edit.setText(",".join(str(s) for s in result.sizes))
        self.images_spin.setValue(result.images)
        self.log.clear()
        for p in result.points:
            self.log.appendPlainText(format_point(p))
        self.plot.set_result(result)
        total = len(result.presets) * len(result.sizes)
        self.progress.setValue(round(1000 * len(result.points) / total) if total else 0)
        self.status_label.setText(f"Opened {Path(path).name}: {len(result.points)} points"
                                  + ("" if result.complete else " (an unfinished run)") + ".")
        self.banner.dismiss()
        self._update_buttons()
        return True

    def export_png(self, path) -> bool:
        if not self._has_points():
            self.banner.show_message("There is no curve to export yet: Start one or open a saved one.", "warning")
            return False
        try:
            render_png(self.result, path, max(self.plot.width(), 700), max(self.plot.height(), 440))
        except OSError as exc:
            self.banner.show_message(f"Could not write {path}: {exc.strerror or exc}. Nothing was written.", "error")
            return False
        self.banner.show_message(f"Exported {path}.", "info")
        return True

    def _ask(self, title: str, name: str, filt: str, save: bool) -> str:
        start = Path(str(setting(self.settings, K_LAST_DIR, str, "") or Path.home())) / name
        if save:
            path, _ = QFileDialog.getSaveFileName(self, title, str(start), filt)
        else:
            path, _ = QFileDialog.getOpenFileName(self, title, str(start.parent), filt)
        if path and self.settings is not None and self.persist:
            self.settings.setValue(K_LAST_DIR, str(Path(path).parent))
        return path

    def ask_open(self) -> None:
        path = self._ask("Open learning curve", "", JSON_FILTER, save=False)
        if path:
            self.open_json(path)

    def ask_save(self) -> None:
        path = self._ask("Save learning curve", "learning-curve.json", JSON_FILTER, save=True)
        if path:
            self.save_json(path if Path(path).suffix else path + ".json")

    def ask_export(self) -> None:
        path = self._ask("Export learning curve", "learning-curve.png", "PNG images (*.png)", save=True)
        if path:
            self.export_png(path if Path(path).suffix else path + ".png")

    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.open_button.setEnabled(not running)
        self.save_button.setEnabled(self._has_points())
        self.export_button.setEnabled(self._has_points())
        for w in (self.preset_list, self.sizes_edit, self.images_spin):
            w.setEnabled(not running)
