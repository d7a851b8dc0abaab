"""The Train view's learning-curve mode (a curve of 2 small sizes for 2 networks completes and plots 2
points each; pause/stop; save, reopen, export) and its live weights (snapshots arrive while a short run
trains; after it the slider replays them, first to last); `mnist-desktop learning-curve` end to end."""

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from mnist_desktop import cli
from mnist_desktop.app.curve_plot import PALETTE
from mnist_desktop.app.main_window import app_settings
from mnist_desktop.app.state import AppState
from mnist_desktop.app.train_view import TrainView
from mnist_desktop.learning_curve import load_curve
from mnist_desktop.live_weights import digits_rgb, weights_rgb

from test_train_view import DATA, setup_tiny_run


@pytest.fixture
def view(qtbot):
    v = TrainView(AppState(), settings=app_settings())
    qtbot.addWidget(v)
    v.resize(1200, 760)
    v.show()
    yield v
    v.shutdown()


def colour_pixels(image: QImage, hex_color: str) -> int:
    """Pixels of exactly this colour in the picture (the plot's dots are filled with it)."""
    image = image.convertToFormat(QImage.Format_RGB32)
    arr = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())[:, :image.width() * 4]
    b, g, r = arr[:, 0::4], arr[:, 1::4], arr[:, 2::4]
    c = QColor(hex_color)
    return int(np.count_nonzero((r == c.red()) & (g == c.green()) & (b == c.blue())))


def test_a_curve_of_two_sizes_completes_and_plots_two_points_per_network(qtbot, view, tmp_path):
    assert view.data_panel.set_folder(DATA)
    panel = view.curve
    view.modes.setCurrentWidget(panel)
    blank = panel.plot.grab().toImage()
    panel.set_presets(["linear", "mlp-128x2"])
    panel.sizes_edit.setText("100, 200")
    panel.images_spin.setValue(400)
    points = []
    panel.point_added.connect(points.append)
    with qtbot.waitSignal(panel.run_finished, timeout=60_000) as blocker:
        assert panel.start()
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    result = blocker.args[0]
    assert result.complete and [(p.preset, p.size) for p in points] == [
        ("linear", 100), ("linear", 200), ("mlp-128x2", 100), ("mlp-128x2", 200)]
    assert panel.plot.result is result
    for preset in ("linear", "mlp-128x2"):
        assert [p.size for p in result.for_preset(preset)] == [100, 200]
    shot = panel.plot.grab().toImage()
    for color in PALETTE[:2]:                  # both networks' lines and dots are on the plot now
        assert colour_pixels(blank, color) == 0 and colour_pixels(shot, color) > 30
    assert panel.log.toPlainText().count("images (") == 4
    assert "Finished: 4 points" in panel.status_label.text()
    # save, open in a fresh view, export
    assert panel.save_json(tmp_path / "curve.json")
    assert load_curve(tmp_path / "curve.json").points == result.points
    other = TrainView(AppState(), settings=app_settings())
    qtbot.addWidget(other)
    assert other.curve.open_json(tmp_path / "curve.json")
    assert other.curve.result.points == result.points and other.curve.presets() == ["linear", "mlp-128x2"]
    assert other.curve.export_png(tmp_path / "curve.png")
    png = QImage(str(tmp_path / "curve.png"))
    assert png.width() >= 700 and colour_pixels(png, PALETTE[0]) > 30
    other.shutdown()


def test_a_curve_pauses_resumes_and_stops(qtbot, view):
    """Paused at once, the run parks (before or just after its first tiny point); resumed, the next point
    arrives; stopped, it ends with the points it finished (learning_curve's tests check a stop mid-point)."""
    assert view.data_panel.set_folder(DATA)
    panel = view.curve
    panel.set_presets(["linear"])
    panel.sizes_edit.setText("100,200,300")
    panel.images_spin.setValue(400)
    assert panel.start()
    panel.pause()
    assert panel.paused and panel.pause_button.text() == "Resume"
    run = panel._run
    qtbot.waitUntil(lambda: run.held, timeout=10_000)
    parked = len(run.result().points)
    assert parked <= 1 and panel.running
    # listening for the end before resuming: on a loaded machine the remaining points may all finish
    # (and run_finished arrive) before the point that was waited for is handled
    with qtbot.waitSignal(panel.run_finished, timeout=30_000) as blocker:
        with qtbot.waitSignal(panel.point_added, timeout=30_000):
            panel.resume()
        assert panel.pause_button.text() == "Pause"
        panel.stop()
    result = blocker.args[0]
    assert [p.size for p in result.points][:parked + 1] == [100, 200][:parked + 1] and panel.start_button.isEnabled()
    assert panel.status_label.text().startswith(("Stopped", "Finished"))


