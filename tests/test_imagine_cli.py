"""`mnist-desktop imagine`: writes the picture, prints the network's verdicts, fails clearly on bad input."""

import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from mnist_desktop import cli
from mnist_desktop.engine import Network, save
from mnist_desktop.engine.presets import mlp

VERDICT = re.compile(r"^(\d): the network reads the imagined \1 as (\d) \(\d+\.\d%\)")


@pytest.fixture()
def model(tmp_path):
    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
    path = tmp_path / "m.npz"
    save(net, path)
    return path


def png_pixels(path):
    """(width, height, pixels (H, W, 3)) of an 8-bit RGB PNG written by heatmap.write_png."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h, depth, color = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and color == 2
    idat = b"".join(data[i + 8:i + 8 + struct.unpack(">I", data[i:i + 4])[0]]
                    for i in [m.start() - 4 for m in re.finditer(b"IDAT", data)])
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    return w, h, rows[:, 1:].reshape(h, w, 3)


def run(capsys, *argv):
    code = cli.main(["imagine", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_all_writes_a_grid_and_prints_ten_verdicts(tmp_path, capsys, model):
    out_png = tmp_path / "all.png"
    code, out, err = run(capsys, "all", "--model", model, "--out", out_png, "--scale", 2)
    assert code == 0, err
    lines = out.splitlines()
    verdicts = [VERDICT.match(line) for line in lines if VERDICT.match(line)]
    assert [int(m.group(1)) for m in verdicts] == list(range(10))
    assert lines[-1].startswith(f"wrote {out_png}")
    # 2 rows x 5 tiles of 56x56 px, each under a 7 px caption, 1 px white padding
    w, h, px = png_pixels(out_png)
    assert (w, h) == (5 * 56 + 6, 2 * (56 + 7) + 3)
    assert np.all(px[0] == 255) and np.all(px[:, 0] == 255)          # the padding
    tile = px[1 + 7:1 + 7 + 56, 1:57].astype(int)                    # digit 0's heatmap
    assert (tile[..., 0] - tile[..., 2] > 50).any() and (tile[..., 2] - tile[..., 0] > 50).any()  # red and blue


def test_one_digit_maximize(tmp_path, capsys, model):
    out_png = tmp_path / "seven.png"
    code, out, err = run(capsys, 7, "--method", "maximize", "--steps", 5, "--model", model, "--out", out_png,
                         "--scale", 3, "--no-labels")
    assert code == 0, err
    assert len([line for line in out.splitlines() if VERDICT.match(line)]) == 1 and out.startswith("7: ")
    w, h, px = png_pixels(out_png)
    assert (w, h) == (84, 84)
    assert np.all(px[..., 0] == px[..., 1]) and np.all(px[..., 1] == px[..., 2])  # grayscale pixels


def test_top_level_model_option_is_used(tmp_path, capsys, model):
    code = cli.main(["--model", str(model), "imagine", "3", "--out", str(tmp_path / "t.png")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (tmp_path / "t.png").is_file()


@pytest.mark.parametrize("argv,message", [
    (["3", "--out", "{tmp}/x.jpg"], "must name a .png"),
    (["3", "--out", "{tmp}/no/such/dir/x.png"], "does not exist"),
    (["3", "--out", "{tmp}/x.png", "--scale", "0"], "--scale"),
    (["3", "--out", "{tmp}/x.png", "--steps", "5"], "--method maximize"),
    (["3", "--out", "{tmp}/x.png", "--method", "maximize", "--steps", "-1"], "--steps"),
])
def test_bad_options_are_refused(tmp_path, capsys, model, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv] + ["--model", str(model)]
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and not out
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.jpg"))


def test_bad_digit_is_a_usage_error(tmp_path, capsys, model):
    for digit in ("10", "-1", "three"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["imagine", digit, "--model", str(model), "--out", str(tmp_path / "x.png")])
        assert exc.value.code == 2
        assert "expected a digit 0-9 or 'all'" in capsys.readouterr().err


def test_broken_or_missing_models_give_a_message(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a model")
    for path in (bad, tmp_path / "missing.npz"):
        code, out, err = run(capsys, "3", "--model", path, "--out", tmp_path / "x.png")
        assert code == 2 and str(path) in err and "Traceback" not in err
    wrong = Network.from_architecture(mlp([784, 8, 3]), rng=np.random.default_rng(0))
    save(wrong, tmp_path / "three.npz")
    code, out, err = run(capsys, "1", "--model", tmp_path / "three.npz", "--out", tmp_path / "x.png")
    assert code == 2 and "10 outputs" in err
    assert not (tmp_path / "x.png").exists()


def test_no_shipped_model_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import mnist_desktop.shipped

    monkeypatch.setattr(mnist_desktop.shipped, "default_model_path", lambda: None)
    code, out, err = run(capsys, "3", "--out", tmp_path / "x.png")
    assert code == 2 and "--model" in err


def test_imagine_runs_without_qt(tmp_path, model):
    code = ("import sys; from mnist_desktop.cli import main;"
            f"rc = main(['imagine', 'all', '--model', {str(model)!r}, '--out', {str(tmp_path / 'q.png')!r}]);"
            "assert rc == 0;"
            "assert not {m.split('.')[0] for m in sys.modules} & {'PySide6', 'pyqtgraph'}")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len([line for line in done.stdout.splitlines() if VERDICT.match(line)]) == 10
