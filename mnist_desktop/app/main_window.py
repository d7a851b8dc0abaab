"""The main window: one tab per view, menus, status bar, settings (``run_app``, the GUI entry point, is in
launch.py).

Adding a view is one line (later views: Train, Imagine, Evaluate):

    window.add_view("train", "Train", TrainView(window.state))

Views share the current model through ``window.state`` (an ``AppState``): ``state.set_model(loaded)``
makes a model current everywhere, ``state.model_changed`` tells every view.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from mnist_desktop import shipped
from mnist_desktop.app import help as help_dialogs
from mnist_desktop.app.draw_view import DrawView
from mnist_desktop.app.evaluate_view import EvaluateView
from mnist_desktop.app.imagine_view import ImagineView
from mnist_desktop.app.my_digits_view import MyDigitsView
from mnist_desktop.app.state import (APPLICATION, K_LAST_DIR, MODEL_FILTER, ORGANIZATION, AppState, LoadedModel,
                                     app_data_dir, setting)
from mnist_desktop.app.style import app_icon
from mnist_desktop.app.tooltips import wrap_tooltips
from mnist_desktop.app.train_view import TrainView
from mnist_desktop.engine.serialize import ModelFileError

STARTUP_MARK = "mnist-desktop: window shown"
DEFAULT_SIZE = (1200, 780)
MINIMUM_SIZE = (640, 480)
STATUS_DESCRIPTION_CHARS = 38   # the status bar's model line fits a 640-px window

# settings keys
K_GEOMETRY, K_PEN, K_LAST_MODEL, K_VIEW = "window/geometry", "draw/pen_width", "model/last", "window/view"
K_SALIENCY = "draw/saliency"
K_ATTRIBUTION = "draw/attribution"      # the saliency overlay's map (explain.ATTRIBUTIONS)

DRAWING_FILTER = "Drawings (*.json);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.pgm *.ppm);;All files (*)"


def app_settings() -> QSettings:
    """The app's settings: an INI file under the user's config folder (tests redirect it with
    ``QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, tmp_path)``)."""
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANIZATION, APPLICATION)


class MainWindow(QMainWindow):
    """Tabs (Draw first), File/Edit/View/Help menus, a status bar with the current model.

    ``persist=False`` reads settings but never writes them (screenshots, startup timing).
    """

    def __init__(self, state: AppState | None = None, settings: QSettings | None = None, *,
                 persist: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state if state is not None else AppState(self)
        self.settings = settings if settings is not None else app_settings()
        self.persist = persist
        self._views: dict[str, QWidget] = {}
        self.setWindowTitle("mnist-desktop")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(*MINIMUM_SIZE)       # every view is laid out for 640x480 (its pages scroll or reflow)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.model_label = QLabel()
        self.model_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.statusBar().addPermanentWidget(self.model_label)

        self._build_menus()
        self.draw_view = DrawView(self.state)
        self.add_view("draw", "Draw", self.draw_view)
        self.train_view = self.add_view("train", "Train",
                                        TrainView(self.state, settings=self.settings, persist=persist))
        self.add_view("imagine", "Imagine", ImagineView(self.state, image_source=lambda: getattr(self.draw_view.prediction.pre, "image", None)))
        self.add_view("evaluate", "Evaluate", EvaluateView(self.state, self.settings)).digit_chosen.connect(self._on_digit_chosen)
        self.my_digits_view = self.add_view("digits", "My digits", MyDigitsView(self.state))
        self.my_digits_view.collection_changed.connect(self.draw_view.label_row.set_count)
        self.draw_view.label_row.label_chosen.connect(self.collect_digit)
        self.draw_view.label_row.set_count(sum(self.my_digits_view.collection.counts()))

        pen = setting(self.settings, K_PEN, float, None)
        if pen is not None:
            self.draw_view.set_pen_width(pen)
        self.draw_view.set_saliency_visible(setting(self.settings, K_SALIENCY, bool, False))
        self.draw_view.set_attribution_method(setting(self.settings, K_ATTRIBUTION, str, "strokes"))
        geometry = self.settings.value(K_GEOMETRY)
        if not (isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)):
            room = self.screen().availableGeometry()   # first run: fit small laptop screens too
            self.resize(min(DEFAULT_SIZE[0], int(room.width() * 0.92)), min(DEFAULT_SIZE[1], int(room.height() * 0.92)))

        self.state.model_changed.connect(self._on_state_model_changed)
        self.draw_view.open_model_requested.connect(self.ask_open_model)
        self.train_view.show_view_requested.connect(self.show_view)
        self.draw_view.pen_slider.valueChanged.connect(self._on_pen_changed)
        self.draw_view.saliency_button.toggled.connect(self._on_saliency_toggled)
        self.draw_view.attribution_changed.connect(self._on_attribution_changed)
        self.draw_view.canvas.changed.connect(self._update_edit_actions)
        self._on_state_model_changed(self.state.model)
        self._update_edit_actions()
        wrap_tooltips(self)                 # long tooltips read as paragraphs, not 950-px lines

    # ---- views --------------------------------------------------------------------------------

    def add_view(self, key: str, title: str, widget: QWidget) -> QWidget:
        """Add a tab (and a View menu entry, Ctrl+1..9 in order); returns ``widget``."""
        if key in self._views:
            raise ValueError(f"a view named {key!r} exists already")
        self._views[key] = widget
        self.tabs.addTab(widget, title)
        action = QAction(title, self)
        n = len(self._views)
        if n <= 9:
            action.setShortcut(QKeySequence(f"Ctrl+{n}"))
        action.triggered.connect(lambda checked=False, k=key: self.show_view(k))
        self.view_menu.addAction(action)
        return widget

    def view(self, key: str) -> QWidget:
        return self._views[key]

    def view_keys(self) -> list[str]:
        return list(self._views)

    def show_view(self, key: str) -> None:
        """Bring the view ``key`` to the front; KeyError naming the known views otherwise."""
        key = key.lower()
        if key not in self._views:
            raise KeyError(f"unknown view {key!r} (available: {', '.join(self._views)})")
        self.tabs.setCurrentWidget(self._views[key])

    def current_view_key(self) -> str:
        widget = self.tabs.currentWidget()
        return next(k for k, w in self._views.items() if w is widget)

    # ---- menus --------------------------------------------------------------------------------

    def _action(self, menu, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.open_drawing_action = self._action(file, "Open drawing…", self.ask_open_drawing, ["Ctrl+O"],
                                                "Open a drawing (.json strokes) onto the canvas")
        self.save_drawing_action = self._action(file, "Save drawing…", self.ask_save_drawing, ["Ctrl+S"],
                                                "Save the strokes as a .json drawing")
        file.addSeparator()
        self.open_image_action = self._action(file, "Open image…", self.ask_open_image, ["Ctrl+I"],
                                              "Classify a picture of a digit (PNG, JPEG, …)")
        self.open_model_action = self._action(file, "Open model…", self.ask_open_model, ["Ctrl+M"],
                                              "Use another trained model (.npz)")
        self.examples_menu = file.addMenu("Try an example")
        self.examples_menu.setStatusTip("Open one of the drawings that come with the app in the Draw view")
        for digit, path in shipped.example_drawings().items():
            self._action(self.examples_menu, f"A drawn {digit}", lambda checked=False, p=path: self.open_example(p),
                         tip=f"Open {path.name}, a drawing of a {digit}, in the Draw view")
        self.examples_menu.setEnabled(bool(shipped.example_drawings()))
        file.addSeparator()
        self.quit_action = self._action(file, "Quit", self.close, ["Ctrl+Q"])
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo", self.draw_view_undo, ["Ctrl+Z"],
                                        "Undo the last stroke, clear or opened file")
        self.clear_action = self._action(edit, "Clear", self.draw_view_clear, ["Del", "Esc"], "Clear the canvas")
        self.view_menu = bar.addMenu("&View")
        help_menu = bar.addMenu("&Help")
        self.how_to_action = self._action(help_menu, "How to use", self.show_how_to_use, ["F1"],
                                          "What each view does, and the command line")
        self.shortcuts_action = self._action(help_menu, "Keyboard shortcuts", self.show_shortcuts,
                                             tip="Every keyboard shortcut of the window")
        self.open_data_folder_action = self._action(help_menu, "Open data folder", self.open_data_folder,
                                                    tip="Show the app's own folder (your digits, adapted models, the log)")
        self.open_log_folder_action = self._action(help_menu, "Open log folder", self.open_log_folder,
                                                   tip="Show the folder with the app's log file (warnings and errors)")
        self.about_action = self._action(help_menu, "About mnist-desktop", self.show_about)

    def draw_view_undo(self) -> None:
        self.show_view("draw")
        self.draw_view.undo()

    def draw_view_clear(self) -> None:
        self.show_view("draw")
        self.draw_view.clear()

    def _update_edit_actions(self) -> None:
        canvas = self.draw_view.canvas
        self.undo_action.setEnabled(canvas.can_undo())
        self.clear_action.setEnabled(not canvas.is_blank())

    # ---- files: path-taking methods (tests, drops) and dialogs around them ----------------------

    def open_drawing(self, path: str | os.PathLike) -> bool:
        self.show_view("draw")
        return self._remember_dir(path, self.draw_view.open_drawing(path))

    def save_drawing(self, path: str | os.PathLike) -> bool:
        self.show_view("draw")
        return self._remember_dir(path, self.draw_view.save_drawing(path))

    def open_image(self, path: str | os.PathLike) -> bool:
        self.show_view("draw")
        return self._remember_dir(path, self.draw_view.open_image(path))

    def open_example(self, path: str | os.PathLike) -> bool:
        """Open a shipped example drawing (File › Try an example); the last folder used stays as it was."""
        self.show_view("draw")
        return self.draw_view.open_drawing(path)

    def open_model(self, path: str | os.PathLike) -> LoadedModel | None:
        """Load a model and make it current; on error the current model stays and a message says why."""
        try:
            loaded = self.state.open_model(path)
        except ModelFileError as exc:
            self._file_error(f"Could not open the model; keeping the current one. {exc}")
            return None
        self._remember_dir(path, True)
        self.statusBar().showMessage(f"Model {loaded.name} loaded", 4000)
        return loaded

    def ask_open_drawing(self) -> None:
        path = self._ask(QFileDialog.getOpenFileName, "Open drawing", DRAWING_FILTER)
        if path:
            self.open_drawing(path)

    def ask_save_drawing(self) -> None:
        problem = self.draw_view.save_problem()
        if problem is not None:                # said before a dialog asks for a file name
            self.show_view("draw")
            self.draw_view.show_message(problem, "warning")
            return
        path = self._ask(QFileDialog.getSaveFileName, "Save drawing", DRAWING_FILTER, "digit.json")
        if path:
            if not Path(path).suffix:
                path += ".json"
            self.save_drawing(path)

    def ask_open_image(self) -> None:
        path = self._ask(QFileDialog.getOpenFileName, "Open image", IMAGE_FILTER)
        if path:
            self.open_image(path)

    def ask_open_model(self) -> None:
        path = self._ask(QFileDialog.getOpenFileName, "Open model", MODEL_FILTER)
        if path:
            self.open_model(path)

    def _ask(self, dialog, title: str, filters: str, name: str = "") -> str:
        folder = str(self.settings.value(K_LAST_DIR, "") or Path.home())
        path, _ = dialog(self, title, str(Path(folder) / name) if name else folder, filters)
        return path

    def _remember_dir(self, path, ok: bool) -> bool:
        if ok and self.persist:
            self.settings.setValue(K_LAST_DIR, str(Path(path).resolve().parent))
        return ok

    def _file_error(self, text: str) -> None:
        self.show_view("draw")
        self.draw_view.show_message(text)
        self.statusBar().showMessage(text.split(". ")[0], 8000)

    # ---- model ----------------------------------------------------------------------------------

    def load_startup_model(self, requested: str | os.PathLike | None = None) -> LoadedModel | None:
        """Pick the first model that loads: ``requested`` (--model), the last one used, the shipped
        default. Each failure is explained in the Draw view; none of them stops the app."""
        problems = []
        candidates = []
        if requested:
            candidates.append(("the model given with --model", requested))
        last = setting(self.settings, K_LAST_MODEL, str, None)   # None if absurd (e.g. 5,000 characters)
        if isinstance(last, str) and last and last != str(requested):
            candidates.append(("the last model used", last))
        default = shipped.default_model_path()
        if default is not None:
            candidates.append(("the shipped default model", default))
        loaded = None
        for what, path in candidates:
            try:   # --model cnn / --model mlp: the shipped models by name, wherever the app is installed
                loaded = LoadedModel.from_file(shipped.resolve_model(path) if path is requested else path)
                break
            except ModelFileError as exc:
                problems.append(f"Could not open {what}: {exc}")
        if loaded is not None:
            self.state.set_model(loaded)
        if problems:
            tail = (f"Using {loaded.name} instead." if loaded is not None else
                    "No model is loaded: open one with File › Open model… (Ctrl+M).")
            self.draw_view.show_message("\n".join(problems + [tail]), "error" if requested else "warning")
        elif loaded is None:
            self.draw_view.show_message("No model is loaded (none is shipped with this copy): "
                                        "open one with File › Open model… (Ctrl+M).", "warning")
        return loaded

    def _on_state_model_changed(self, model: LoadedModel | None) -> None:
        self.setWindowTitle("mnist-desktop" if model is None else f"{model.name} — mnist-desktop")
        if model is None:
            self.model_label.setText("No model loaded")
            self.model_label.setToolTip("")
            return
        desc = model.description   # a CNN's runs to ~110 characters: the tooltip has it whole
        short = desc if len(desc) <= STATUS_DESCRIPTION_CHARS else desc[:STATUS_DESCRIPTION_CHARS - 1] + "…"
        self.model_label.setText(f"Model: <b>{model.name}</b> · {short} · {model.accuracy_text}")
        self.model_label.setToolTip(f"{desc}\n{model.path if model.path else 'in memory, not saved'}")
        if model.path is not None and self.persist:
            self.settings.setValue(K_LAST_MODEL, str(model.path))

    def collect_digit(self, label: int) -> bool:
        """"It's a…": the Draw view's strokes go into My digits labelled ``label``; the canvas clears."""
        view, canvas = self.draw_view, self.draw_view.canvas
        if canvas.image() is not None:
            view.show_message("Only drawn digits can be collected (this is an opened image): draw it instead.",
                              "warning")
            return False
        if canvas.is_blank():
            view.show_message(f"Draw a digit first, then say which it is (It's a… or a key 0-9).", "warning")
            return False
        predicted = view.prediction.digit
        path = self.my_digits_view.collect(canvas.drawing(), label)
        if path is None:
            return False
        canvas.clear()
        n = self.my_digits_view.collection.counts()[label]
        said = "" if predicted is None else (" (read right)" if predicted == label else f" (it was read as {predicted})")
        view.show_message(f"Added to My digits as a {label}{said}: {n} example{'s' if n != 1 else ''} of {label}. "
                          "Undo brings the drawing back to the canvas.", "info")
        return True

    def _on_digit_chosen(self, image, label: int) -> None:
        """A view handed over a 28x28 digit (the Evaluate view's galleries): show it in the Draw view."""
        self.draw_view.show_digit(image, label)
        self.show_view("draw")

    def _on_pen_changed(self, value: int) -> None:
        if self.persist:
            self.settings.setValue(K_PEN, int(value))

    def _on_saliency_toggled(self, on: bool) -> None:
        if self.persist:
            self.settings.setValue(K_SALIENCY, bool(on))

    def _on_attribution_changed(self, name: str) -> None:
        if self.persist:
            self.settings.setValue(K_ATTRIBUTION, name)

    # ---- help -----------------------------------------------------------------------------------

    def about_text(self) -> str:
        return help_dialogs.about_html(self.state.model)

    def open_log_folder(self) -> bool:
        """Show the app's data folder (it holds mnist-desktop.log) in the file manager."""
        return self._open_folder("log")

    def open_data_folder(self) -> bool:
        """Show the app's data folder (QStandardPaths.AppDataLocation) in the file manager."""
        return self._open_folder("data")

    def _open_folder(self, what: str) -> bool:
        folder = app_data_dir()
        ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        if not ok:
            self.statusBar().showMessage(f"Could not open a file manager: the {what} folder is {folder}", 10000)
        return ok

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what) for the Help › Keyboard shortcuts list, read from the window's actions."""
        actions = help_dialogs.menu_actions(self.menuBar())
        extra = []
        saliency = getattr(self.draw_view, "saliency_button", None)
        if saliency is not None and not saliency.shortcut().isEmpty():
            extra.append((saliency.shortcut().toString(QKeySequence.NativeText), "Draw: saliency overlay on/off"))
        for view in self._views.values():   # a view may list its own (e.g. Train's Start / Pause / Stop)
            extra += list(getattr(view, "shortcut_rows", lambda: [])())
        return help_dialogs.shortcut_rows(actions, extra)

    def show_how_to_use(self):
        return help_dialogs.show_text(self, "How to use mnist-desktop", help_dialogs.HOW_TO_USE)

    def show_shortcuts(self):
        return help_dialogs.show_text(self, "Keyboard shortcuts", help_dialogs.shortcuts_html(self.shortcut_rows()),
                                      size=(460, 520))

    def show_about(self) -> None:
        QMessageBox.about(self, "About mnist-desktop", self.about_text())

    # ---- closing ----------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        for view in self._views.values():   # end work threads (training, downloads) before the widgets go
            shutdown = getattr(view, "shutdown", None)
            if callable(shutdown):
                shutdown()
        if self.persist:
            self.settings.setValue(K_GEOMETRY, self.saveGeometry())
            self.settings.setValue(K_PEN, int(self.draw_view.pen_slider.value()))
            self.settings.sync()
        super().closeEvent(event)


def _quiet_offscreen_notices(mode, context, message: str) -> None:
    """The offscreen platform reports features it lacks ("does not support propagateSizeHints()") on
    every window; they mean nothing for a screenshot. Everything else still reaches stderr."""
    if "This plugin does not support" not in message:
        print(message, file=sys.stderr)
