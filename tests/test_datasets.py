"""Datasets: finding, loading and downloading, against a real HTTP server on 127.0.0.1 (never the network)."""

import gzip
import hashlib
import http.server
import socket
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnist_desktop.data import datasets as ds
from mnist_desktop.data.datasets import (DATASETS, DataFile, DatasetError, DownloadCancelled, DownloadError,
                                         cache_dir, download, find_dataset, first_per_class, load_dataset)
from mnist_desktop.data.idx import idx_bytes, write_idx

ROOT = Path(__file__).resolve().parents[1]
NAMES = [f.name for f in DATASETS["mnist"].files]


# ---- fake datasets --------------------------------------------------------------------------------

def fake_arrays(n_train=60, n_test=20, seed=0):
    """Images whose first two pixels encode their index (so tests can tell which ones were kept)."""
    rng = np.random.default_rng(seed)
    out = []
    for n in (n_train, n_test):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        x[:, 0, 0], x[:, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
        y = rng.integers(0, 10, n).astype(np.uint8)
        out += [x, y]
    return out


def write_fake(folder, arrays=None, gz=True, names=NAMES):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in zip(names, arrays if arrays is not None else fake_arrays()):
        write_idx(folder / (name if gz else name.removesuffix(".gz")), arr)
    return folder


def index_of(x):
    """Recover the encoded index of each (N, 784) float image."""
    return np.rint(x[:, 0] * 255).astype(int) + 256 * np.rint(x[:, 1] * 255).astype(int)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No real dataset folders and no proxies leak into these tests."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(ds, "DATASETS", {k: replace(v, system_dirs=()) for k, v in DATASETS.items()})
    ds.clear_memory_cache()
    yield
    ds.clear_memory_cache()


# ---- finding --------------------------------------------------------------------------------------

def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    assert cache_dir("fashion") == tmp_path / "xdg-cache" / "mnist-desktop" / "fashion"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # the XDG spec says: ignore relative paths
    assert cache_dir("mnist") == Path.home() / ".cache" / "mnist-desktop" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir("mnist") == Path.home() / ".cache" / "mnist-desktop" / "mnist"


def test_find_dataset_search_order(monkeypatch, tmp_path):
    flag, env, cache = tmp_path / "flag", tmp_path / "env", cache_dir("mnist")
    assert find_dataset("mnist") is None
    write_fake(cache)
    assert find_dataset("mnist") == cache
    write_fake(env)
    monkeypatch.setenv("MNIST_DIR", str(env))
    assert find_dataset("mnist") == env
    assert find_dataset("mnist", flag) == env  # an empty --data folder: keep looking
    write_fake(flag, gz=False)  # uncompressed names count too
    assert find_dataset("mnist", flag) == flag
    assert find_dataset("mnist", str(flag)) == flag
    (env / NAMES[3]).unlink()  # an incomplete folder is skipped
    assert find_dataset("mnist") == cache
    assert find_dataset("fashion") is None  # MNIST_DIR is not for Fashion-MNIST
    monkeypatch.setenv("FASHION_MNIST_DIR", str(flag))
    assert find_dataset("fashion") == flag


def test_find_fashion_in_system_folder(tmp_path):
    system = write_fake(tmp_path / "usr-share")
    info = replace(DATASETS["fashion"], system_dirs=(str(system),))
    assert find_dataset(info) == system
    write_fake(cache_dir("fashion"))
    assert find_dataset(info) == cache_dir("fashion")  # the user's own copy comes first
    # the real entry points where Debian's dataset-fashion-mnist package installs the files
    assert ds.DATASETS is not DATASETS and DATASETS["fashion"].system_dirs == ("/usr/share/datasets/fashion-mnist",)


def test_lecun_dotted_names_are_accepted(tmp_path):
    names = ["train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"]
    write_fake(tmp_path, names=names)
    assert len(load_dataset(data_dir=tmp_path).y_train) == 60


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'emnist' .*mnist, fashion"):
        find_dataset("emnist")


# ---- loading --------------------------------------------------------------------------------------

def test_load_fake_dataset(tmp_path):
    arrays = fake_arrays()
    write_fake(tmp_path, arrays)
    d = load_dataset(data_dir=tmp_path)
    assert d.x_train.shape == (60, 784) and d.x_train.dtype == np.float32
    assert d.y_train.dtype == np.int64 and d.x_test.shape == (20, 784) and d.y_test.shape == (20,)
    assert 0 <= d.x_train.min() and d.x_train.max() <= 1
    np.testing.assert_array_equal(d.x_train, arrays[0].reshape(60, 784) / np.float32(255))
    np.testing.assert_array_equal(d.y_test, arrays[3])
    assert (d.name, d.source, d.test_name, d.classes[3]) == ("mnist", tmp_path, "test", "3")
    with pytest.raises(ValueError):  # shared through the memo: read-only
        d.x_train[0, 0] = 1
    assert load_dataset(data_dir=tmp_path).x_train is d.x_train  # decoded once


def test_memo_sees_replaced_files(tmp_path):
    write_fake(tmp_path, fake_arrays(seed=0))
    first = load_dataset(data_dir=tmp_path).x_train
    write_fake(tmp_path, fake_arrays(n_train=30, seed=1))
    assert len(load_dataset(data_dir=tmp_path).x_train) == 30 and len(first) == 60


def test_test_only_reads_just_the_test_files(tmp_path):
    write_fake(tmp_path, fake_arrays(seed=0))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not an IDX file")   # never opened
    d = load_dataset(data_dir=tmp_path, test_only=True)
    assert d.x_train.shape == (0, 784) and d.y_train.shape == (0,) and len(d.y_test) > 0
    with pytest.raises(DatasetError):
        load_dataset(data_dir=tmp_path)
    with pytest.raises(ValueError):
        load_dataset(data_dir=tmp_path, test_only=True, validation=True)


def test_validation_split_is_last_10000(tmp_path):
    write_fake(tmp_path, fake_arrays(n_train=25_000, n_test=50), gz=False)
    d = load_dataset(data_dir=tmp_path, validation=True)
    assert d.test_name == "validation" and len(d.y_train) == 15_000 and len(d.y_test) == 10_000
    np.testing.assert_array_equal(index_of(d.x_train), np.arange(15_000))
    np.testing.assert_array_equal(index_of(d.x_test), np.arange(15_000, 25_000))
    assert len(load_dataset(data_dir=tmp_path).y_test) == 50  # without it, the real test set


def test_validation_split_of_a_small_set_holds_out_a_sixth(tmp_path):
    write_fake(tmp_path, fake_arrays(n_train=600))
    d = load_dataset(data_dir=tmp_path, validation=True)
    assert (len(d.y_train), len(d.y_test)) == (500, 100)
    np.testing.assert_array_equal(index_of(d.x_test), np.arange(500, 600))


def test_limit_per_class_keeps_the_first_of_each_digit(tmp_path):
    arrays = fake_arrays(n_train=300)
    write_fake(tmp_path, arrays)
    d = load_dataset(data_dir=tmp_path, limit_per_class=5)
    y = arrays[1]
    expected = np.sort(np.concatenate([np.flatnonzero(y == c)[:5] for c in range(10)]))
    np.testing.assert_array_equal(index_of(d.x_train), expected)
    np.testing.assert_array_equal(d.y_train, y[expected])
    assert np.bincount(d.y_train).tolist() == [5] * 10 and len(d.y_test) == 20  # test set whole
    v = load_dataset(data_dir=tmp_path, validation=True, limit_per_class=3)
    assert np.bincount(v.y_train, minlength=10).max() == 3 and len(v.y_test) == 50  # split first, then limit
    assert np.all(index_of(v.x_train) < 250)
    with pytest.raises(ValueError, match=">= 1"):
        load_dataset(data_dir=tmp_path, limit_per_class=0)


def test_first_per_class_with_a_rare_class():
    y = np.array([3, 3, 1, 3, 1, 3, 0])
    np.testing.assert_array_equal(first_per_class(y, 2), [0, 1, 2, 4, 6])


def test_committed_subset_loads():
    d = load_dataset(data_dir=ROOT / "tests" / "data")
    assert d.x_train.shape == (3000, 784) and d.x_test.shape == (1000, 784)
    assert np.bincount(d.y_train).tolist() == [300] * 10 and np.bincount(d.y_test).tolist() == [100] * 10
    assert d.y_train[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]  # MNIST's training set starts 5 0 4 1 9 2 1 3
    assert 0.12 < d.x_train.mean() < 0.14  # ink fraction of real digits
    assert sum(f.stat().st_size for f in (ROOT / "tests" / "data").glob("*.gz")) < 2_000_000


# ---- loading errors -------------------------------------------------------------------------------

def test_missing_dataset_message(tmp_path):
    (tmp_path / "half").mkdir()
    write_idx(tmp_path / "half" / NAMES[0], fake_arrays()[0])
    with pytest.raises(DatasetError) as info:
        load_dataset(data_dir=tmp_path / "half")
    msg = str(info.value)
    assert msg.startswith("MNIST was not found in ")
    assert f"{tmp_path / 'half'} (missing train-labels-idx1-ubyte.gz, t10k-images" in msg
    assert f"{cache_dir('mnist')} (no such folder)" in msg
    assert "run `mnist-desktop download`" in msg.lower() and "--data DIR" in msg
    with pytest.raises(DatasetError, match="^Fashion-MNIST was not found.*download --dataset fashion"):
        load_dataset("fashion")


def broken(tmp_path, index, array):
    arrays = fake_arrays()
    arrays[index] = array
    if index == 0 and len(array) == 0:
        arrays[1] = np.zeros(0, np.uint8)
    write_fake(tmp_path, arrays)
    return tmp_path


@pytest.mark.parametrize("index, array, message", [
    (1, np.zeros(59, np.uint8), "train-images-idx3-ubyte.gz has 60 images but train-labels-idx1-ubyte.gz has 59"),
    (2, np.zeros((20, 20, 20), np.uint8), "t10k-images-idx3-ubyte.gz holds uint8 data of shape \\(20, 20, 20\\), "
                                          "expected unsigned-byte images of 28 x 28"),
    (0, np.zeros((60, 784), np.uint8), "shape \\(60, 784\\)"),
    (0, np.zeros((60, 28, 28), np.float32), "holds float32 data"),
    (3, np.full(20, 10, np.uint8), "t10k-labels-idx1-ubyte.gz has labels outside 0..9 \\(10 at index 0\\)"),
    (1, np.full(60, -1, np.int32), "labels outside 0..9 \\(-1 at index 0\\)"),
    (1, np.zeros(60, np.float32), "holds float32 labels"),
    (1, np.zeros((60, 1), np.uint8), "expected a list of labels"),
    (0, np.zeros((0, 28, 28), np.uint8), "holds no images"),
])
def test_inconsistent_files(tmp_path, index, array, message):
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset(data_dir=broken(tmp_path, index, array))
    assert str(info.value).startswith("cannot load MNIST")


def test_corrupt_file_names_it(tmp_path):
    write_fake(tmp_path)
    path = tmp_path / NAMES[2]
    path.write_bytes(path.read_bytes()[:500])  # truncated download
    with pytest.raises(DatasetError) as info:
        load_dataset(data_dir=tmp_path)
    msg = str(info.value)
    assert str(path) in msg and "gzip stream is truncated" in msg and "mnist-desktop download" in msg
    assert info.value.__cause__ is None  # no IDX/zlib traceback chained


def test_validation_needs_enough_images(tmp_path):
    write_fake(tmp_path, fake_arrays(n_train=5))
    with pytest.raises(DatasetError, match="only 5 training images"):
        load_dataset(data_dir=tmp_path, validation=True)


# ---- downloading ----------------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}  # path -> bytes | ("cut", bytes) | int (HTTP status)
    requests: list = []

    def do_GET(self):
        self.requests.append(self.path)
        body = self.routes.get(self.path, 404)
        if isinstance(body, int):
            self.send_error(body)
            return
        cut = isinstance(body, tuple)
        data = body[1] if cut else body
        self.send_response(200)
        self.send_header("Content-Length", str(len(data) * (2 if cut else 1)))
        self.end_headers()
        self.wfile.write(data)  # a "cut" response promises twice as much, then closes the connection

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.routes, Handler.requests = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def dead_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens here now
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture
def fake_remote():
    """Gzipped fake files and a DatasetInfo with their checksums (train images big enough for several chunks)."""
    blobs = [gzip.compress(idx_bytes(a), mtime=0) for a in fake_arrays(n_train=400)]
    files = tuple(DataFile(name, hashlib.md5(b).hexdigest(), hashlib.sha256(b).hexdigest(), size=len(b))
                  for name, b in zip(NAMES, blobs))
    return replace(DATASETS["mnist"], files=files), dict(zip(NAMES, blobs))


def serve(prefix, blobs, **override):
    for name, blob in blobs.items():
        Handler.routes[f"{prefix}{name}"] = override.get(name, blob)


def test_download_with_progress(server, fake_remote, tmp_path):
    info, blobs = fake_remote
    serve("/good/", blobs)
    calls = []
    dest = download(info, tmp_path / "new" / "mnist", mirrors=[server + "/good/"],
                    progress=lambda *a: calls.append(a))
    assert dest == tmp_path / "new" / "mnist"
    assert sorted(p.name for p in dest.iterdir()) == sorted(NAMES)  # and nothing else
    for name, blob in blobs.items():
        assert (dest / name).read_bytes() == blob
        mine = [c for c in calls if c[0] == name]
        assert mine[0] == (name, 0, len(blob)) and mine[-1] == (name, len(blob), len(blob))
        assert all(a[1] <= b[1] for a, b in zip(mine, mine[1:]))
    assert len([c for c in calls if c[0] == NAMES[0]]) > 3  # streamed in chunks
    assert len(load_dataset(data_dir=dest).y_train) == 400

    # again: every file is already there with a good checksum, so nothing is fetched
    Handler.requests.clear()
    calls.clear()
    download(info, dest, mirrors=[server + "/good/"], progress=lambda *a: calls.append(a))
    assert Handler.requests == [] and [c[0] for c in calls] == NAMES


def test_default_destination_is_the_cache(server, fake_remote):
    info, blobs = fake_remote
    serve("/good/", blobs)
    assert download(info, mirrors=[server + "/good"]) == cache_dir("mnist")  # no trailing slash is fine
    assert find_dataset("mnist") == cache_dir("mnist")


def test_dead_mirror_then_good(server, fake_remote, tmp_path):
    info, blobs = fake_remote
    serve("/good/", blobs)
    download(info, tmp_path, mirrors=[dead_url(), server + "/good/"], timeout=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)


def test_corrupt_and_missing_mirrors_then_good(server, fake_remote, tmp_path):
    info, blobs = fake_remote
    serve("/corrupt/", blobs, **{NAMES[0]: blobs[NAMES[0]][:-10] + b"0123456789", NAMES[2]: ("cut", blobs[NAMES[2]])})
    serve("/good/", blobs)
    (tmp_path / NAMES[1]).write_bytes(b"stale half file")  # a bad file already there is replaced
    download(info, tmp_path, mirrors=[server + "/missing/", server + "/corrupt/", server + "/good/"])
    for name, blob in blobs.items():
        assert (tmp_path / name).read_bytes() == blob
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)
    assert f"/good/{NAMES[0]}" in Handler.requests and f"/good/{NAMES[3]}" not in Handler.requests


