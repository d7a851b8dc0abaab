"""The Imagine view: the ten digits follow the model, digit buttons, methods (maximisation in a worker),
the first layer's tiles for an MLP and a CNN with feature maps, no model, a model it cannot imagine."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from mnist_desktop import cli, explain
from mnist_desktop.app import imagine_view
from mnist_desktop.app.imagine_view import ImagineView, explanation
from mnist_desktop.app.state import AppState, LoadedModel
from mnist_desktop.engine.network import Network
from mnist_desktop.engine.presets import mlp

STEPS = 6   # maximisation steps in tests: enough to change the image, fast on tiny networks

TINY_CNN = {"input_shape": [784], "loss": "ce", "layers": [
    {"type": "reshape", "shape": [28, 28, 1]},
    {"type": "conv2d", "filters": 4, "kernel": 5},
    {"type": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "init": "xavier"},
]}


def loaded(arch, seed=0, name="tiny"):
    net = Network.from_architecture(arch, rng=np.random.default_rng(seed))
    return LoadedModel.from_network(net, {"name": name})


@pytest.fixture
def source():
    """What the Draw view would hand over: set source['image'] to a (28, 28) drawing."""
    return {"image": None}


@pytest.fixture
def state():
    return AppState()


@pytest.fixture
def view(qtbot, state, source):
    v = ImagineView(state, image_source=lambda: source["image"], maximize_options={"steps": STEPS})
    qtbot.addWidget(v)
    v.resize(1100, 700)
    v.show()
    qtbot.waitExposed(v)
    return v


def shown_tiles(view):
    return [t.image for t in view.tiles]


def wait_all(qtbot, view, digits=range(10)):
    qtbot.waitUntil(lambda: not view.busy and all(view.imagined(d) is not None for d in digits), timeout=20_000)


# ---- the ten digits -------------------------------------------------------------------------------------------


def test_the_ten_backprojections_follow_the_model(view, state, qtbot):
    """Changing the model should redraw the ten tiles with that model's back-projections."""
    first, second, cnn = loaded(mlp([784, 16, 10]), 0), loaded(mlp([784, 12, 10]), 1), loaded(TINY_CNN, 2)
    assert view.digit is None and view.method == "backproject" and view.pages.currentIndex() == 0
    seen = []
    for model in (first, second, cnn):
        with qtbot.waitSignal(view.updated):
            state.set_model(model)
        images = shown_tiles(view)
        reference = explain.imagine_all(model.net, "backproject")
        for d, image in enumerate(images):
            np.testing.assert_array_equal(image, reference[d].image)
            np.testing.assert_allclose(image, explain.backproject(model.net, d), atol=1e-6)  # batch vs one: rounding
            r = view.imagined(d)
            np.testing.assert_allclose(r.probabilities, explain.feed_back(model.net, image), rtol=1e-5, atol=1e-7)
            assert f"read as</span> <b style='color:" in view.tiles[d].caption.text()
            assert f">{r.predicted}</b>" in view.tiles[d].caption.text()
        seen.append(images)
    for a, b in zip(seen, seen[1:]):
        assert not any(np.array_equal(x, y) for x, y in zip(a, b))
    # symmetric levels through the blue-white-red map: 0 is white
    assert tuple(view.tiles[0].image_item.levels) == (-1.0, 1.0)
    assert "Back-projection" in view.explanation.text() and "red" in view.explanation.text().lower()


def test_edge_noise_is_explained_for_mlps_only(view, state):
    state.set_model(loaded(mlp([784, 16, 10])))
    assert "dashed box" in view.explanation.text() and view.tiles[0].guide.isVisible()
    state.set_model(loaded(TINY_CNN))
    assert "dashed box" not in view.explanation.text() and not view.tiles[0].guide.isVisible()
    assert "noise" in explanation("backproject", 3, "dense") and "noise" not in explanation("backproject", 3, "conv2d")
    assert "toward 3" not in explanation("backproject", None, "dense")
    assert "toward 3" in explanation("backproject", 3, None)


