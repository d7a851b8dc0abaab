"""Model files: round trips, and every kind of broken file gives one clear ModelFileError."""

import io
import json
import zipfile

import numpy as np
import pytest

from mnist_desktop.engine import ModelFileError, Network, load, model_spec, save
from mnist_desktop.engine.presets import cnn_seed, mlp
from mnist_desktop.engine.serialize import read_spec


def _net(arch=None, seed=0):
    return Network.from_architecture(arch or mlp([784, 16, 10]), rng=np.random.default_rng(seed))


def _x(n=5):
    return np.random.default_rng(1).random((n, 784), dtype=np.float32)


@pytest.mark.parametrize("arch", [mlp([784, 16, 10]), mlp([784, 8, 10], "sigmoid", "mse", 0.2), cnn_seed()])
def test_round_trip_predicts_identically(tmp_path, arch):
    net = _net(arch)
    path = tmp_path / "m.npz"
    save(net, path, model_spec(net, name="m", test_accuracy=0.5, training={"epochs": 3}))
    net2, spec = load(path)
    np.testing.assert_array_equal(net.predict_proba(_x()), net2.predict_proba(_x()))
    assert spec["name"] == "m" and spec["test_accuracy"] == 0.5 and spec["training"] == {"epochs": 3}
    assert spec["architecture"] == net.architecture()
    assert read_spec(path)["name"] == "m"


@pytest.mark.parametrize("compress, method", [(True, zipfile.ZIP_DEFLATED), (False, zipfile.ZIP_STORED)])
def test_saved_compressed_or_stored_and_read_back_alike(tmp_path, compress, method):
    net = _net(cnn_seed())
    path = tmp_path / "m.npz"
    save(net, path, model_spec(net, name="m"), compress=compress)
    with zipfile.ZipFile(path) as z:
        assert {info.compress_type for info in z.infolist()} == {method}
    net2, spec = load(path)
    np.testing.assert_array_equal(net.predict_proba(_x()), net2.predict_proba(_x()))
    assert spec["name"] == "m"


def test_batchnorm_buffers_are_saved(tmp_path):
    arch = {"input_shape": [784], "loss": "ce", "layers": [
        {"type": "dense", "units": 8}, {"type": "batchnorm"}, {"type": "relu"}, {"type": "dense", "units": 10}]}
    net = _net(arch)
    net.layers[1].buffers["mean"][:] = 3.0
    save(net, tmp_path / "bn.npz")
    net2, _ = load(tmp_path / "bn.npz")
    np.testing.assert_array_equal(net2.layers[1].buffers["mean"], 3.0)
    np.testing.assert_allclose(net.predict_proba(_x()), net2.predict_proba(_x()))


def test_no_pickle_is_ever_written(tmp_path):
    save(_net(), tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as z:
        for name in z.namelist():
            header = z.read(name)[:200]
            assert b"'descr': '|O'" not in header


def _write_npz(path, **arrays):
    np.savez(path, **arrays)


def _spec_array(net, **override):
    spec = {**model_spec(net), **override}
    return np.array(json.dumps(spec))


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "nope.npz")


@pytest.mark.parametrize("content", [b"", b"hello, not a zip", b"PK\x03\x04" + b"\x00" * 40])
def test_garbage_bytes(tmp_path, content):
    p = tmp_path / "bad.npz"
    p.write_bytes(content)
    with pytest.raises(ModelFileError):
        load(p)


def test_truncated_file(tmp_path):
    p = tmp_path / "m.npz"
    save(_net(), p)
    data = p.read_bytes()
    for cut in (len(data) // 3, len(data) - 30):
        p.write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            load(p)


def test_flipped_bytes_inside_compressed_array(tmp_path):
    p = tmp_path / "m.npz"
    save(_net(), p)
    data = bytearray(p.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(64)
    p.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        load(p)


def test_npy_instead_of_npz(tmp_path):
    p = tmp_path / "m.npz"
    with open(p, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ModelFileError, match="npz"):
        load(p)


def test_npz_without_spec(tmp_path):
    p = tmp_path / "m.npz"
    _write_npz(p, **{"0.W": np.zeros((784, 10), np.float32)})
    with pytest.raises(ModelFileError, match="spec"):
        load(p)


def test_spec_not_json(tmp_path):
    p = tmp_path / "m.npz"
    _write_npz(p, spec=np.array("{not json"))
    with pytest.raises(ModelFileError, match="JSON"):
        load(p)


def test_object_array_is_refused_without_unpickling(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(p, spec=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ModelFileError):
        load(p)


def test_future_format_version(tmp_path):
    net = _net()
    p = tmp_path / "m.npz"
    _write_npz(p, spec=_spec_array(net, format_version=99), **net.arrays())
    with pytest.raises(ModelFileError, match="version"):
        load(p)


def test_wrong_shape_missing_and_extra_arrays(tmp_path):
    net = _net()
    arrays = dict(net.arrays())
    p = tmp_path / "m.npz"
    bad = {**arrays, "0.W": np.zeros((10, 10), np.float32)}
    _write_npz(p, spec=_spec_array(net), **bad)
    with pytest.raises(ModelFileError, match="shape"):
        load(p)
    missing = {k: v for k, v in arrays.items() if k != "0.b"}
    _write_npz(p, spec=_spec_array(net), **missing)
    with pytest.raises(ModelFileError, match="missing: 0.b"):
        load(p)
    _write_npz(p, spec=_spec_array(net), **arrays, extra=np.zeros(1))
    with pytest.raises(ModelFileError, match="unexpected: extra"):
        load(p)


def test_nan_weights_and_bad_architecture(tmp_path):
    net = _net()
    p = tmp_path / "m.npz"
    arrays = dict(net.arrays())
    arrays["0.W"] = arrays["0.W"].copy()
    arrays["0.W"][0, 0] = np.nan
    _write_npz(p, spec=_spec_array(net), **arrays)
    with pytest.raises(ModelFileError, match="NaN"):
        load(p)
    _write_npz(p, spec=_spec_array(net, architecture={"input_shape": [784], "layers": [{"type": "warp"}]}))
    with pytest.raises(ModelFileError, match="architecture"):
        load(p)


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "m.npz"
    good = _net(seed=1)
    save(good, p)
    before = p.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError):
        save(_net(seed=2), p)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["m.npz"]  # no temp file left behind


def test_a_saved_model_gets_ordinary_file_permissions(tmp_path):
    """The temp file behind the atomic save is private (0o600); the saved model must not stay so."""
    import os

    old = os.umask(0o022)
    try:
        net = Network.from_architecture(mlp([784, 10]), rng=np.random.default_rng(0))
        save(net, tmp_path / "m.npz", model_spec(net, name="m"))
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644