def test_all_mirrors_bad(server, fake_remote, tmp_path):
    info, blobs = fake_remote
    serve("/corrupt/", {n: b[:-10] + b"0123456789" for n, b in blobs.items()})
    serve("/cut/", {n: ("cut", b) for n, b in blobs.items()})
    mirrors = [dead_url(), server + "/missing/", server + "/corrupt/", server + "/cut/"]
    with pytest.raises(DownloadError) as info_:
        download(info, tmp_path / "dest", mirrors=mirrors, timeout=5)
    err = info_.value
    assert err.file_name == NAMES[0] and [u for u, _ in err.failures] == [m + NAMES[0] for m in mirrors]
    reasons = [r for _, r in err.failures]
    assert reasons[0].startswith("cannot connect") and "refused" in reasons[0].lower()
    assert reasons[1] == "HTTP error 404 Not Found"
    assert reasons[2].startswith(f"checksum mismatch: sha256 ") and f"expected {info.files[0].sha256}" in reasons[2]
    assert reasons[3] == f"connection closed after {len(blobs[NAMES[0]]):,} of {2 * len(blobs[NAMES[0]]):,} bytes"
    msg = str(err)
    assert msg.startswith(f"could not download {NAMES[0]} from any mirror") and all(m in msg for m in mirrors)
    assert list((tmp_path / "dest").iterdir()) == []  # no files, no temp files


