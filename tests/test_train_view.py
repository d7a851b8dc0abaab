"""The Train view: a short real run (records, plots, log), pause/resume, stop, divergence, save and reload,
Use in Draw view, closing the window mid-run, the form (custom MLP checked as typed, presets, remembered),
missing data, and the worker on its own."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QImage

from mnist_desktop import cli
from mnist_desktop.app import data_panel
from mnist_desktop.app import train_view as train_view_module
from mnist_desktop.app.main_window import MainWindow, app_settings
from mnist_desktop.app.state import AppState

from mnist_desktop.app.train_view import TrainView, format_duration
from mnist_desktop.app.worker import BatchProgress, TrainJob, TrainOutcome, TrainWorker
from mnist_desktop.data import load_dataset
from mnist_desktop.engine import Network, TrainConfig, load
from mnist_desktop.engine.presets import mlp
from mnist_desktop.training import format_epoch

DATA = Path(__file__).parent / "data"     # the committed subset: 300 training images per digit


def setup_tiny_run(view, *, epochs=3, batch_size=100, per_class=50, layers="784-16-10", **extra):
    """A custom MLP on 500 images (50 per digit): a few milliseconds per epoch."""
    assert view.data_panel.set_folder(DATA)
    view.data_panel.subset_check.setChecked(True)
    view.data_panel.subset_spin.setValue(per_class)
    form = view.form
    form.set_preset(None)
    form.layers_edit.setText(layers)
    form.optimizer_combo.setCurrentText(extra.get("optimizer", "adam"))
    form.lr_spin.setValue(extra.get("lr", 0.01))
    form.schedule_combo.setCurrentText("constant")
    form.batch_spin.setValue(batch_size)
    form.epochs_spin.setValue(epochs)
    for check in form.augment_checks.values():
        check.setChecked(False)


@pytest.fixture
def state():
    return AppState()


@pytest.fixture
def view(qtbot, state):
    v = TrainView(state, settings=app_settings())
    qtbot.addWidget(v)
    v.resize(1100, 720)
    v.show()
    yield v
    v.shutdown()


def run_to_end(qtbot, view, timeout=20_000) -> TrainOutcome:
    with qtbot.waitSignal(view.run_finished, timeout=timeout) as blocker:
        assert view.start()
    return blocker.args[0]


# ---- a run ------------------------------------------------------------------------------------------------------


def test_a_short_run_reports_every_epoch_and_plots_them(qtbot, view):
    """Three epochs: three records, three points per accuracy curve, three CLI-style log lines, and every
    batch's loss in the loss plot."""
    setup_tiny_run(view, epochs=3, batch_size=100)
    epochs = []
    view.epoch_done.connect(epochs.append)
    outcome = run_to_end(qtbot, view)
    assert outcome.status == "finished" and outcome.restored_epoch == 3 and outcome.net is not None
    assert [r.epoch for r in epochs] == [1, 2, 3] and view.history == epochs
    x, train, test = view.plots.epoch_points
    np.testing.assert_array_equal(x, [1, 2, 3])
    np.testing.assert_allclose(train, [r.train_acc * 100 for r in epochs])
    np.testing.assert_allclose(test, [r.test_acc * 100 for r in epochs])
    lx, raw, smooth = view.plots.loss_points
    assert len(lx) == 3 * 5 and lx[-1] == pytest.approx(3.0)      # 500 images / 100 per batch, 3 epochs
    assert np.all(np.isfinite(raw)) and np.all(np.isfinite(smooth))
    log = view.log.toPlainText().splitlines()
    assert [format_epoch(r, "test") for r in epochs] == [line for line in log if line.startswith("epoch ")]
    assert "500 training images" in log[0]
    assert view.save_button.isEnabled() and view.use_button.isEnabled() and view.start_button.isEnabled()
    assert view.run_bar.value() == 1000 and view.thread_finished
    assert epochs[-1].test_acc > 0.5      # it learned something (10 classes: chance is 0.1)


