"""The Draw view's model picker: the shipped models and every model opened or trained in this session,
listed by name · architecture · MNIST test accuracy, then "Open model…". Listing reads only a file's spec;
a model's weights load when it is chosen. A mixin of DrawView (``model_picker``, ``state``, ``banner``,
``show_message``, ``_schedule`` are the view's); its methods moved here unchanged from draw_view.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt

from mnist_desktop import shipped
from mnist_desktop.app.state import LoadedModel, model_file_label
from mnist_desktop.engine.serialize import ModelFileError

OPEN_MODEL_TEXT = "Open model…"


@dataclass
class _Choice:
    """One entry of the model picker: a file not loaded yet, or a model in memory."""

    label: str
    path: Path | None = None
    loaded: LoadedModel | None = None


class ModelPickerMixin:
    """The picker's entries (``_choices``, in the picker's order) and its slots."""

    def add_model_choice(self, path: str | os.PathLike) -> None:
        """List a model file in the picker without loading it."""
        path = Path(path).resolve()
        if self._choice_index(path=path) is None:
            try:
                label = model_file_label(path)   # from the spec: no weights decoded
            except ModelFileError:
                return
            self._insert_choice(_Choice(label, path=path))

    def _populate_shipped(self) -> None:
        self.model_picker.clear()
        self.model_picker.addItem(OPEN_MODEL_TEXT)
        for path in shipped.shipped_models():
            self.add_model_choice(path)

    def _insert_choice(self, choice: _Choice) -> int:
        i = len(self._choices)
        self._choices.append(choice)
        self.model_picker.insertItem(i, choice.label)
        if i == 0:
            self.model_picker.insertSeparator(1)
        return i

    def _choice_index(self, *, path: Path | None = None, loaded: LoadedModel | None = None) -> int | None:
        for i, c in enumerate(self._choices):
            if loaded is not None and c.loaded is loaded:
                return i
            if path is not None and c.path is not None and c.path == path:
                return i
        return None

    def _select_current_model(self) -> None:
        model = self.state.model
        i = None
        if model is not None:
            i = self._choice_index(loaded=model)
            if i is None and model.path is not None:
                i = self._choice_index(path=model.path)
        self.model_picker.setCurrentIndex(-1 if i is None else i)

    def _on_model_picker_activated(self, index: int) -> None:
        if self.model_picker.itemText(index) == OPEN_MODEL_TEXT:
            self._select_current_model()
            self.open_model_requested.emit()
            return
        if not 0 <= index < len(self._choices):
            return
        choice = self._choices[index]
        if choice.loaded is not None and choice.loaded is self.state.model:
            return
        if choice.loaded is not None:
            self.state.set_model(choice.loaded)
            return
        try:
            self.state.open_model(choice.path)
        except ModelFileError as exc:
            self._select_current_model()
            self.show_message(f"Could not open the model; keeping the current one. {exc}")

    def _on_state_model_changed(self, model: LoadedModel | None) -> None:
        if model is not None and "model" in self.banner.text.lower():
            self.banner.dismiss()            # "Could not open the model…" is stale once one opened
        if model is not None:
            i = self._choice_index(loaded=model)
            if i is None and model.path is not None:
                i = self._choice_index(path=model.path)
            if i is None:
                i = self._insert_choice(_Choice(model.label, path=model.path, loaded=model))
            else:
                self._choices[i].loaded = model
                self._choices[i].label = model.label
                self.model_picker.setItemText(i, model.label)
            self.model_picker.setItemData(i, f"{model.path or 'in memory'}", Qt.ToolTipRole)
        self._select_current_model()
        self._schedule()
