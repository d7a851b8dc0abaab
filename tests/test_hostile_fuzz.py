"""Generated hostile inputs (bounded: a few seconds): every one a clear error naming the file, nothing hangs,
good files untouched. The larger run is benchmarks/fuzz.py."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from mnist_desktop.drawing import Drawing, DrawingError, drawing_to_json, read_drawing, write_drawing
from mnist_desktop.engine import Network, model_spec, save
from mnist_desktop.engine.presets import mlp
from mnist_desktop.engine.serialize import ModelFileError, load, read_spec
from mnist_desktop.data.idx import IDXError, read_idx
from mnist_desktop.fileio import SaveError

BAD_NUMBERS = [0, -1, -5, 1e30, 10**9, 10**20, float("inf"), float("-inf"), float("nan"), True, "16", None, [16], 2.5]


def _base():
    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
    return net, model_spec(net), net.arrays()


def _write(path, spec, arrays):
    np.savez(path, spec=np.array(json.dumps(spec)), **arrays)


def _mutations():
    cases = []
    for value in BAD_NUMBERS:
        cases.append(("units", lambda s, v=value: s["architecture"]["layers"][0].__setitem__("units", v)))
        cases.append(("input", lambda s, v=value: s["architecture"].__setitem__("input_shape", [v])))
    for value in [float("nan"), -1, 0, float("inf"), 1e300, "x"]:
        cases.append(("eps", lambda s, v=value: s["architecture"]["layers"].insert(1, {"type": "batchnorm", "eps": v})))
    for value in [True, 1.0, "1", 2, 0, None]:
        cases.append(("version", lambda s, v=value: s.__setitem__("format_version", v)))
    for shape in [[-1, -784], [0], [28, 28, 1, 1], [784.5], [10**6, 10**6]]:
        cases.append(("reshape", lambda s, v=shape: s["architecture"]["layers"].insert(0, {"type": "reshape", "shape": v})))
    cases.append(("layers", lambda s: s["architecture"].__setitem__("layers", [{"type": "relu"}] * 1000)))
    cases.append(("conv", lambda s: s["architecture"]["layers"].insert(0, {"type": "conv2d", "filters": 0})))
    cases.append(("type", lambda s: s["architecture"]["layers"].insert(0, {"type": "evil", "x": 1})))
    cases.append(("arg", lambda s: s["architecture"]["layers"][0].__setitem__("bogus", 1)))
    return cases


@pytest.mark.parametrize("i", range(len(_mutations())))
def test_generated_bad_specs_are_model_file_errors(tmp_path, i):
    what, mutate = _mutations()[i]
    net, spec, arrays = _base()
    spec = json.loads(json.dumps(spec))
    mutate(spec)
    path = tmp_path / f"{what}.npz"
    _write(path, spec, arrays)
    with pytest.raises(ModelFileError) as info:
        load(path)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg and len(msg) < 400


def test_models_that_cannot_predict_digits(tmp_path):
    for sizes in ([784, 8, 5], [100, 8, 10], [784, 8, 20]):
        net = Network.from_architecture(mlp(sizes), rng=np.random.default_rng(0))
        save(net, tmp_path / "m.npz")
        load(tmp_path / "m.npz")                                   # a valid model...
        with pytest.raises(ModelFileError, match="784 -> 10"):
            load(tmp_path / "m.npz", digits=True)                  # ...but not one the app can use


def test_not_model_files(tmp_path):
    (tmp_path / "t.npz").write_text("hello, I am a text file\n")
    with pytest.raises(ModelFileError, match="not a model file .a text file"):
        load(tmp_path / "t.npz")
    np.save(tmp_path / "a.npy", np.zeros(3))
    os.replace(tmp_path / "a.npy", tmp_path / "a.npz")
    with pytest.raises(ModelFileError, match="bare .npy"):
        load(tmp_path / "a.npz")
    os.mkfifo(tmp_path / "fifo.npz")
    with pytest.raises(ModelFileError, match="FIFO"):
        read_spec(tmp_path / "fifo.npz")
    (tmp_path / "z.npz").symlink_to("/dev/zero")
    with pytest.raises(ModelFileError, match="device"):
        load(tmp_path / "z.npz")


def test_deep_spec_and_oversized_member_are_refused_without_inflating(tmp_path):
    import zipfile

    np.savez(tmp_path / "deep.npz", spec=np.array('{"format": "mnist-desktop-model", "a": ' + "[" * 50000 + "]" * 50000 + "}"))
    with pytest.raises(ModelFileError, match="nested"):
        load(tmp_path / "deep.npz")
    path = tmp_path / "bomb.npz"
    net, spec, arrays = _base()
    _write(path, spec, arrays)
    with zipfile.ZipFile(path, "a") as z:       # a member that declares 1 GiB: refused from its header
        info = zipfile.ZipInfo("junk.npy")
        z.writestr(info, b"\0" * 1000)
    with zipfile.ZipFile(path) as z:
        assert z.getinfo("junk.npy").file_size == 1000
    raw = path.read_bytes()                      # patch the declared sizes in both headers
    patched = raw.replace((1000).to_bytes(4, "little") * 1, (1 << 30).to_bytes(4, "little"))
    path.write_bytes(patched)
    with pytest.raises(ModelFileError, match="refused without unpacking|damaged|readable"):
        load(path)


# ---- drawings --------------------------------------------------------------------------------------------

def _drawing_cases():
    ok = {"width": 280, "height": 280, "pen_width": 18, "strokes": [[[10, 10], [20, 20]]]}
    cases = []
    for key in ("width", "height", "pen_width"):
        for v in BAD_NUMBERS + [4096, 1e6]:
            if not (key == "pen_width" and v == 2.5):        # a pen of 2.5 px is fine
                cases.append({**ok, key: v})
    cases.append({**ok, "strokes": [[[i % 280, (i * 7) % 280] for i in range(200_000)]]})
    cases.append({**ok, "width": 2048, "height": 2048, "pen_width": 256,
                  "strokes": [[[0, 0], [2048, 2048], [0, 2048], [2048, 0]] * 100]})
    cases.append({**ok, "strokes": [[[1e300, 1]]]})
    cases.append({**ok, "strokes": "abc"})
    cases.append([1, 2, 3])
    return cases


@pytest.mark.parametrize("i", range(len(_drawing_cases())))
def test_generated_bad_drawings(tmp_path, i):
    path = tmp_path / f"d{i}.json"
    path.write_text(json.dumps(_drawing_cases()[i]))
    with pytest.raises(DrawingError) as info:
        read_drawing(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_drawing_non_files_and_huge_files(tmp_path):
    os.mkfifo(tmp_path / "p.json")
    (tmp_path / "z.json").symlink_to("/dev/zero")
    (tmp_path / "big.json").write_bytes(b"[" + b"1," * 5_000_000 + b"1]")
    (tmp_path / "digits.json").write_bytes(b'{"width": ' + b"9" * 100_000 + b"}")
    for name, words in (("p.json", "FIFO"), ("z.json", "device"), ("big.json", "too big"), ("digits.json", "not a drawing")):
        with pytest.raises(DrawingError, match=words):
            read_drawing(tmp_path / name)


def test_drawing_save_fault_keeps_previous(tmp_path):
    good = Drawing(280, 280, 18.0, [[(1.0, 2.0), (3.0, 4.0)]])
    path = tmp_path / "d.json"
    write_drawing(path, good)
    before = path.read_bytes()
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(SaveError, match="is a folder"):
        write_drawing(tmp_path / "folder.json", good)
    assert path.read_bytes() == before and drawing_to_json(read_drawing(path))


# ---- IDX -------------------------------------------------------------------------------------------------

def test_idx_headers_claiming_huge_sizes(tmp_path):
    import gzip
    import struct

    cases = {
        "huge.idx": struct.pack(">HBB3I", 0, 8, 3, 60000, 4096, 4096) + b"\0" * 100,
        "dims.idx": struct.pack(">HBB", 0, 8, 255) + b"\xff" * 1020,
        "bomb.gz": gzip.compress(b"\0" * (64 << 20), compresslevel=9),   # 64 MB of zeros, ~64 KB on disk
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(IDXError) as info:
            read_idx(tmp_path / name)
        assert name in str(info.value)


# ---- settings --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stored", ["nan", "inf", "-inf", "1e308", str(10**20), float("nan"), "x" * 5000, "a\0b"])
def test_settings_values_fall_back_to_default(stored):
    from PySide6.QtCore import QSettings

    from mnist_desktop.app.state import setting

    s = QSettings()
    s.setValue("fuzz/value", stored)
    for convert, default in ((float, 18.0), (int, 5), (str, "d")):
        got = setting(s, "fuzz/value", convert, default)
        if convert is str:
            assert got == default or (len(got) <= 4096 and "\0" not in got)
        else:
            assert got == default, (stored, convert, got)