def test_digit_buttons_select_one_digit_and_all_ten(view, state, qtbot):
    model = loaded(mlp([784, 16, 10]))
    state.set_model(model)
    qtbot.mouseClick(view.digit_buttons[3], Qt.LeftButton)
    assert view.digit == 3 and view.pages.currentIndex() == 1 and view.digit_buttons[3].isChecked()
    three = view.big.image
    np.testing.assert_allclose(three, explain.backproject(model.net, 3), atol=1e-6)
    np.testing.assert_array_equal(view.fed_box.image, explain.as_input(three))     # the red part, as ink
    np.testing.assert_allclose(view.chart.probabilities, explain.feed_back(model.net, three), rtol=1e-5, atol=1e-7)
    assert "the output for 3" in view.explanation.text() and "toward 3" in view.explanation.text()
    assert view.single_bar.ticks[0] == (1.0, "for 3")
    qtbot.mouseClick(view.digit_buttons[7], Qt.LeftButton)
    assert view.digit == 7 and not view.digit_buttons[3].isChecked()
    np.testing.assert_allclose(view.big.image, explain.backproject(model.net, 7), atol=1e-6)
    qtbot.mouseClick(view.all_button, Qt.LeftButton)
    assert view.digit is None and view.pages.currentIndex() == 0
    assert sum(t.image is not None for t in view.tiles) == 10 and all(t.isVisible() for t in view.tiles)
    view.tiles[5].clicked.emit()                        # clicking a tile looks at it on its own
    assert view.digit == 5 and view.digit_buttons[5].isChecked()
    with pytest.raises(ValueError):
        view.set_digit(10)


def test_switching_to_maximisation_runs_in_the_background_and_matches_explain(view, state, qtbot):
    model = loaded(mlp([784, 16, 10]), 3)
    state.set_model(model)
    backprojected = shown_tiles(view)
    busy = []
    view.busy_changed.connect(busy.append)
    qtbot.mouseClick(view.method_buttons["maximize"], Qt.LeftButton)
    assert view.busy and view.progress.isVisible() and view.progress.maximum() == 10
    wait_all(qtbot, view)
    assert busy == [True, False]
    assert view.method == "maximize" and not view.progress.isVisible()
    for d, tile in enumerate(view.tiles):
        expected = explain.maximize(model.net, d, steps=STEPS)
        np.testing.assert_allclose(tile.image, expected, atol=1e-5)
        assert tile.image.min() >= 0 and tile.image.max() <= 1
        assert tile.image_item.levels[1] == pytest.approx(float(expected.max()))   # stretched: brightest is white
        np.testing.assert_allclose(view.imagined(d).probabilities, explain.feed_back(model.net, expected), atol=1e-5)
    assert "Activation maximisation" in view.explanation.text() and f"nudged {STEPS} times" in view.explanation.text()
    # back and forth costs nothing: both results are kept
    view.set_method("backproject")
    assert not view.busy
    for image, before in zip(shown_tiles(view), backprojected):
        np.testing.assert_array_equal(image, before)
    view.set_method("maximize")
    assert not view.busy and view.imagined(9) is not None
    with pytest.raises(ValueError):
        view.set_method("dream")


def test_one_digit_maximises_only_that_digit(view, state, qtbot):
    model = loaded(TINY_CNN, 4)
    state.set_model(model)
    view.set_digit(6)
    view.set_method("maximize")
    assert view.busy and view.progress.maximum() == 1
    assert view.chart.probabilities is None                      # waiting: no bars yet
    wait_all(qtbot, view, [6])
    assert view.imagined(2) is None
    np.testing.assert_allclose(view.big.image, explain.maximize(model.net, 6, steps=STEPS), atol=1e-5)
    np.testing.assert_array_equal(view.fed_box.image, explain.as_input(view.big.image))
    assert view.chart.probabilities is not None and "brightest" in view.explanation.text()


def test_slow_maximisations_arrive_two_digits_at_a_time(view, state, qtbot, monkeypatch):
    monkeypatch.setattr(imagine_view, "QUICK_BATCH_S", 0.0)        # every batch counts as slow (a CNN)
    progress, filled = [], []
    view.progress.valueChanged.connect(progress.append)
    view.updated.connect(lambda: filled.append(sum(t.image is not None for t in view.tiles)))
    state.set_model(loaded(mlp([784, 16, 10])))
    view.set_method("maximize")
    wait_all(qtbot, view)
    assert progress == [0, 2, 4, 6, 8, 10]
    steps = [n for i, n in enumerate(filled) if i == 0 or n != filled[i - 1]]
    assert steps == [10, 0, 2, 4, 6, 8, 10]      # back-projections; cleared; tiles fill in as batches finish


def test_a_new_model_mid_maximisation_wins(view, state, qtbot):
    """Results of a job for the old model must never be shown for the new one."""
    old, new = loaded(TINY_CNN, 5), loaded(mlp([784, 16, 10]), 6)
    state.set_model(old)
    view.set_method("maximize")
    assert view.busy
    state.set_model(new)
    wait_all(qtbot, view)
    for d, tile in enumerate(view.tiles):
        np.testing.assert_allclose(tile.image, explain.maximize(new.net, d, steps=STEPS), atol=1e-5)


def test_nothing_is_computed_while_hidden(qtbot, state):
    v = ImagineView(state)
    qtbot.addWidget(v)
    state.set_model(loaded(mlp([784, 16, 10])))
    assert v.imagined(0) is None and all(t.image is None for t in v.tiles)
    v.show()
    qtbot.waitExposed(v)
    assert v.imagined(0) is not None and all(t.image is not None for t in v.tiles)


