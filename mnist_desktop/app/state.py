"""What the whole window shares: the current model, and the settings more than one view reads.

Views never load models themselves; they call ``AppState.open_model`` / ``set_model`` and listen to
``model_changed``. A model trained in the Train view reaches the Draw view through ``set_model``.

    state = AppState()
    state.model_changed.connect(view._on_state_model_changed)   # LoadedModel or None
    state.open_model("mnist_desktop/models/cnn.npz")            # raises ModelFileError; model unchanged
    app_data_dir()                                              # the app's own files: the log, user data
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QSettings, QStandardPaths, Signal

from mnist_desktop.engine.network import Network
from mnist_desktop.engine.serialize import ModelFileError, load, read_spec

__all__ = ["AppState", "LoadedModel", "ModelFileError", "K_DATA_DIR", "K_FORM", "K_LAST_DIR", "MODEL_FILTER",
           "setting", "app_data_dir", "model_file_label", "ORGANIZATION", "APPLICATION"]

ORGANIZATION = APPLICATION = "mnist-desktop"      # QSettings and QStandardPaths names

K_DATA_DIR = "data/dir"                           # the folder the user chose for the IDX files (Train, Evaluate)
K_LAST_DIR = "files/last_dir"                     # the folder of the last file opened or saved (dialogs start there)
K_FORM = "train/"                                 # prefix of the Train view's keys (data panel and form)
MODEL_FILTER = "Models (*.npz);;All files (*)"    # file dialogs for model files


SETTING_MAX_NUMBER = 2**31 - 1                    # Qt's spin boxes and sliders hold int32
SETTING_MAX_TEXT = 4096                           # a path, a name: PATH_MAX on Linux


def setting(settings: QSettings | None, key: str, convert, default):
    """A stored value converted with ``convert``; ``default`` when missing or unreadable (INI files
    give strings back: "true", "0.001")."""
    if settings is None:
        return default
    value = settings.value(key)
    if value is None:
        return default
    try:
        if convert is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")
        result = convert(value)
    except (TypeError, ValueError, OverflowError):
        return default
    # a damaged or hand-edited settings file: NaN, inf, 1e308, 10^20 or a 5,000-character path would
    # otherwise reach widgets that cannot show them; such values count as missing
    if isinstance(result, float) and not (math.isfinite(result) and abs(result) <= SETTING_MAX_NUMBER):
        return default
    if isinstance(result, int) and not isinstance(result, bool) and abs(result) > SETTING_MAX_NUMBER:
        return default
    if isinstance(result, str) and (len(result) > SETTING_MAX_TEXT or "\0" in result):
        return default
    return result


def app_data_dir() -> Path:
    """The app's data folder, created if missing: QStandardPaths.AppDataLocation for mnist-desktop
    (``~/.local/share/mnist-desktop/mnist-desktop`` on Linux, under ``$XDG_DATA_HOME`` when set;
    ``%APPDATA%\\mnist-desktop\\mnist-desktop`` on Windows). Holds the log file and what the user makes
    (collected digits, adapted models)."""
    app = QCoreApplication
    if app.organizationName() != ORGANIZATION or app.applicationName() != APPLICATION:
        app.setOrganizationName(ORGANIZATION)        # the names run_app sets; here too for scripts and tests
        app.setApplicationName(APPLICATION)
    folder = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home() / ".mnist-desktop")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A network ready to predict, with what people need to know about it.

    ``path`` is None for a model that lives only in memory (just trained, not saved yet). Compared by
    identity: two loads of one file are two models.
    """

    net: Network
    spec: dict
    path: Path | None
    name: str
    description: str            # architecture in one line, e.g. '784-128-128-10 relu'
    test_accuracy: float | None  # measured on the MNIST test set when the model was made, 0..1

    @classmethod
    def from_network(cls, net: Network, spec: dict | None = None, path: str | os.PathLike | None = None) -> "LoadedModel":
        """Wrap a network (e.g. one just trained); missing spec fields get sensible values."""
        spec = dict(spec or {})
        path = Path(path) if path is not None else None
        name, acc = _name_and_accuracy(spec, path)
        return cls(net=net, spec=spec, path=path, name=name,
                   description=str(spec.get("description") or net.describe()), test_accuracy=acc)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "LoadedModel":
        """Load and validate a model file; raises ModelFileError with a readable reason."""
        net, spec = load(path, digits=True)    # 784 inputs, 10 outputs: every view predicts digits
        return cls.from_network(net, spec, Path(path).resolve())

    @property
    def accuracy_text(self) -> str:
        """'98.1% on MNIST test' or 'test accuracy unknown'."""
        if self.test_accuracy is None:
            return "test accuracy unknown"
        return f"{100 * self.test_accuracy:.1f}% on MNIST test"

    @property
    def label(self) -> str:
        """One line for pickers and the status bar: 'mlp-128x2 · 784-128-128-10 relu · 98.1%'."""
        return _label(self.name, self.description, self.test_accuracy)


def _name_and_accuracy(spec: dict, path: Path | None) -> tuple[str, float | None]:
    name = str(spec.get("name") or (path.stem if path else "unsaved model"))
    acc = spec.get("test_accuracy")
    return name, float(acc) if isinstance(acc, (int, float)) and 0.0 <= acc <= 1.0 else None


def _label(name: str, description: str, test_accuracy: float | None) -> str:
    acc = "?" if test_accuracy is None else f"{100 * test_accuracy:.1f}%"
    return f"{name} · {description} · {acc}"


def model_file_label(path: str | os.PathLike) -> str:
    """``LoadedModel.from_file(path).label`` from the file's spec alone, without decoding its weights
    (pickers listing several models); ModelFileError if the file is not a model."""
    spec = read_spec(path)
    description = spec.get("description")
    if not isinstance(description, str) or not description:     # an old file: describe the network itself
        return LoadedModel.from_file(path).label
    name, acc = _name_and_accuracy(spec, Path(path))
    return _label(name, description, acc)


class AppState(QObject):
    """The current model, shared by every view.

    Signals:
        model_changed(LoadedModel | None): after the current model was replaced.
    """

    model_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model: LoadedModel | None = None

    @property
    def model(self) -> LoadedModel | None:
        return self._model

    def open_model(self, path: str | os.PathLike) -> LoadedModel:
        """Load ``path`` and make it current. On ModelFileError the current model stays as it was."""
        loaded = LoadedModel.from_file(path)
        self.set_model(loaded)
        return loaded

    def set_model(self, loaded: LoadedModel | None) -> None:
        """Make ``loaded`` current (None: no model) and emit ``model_changed``."""
        if loaded is not None and not isinstance(loaded, LoadedModel):
            raise TypeError(f"set_model expects a LoadedModel or None, got {type(loaded).__name__}")
        if loaded is self._model:
            return
        self._model = loaded
        self.model_changed.emit(loaded)
