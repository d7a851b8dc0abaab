"""`mnist-desktop predict`: images and drawings in, one line per file out, errors that do not stop the batch."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

from mnist_desktop.app.imageio import preprocess_file, render_drawing
from mnist_desktop.cli import main
from mnist_desktop.drawing import Drawing, write_drawing
from mnist_desktop.engine.network import Network
from mnist_desktop.engine.presets import mlp
from mnist_desktop.engine.serialize import load, save

ROOT = Path(__file__).resolve().parents[1]
SEVEN = [[(60.0, 50.0), (150.0, 50.0), (90.0, 180.0)]]


def save_png(path: Path, a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if a.ndim == 2 else QImage.Format.Format_RGBA8888
    assert QImage(a.data, w, h, a.strides[0], fmt).copy().save(str(path))
    return str(path)


@pytest.fixture
def model(tmp_path) -> str:
    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
    path = tmp_path / "tiny.npz"
    save(net, path)
    return str(path)


@pytest.fixture
def files(qapp, tmp_path) -> dict:
    """Images made here: the same 7 off-centre, thick, dark-on-light and on a transparent background,
    plus a drawing of it, a blank image and a text file called .png."""
    ink = np.rint(render_drawing(Drawing(240, 240, 14.0, SEVEN)) * 255).astype(np.uint8)
    canvas = np.zeros((400, 300), np.uint8)
    canvas[150:390, 55:295] = ink                                        # off-centre, bottom right
    thick = np.rint(render_drawing(Drawing(240, 240, 40.0, SEVEN)) * 255).astype(np.uint8)
    rgba = np.zeros((240, 240, 4), np.uint8)
    rgba[..., 3] = ink                                                   # black ink, transparent around it
    out = {
        "off_centre": save_png(tmp_path / "off_centre.png", canvas),
        "thick": save_png(tmp_path / "thick.png", thick),
        "dark_on_light": save_png(tmp_path / "dark.png", 255 - canvas),
        "transparent": save_png(tmp_path / "transparent.png", rgba),
        "blank": save_png(tmp_path / "blank.png", np.full((50, 50), 255, np.uint8)),
        "drawing": str(tmp_path / "seven.json"),
        "text": str(tmp_path / "notes.png"),
    }
    write_drawing(out["drawing"], Drawing(240, 240, 14.0, SEVEN))
    Path(out["text"]).write_text("shopping list: eggs, milk\n")
    return out


def run(argv, capsys):
    code = main(["predict", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


GOOD = ["off_centre", "thick", "dark_on_light", "transparent", "drawing"]


def test_text_output_one_line_per_file_and_exit_1_on_failure(model, files, capsys):
    names = GOOD + ["blank", "text"]
    code, lines, err = run(["--model", model, *(files[n] for n in names)], capsys)
    assert code == 1
    assert len(lines) == len(names)
    for name, line in zip(GOOD, lines):
        # an untrained model is never sure: "1 or 7? not sure: 1 (14.1%), then 7 (13.8%)"
        assert re.fullmatch(re.escape(files[name]) + r": (\d( or \d)?\? not sure: )?\d \(\d+\.\d%\), then \d \(\d+\.\d%\)",
                            line), line
    assert lines[5] == f"{files['blank']}: error: blank: no ink found"
    assert lines[6].startswith(f"{files['text']}: error: ") and "not an image" in lines[6]
    assert lines[6].count(files["text"]) == 1                  # the file is named once


def test_json_lines_parse_and_match_the_library_path(model, files, capsys):
    names = GOOD + ["blank", "text"]
    code, lines, _ = run(["--json", "--model", model, *(files[n] for n in names)], capsys)
    assert code == 1
    records = [json.loads(line) for line in lines]
    assert [r["file"] for r in records] == [files[n] for n in names]
    net, _ = load(model)
    for name, r in zip(GOOD, records):
        assert set(r) == {"file", "digit", "probabilities", "verdict", "text", "reason", "because", "calibrated"}
        assert r["verdict"] in ("digit", "unsure", "not_digit") and r["calibrated"] is False   # no tiny.calib
        probs = np.array(r["probabilities"])
        assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-4 and r["digit"] == int(probs.argmax())
        expected = net.predict_proba(preprocess_file(files[name]).image.reshape(1, 784))[0]
        np.testing.assert_allclose(probs, expected, atol=2e-6)
    assert records[5] == {"file": files["blank"], "error": "blank: no ink found"}
    assert set(records[6]) == {"file", "error"}


def test_same_digit_in_every_form_gets_the_same_answer(model, files, capsys):
    """Off-centre, inverted, transparent and drawn versions of one 7 reach the network as the same image."""
    code, lines, _ = run(["--json", "--model", model, *(files[n] for n in ["off_centre", "dark_on_light",
                                                                          "transparent", "drawing"])], capsys)
    assert code == 0
    probs = np.array([json.loads(line)["probabilities"] for line in lines])
    np.testing.assert_allclose(probs, probs[[0, 0, 0, 0]], atol=2e-3)


def test_one_batched_network_call(model, files, capsys, monkeypatch):
    from mnist_desktop import confidence

    calls = []
    original = confidence.outputs_and_features    # outputs and features in one pass, for every file at once

    def counting(net, x, *a, **k):
        calls.append(len(x))
        return original(net, x, *a, **k)

    monkeypatch.setattr(confidence, "outputs_and_features", counting)
    code, lines, _ = run(["--model", model, files["off_centre"], files["blank"], files["thick"], files["drawing"]], capsys)
    assert code == 1 and calls == [3]


def test_model_problems_exit_2_with_a_message(files, tmp_path, capsys, monkeypatch, qapp):
    code, lines, err = run(["--model", str(tmp_path / "missing.npz"), files["thick"]], capsys)
    assert code == 2 and lines == [] and "no such model file" in err
    not_ours = tmp_path / "arrays.npz"
    np.savez(not_ours, w=np.zeros(3))
    code, lines, err = run(["--model", str(not_ours), files["thick"]], capsys)
    assert code == 2 and str(not_ours) in err and "not an mnist-desktop model" in err
    five = tmp_path / "five.npz"
    save(Network.from_architecture(mlp([784, 8, 5]), rng=np.random.default_rng(0)), five)
    code, _, err = run(["--model", str(five), files["thick"]], capsys)
    assert code == 2 and "784 -> 10" in err
    import mnist_desktop.shipped as shipped
    monkeypatch.setattr(shipped, "default_model_path", lambda: None)
    code, _, err = run([files["thick"]], capsys)
    assert code == 2 and "--model" in err and "no shipped model" in err


def test_all_good_files_exit_0(model, files, capsys):
    code, lines, _ = run(["--model", model, files["thick"], files["drawing"]], capsys)
    assert code == 0 and len(lines) == 2


def test_works_headless_in_a_fresh_process(model, files):
    """No DISPLAY, no QT_QPA_PLATFORM: the command still runs (offscreen) and prints JSON."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "mnist_desktop", "predict", "--json", "--model", model,
                           files["dark_on_light"], files["drawing"]],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["file"] for line in proc.stdout.splitlines()] == [files["dark_on_light"], files["drawing"]]