def test_hovering_shows_the_values_under_the_cursor(qtbot, view):
    setup_tiny_run(view, epochs=2)
    assert view.plots.hover_text("accuracy", 1.0) == ""
    run_to_end(qtbot, view)
    r = view.history[1]
    text = view.plots.hover_text("accuracy", 1.8)
    assert text.startswith("epoch 2") and f"{r.test_acc * 100:.2f}%" in text and f"{r.train_acc * 100:.2f}%" in text
    assert "loss" in view.plots.hover_text("loss", 0.5)


def test_pause_holds_training_and_resume_goes_on(qtbot, view):
    # a run far longer than the test (the test stops it): under load the UI thread can be slow to pause,
    # and a run that had already ended would leave nothing to pause (200 epochs of batch 10 once did)
    setup_tiny_run(view, epochs=1000, batch_size=2, per_class=30)
    view.start()
    qtbot.waitUntil(lambda: len(view.plots.loss_points[0]) > 0, timeout=10_000)
    view.pause()
    assert view.paused and view.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: view._worker.held, timeout=5_000)   # parked between batches: nothing trains
    QCoreApplication.processEvents()                  # a report sent before it parked lands now
    held = len(view.plots.loss_points[0])
    QCoreApplication.processEvents()
    assert view._worker.held
    assert len(view.plots.loss_points[0]) == held     # paused: no batch trains
    view.resume()
    assert not view.paused
    qtbot.waitUntil(lambda: len(view.plots.loss_points[0]) > held, timeout=5_000)
    with qtbot.waitSignal(view.run_finished, timeout=10_000):
        view.stop()


def test_stop_ends_the_run_quickly_and_keeps_the_last_epoch(qtbot, view):
    setup_tiny_run(view, epochs=500, batch_size=2, per_class=30)     # far longer than the test (see above)
    view.start()
    qtbot.waitUntil(lambda: len(view.history) >= 2, timeout=10_000)
    with qtbot.waitSignal(view.run_finished, timeout=5_000) as blocker:
        view.stop()
    outcome = blocker.args[0]
    assert outcome.history[-1].epoch < 500                  # it ended the run, not the 500 epochs
    assert outcome.status == "stopped" and outcome.net is not None
    assert outcome.restored_epoch == outcome.history[-1].epoch >= 2
    assert "Stopped" in view.banner.text and view.save_button.isEnabled() and view.thread_finished
    assert not view.running and view.start_button.isEnabled()


def test_a_diverging_run_says_why_and_what_it_kept(qtbot, view):
    """A learning rate of 100 makes the loss explode: the run stops with a message, not a traceback."""
    setup_tiny_run(view, epochs=3, optimizer="sgd", lr=100.0)
    outcome = run_to_end(qtbot, view)
    assert outcome.status == "diverged"
    text = view.banner.text
    assert view.banner.level == "error"
    assert "diverged" in text and "learning rate (100)" in text and "too high" in text
    if outcome.restored_epoch:
        assert f"after epoch {outcome.restored_epoch} were restored" in text and view.save_button.isEnabled()
    else:
        assert "no trained weights to keep" in text and not view.save_button.isEnabled()


def test_save_reload_and_use_in_draw(qtbot, view, state, tmp_path):
    setup_tiny_run(view, epochs=2)
    outcome = run_to_end(qtbot, view)
    path = tmp_path / "mine.npz"
    assert view.save_model(path)
    net, spec = load(path)
    x = load_dataset(data_dir=DATA).x_test[:50]
    np.testing.assert_allclose(net.predict_proba(x), outcome.net.predict_proba(x), rtol=1e-5, atol=1e-6)
    assert spec["name"] == "mine" and spec["test_accuracy"] == outcome.history[-1].test_acc
    assert spec["training"]["preset"] is None and spec["training"]["epochs"] == 2
    assert spec["training"]["train_images"] == 500 and [h["epoch"] for h in spec["training"]["history"]] == [1, 2]
    assert not list(tmp_path.glob("*.tmp"))
    with qtbot.waitSignal(view.show_view_requested) as blocker:
        assert view.use_in_draw()
    assert blocker.args == ["draw"]
    assert state.model is not None and state.model.name == "mine" and state.model.test_accuracy == spec["test_accuracy"]


