"""My digits' collection actions: select, delete and undo, import and export, open the folder.

A mixin of ``MyDigitsView`` (moved out of it whole to keep the view's module short): the methods use the
view's ``collection``, ``strips``, ``banner``, ``_undo`` list and ``refresh()``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog


class CollectionActions:
    """What the buttons under and above the thumbnails do."""

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