def test_cancel_leaves_nothing(server, fake_remote, tmp_path):
    info, blobs = fake_remote
    serve("/good/", blobs)
    seen = []
    with pytest.raises(DownloadCancelled):
        download(info, tmp_path, mirrors=[server + "/good/"], progress=lambda *a: seen.append(a),
                 cancel=lambda: any(done > 0 for _, done, _ in seen))
    assert 0 < seen[-1][1] < len(blobs[NAMES[0]])  # stopped mid-file
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DownloadCancelled):  # cancelled before starting
        download(info, tmp_path, mirrors=[server + "/good/"], cancel=lambda: True)
    assert Handler.requests == [f"/good/{NAMES[0]}"]


def test_keyboard_interrupt_leaves_nothing(server, fake_remote, tmp_path):
    info, blobs = fake_remote
    serve("/good/", blobs)

    def progress(name, done, total):
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(info, tmp_path, mirrors=[server + "/good/"], progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_regzipped_copy_with_the_same_content_is_accepted(server, fake_remote, tmp_path):
    """Like Debian's Fashion-MNIST: other .gz bytes, same IDX data; raw_sha256 recognises it."""
    info, blobs = fake_remote
    raw = {n: gzip.decompress(b) for n, b in blobs.items()}
    info = replace(info, files=tuple(replace(f, raw_sha256=hashlib.sha256(raw[f.name]).hexdigest()) for f in info.files))
    serve("/repacked/", {n: gzip.compress(r, compresslevel=1, mtime=1) for n, r in raw.items()})
    download(info, tmp_path, mirrors=[server + "/repacked/"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(NAMES)
    assert ds.checksum_problem(tmp_path / NAMES[0], info.files[0]) is None


def test_unwritable_destination(fake_remote, tmp_path):
    info, _ = fake_remote
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(DownloadError, match="cannot create the folder"):
        download(info, tmp_path / "file" / "mnist", mirrors=["http://127.0.0.1:9/"])


def test_published_checksums_are_wired_in():
    mnist, fashion = DATASETS["mnist"], DATASETS["fashion"]
    assert [f.md5 for f in mnist.files] == ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                            "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"]
    assert [f.md5 for f in fashion.files] == ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                              "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"]
    assert mnist.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert all(m.startswith("https://") for m in mnist.mirrors + fashion.mirrors)
    assert all(f.sha256 or f.raw_sha256 for f in mnist.files + fashion.files)
    assert [f.name for f in fashion.files] == NAMES and fashion.classes[9] == "Ankle boot"


def test_md5_alone_is_not_enough(tmp_path):
    """A file whose md5 (or decompressed md5) matches but whose sha256 does not is refused."""
    data = gzip.compress(b"some data", mtime=0)
    path = tmp_path / "f.gz"
    path.write_bytes(data)
    f = DataFile("f.gz", hashlib.md5(data).hexdigest(), "0" * 64,
                 raw_md5=hashlib.md5(b"some data").hexdigest(), raw_sha256="1" * 64)
    assert "sha256" in ds.checksum_problem(path, f)
    assert ds.checksum_problem(path, replace(f, raw_sha256=hashlib.sha256(b"some data").hexdigest())) is None