def test_a_save_that_fails_is_a_message(qtbot, view, tmp_path):
    assert not view.save_model(tmp_path / "nothing-yet.npz")          # no run yet
    assert view.banner.level == "warning"
    setup_tiny_run(view, epochs=1)
    run_to_end(qtbot, view)
    target = tmp_path / "missing-folder" / "m.npz"
    assert not view.save_model(target)
    assert view.banner.level == "error" and "Could not save" in view.banner.text and not target.exists()



def test_a_refused_save_offers_the_dialog_again_to_save_elsewhere(qtbot, view, tmp_path, monkeypatch):
    setup_tiny_run(view, epochs=1)
    run_to_end(qtbot, view)
    (tmp_path / "taken.npz").mkdir()                                   # a folder of that name refuses the file
    good = tmp_path / "elsewhere.npz"
    answers, asked = [str(tmp_path / "taken.npz"), str(good)], []

    def fake_dialog(parent, title, start, filt):
        asked.append(start)
        return answers.pop(0), filt

    monkeypatch.setattr(train_view_module.QFileDialog, "getSaveFileName", fake_dialog)
    view.ask_save_model()
    assert len(asked) == 2 and good.is_file() and (tmp_path / "taken.npz").is_dir()
    assert asked[1] == str(Path.home() / "taken.npz")                 # offered again, away from the refusing place
    assert view.banner.level == "info" and str(good) in view.banner.text

def test_closing_the_window_mid_run_stops_training(qtbot, no_shipped_models, tmp_path):
    """Closing should end training (the close waits for the thread, bounded), leave the thread finished and
    write nothing. How quickly: benchmarks/ui_responsiveness.py, not a timed test."""
    window = MainWindow()
    qtbot.addWidget(window)
    tv = window.view("train")
    assert window.view_keys()[:3] == ["draw", "train", "imagine"]
    setup_tiny_run(tv, epochs=500, batch_size=10, per_class=30)
    window.show_view("train")
    window.show()
    tv.start()
    qtbot.waitUntil(lambda: len(tv.history) >= 1, timeout=10_000)
    window.close()
    assert tv.thread_finished


def test_use_in_draw_switches_the_window_to_the_draw_view(qtbot, no_shipped_models):
    window = MainWindow()
    qtbot.addWidget(window)
    tv = window.view("train")
    setup_tiny_run(tv, epochs=1)
    window.show_view("train")
    run_to_end(qtbot, tv)
    tv.use_in_draw()
    assert window.current_view_key() == "draw" and window.state.model.net is not tv.trained_net
    window.close()


# ---- the form ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("784-x-10", "whole numbers"), ("100-30-10", "input size must be 784"), ("784-30-9", "output size must be 10"),
    ("784-99999-10", "between 1 and 8192"), ("784", "at least"), ("", "look like"), ("784-0-10", "between 1"),
])
def test_the_custom_mlp_is_checked_as_typed(view, text, message):
    view.data_panel.set_folder(DATA)
    view.form.set_preset(None)
    view.form.layers_edit.setText(text)
    assert message in view.form.layers_error.text() and view.form.layers_error.isVisibleTo(view)
    assert not view.start_button.isEnabled()
    assert not view.start() and "layer sizes" in view.banner.text
    view.form.layers_edit.setText("784-64-32-10")
    assert not view.form.layers_error.isVisibleTo(view) and view.start_button.isEnabled()
    assert view.form.request().architecture["layers"][0]["units"] == 64


