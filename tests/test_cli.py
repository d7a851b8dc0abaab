"""The command line end to end on the committed MNIST subset (tests/data): train, evaluate, errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.cli import main
from mnist_desktop.engine import load

DATA = str(Path(__file__).parent / "data")


@pytest.fixture(autouse=True)
def no_real_data(monkeypatch, tmp_path):
    """The CLI must only see the data we point it at."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_train_then_evaluate(tmp_path, capsys):
    out = tmp_path / "m.npz"
    code = main(["train", "--layers", "784,32,10", "--epochs", "2", "--lr", "0.5", "--optimizer", "sgd",
                 "--data", DATA, "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    epochs = [l for l in lines if l.startswith("epoch")]
    assert len(epochs) == 2 and "test" in epochs[0] and "loss" in epochs[0]
    net, spec = load(out)
    assert spec["architecture"]["layers"][0]["units"] == 32
    assert spec["training"]["epochs"] == 2 and len(spec["training"]["history"]) == 2
    assert spec["test_images"] == 1000

    assert main(["evaluate", str(out), "--data", DATA, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"accuracy", "per_class", "n"}
    assert result["n"] == 1000 and len(result["per_class"]) == 10
    assert result["accuracy"] == pytest.approx(spec["test_accuracy"])
    assert 0.7 < result["accuracy"] <= 1.0


def test_real_learning_on_the_subset(tmp_path, capsys):
    """mlp-128x2 on 3,000 real digits for 10 epochs: >= 88% of the 1,000 test digits (91.0% measured)."""
    out = tmp_path / "m.npz"
    assert main(["train", "--preset", "mlp-128x2", "--data", DATA, "--out", str(out)]) == 0
    _, spec = load(out)
    assert spec["test_accuracy"] >= 0.88


def test_evaluate_confusion_text(tmp_path, capsys):
    out = tmp_path / "m.npz"
    main(["train", "--layers", "784-10", "--epochs", "1", "--data", DATA, "--out", str(out)])
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", DATA, "--confusion"]) == 0
    text = capsys.readouterr().out
    rows = [l for l in text.splitlines() if l.strip() and l.split()[0].isdigit() and len(l.split()) == 11]
    assert len(rows) == 10
    assert sum(int(v) for r in rows for v in r.split()[1:]) == 1000


@pytest.mark.parametrize("args,message", [
    (["--layers", "784,abc,10"], "whole numbers"),
    (["--layers", "784,30,9"], "output size"),
    (["--preset", "mlp-128x2", "--lr", "-1"], "learning rate"),
    (["--preset", "cnn-seed", "--dropout", "0.5"], "CNN"),
    (["--preset", "mlp-128x2", "--augment", "wobble"], "wobble"),
])
def test_bad_training_settings_are_explained(tmp_path, capsys, args, message):
    code = main(["train", *args, "--data", DATA, "--out", str(tmp_path / "m.npz")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


def test_unwritable_output_is_refused_before_training(tmp_path, capsys):
    code = main(["train", "--preset", "linear", "--data", DATA, "--out", str(tmp_path / "no" / "such" / "m.npz")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_missing_data_says_how_to_get_it(tmp_path, capsys):
    code = main(["train", "--preset", "linear", "--data", str(tmp_path), "--out", str(tmp_path / "m.npz")])
    assert code == 2
    assert "mnist-desktop download" in capsys.readouterr().err


def test_divergence_saves_nothing(tmp_path, capsys):
    out = tmp_path / "m.npz"
    code = main(["train", "--preset", "mlp-128x2", "--optimizer", "sgd", "--lr", "100", "--epochs", "2",
                 "--data", DATA, "--out", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "diverged" in err and "Nothing was saved" in err
    assert not out.exists()


def test_corrupt_model_is_a_message_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"definitely not a model")
    assert main(["evaluate", str(bad), "--data", DATA]) == 2
    err = capsys.readouterr().err
    assert "bad.npz" in err and "Traceback" not in err


def test_output_into_a_closed_pipe_is_quiet(tmp_path):
    """`mnist-desktop evaluate ... | head -1` must not end with a BrokenPipeError traceback."""
    out = tmp_path / "m.npz"
    assert main(["train", "--layers", "784-10", "--epochs", "1", "--data", DATA, "--out", str(out)]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "mnist_desktop", "evaluate", str(out), "--data", DATA, "--confusion"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    proc.wait(60)
    proc.stderr.close()
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_evaluate_with_damage_and_a_rotation_curve(tmp_path, capsys):
    out = tmp_path / "m.npz"
    main(["train", "--layers", "784-32-10", "--epochs", "2", "--data", DATA, "--out", str(out)])
    capsys.readouterr()
    assert main(["evaluate", str(out), "--data", DATA, "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert "damage" not in clean
    for flags in (["--rotate", "45"], ["--noise", "0.6"], ["--thickness", "2"], ["--shift", "5"]):
        assert main(["evaluate", str(out), "--data", DATA, "--json", *flags]) == 0
        hurt = json.loads(capsys.readouterr().out)
        assert hurt["accuracy"] < clean["accuracy"] - 0.05, flags
        assert hurt["damage"][flags[0][2:]] == float(flags[1])
    assert main(["evaluate", str(out), "--data", DATA, "--rotate", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == clean["accuracy"]

    assert main(["evaluate", str(out), "--data", DATA, "--rotation-curve", "--rotate", "20"]) == 0
    text = capsys.readouterr().out
    assert "(rotated 20°)" in text
    rows = [l.split() for l in text.splitlines() if l.strip().endswith("%") or "%  #" in l]
    curve = {int(r[0].rstrip("°")): float(r[1].rstrip("%")) for r in rows if r[0].rstrip("°").lstrip("+-").isdigit()}
    assert sorted(curve) == list(range(-60, 61, 10))
    assert curve[0] == pytest.approx(clean["accuracy"] * 100, abs=0.006)
    assert curve[60] < curve[0] and curve[-60] < curve[0]

    assert main(["evaluate", str(out), "--data", DATA, "--noise", "5"]) == 2
    assert "--noise must be between 0 and 1" in capsys.readouterr().err
