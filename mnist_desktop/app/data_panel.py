"""The Train view's data panel: which dataset, where its files are, a download when they are missing, and
an optional subset. The folder the user chooses is remembered under the QSettings key ``data/dir``
(``K_DATA_DIR``), which other views read too.

    panel = DatasetPanel(settings)
    panel.folder()                  # where the four IDX files are (find_dataset, as the command line), or None
    panel.selection()               # DataSelection to load; ValueError saying what to do when missing
    panel.set_folder(path)          # what Choose folder… does; False if the files are not there
    panel.start_download()          # datasets.download on a worker thread; download_finished(str) at the end
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from mnist_desktop.app.jobs import Job, JobRunner
from mnist_desktop.app.state import K_DATA_DIR, K_FORM, setting
from mnist_desktop.app.style import ERROR_COLOR, MUTED_TEXT
from mnist_desktop.app.worker import DownloadProgress, DownloadWorker
from mnist_desktop.data import DATASETS, DownloadError, find_dataset, get_info

DATASET_TITLES = {"mnist": "MNIST (digits)", "fashion": "Fashion-MNIST (clothing)"}


def download_error_lines(error) -> tuple[str, str]:
    """A failed download as (one line for the panel, the details behind its Details… button)."""
    text = str(error)
    failures = getattr(error, "failures", None)
    if isinstance(error, DownloadError) and failures:
        summary = (f"Could not download {error.file_name or 'the files'} from any of the {len(failures)} mirrors: "
                   f"check the internet connection, or choose a folder with the files.")
        return summary, "\n".join(f"{url}: {reason}" for url, reason in failures)
    first = text.splitlines()[0] if text else "The download failed."
    if len(first) > 160:
        first = first[:157].rstrip() + "…"
    return (first if first[:1].isupper() else first[:1].upper() + first[1:]), (text if text != first else "")


@dataclass(frozen=True)
class DataSelection:
    dataset: str                    # "mnist" | "fashion"
    data_dir: str | None            # the folder the user chose (searched first), or None
    limit_per_class: int | None     # train on the first N of each class; None: all


class DatasetPanel(QGroupBox):
    """MNIST or Fashion-MNIST, found as the command line finds it (``find_dataset``: the chosen folder,
    then $MNIST_DIR, the cache, system folders). When missing: Download (into the cache, cancellable, on a
    worker thread) or Choose folder… for IDX files already on disk. Optionally N images per class.

    Signals: availability_changed(bool) when the dataset becomes available or missing;
    download_finished(str) with "done", "cancelled" or the error text.
    """

    availability_changed = Signal(bool)
    download_finished = Signal(str)

    def __init__(self, settings: QSettings | None = None, persist: bool = True, parent: QWidget | None = None) -> None:
        super().__init__("Data", parent)
        self.settings, self.persist = settings, persist
        self._data_dir: str | None = setting(settings, K_DATA_DIR, str, None) or None
        self._worker: DownloadWorker | None = None
        self.jobs = JobRunner(self, name="download")
        self.jobs.progressed.connect(self._on_job_progressed)
        self.jobs.finished.connect(self._on_job_finished)
        self._build()
        self._restore()
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_changed)
        self.choose_button.clicked.connect(self.ask_folder)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.subset_check.toggled.connect(self._on_subset_toggled)
        self.details_button.toggled.connect(self.details_label.setVisible)
        self.subset_spin.valueChanged.connect(self._save)
        self._show_download(False)
        self._set_details("")
        self._available = None
        self.refresh()

    def _build(self) -> None:
        self.dataset_combo = QComboBox()
        for name in DATASETS:
            self.dataset_combo.addItem(DATASET_TITLES.get(name, get_info(name).title), name)
        self.dataset_combo.setToolTip("Which images to learn: MNIST handwritten digits, or Fashion-MNIST "
                                      "(ten kinds of clothing, the same 28×28 format, harder).")
        self.where_label = QLabel()
        self.where_label.setWordWrap(True)
        self.where_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.setToolTip("Use the four IDX files (train/t10k images and labels, .gz or not) "
                                      "in a folder on this computer. The folder is remembered.")
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Download the four files from the public mirrors into the cache "
                                        "folder, checking each file's checksum (like `mnist-desktop download`).")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing half-downloaded is left behind.")
        self.details_button = QPushButton("Details…")
        self.details_button.setCheckable(True)
        self.details_button.setToolTip("Show or hide what each mirror answered")
        self.details_label = QLabel()          # a failed download's details: shown on demand
        self.details_label.setWordWrap(True)
        self.details_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.details_label.setStyleSheet(f"color: {MUTED_TEXT};")
        self.download_bar = QProgressBar()
        self.download_bar.setTextVisible(True)
        self.subset_check = QCheckBox("Only the first")
        self.subset_spin = QSpinBox()
        self.subset_spin.setRange(1, 6000)
        self.subset_spin.setValue(500)
        self.subset_spin.setSuffix(" per class")
        tip = ("Train on the first N training images of each class only (quick experiments); the test "
               "set stays whole.")
        self.subset_check.setToolTip(tip)
        self.subset_spin.setToolTip(tip)

        buttons = QHBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.details_button)
        buttons.addStretch(1)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.download_bar, 1)
        bar_row.addWidget(self.cancel_button)
        subset = QHBoxLayout()
        subset.addWidget(self.subset_check)
        subset.addWidget(self.subset_spin)
        subset.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.dataset_combo)
        layout.addWidget(self.where_label)
        layout.addWidget(self.details_label)
        layout.addLayout(buttons)
        layout.addLayout(bar_row)
        layout.addLayout(subset)

    def _restore(self) -> None:
        """The dataset and subset last chosen (QSettings ``train/...``)."""
        settings = self.settings
        index = self.dataset_combo.findData(setting(settings, K_FORM + "dataset", str, "mnist"))
        self.dataset_combo.setCurrentIndex(max(index, 0))
        self.subset_check.setChecked(setting(settings, K_FORM + "subset", bool, False))
        self.subset_spin.setValue(setting(settings, K_FORM + "per_class", int, 500))
        self.subset_spin.setEnabled(self.subset_check.isChecked())

    # ---- what is chosen -------------------------------------------------------------------------------

    @property
    def dataset(self) -> str:
        return self.dataset_combo.currentData()

    def folder(self) -> Path | None:
        """Where the dataset's four files are (the chosen folder first), or None when missing."""
        return find_dataset(self.dataset, self._data_dir)

    def selection(self) -> DataSelection:
        """What to load; ValueError with what to do when the dataset is missing."""
        if self.folder() is None:
            raise ValueError(f"{get_info(self.dataset).title} was not found: download it, or choose the folder "
                             f"that holds its four IDX files.")
        limit = self.subset_spin.value() if self.subset_check.isChecked() else None
        return DataSelection(self.dataset, self._data_dir, limit)

    def set_dataset(self, name: str) -> None:
        self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(name))

    def set_folder(self, path: str | Path) -> bool:
        """Use the IDX files in ``path`` (what Choose folder… does); False and a red line if they are not there."""
        info = get_info(self.dataset)
        found = find_dataset(info, path)
        if found is None or Path(found) != Path(path).expanduser():
            self.where_label.setText(f"<span style='color:{ERROR_COLOR}'>No {info.title} files in {path}: the "
                                     f"folder needs {', '.join(f.name for f in info.files)} (gzipped or not).</span>")
            return False
        self._data_dir = str(path)
        if self.settings is not None and self.persist:
            self.settings.setValue(K_DATA_DIR, self._data_dir)
        self.refresh()
        return True

    def ask_folder(self) -> None:
        start = self._data_dir or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, f"Folder with the {get_info(self.dataset).title} files", start)
        if path:
            self.set_folder(path)

    def refresh(self) -> None:
        """Look for the files again and say where they are (or that they are missing)."""
        info = get_info(self.dataset)
        folder = self.folder()
        downloading = self.downloading
        if folder is not None:
            self.where_label.setText(f"<span style='color:{MUTED_TEXT}'>Found in {folder}</span>")
        elif not downloading:
            self.where_label.setText(f"<span style='color:{ERROR_COLOR}'>{info.title} was not found on this "
                                     f"computer. Download it, or choose the folder with its files.</span>")
        size = sum(f.size or 0 for f in info.files) / 1e6
        self.download_button.setText(f"Download ({size:.0f} MB)")
        self.download_button.setVisible(folder is None)
        self.download_button.setEnabled(not downloading)
        available = folder is not None
        if available != self._available:
            self._available = available
            self.availability_changed.emit(available)

    # ---- download -------------------------------------------------------------------------------------------

    @property
    def downloading(self) -> bool:
        return self.jobs.busy

    def start_download(self) -> None:
        if self.downloading:
            return
        self._set_details("")
        self._worker = DownloadWorker(self.dataset)
        self.download_bar.setRange(0, 0)    # busy until the first bytes
        self._show_download(True)
        self.dataset_combo.setEnabled(False)
        title = get_info(self.dataset).title
        self.where_label.setText(f"<span style='color:{MUTED_TEXT}'>Downloading {title}…</span>")
        self.jobs.start("download", self._worker.run)
        self.refresh()

    def cancel_download(self) -> None:
        if self._worker is not None:
            self._worker.stop()

    def shutdown(self, timeout_s: float = 3.0) -> None:
        """Cancel a download and wait for its thread (bounded): the window is closing."""
        self.jobs.shutdown(timeout_s)

    def _show_download(self, on: bool) -> None:
        self.download_bar.setVisible(on)
        self.cancel_button.setVisible(on)

    def _on_job_progressed(self, job: Job, values: tuple) -> None:
        self._on_download_progress(values[1])

    def _on_job_finished(self, job: Job) -> None:
        error = job.error
        if error is not None and not isinstance(error, DownloadError):
            error = f"The download failed: {type(error).__name__}: {error}"
        self._on_download_finished(job.result, None if error is None else str(error))
        if error is not None:                     # one line; what each mirror said behind Details…
            summary, details = download_error_lines(error)
            self.where_label.setText(f"<span style='color:{ERROR_COLOR}'>{html.escape(summary)}</span>")
            self._set_details(details)

    def _set_details(self, text: str) -> None:
        self.details_label.setText(text)
        self.details_button.setChecked(False)
        self.details_button.setVisible(bool(text))
        self.details_label.setVisible(False)

    def _on_download_progress(self, p: DownloadProgress) -> None:
        if p.total:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * min(p.done / p.total, 1.0)))
        self.download_bar.setFormat(f"{p.file_name}: {p.done / 1e6:.1f} MB")

    def _on_download_finished(self, folder: str | None, error: str | None) -> None:
        self._worker = None
        self._show_download(False)
        self.dataset_combo.setEnabled(True)
        self.refresh()
        if folder is not None:
            self.download_finished.emit("done")
        elif error is None:
            self.where_label.setText(f"<span style='color:{MUTED_TEXT}'>Download cancelled; nothing was kept.</span>")
            self.download_finished.emit("cancelled")
        else:
            self.where_label.setText(f"<span style='color:{ERROR_COLOR}'>{error}</span>".replace("\n", "<br>"))
            self.download_finished.emit(error)

    # ---- events --------------------------------------------------------------------------------------------------

    def _on_dataset_changed(self, index: int) -> None:
        self._save()
        self.refresh()

    def _on_subset_toggled(self, on: bool) -> None:
        self.subset_spin.setEnabled(on)
        self._save()

    def _save(self) -> None:
        if self.settings is None or not self.persist:
            return
        self.settings.setValue(K_FORM + "dataset", self.dataset)
        self.settings.setValue(K_FORM + "subset", self.subset_check.isChecked())
        self.settings.setValue(K_FORM + "per_class", self.subset_spin.value())