def test_a_preset_fills_its_training_settings(view):
    form = view.form
    form.set_preset("nielsen-30")
    assert (form.optimizer_combo.currentText(), form.lr_spin.value(), form.batch_spin.value(),
            form.epochs_spin.value()) == ("sgd", 3.0, 10, 30)
    assert "Nielsen" in form.summary_label.text() and not form._custom_row.isVisibleTo(view)
    form.set_preset("cnn-seed")
    assert form.augment() == ["rotate", "shift"] and not form.dropout_spin.isEnabled()
    assert form.schedule_combo.currentText() == "cosine"
    form.set_preset("mlp-512x2")
    assert form.dropout_spin.value() == pytest.approx(0.3) and form.dropout_spin.isEnabled()
    req = form.request()
    assert req.preset == "mlp-512x2" and req.training["augment"] == ["rotate", "shift", "scale", "thickness"]
    form.dropout_spin.setValue(0.1)     # an MLP preset with another dropout, as `--preset X --dropout 0.1`
    assert [l["p"] for l in form.request().architecture["layers"] if l["type"] == "dropout"] == [0.1, 0.1]


def test_every_field_has_a_tooltip(view):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit

    fields = [w for cls in (QComboBox, QAbstractSpinBox, QLineEdit, QAbstractButton)
              for w in view.findChildren(cls) if w.isVisibleTo(view) and not isinstance(w.parent(), QAbstractSpinBox)]
    missing = [w for w in fields if not w.toolTip() and w.objectName() != "qt_spinbox_lineedit"]
    assert not [type(w).__name__ + ":" + getattr(w, "text", lambda: "")() for w in missing]


def test_the_form_and_the_data_folder_are_remembered(qtbot, tmp_path):
    settings = app_settings()
    first = TrainView(AppState(), settings=settings)
    qtbot.addWidget(first)
    setup_tiny_run(first, epochs=7, batch_size=32, lr=0.02, layers="784-40-10")
    first.form.augment_checks["shift"].setChecked(True)
    first.form.seed_spin.setValue(42)
    settings.sync()
    assert settings.value(data_panel.K_DATA_DIR) == str(DATA)
    second = TrainView(AppState(), settings=app_settings())
    qtbot.addWidget(second)
    f = second.form
    assert (f.preset, f.layers_edit.text(), f.epochs_spin.value(), f.batch_spin.value(), f.seed_spin.value()) == \
        (None, "784-40-10", 7, 32, 42)
    assert f.lr_spin.value() == pytest.approx(0.02) and f.augment() == ["shift"]
    assert second.data_panel.subset_check.isChecked() and second.data_panel.subset_spin.value() == 50
    assert second.data_panel.folder() == DATA


