"""Teach it your handwriting: the "It's a…" row of the Draw view and the My digits view.

    row = LabelRow()                           # ten digit buttons (and keys 0-9): label_chosen(int)
    view = MyDigitsView(state)                 # the collection, Adapt, Back to the original, before/after
    view.collect(drawing, 7)                   # what the row does with the Draw view's strokes

The maths is in ``mnist_desktop.personalize`` and the files in ``mnist_desktop.collection``; this module
builds widgets, runs the work on ``jobs.JobRunner`` threads and shows what comes back.

Adapting: the current model (or, if it is itself adapted, its base) learns from the whole collection on a
worker thread; the result is saved in the app data folder's ``adapted-models`` and made current at once,
so the Draw view reads with it. Then a second job measures it honestly: each of the user's digits read
by a model adapted without it (k-fold), and the MNIST test set before and after when it is found.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QBoxLayout, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListView, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from mnist_desktop import collection as coll_mod
from mnist_desktop import personalize
from mnist_desktop.app.imageio import render_drawing
from mnist_desktop.app.jobs import JobRunner
from mnist_desktop.app.reflow import Reflow, scrolling_page
from mnist_desktop.app.state import AppState, LoadedModel, app_data_dir
from mnist_desktop.app.style import ACCENT, MUTED_TEXT, RIGHT_COLOR, WRONG_COLOR
from mnist_desktop.app.widgets import MessageBanner
from mnist_desktop.drawing import read_drawing
from mnist_desktop.engine.serialize import ModelFileError, load, save
from mnist_desktop.preprocess import to_mnist

THUMB = 44            # thumbnail side: the 28x28 the network sees, enlarged
CV_FOLDS = 4      # before/after on the user's digits: 4 fits, each without a quarter of them


def image_pixmap(image28: np.ndarray, side: int = THUMB) -> QPixmap:
    """A 28x28 float image in [0, 1] (white on black) -> a ``side`` x ``side`` pixmap, sharp pixels."""
    a = np.ascontiguousarray(np.clip(np.round(np.asarray(image28).reshape(28, 28) * 255), 0, 255).astype(np.uint8))
    img = QImage(a.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(img.scaled(side, side, Qt.IgnoreAspectRatio, Qt.FastTransformation))


class LabelRow(QWidget):
    """"It's a…" and ten digit buttons; keys 0-9 press them while the row is visible.

    Signals: label_chosen(int)."""

    label_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        title = QLabel("It's a…")
        title.setToolTip("Tell the app which digit you drew (keys 0-9): it goes into My digits, "
                         "and the canvas clears for the next one")
        layout.addWidget(title)
        self.buttons: list[QToolButton] = []
        for d in range(10):
            b = QToolButton()
            b.setText(str(d))
            b.setMinimumWidth(26)
            b.setToolTip(f"It's a {d} ({d}): add this drawing to My digits as a {d} and clear the canvas")
            b.clicked.connect(lambda checked=False, d=d: self.label_chosen.emit(d))
            layout.addWidget(b)
            self.buttons.append(b)
            shortcut = QShortcut(QKeySequence(str(d)), self)   # parented here: only while the Draw view shows
            shortcut.activated.connect(lambda d=d: self.label_chosen.emit(d))
        self.count_label = QLabel()
        self.count_label.setStyleSheet(f"color: {MUTED_TEXT};")
        layout.addSpacing(6)
        layout.addWidget(self.count_label, 1)

    def set_count(self, n: int) -> None:
        self.count_label.setText(f"{n} in My digits")


class _DigitStrip(QListWidget):
    """One digit's thumbnails, in a horizontal strip. Del deletes the selection and Ctrl+Z undoes, here
    rather than the window's Edit › Clear / Undo (which act on the Draw view's canvas)."""

    delete_requested = Signal()
    undo_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListView.IconMode)
        self.setFlow(QListView.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setSpacing(2)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB + 12 + self.horizontalScrollBar().sizeHint().height())

    def _own_key(self, event) -> str | None:
        if event.matches(QKeySequence.Undo):
            return "undo"
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace) and not event.modifiers():
            return "delete"
        return None

    def event(self, event) -> bool:
        if event.type() == QEvent.ShortcutOverride and self._own_key(event):
            event.accept()                   # the key comes to keyPressEvent, not to a window shortcut
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        what = self._own_key(event)
        if what == "delete":
            self.delete_requested.emit()
        elif what == "undo":
            self.undo_requested.emit()
        else:
            super().keyPressEvent(event)


class MyDigitsView(QWidget):
    """The collection (thumbnails per digit, counts, delete/undo, import, export), Adapt with progress and
    cancel, Back to the original, and the honest before/after.

    Signals:
        adapted(LoadedModel): an adapted model was saved and made current.
        checked(object): the before/after measurement finished (a dict, see ``last_check``).
    """

    adapted = Signal(object)
    checked = Signal(object)
    collection_changed = Signal(int)

    def __init__(self, state: AppState, folder: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        data = app_data_dir() if folder is None else Path(folder)
        self.collection = coll_mod.Collection(data / coll_mod.FOLDER_NAME)
        self.models_dir = data / coll_mod.ADAPTED_FOLDER_NAME
        self.runner = JobRunner(self, "adapt")
        self._images: dict[Path, np.ndarray] = {}      # path -> 28x28, what the network sees
        self._undo: list[coll_mod.Removed] = []
        self._base: LoadedModel | None = None          # what "Back to the original" goes back to
        self._replay: personalize.Replay | None = None
        self._mnist_base: dict[str, float] = {}        # base path -> MNIST test accuracy (measured once)
        self.last_check: dict | None = None
        self.settings = personalize.AdaptSettings()   # the measured defaults (tests may use a quicker one)

        self.banner = MessageBanner()
        ## top: where the files are, import / export
        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        self.import_button = QPushButton("Import folder…")
        self.import_button.setToolTip("Copy labelled drawings (.json with a \"label\", or named like 0042_7.json) into My digits")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Copy all of My digits into a folder (mnist-desktop adapt reads it)")
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the collection's folder in the file manager")
        top = QHBoxLayout()
        top.addWidget(self.folder_label, 1)
        for b in (self.import_button, self.export_button, self.open_button):
            top.addWidget(b)
        self.prompt = QLabel()
        self.prompt.setWordWrap(True)

        ## left: a strip per digit
        grid = QGridLayout()
        grid.setVerticalSpacing(2)
        self.strips: list[_DigitStrip] = []
        self.count_labels: list[QLabel] = []
        for d in range(10):
            head = QLabel()
            head.setMinimumWidth(70)
            strip = _DigitStrip()
            strip.itemSelectionChanged.connect(self._update_buttons)
            strip.delete_requested.connect(self.delete_selected)
            strip.undo_requested.connect(self.undo_delete)
            grid.addWidget(head, d, 0)
            grid.addWidget(strip, d, 1)
            self.count_labels.append(head)
            self.strips.append(strip)
        strips = QWidget()
        strips.setLayout(grid)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(strips)
        self.delete_button = QPushButton("Delete selected")
        self.delete_button.setToolTip("Delete the selected digits (Del); Undo brings them back")
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setToolTip("Bring back the digits deleted last (Ctrl+Z)")
        edit = QHBoxLayout()
        edit.addWidget(QLabel("Select thumbnails (Ctrl/Shift for several)"), 1)
        edit.addWidget(self.delete_button)
        edit.addWidget(self.undo_button)
        left = QVBoxLayout()
        left.addWidget(scroll, 1)
        left.addLayout(edit)

        ## right: adapt
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.adapt_button = QPushButton("Adapt to my digits")
        self.adapt_button.setToolTip("Fine-tune the current model on My digits (a few seconds, in the background); "
                                     "the result is saved as a new model and used at once")
        self.cancel_button = QPushButton("Cancel")
        self.back_button = QPushButton("Back to the original")
        self.back_button.setToolTip("Use the model the adaptation started from again")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.adapt_button, 1)
        buttons.addWidget(self.cancel_button)
        adapt_box = QGroupBox("Teach the model your handwriting")
        a = QVBoxLayout(adapt_box)
        a.addWidget(self.model_label)
        a.addLayout(buttons)
        a.addWidget(self.progress)
        a.addWidget(self.status)
        a.addWidget(self.back_button)

        self.own_label = QLabel("—")
        self.mnist_label = QLabel("—")
        for lab in (self.own_label, self.mnist_label):
            lab.setWordWrap(True)
            lab.setTextFormat(Qt.RichText)
        self.fixed_label = QLabel("Read wrong before, right after:")
        self.fixed_label.setWordWrap(True)
        self.fixed_strip = QListWidget()
        self.fixed_strip.setViewMode(QListView.IconMode)
        self.fixed_strip.setIconSize(QSize(THUMB, THUMB))
        self.fixed_strip.setMovement(QListView.Static)
        self.fixed_strip.setResizeMode(QListView.Adjust)
        self.fixed_strip.setSelectionMode(QAbstractItemView.NoSelection)
        self.fixed_strip.setMinimumHeight(2 * THUMB + 40)
        result_box = QGroupBox("What it did")
        r = QVBoxLayout(result_box)
        r.addWidget(self.own_label)
        r.addWidget(self.mnist_label)
        r.addWidget(self.fixed_label)
        r.addWidget(self.fixed_strip, 1)
        right = QVBoxLayout()
        right.addWidget(adapt_box)
        right.addWidget(result_box, 1)
        right_w = QWidget()
        right_w.setLayout(right)
        right_w.setMinimumWidth(330)
        right_w.setMaximumWidth(440)

        body = QBoxLayout(QBoxLayout.LeftToRight)   # the adapt panel under the digits in a narrow window
        body.addLayout(left, 1)
        body.addWidget(right_w)
        # stacked, the adapt panel spans the width (its wrapped labels then need the height the page gives)
        self.reflow = Reflow(self, body, changed=lambda stacked: right_w.setMaximumWidth((1 << 24) - 1 if stacked
                                                                                         else 440))
        outer = QVBoxLayout(scrolling_page(self))   # a small window scrolls the view
        outer.addWidget(self.banner)
        outer.addLayout(top)
        outer.addWidget(self.prompt)
        outer.addLayout(body, 1)

        self.import_button.clicked.connect(self.ask_import)
        self.export_button.clicked.connect(self.ask_export)
        self.open_button.clicked.connect(self.open_folder)
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button.clicked.connect(self.undo_delete)
        self.adapt_button.clicked.connect(self.start_adapt)
        self.cancel_button.clicked.connect(self.cancel_adapt)
        self.back_button.clicked.connect(self.back_to_original)
        self.runner.progressed.connect(self._on_job_progressed)
        self.runner.finished.connect(self._on_job_finished)
        self.runner.busy_changed.connect(lambda busy: self._update_buttons())
        self.state.model_changed.connect(self._on_state_model_changed)
        self.folder_label.setText(f"Your digits are kept in <code>{self.collection.folder}</code>")
        self.progress.hide()
        self.refresh()
        self._on_state_model_changed(self.state.model)

    # ---- the collection -----------------------------------------------------------------------------

    def image_of(self, path: Path) -> np.ndarray | None:
        """The 28x28 the network sees for a collected drawing (rendered once, then cached)."""
        path = Path(path)
        if path not in self._images:
            try:
                pre = to_mnist(render_drawing(read_drawing(path)))
            except (ValueError, OSError):
                return None
            if pre is None:
                return None
            self._images[path] = pre.image.astype(np.float32)
        return self._images[path]

    def collect(self, drawing, label: int) -> Path | None:
        """Save a drawing labelled ``label`` into the collection (what "It's a…" does)."""
        try:
            path = self.collection.add(drawing, label)
        except (ValueError, OSError) as exc:
            self.banner.show_message(f"Could not save the digit: {exc}")
            return None
        self.refresh()
        return path

    def refresh(self) -> None:
        """Re-read the folder and rebuild the strips, counts and prompt."""
        items = self.collection.items()
        by_digit: dict[int, list] = {d: [] for d in range(10)}
        for item in items:
            by_digit[item.label].append(item)
        for d in range(10):
            strip = self.strips[d]
            strip.clear()
            for item in by_digit[d]:
                image = self.image_of(item.path)
                w = QListWidgetItem()
                if image is not None:
                    w.setIcon(QIcon(image_pixmap(image)))
                w.setToolTip(item.path.name)
                w.setData(Qt.UserRole, str(item.path))
                strip.addItem(w)
            n = len(by_digit[d])
            color = RIGHT_COLOR if n >= coll_mod.WANTED_PER_DIGIT else WRONG_COLOR if n == 0 else MUTED_TEXT
            self.count_labels[d].setText(f"<b style='font-size:15pt'>{d}</b><br>"
                                         f"<span style='color:{color}'>{n} example{'s' if n != 1 else ''}</span>")
        needed = self.collection.still_needed()
        total = len(items)
        if total == 0:
            text = ("No digits yet. Draw a digit in the Draw view and press <b>It's a…</b> (or a key 0-9) to "
                    f"collect it; {coll_mod.WANTED_PER_DIGIT} of each digit is a good start.")
        elif needed:
            parts = ", ".join(f"{n} more {d}{'s' if n != 1 else ''}" for d, n in needed.items())
            text = f"{total} digits collected. Still needed for a good adaptation: {parts}."
        else:
            text = (f"{total} digits collected, at least {coll_mod.WANTED_PER_DIGIT} of every digit: "
                    "ready to adapt. More examples of the digits it gets wrong help most.")
        self.prompt.setText(text)
        problems = self.collection.problems()
        if problems:
            self.banner.show_message(f"{len(problems)} file(s) in the folder are not labelled drawings and are "
                                     f"left out, e.g. {problems[0]}", "warning")
        self._update_buttons()
        self.collection_changed.emit(total)

    def selected_paths(self) -> list[Path]:
        return [Path(it.data(Qt.UserRole)) for strip in self.strips for it in strip.selectedItems()]

    def delete_selected(self) -> int:
        paths = self.selected_paths()
        if not paths:
            return 0
        removed = self.collection.remove(paths)
        self._undo.append(removed)
        self.refresh()
        self.banner.show_message(f"Deleted {len(removed.files)} digit(s). Undo delete (Ctrl+Z) brings them back.",
                                 "info")
        return len(removed.files)

    def undo_delete(self) -> int:
        if not self._undo:
            return 0
        try:
            n = self.collection.restore(self._undo.pop())
        except OSError as exc:
            self.banner.show_message(f"Could not restore the digits: {exc}")
            return 0
        self.refresh()
        return n

    def import_folder(self, folder) -> tuple[int, list[str]]:
        added, problems = self.collection.import_files([folder])
        self.refresh()
        if problems:
            self.banner.show_message(f"Imported {len(added)} digit(s); {len(problems)} file(s) left out: "
                                     + "; ".join(problems[:3]) + ("…" if len(problems) > 3 else ""), "warning")
        else:
            self.banner.show_message(f"Imported {len(added)} digit(s) from {folder}.", "info")
        return len(added), problems

    def export_to(self, folder) -> int:
        try:
            n = self.collection.export(folder)
        except OSError as exc:
            self.banner.show_message(f"Could not export: {exc}")
            return 0
        self.banner.show_message(f"Exported {n} drawing(s) to {folder}.", "info")
        return n

    def ask_import(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of labelled drawings", str(Path.home()))
        if folder:
            self.import_folder(folder)

    def ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export My digits to a folder", str(Path.home()))
        if folder:
            self.export_to(folder)

    def open_folder(self) -> bool:
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.collection.ensure())))

    def examples(self) -> personalize.Examples:
        images, labels, names = [], [], []
        for item in self.collection.items():
            image = self.image_of(item.path)
            if image is not None:
                images.append(image.reshape(784))
                labels.append(item.label)
                names.append(str(item.path))
        return personalize.Examples(np.array(images, np.float32).reshape(-1, 784), np.array(labels, np.int64), names)

    # ---- adapting -------------------------------------------------------------------------------------

    def _base_for(self, model: LoadedModel) -> LoadedModel:
        """The model to adapt: the current one, or the one it was adapted from (re-adapting starts over)."""
        if personalize.is_adapted(model.spec):
            if self._base is not None and model is not self._base:
                return self._base
            path = personalize.base_model_path(model.spec)
            if path is None:
                raise ModelFileError("the current model is adapted, and the model it was adapted from is missing "
                                     "or changed; choose a model to adapt in the Draw view")
            return LoadedModel.from_file(path)
        return model

    def start_adapt(self) -> bool:
        model = self.state.model
        if model is None:
            self.banner.show_message("No model is loaded: pick one in the Draw view first.", "warning")
            return False
        examples = self.examples()
        if len(examples) == 0:
            self.banner.show_message("My digits is empty: collect some digits in the Draw view first.", "warning")
            return False
        try:
            base = self._base_for(model)
            if self._replay is None:
                self._replay = personalize.load_replay()
        except (ModelFileError, personalize.AdaptError) as exc:
            self.banner.show_message(f"Cannot adapt: {exc}")
            return False
        self._base = base
        replay, out_dir, settings = self._replay, self.models_dir, self.settings
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = out_dir / f"{base.name}-mine-{stamp}.npz"

        def work(job):
            result = personalize.adapt(base.net, examples, replay=replay, settings=settings,
                                       progress=lambda done, total, what: job.report(what, done, total),
                                       should_stop=job.is_cancelled)
            spec = personalize.adapted_spec(result, base.spec, base.path, name=f"{base.name}-mine")
            if job.cancelled:
                raise personalize.AdaptCancelled()
            out_dir.mkdir(parents=True, exist_ok=True)
            save(result.net, out, spec)
            return result, spec, out

        self.runner.start("adapt", work, base=base, examples=examples)
        self.status.setText(f"Adapting {base.name} to {len(examples)} digits…")
        self.progress.setValue(0)
        self.progress.show()
        self.banner.dismiss()
        return True

    def cancel_adapt(self) -> None:
        if self.runner.cancel("adapt") or self.runner.cancel("check"):
            self.status.setText("Cancelled; nothing was saved." if not self.last_check else "Cancelled.")
        self.progress.hide()

    def back_to_original(self) -> bool:
        model = self.state.model
        if model is None or not personalize.is_adapted(model.spec):
            return False
        try:
            base = self._base_for(model)
        except ModelFileError as exc:
            self.banner.show_message(str(exc))
            return False
        self.state.set_model(base)
        return True

    def _start_check(self, base: LoadedModel, adapted: LoadedModel, examples: personalize.Examples) -> None:
        replay, cache, settings = self._replay, self._mnist_base, self.settings
        key = str(base.path)

        def work(job):
            out: dict = {}
            if len(examples) >= 2:
                cv = personalize.cross_validate(base.net, examples, replay=replay, settings=settings, folds=CV_FOLDS,
                                                progress=lambda d, t, w: job.report(w, d, t),
                                                should_stop=job.is_cancelled)
                out["own"] = cv
            try:
                from mnist_desktop.data import DatasetError, load_dataset
                from mnist_desktop.evaluation import evaluate

                data = load_dataset("mnist", test_only=True)
            except (DatasetError, ValueError) as exc:
                out["mnist_problem"] = str(exc).split(". ")[0]
                return out
            stop = job.is_cancelled
            if key not in cache or base.path is None:
                r = evaluate(base.net, data.x_test, data.y_test, should_stop=stop,
                             progress=lambda d, t: job.report("MNIST test, original", d, t))
                if r is None:
                    raise personalize.AdaptCancelled()
                cache[key] = r.accuracy
            r = evaluate(adapted.net, data.x_test, data.y_test, should_stop=stop,
                         progress=lambda d, t: job.report("MNIST test, adapted", d, t))
            if r is None:
                raise personalize.AdaptCancelled()
            out["mnist"] = (cache[key], r.accuracy, len(data.y_test))
            return out

        self.runner.start("check", work, examples=examples, adapted=adapted)
        self.progress.setValue(0)
        self.progress.show()

    def _on_job_progressed(self, job, values) -> None:
        what, done, total = values
        self.progress.setValue(int(100 * done / max(total, 1)))
        self.progress.setFormat(f"{what} %p%")

    def _on_job_finished(self, job) -> None:
        self.progress.hide()
        if isinstance(job.error, personalize.AdaptCancelled):
            self.status.setText("Cancelled; nothing was saved.")
            return
        if job.error is not None:
            self.status.setText("")
            self.banner.show_message(f"{'Adapting' if job.kind == 'adapt' else 'Measuring'} failed: {job.error}")
            return
        if job.kind == "adapt":
            result, spec, out = job.result
            loaded = LoadedModel.from_network(result.net, spec, out)
            self.state.set_model(loaded)
            self.status.setText(f"Adapted {job.info['base'].name} to {result.n_examples} digits in "
                                f"{result.seconds:.1f} s; saved as {out.name} and selected in the Draw view. "
                                "Measuring what it did…")
            self.adapted.emit(loaded)
            self._start_check(job.info["base"], loaded, job.info["examples"])
        else:
            self._show_check(job.result, job.info["examples"])

    def _show_check(self, out: dict, examples: personalize.Examples) -> None:
        self.last_check = out
        self.fixed_strip.clear()
        cv = out.get("own")
        if cv is None:
            self.own_label.setText("Your digits: collect at least two to measure before/after.")
        else:
            self.own_label.setText(
                f"Your {cv.n} digits, each read by a model adapted <i>without</i> it ({cv.folds}-fold):<br>"
                f"before <b>{cv.before_accuracy * 100:.1f}%</b> → after "
                f"<b style='color:{ACCENT}'>{cv.after_accuracy * 100:.1f}%</b>"
                f" ({len(cv.fixed)} fixed, {len(cv.broken)} broken)")
            for i in cv.fixed:
                w = QListWidgetItem(QIcon(image_pixmap(examples.images[i])),
                                    f"{int(cv.before[i])} → {int(cv.after[i])}")
                w.setToolTip(Path(examples.names[i]).name if examples.names else "")
                self.fixed_strip.addItem(w)
            self.fixed_label.setText("Read wrong before, right after:" if len(cv.fixed) else
                                     "No digit flipped from wrong to right (it read them all right already, or "
                                     "the examples disagree).")
        if "mnist" in out:
            before, after, n = out["mnist"]
            color = WRONG_COLOR if after < before - 0.005 else RIGHT_COLOR
            self.mnist_label.setText(f"MNIST test ({n:,} digits): original <b>{before * 100:.2f}%</b>, adapted "
                                     f"<b style='color:{color}'>{after * 100:.2f}%</b>")
        else:
            self.mnist_label.setText(f"MNIST test: not measured: the test set was not found "
                                     f"({out.get('mnist_problem', '')}). Download it in the Train view.")
        self.status.setText(self.status.text().replace(" Measuring what it did…", ""))
        self.checked.emit(out)

    # ---- state ------------------------------------------------------------------------------------------

    def _on_state_model_changed(self, model: LoadedModel | None) -> None:
        if model is None:
            self.model_label.setText("No model loaded.")
        elif personalize.is_adapted(model.spec):
            info = model.spec["adaptation"]
            self.model_label.setText(f"Current model: <b>{model.name}</b>, adapted from "
                                     f"{info.get('base', {}).get('name')} to {info.get('examples')} digits. "
                                     "Adapting again starts from that model.")
        else:
            self.model_label.setText(f"Current model: <b>{model.name}</b> ({model.description})")
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.runner.busy
        model = self.state.model
        has = any(s.count() for s in self.strips)
        self.adapt_button.setEnabled(not busy and model is not None and has)
        self.cancel_button.setEnabled(busy)
        self.back_button.setEnabled(model is not None and personalize.is_adapted(model.spec))
        self.delete_button.setEnabled(bool(self.selected_paths()))
        self.undo_button.setEnabled(bool(self._undo))

    def shutdown(self) -> None:
        self.runner.shutdown()