def test_curve_input_problems_are_one_line_messages(qtbot, view, tmp_path):
    assert view.data_panel.set_folder(DATA)
    panel = view.curve
    panel.sizes_edit.setText("100,abc")
    assert not panel.start() and "cannot read" in panel.banner.text
    panel.set_presets([])
    panel.sizes_edit.setText("100")
    assert not panel.start() and "at least one network" in panel.banner.text
    (tmp_path / "x.json").write_text("{}")
    assert not panel.open_json(tmp_path / "x.json") and "not a learning-curve file" in panel.banner.text
    assert not panel.save_json(tmp_path / "y.json") and not (tmp_path / "y.json").exists()


def test_live_weights_update_during_a_run_and_the_slider_replays_them(qtbot, view):
    setup_tiny_run(view, epochs=3, batch_size=50)
    view.weights_every, view.weights_min_seconds = 4, 0.0
    live = view.live_weights
    with qtbot.waitSignal(view.run_finished, timeout=30_000):
        assert view.start()
        assert not live.slider.isEnabled()
    # the start, every 4 batches (10 per epoch) and after each epoch, each shown while the run went on
    assert [s.batches for s in live.log.items] == [0, 4, 8, 10, 14, 18, 20, 24, 28, 30]
    assert live.updates == len(live.log) == 10
    first, last = live.log[0], live.log[-1]
    assert first.batches == 0 and last.position == 3.0
    assert live.slider.isEnabled() and live.slider.maximum() == len(live.log) - 1
    assert live.shown is last and "Snapshot" in live.position_label.text()
    live.slider.setValue(0)
    assert live.shown is first
    np.testing.assert_array_equal(live.weights_box.image, weights_rgb(first))
    np.testing.assert_array_equal(live.digits_box.image, digits_rgb(first))
    assert "start" in live.position_label.text()
    live.slider.setValue(live.slider.maximum())
    assert live.shown is last
    np.testing.assert_array_equal(live.weights_box.image, weights_rgb(last))
    assert not np.array_equal(weights_rgb(first), weights_rgb(last))     # it learned something
    assert "epoch 3.00" in live.position_label.text()


def test_live_weights_can_be_turned_off(qtbot, view):
    setup_tiny_run(view, epochs=1, batch_size=100)
    view.live_weights.enabled_box.setChecked(False)
    with qtbot.waitSignal(view.run_finished, timeout=30_000):
        assert view.start()
    assert len(view.live_weights.log) == 0 and not view.live_weights.slider.isEnabled()


def test_learning_curve_command(tmp_path, capsys):
    code = cli.main(["learning-curve", "--presets", "linear", "--sizes", "100,200", "--images", "400", "--data",
                     str(DATA), "--json", "--out", str(tmp_path / "c.png"), "--save", str(tmp_path / "c.json")])
    out, err = capsys.readouterr()
    assert code == 0
    d = json.loads(out)
    assert [p["size"] for p in d["points"]] == [100, 200] and d["complete"]
    assert "linear" in err and "wall time" in err
    assert QImage(str(tmp_path / "c.png")).width() == 900
    assert load_curve(tmp_path / "c.json").points[0].size == 100


@pytest.mark.parametrize("argv, words", [
    (["--sizes", "1,2"], "at least 10"),
    (["--presets", "nope"], "unknown preset"),
    (["--out", "x.jpg"], "must name a .png"),
])
def test_learning_curve_command_refuses_bad_input(tmp_path, capsys, argv, words):
    assert cli.main(["learning-curve", "--data", str(DATA), *argv]) == 2
    assert words in capsys.readouterr().err