def test_missing_data_offers_a_download_and_a_folder(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    view = TrainView(AppState(), settings=None)
    qtbot.addWidget(view)
    view.show()
    panel = view.data_panel
    assert panel.folder() is None and panel.download_button.isVisibleTo(view)
    assert "not found" in panel.where_label.text() and not view.start_button.isEnabled()
    assert not view.start() and "download it" in view.banner.text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not panel.set_folder(empty) and "No MNIST files" in panel.where_label.text()
    assert panel.set_folder(DATA) and not panel.download_button.isVisibleTo(view) and view.start_button.isEnabled()


def test_a_corrupt_dataset_is_a_message_not_a_traceback(qtbot, view, tmp_path):
    for f in DATA.glob("*.gz"):
        (tmp_path / f.name).write_bytes(f.read_bytes()[:200])     # truncated files
    setup_tiny_run(view, epochs=1)
    assert view.data_panel.set_folder(tmp_path)
    outcome = run_to_end(qtbot, view)
    assert outcome.status == "failed" and "Could not load the data" in view.banner.text
    assert "Traceback" not in view.banner.text and view.banner.level == "error"


# ---- the worker on its own (coverage does not follow the thread) -------------------------------------------------


def test_the_worker_throttles_batch_reports_but_keeps_every_loss(qtbot, monkeypatch):
    """With the worker's clock standing still, only the first batch and each epoch's last are reported."""
    from mnist_desktop.app import worker as worker_module

    monkeypatch.setattr(worker_module, "time", SimpleNamespace(perf_counter=lambda: 1000.0))
    net = Network.from_architecture(mlp([784, 8, 10]), rng=np.random.default_rng(0))
    worker = TrainWorker(TrainJob(net, TrainConfig(epochs=2, batch_size=5), None, "mnist", str(DATA), 20))
    reports, epochs, outcomes = [], [], []
    sink = {"batches": reports, "epoch": epochs, "data": []}
    job = SimpleNamespace(report=lambda kind, payload: sink[kind].append(payload), on_cancel=lambda fn: None)
    outcomes.append(worker.run(job))     # on this thread, as a job's work: reports arrive directly
    seconds = 0.0                        # on the worker's clock
    assert [o.status for o in outcomes] == ["finished"] and len(epochs) == 2
    assert sum(len(r.steps) for r in reports) == 2 * 40                      # 200 images / 5, two epochs
    assert len(reports) <= 2 + seconds / 0.05 + 1                            # <= 20 per second, + epoch ends
    assert all(isinstance(r, BatchProgress) for r in reports) and reports[-1].run_fraction == 1.0
    assert outcomes[0].net is net


def test_format_duration():
    assert [format_duration(s) for s in (12, 754, 4000, float("nan"))] == ["0:12", "12:34", "1:06:40", "–"]


def test_screenshot_of_the_train_view(tmp_path, qapp, no_shipped_models):
    out = tmp_path / "train.png"
    assert cli.main(["--view", "train", "--screenshot", str(out), "--size", "1024x700"]) == 0
    img = QImage(str(out))
    assert not img.isNull() and (img.width(), img.height()) == (1024, 700)


def test_download_runs_off_the_ui_thread_reports_progress_and_can_be_cancelled(qtbot, tmp_path, monkeypatch):
    """The Download button drives datasets.download (faked here: tests never download) on a worker thread."""
    import threading

    from mnist_desktop.app import worker as worker_module
    from mnist_desktop.data import DownloadCancelled

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []
    cancel_pressed = threading.Event()

    def fake_download(name, dest=None, *, progress=None, cancel=None, **kw):
        calls.append(threading.current_thread() is threading.main_thread())
        progress("train-images-idx3-ubyte.gz", 100_000, 10_000_000)
        if not cancel_pressed.wait(10):  # a download that hangs until the user cancels it
            return DATA
        if cancel():
            raise DownloadCancelled("cancelled")
        return DATA

    monkeypatch.setattr(worker_module, "download", fake_download)
    view = TrainView(AppState(), settings=None)
    qtbot.addWidget(view)
    view.show()
    panel = view.data_panel
    panel.start_download()
    assert panel.downloading and panel.download_bar.isVisibleTo(view) and panel.cancel_button.isVisibleTo(view)
    qtbot.waitUntil(lambda: panel.download_bar.value() > 0, timeout=5_000)
    with qtbot.waitSignal(panel.download_finished, timeout=5_000) as blocker:
        panel.cancel_download()
        cancel_pressed.set()
    assert blocker.args == ["cancelled"] and calls == [False] and not panel.downloading
    assert "cancelled" in panel.where_label.text() and not panel.download_bar.isVisibleTo(view)
    monkeypatch.setattr(worker_module, "download", lambda name, dest=None, **kw: DATA)
    with qtbot.waitSignal(panel.download_finished, timeout=5_000) as blocker:
        panel.start_download()
    assert blocker.args == ["done"]


def test_a_run_with_the_style_augmentation(qtbot, view):
    """The 'styles' box (which needs each batch's labels) trains end to end from the window."""
    setup_tiny_run(view, epochs=1)
    for name in ("styles", "shear", "elastic"):
        view.form.augment_checks[name].setChecked(True)
    assert view.form.request().training["augment"] == ["shear", "elastic", "styles"]
    assert "slashed zeros" in view.form.augment_checks["styles"].toolTip()
    outcome = run_to_end(qtbot, view)
    assert outcome.status == "finished" and len(view.history) == 1
