"""confidence.py: "not sure" and "that doesn't look like a digit", without Qt."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop import confidence as cf
from mnist_desktop import nondigits
from mnist_desktop.data import load_dataset
from mnist_desktop.drawing import Drawing, drawing_from_json, drawing_to_json
from mnist_desktop.engine.network import Network
from mnist_desktop.engine.presets import mlp
from mnist_desktop.engine.serialize import load
from mnist_desktop.preprocess import to_mnist
from mnist_desktop.shipped import MODELS_DIR

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def subset():
    return load_dataset("mnist", DATA)


@pytest.fixture(scope="module")
def shipped_mlp():
    return load(MODELS_DIR / "mlp.npz")[0]


def image_of(drawing: Drawing) -> np.ndarray:
    return to_mnist(nondigits.rasterize(drawing)).image


# ---- the generator ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", nondigits.KINDS)
def test_every_kind_is_a_valid_drawing_with_ink(kind):
    rng = np.random.default_rng(1)
    for d in nondigits.generate(kind, 5, rng):
        again = drawing_from_json(drawing_to_json(d))            # the file format accepts it
        assert again.width == again.height == 280 and 8 <= again.pen_width <= 24
        assert to_mnist(nondigits.rasterize(d)) is not None


def test_generator_is_seeded_and_rejects_unknown_kinds():
    a = [drawing_to_json(d) for _, d in nondigits.generate_all(2, np.random.default_rng(7))]
    b = [drawing_to_json(d) for _, d in nondigits.generate_all(2, np.random.default_rng(7))]
    assert a == b and len(a) == 2 * len(nondigits.KINDS)
    with pytest.raises(ValueError, match="unknown kind"):
        nondigits.make("triangle", np.random.default_rng(0))


def test_rasterize_draws_a_round_dot_and_a_line():
    dot = nondigits.rasterize(Drawing(40, 40, 10.0, [[(20.0, 20.0)]]))
    assert dot[20, 20] == 1.0 and dot[20, 27] == 0.0 and dot[0, 0] == 0.0
    assert abs(dot.sum() - np.pi * 25) < 6                      # a disc of radius 5
    line = nondigits.rasterize(Drawing(40, 40, 4.0, [[(5.0, 20.0), (35.0, 20.0)]]))
    assert line[20, 5:35].min() == 1.0 and line[10].max() == 0.0


# ---- shape rules -----------------------------------------------------------------------------------


def test_shape_rules_catch_dots_blobs_scribbles_and_lines():
    rng = np.random.default_rng(3)
    for kind, want in (("dot", {"blob"}), ("filled", {"blob", "scribble"}), ("scribble", {"scribble", "blob"})):
        drawings = nondigits.generate(kind, 20, rng)
        caught = [cf.shape_reason(image_of(d), d) in want for d in drawings]
        assert np.mean(caught) >= 0.6, kind
    flat = Drawing(280, 280, 14.0, [[(40.0, 140.0), (240.0, 150.0)]])
    assert cf.shape_reason(image_of(flat), flat) == "flat"
    slant = Drawing(280, 280, 14.0, [[(60.0, 200.0), (220.0, 60.0)]])     # 49 degrees from the vertical
    assert cf.shape_reason(image_of(slant), None) is None                   # the image alone: fine
    assert cf.shape_reason(image_of(slant), slant) == "line"                # the strokes: a lone line
    one = Drawing(280, 280, 14.0, [[(130.0, 40.0), (150.0, 240.0)]])        # a 1, a little slanted
    assert cf.shape_reason(image_of(one), one) is None
    specks = np.zeros((28, 28), np.float32)
    specks[4, 4] = specks[20, 20] = 1.0
    assert cf.shape_reason(specks) == "specks"


def test_shape_rules_pass_mnist_digits(subset):
    flagged = [cf.shape_reason(x) for x in subset.x_test]
    assert sum(r is not None for r in flagged) <= 2, [r for r in flagged if r]


def test_stroke_measures():
    bar = np.zeros((28, 28), np.float32)
    bar[4:24, 12:15] = 1.0                                      # 3 px wide
    assert cf.stroke_thickness(bar) == pytest.approx(2 * 60 / 46)
    assert cf.ink_aspect(bar) == pytest.approx(20 / 3)
    assert cf.stroke_thickness(np.zeros((28, 28))) == 0.0 and cf.ink_aspect(np.zeros((28, 28))) == np.inf
    d = Drawing(280, 280, 10.0, [[(0.0, 0.0), (100.0, 0.0), (0.0, 0.0)]])
    assert cf.path_ratio(d) == pytest.approx(200 / 110)


# ---- unsure ----------------------------------------------------------------------------------------


def test_unsure_rules_and_texts():
    image = image_of(Drawing(280, 280, 18.0, [[(140.0, 40.0), (140.0, 240.0)]]))
    p = np.full(10, 0.01)
    p[3], p[5] = 0.55, 0.37
    v = cf.assess(p / p.sum(), image)
    assert (v.kind, v.reason, v.text, v.digit, v.second) == ("unsure", "close", "3 or 5?", 3, 5)
    p = np.full(10, 0.06)
    p[7] = 0.46
    v = cf.assess(p, image)
    assert (v.kind, v.reason, v.text) == ("unsure", "low", "7?")       # the runner-up is below 10%
    p = np.full(10, 0.005)
    p[1] = 0.955
    v = cf.assess(p, image)
    assert (v.kind, v.text, v.because) == ("digit", "1", "")
    assert v.as_dict()["verdict"] == "digit" and not v.calibrated


def test_not_a_digit_wins_over_a_confident_answer():
    d = Drawing(280, 280, 18.0, [[(140.0, 140.0)]])
    p = np.zeros(10)
    p[0] = 0.998
    p[8] = 0.002
    v = cf.assess(p, image_of(d), drawing=d)
    assert (v.kind, v.reason, v.text) == ("not_digit", "blob", cf.NOT_A_DIGIT)
    assert v.digit == 0 and "blob" in v.because


# ---- calibration -----------------------------------------------------------------------------------


def test_features_are_the_last_dense_layers_input():
    net = Network.from_architecture(mlp([784, 32, 16, 10]), rng=np.random.default_rng(0))
    x = np.random.default_rng(1).random((5, 784)).astype(np.float32)
    out, f = cf.outputs_and_features(net, x, batch_size=2)
    np.testing.assert_allclose(out, net.forward(x), rtol=1e-5, atol=1e-6)
    assert f.shape == (5, 16) and cf.feature_layer(net) == 4          # dense, relu, dense, relu, dense


def test_distance_is_the_mahalanobis_distance_to_the_nearest_mean():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(10, 6)).astype(np.float32)
    A = rng.normal(size=(6, 6))
    P = (A @ A.T + np.eye(6)).astype(np.float32)
    cal = cf.Calibration(means, P, 0.0, 0.0, 1, "x")
    f = rng.normal(size=(4, 6))
    brute = np.array([min((v - m) @ P.astype(np.float64) @ (v - m) for m in means.astype(np.float64)) for v in f])
    np.testing.assert_allclose(cal.distance(f), brute, rtol=1e-6)
    assert cal.distance(f[0]) == pytest.approx(brute[0], rel=1e-6)


def test_calibration_limits_hold_on_its_digits_and_catch_non_digits(shipped_mlp, subset):
    cal = cf.calibrate(shipped_mlp, subset.x_train, subset.y_train)
    out, f = cf.outputs_and_features(shipped_mlp, subset.x_train)
    flagged = cal.unfamiliar(out, f)
    assert flagged.mean() <= 0.002                               # the 0.9998 / 0.9999 quantiles, both
    shipped = cf.find_calibration(shipped_mlp, MODELS_DIR / "mlp.npz")   # 60,000 digits: 512 features from
    out, f = cf.outputs_and_features(shipped_mlp, subset.x_test)            # 3,000 would overfit the covariance
    on_digits = shipped.unfamiliar(out, f).mean()
    assert on_digits <= 0.005                                    # digits it never saw
    rng = np.random.default_rng(5)
    hashes = np.stack([image_of(d).reshape(-1) for d in nondigits.generate("hash", 60, rng)])
    out, f = cf.outputs_and_features(shipped_mlp, hashes)
    # a "#" is like no digit: flagged far more often than digits (how often exactly depends on the model:
    # benchmarks/not_a_digit.py measures it; the shipped MLP 9%, the CNN 99%)
    on_hashes = shipped.unfamiliar(out, f).mean()
    assert on_hashes >= 0.05 and on_hashes >= 10 * on_digits


def test_calibration_file_round_trip_and_stale_or_broken_files(tmp_path, subset):
    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
    cal = cf.calibrate(net, subset.x_train[:500], subset.y_train[:500])
    model = tmp_path / "m.npz"
    assert cf.calibration_path(model) == tmp_path / "m.calib"
    cal.save(cf.calibration_path(model))
    back = cf.find_calibration(net, model)
    assert back is not None and back.digest == cf.model_digest(net)
    np.testing.assert_array_equal(back.means, cal.means)
    assert (back.energy_limit, back.distance_limit, back.n) == (cal.energy_limit, cal.distance_limit, 500)
    net.layers[0].params["W"][0, 0] += 1.0                       # retrained: the old file no longer applies
    assert cf.find_calibration(net, model) is None
    assert cf.find_calibration(net, None) is None
    cf.calibration_path(model).write_bytes(b"not a zip")
    assert cf.find_calibration(net, model) is None
    with pytest.raises(ValueError, match="not a readable calibration"):
        cf.Calibration.load(cf.calibration_path(model))
    with pytest.raises(ValueError):
        cf.calibrate(net, subset.x_train[:5], subset.y_train[:4])


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_shipped_models_carry_a_current_calibration(name):
    net = load(MODELS_DIR / f"{name}.npz")[0]
    assert cf.find_calibration(net, MODELS_DIR / f"{name}.npz") is not None, (
        f"models/{name}.calib is missing or belongs to other weights: after retraining, run "
        f"`mnist-desktop calibrate mnist_desktop/models/{name}.npz --data <MNIST>` (about a minute)")


def test_assess_batch_reads_digits_and_rejects_a_dot(shipped_mlp, subset):
    cal = cf.find_calibration(shipped_mlp, MODELS_DIR / "mlp.npz")
    dot = Drawing(280, 280, 18.0, [[(100.0, 100.0)]])
    images = np.concatenate([subset.x_test[:50].reshape(-1, 28, 28), image_of(dot)[None]])
    probs, verdicts = cf.assess_batch(shipped_mlp, images, cal, [None] * 50 + [dot])
    assert probs.shape == (51, 10)
    assert sum(v.kind == "digit" and v.digit == y for v, y in zip(verdicts, subset.y_test[:50])) >= 47
    assert verdicts[-1].kind == "not_digit" and verdicts[-1].calibrated


def test_confidence_needs_no_qt():
    code = ("import sys, mnist_desktop.confidence, mnist_desktop.nondigits;"
            "assert not {m.split('.')[0] for m in sys.modules} & {'PySide6', 'pyqtgraph'}")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_calibrate_command_writes_a_file_predict_then_uses(tmp_path, make_model, capsys, qapp):
    from mnist_desktop.cli import main
    from mnist_desktop.drawing import write_drawing

    model = make_model()
    assert main(["calibrate", str(model), "--data", str(DATA)]) == 0
    out = capsys.readouterr().out
    assert "3,000 training digits" in out and cf.calibration_path(model).is_file()
    dot = tmp_path / "dot.json"
    write_drawing(dot, Drawing(280, 280, 18.0, [[(100.0, 100.0)]]))
    assert main(["predict", "--model", str(model), "--json", str(dot)]) == 0
    captured = capsys.readouterr()
    r = json.loads(captured.out)
    assert r["verdict"] == "not_digit" and r["text"] == cf.NOT_A_DIGIT and r["calibrated"] is True
    assert "no calibration" not in captured.err
    assert main(["calibrate", str(tmp_path / "missing.npz"), "--data", str(DATA)]) == 2
    assert "no such model file" in capsys.readouterr().err