# ---- the first layer ------------------------------------------------------------------------------------------


def test_first_layer_of_an_mlp_is_one_28x28_tile_per_hidden_unit(view, state):
    model = loaded(mlp([784, 100, 10]), 7)
    state.set_model(model)
    view.tabs.setCurrentIndex(1)
    panel = view.first_panel
    first = panel.first
    assert first.kind == "dense" and first.tiles.shape == (64, 28, 28) and first.total == 100
    W = model.net.layers[0].params["W"]                                  # (784, 100)
    np.testing.assert_array_equal(first.tiles[5], W[:, 5].reshape(28, 28))
    assert panel.weights_box.image.shape == (8 * 28 + 9 * 2, 8 * 28 + 9 * 2, 3)
    assert "first 64 of 100" in panel.title.text() and "hidden unit" in panel.title.text()
    assert panel.maps is None and not panel.maps_box.isVisible()
    small = loaded(mlp([784, 16, 10]))
    state.set_model(small)
    assert panel.first.tiles.shape == (16, 28, 28) and "of 16" not in panel.title.text()
    assert panel.weights_box.image.shape == (2 * 28 + 3 * 2, 8 * 28 + 9 * 2, 3)


def test_first_layer_of_a_cnn_shows_filters_and_what_they_find_in_the_drawing(view, state, source, qtbot):
    model = loaded(TINY_CNN, 8)
    state.set_model(model)
    view.tabs.setCurrentIndex(1)
    panel = view.first_panel
    assert panel.first.kind == "conv2d" and panel.first.tiles.shape == (4, 5, 5)
    W, b = model.net.layers[1].params["W"], model.net.layers[1].params["b"]
    np.testing.assert_array_equal(panel.first.tiles[2], W[:, :, 0, 2])
    assert panel.maps is None and "Draw a digit" in panel.hint.text()            # no drawing yet
    # a drawing: a vertical bar
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = 1.0
    source["image"] = image
    view.tabs.setCurrentIndex(0)
    view.tabs.setCurrentIndex(1)                                                 # shown again: re-read
    maps = panel.maps
    assert maps.maps.shape == (4, 24, 24) and maps.stage == "conv2d > relu" and not maps.signed
    f = 3
    by_hand = np.array([[np.sum(image[i:i + 5, j:j + 5] * W[:, :, 0, f]) + b[f] for j in range(24)] for i in range(24)])
    np.testing.assert_allclose(maps.maps[f], np.maximum(by_hand, 0), rtol=1e-5, atol=1e-5)
    assert panel.maps_box.isVisible() and panel.hint.text() == ""
    # filters are drawn in cells as big as a map, so filter i sits above map i
    assert panel.weights_box.image.shape == panel.maps_box.image.shape == (24 + 2 * 2, 4 * 24 + 5 * 2, 3)
    np.testing.assert_array_equal(panel.input_box.image, image)


# ---- no model, odd models, the window --------------------------------------------------------------------------


def test_no_model_shows_a_hint_and_nothing_breaks(view, state, qtbot):
    assert view.outer.currentWidget() is view.hint and "No model loaded" in view.hint.text()
    view.set_digit(4)
    view.set_method("maximize")
    assert not view.busy
    view.tabs.setCurrentIndex(1)
    state.set_model(loaded(mlp([784, 16, 10])))
    assert view.outer.currentWidget() is view.tabs
    state.set_model(None)
    assert view.outer.currentWidget() is view.hint


def test_a_model_that_does_not_read_28x28_pictures_is_explained(view, state):
    state.set_model(loaded(mlp([100, 10])))
    assert view.error_label.isVisible() and "784 inputs" in view.error_label.text()
    assert all(t.image is None for t in view.tiles)
    view.set_method("maximize")
    assert not view.busy
    view.tabs.setCurrentIndex(1)
    assert view.first_panel.first is None and "cannot be drawn" in view.first_panel.text.text()


def test_screenshot_of_the_imagine_view_shows_the_ten_heatmaps(tmp_path, make_model, qapp):
    out = tmp_path / "imagine.png"
    assert cli.main(["--model", str(make_model("tiny")), "--view", "imagine", "--screenshot", str(out),
                     "--size", "1024x700"]) == 0
    image = QImage(str(out)).convertToFormat(QImage.Format_RGB888)
    assert (image.width(), image.height()) == (1024, 700)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(700, image.bytesPerLine())
    rgb = rows[:, :1024 * 3].reshape(700, 1024, 3)
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    reds = np.sum((r > 150) & (g < 110) & (b < 110))
    blues = np.sum((b > 140) & (r < 90))
    assert reds > 500 and blues > 500        # the blue-white-red maps are on screen, not an empty view