def test_the_shipped_model_says_when_it_is_unsure_or_sees_no_digit(tmp_path, capsys, qapp):
    """The new user's three cases: a dot, a scribble and an X, next to a plain 1."""
    from mnist_desktop import nondigits

    cases = {
        "dot": Drawing(280, 280, 18.0, [[(120.0, 150.0)]]),
        "scribble": nondigits.make("scribble", np.random.default_rng(0)),
        "x": Drawing(280, 280, 18.0, [[(70.0, 60.0), (210.0, 220.0)], [(210.0, 60.0), (70.0, 220.0)]]),
        "one": Drawing(280, 280, 18.0, [[(140.0, 40.0), (135.0, 240.0)]]),
    }
    paths = {}
    for name, d in cases.items():
        paths[name] = str(tmp_path / f"{name}.json")
        write_drawing(paths[name], d)
    code, lines, err = run([paths[n] for n in cases], capsys)
    assert code == 0 and "no calibration" not in err
    text = dict(zip(cases, lines))
    for name in ("dot", "scribble", "x"):
        assert text[name].startswith(f"{paths[name]}: that doesn't look like a digit ("), text[name]
    assert re.fullmatch(re.escape(paths["one"]) + r": 1 \(\d+\.\d%\), then \d \(\d+\.\d%\)", text["one"])
    code, lines, _ = run(["--json", *(paths[n] for n in cases)], capsys)
    verdicts = [json.loads(line)["verdict"] for line in lines]
    assert verdicts == ["not_digit", "not_digit", "not_digit", "digit"]
