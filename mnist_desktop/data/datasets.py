"""MNIST and Fashion-MNIST: where the four IDX files are, loading them checked, downloading them safely.

    ds = load_dataset("mnist")                    # finds the files (see find_dataset), decodes, validates
    ds.x_train.shape, ds.y_train.shape            # (60000, 784) float32 in [0, 1], (60000,) int64
    ds = load_dataset(validation=True)            # Nielsen's split: train 50,000 / validation 10,000
    download("fashion", progress=print)           # into the cache folder, checksums verified

Where the files are looked for, in order (``find_dataset``): the folder passed in (``--data DIR``), then
``$MNIST_DIR`` (``$FASHION_MNIST_DIR`` for Fashion-MNIST), then the cache folder
``$XDG_CACHE_HOME/mnist-desktop/<name>`` (default ``~/.cache/mnist-desktop/<name>``), then system folders
(Debian's ``dataset-fashion-mnist`` package installs Fashion-MNIST in /usr/share/datasets/fashion-mnist).
A folder counts when it holds all four files, gzipped or not.

``download`` never leaves a partial or unverified file under a real name: each file streams into a temp
file in the destination folder, is checked against its published md5 (and sha256 where known), and only
then renamed; any failure, cancel or Ctrl+C deletes the temp file.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import threading
import urllib.error
import urllib.request
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..fileio import atomic_write
from .idx import IDXError, read_idx

DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
IMAGE_SIZE = 28
VALIDATION_SIZE = 10_000  # Nielsen's split: the last 10,000 training images
USER_AGENT = "mnist-desktop/0.1 (+urllib)"
_CHUNK = 64 * 1024


# ---- what the datasets are -----------------------------------------------------------------------

@dataclass(frozen=True)
class DataFile:
    name: str                   # as published, gzipped: "train-images-idx3-ubyte.gz"
    md5: str                    # of the published .gz
    sha256: str | None = None   # of the published .gz, where known
    raw_md5: str | None = None  # of the uncompressed IDX data: matches re-gzipped copies (e.g. Debian's)
    size: int | None = None     # bytes of the published .gz
    raw_sha256: str | None = None  # of the uncompressed IDX data: what a re-gzipped copy is verified by

    def local_names(self) -> tuple[str, ...]:
        """Names this file may have on disk: gzipped or not, and LeCun's "train-images.idx3-ubyte" form."""
        stem = self.name.removesuffix(".gz")
        dotted = stem.replace("-idx", ".idx", 1)
        return tuple(dict.fromkeys((stem + ".gz", stem, dotted, dotted + ".gz")))


@dataclass(frozen=True)
class DatasetInfo:
    name: str                           # "mnist"
    title: str                          # "MNIST", for messages
    files: tuple[DataFile, ...]         # train images, train labels, test images, test labels
    mirrors: tuple[str, ...]            # base URLs, tried in order
    env_var: str                        # environment variable naming a folder that holds the files
    system_dirs: tuple[str, ...] = ()   # folders where system packages install the files
    classes: tuple[str, ...] = DIGITS   # class names for labels 0..9
    download_command: str = "mnist-desktop download"


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST",
        files=(
            DataFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                     "6bbc9ace898e44ae57da46a324031adb", 9_912_422,
                     "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            DataFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
                     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                     "a25bea736e30d166cdddb491f175f624", 28_881,
                     "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            DataFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
                     "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                     "2646ac647ad5339dbf082846283269ea", 1_648_877,
                     "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            DataFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c",
                     "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                     "27ae3e4e09519cfbb04c329615203637", 4_542,
                     "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        env_var="MNIST_DIR",
    ),
    "fashion": DatasetInfo(
        name="fashion",
        title="Fashion-MNIST",
        # md5 of the .gz: the published ones (Zalando's README, torchvision); raw_md5: of the decoded files,
        # checked here against Debian's repackaged copy (its .gz bytes differ, its contents do not);
        # raw_sha256: computed from those decoded files (Debian's dataset-fashion-mnist, whose raw md5 match),
        # what every Fashion-MNIST file is verified by (md5 alone is not enough)
        files=(
            DataFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                     raw_md5="f4a8712d7a061bf5bd6d2ca38dc4d50a", size=26_421_880,
                     raw_sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            DataFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe",
                     raw_md5="9018921c3c673c538a1fc5bad174d6f9", size=29_515,
                     raw_sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
            DataFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79",
                     raw_md5="8181f5470baa50b63fa0f6fddb340f0a", size=4_422_102,
                     raw_sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            DataFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310",
                     raw_md5="15d484375f8d13e6eb1aabb0c3f46965", size=5_148,
                     raw_sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        ),
        mirrors=(
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # where Keras fetches it
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        env_var="FASHION_MNIST_DIR",
        system_dirs=("/usr/share/datasets/fashion-mnist",),  # Debian/Ubuntu: apt install dataset-fashion-mnist
        classes=FASHION_CLASSES,
        download_command="mnist-desktop download --dataset fashion",
    ),
}


class DatasetError(Exception):
    """The dataset is missing or its files are inconsistent; the message says what to do."""


class DownloadError(Exception):
    """No mirror delivered a file with the right checksum. ``failures``: [(url, reason), ...]."""

    def __init__(self, message: str, file_name: str = "", failures: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.file_name = file_name
        self.failures = list(failures or [])


class DownloadCancelled(Exception):
    """``cancel()`` returned True; no partial file was left behind."""


def get_info(name: str | DatasetInfo) -> DatasetInfo:
    """The DatasetInfo for "mnist" or "fashion" (a DatasetInfo is passed through: tests use their own)."""
    if isinstance(name, DatasetInfo):
        return name
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})") from None


# ---- finding the files ---------------------------------------------------------------------------

def cache_dir(name: str = "mnist") -> Path:
    """``$XDG_CACHE_HOME/mnist-desktop/<name>``, default ``~/.cache/mnist-desktop/<name>`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"  # XDG: ignore relative paths
    return root / "mnist-desktop" / name


def search_path(name: str | DatasetInfo = "mnist", data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders ``find_dataset`` looks in, in order."""
    info = get_info(name)
    places = []
    if data_dir is not None:
        places.append(Path(data_dir).expanduser())
    env = os.environ.get(info.env_var)
    if env:
        places.append(Path(env).expanduser())
    places.append(cache_dir(info.name))
    places.extend(Path(p) for p in info.system_dirs)
    return list(dict.fromkeys(places))


def _locate(folder: Path, info: DatasetInfo) -> tuple[list[Path], list[str]]:
    """(paths of the files found, names of the files missing) in ``folder``."""
    found, missing = [], []
    for f in info.files:
        path = next((folder / n for n in f.local_names() if (folder / n).is_file()), None)
        if path is None:
            missing.append(f.name)
        else:
            found.append(path)
    return found, missing


def find_dataset(name: str | DatasetInfo = "mnist", data_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder of ``search_path`` that holds all four files (.gz or uncompressed), or None."""
    info = get_info(name)
    for folder in search_path(info, data_dir):
        if not _locate(folder, info)[1]:
            return folder
    return None


# ---- loading -------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: flat float images and int labels, plus where they came from."""

    x_train: np.ndarray   # (N, 784) float32 in [0, 1], read-only
    y_train: np.ndarray   # (N,) int64 in 0..9
    x_test: np.ndarray    # (M, 784) float32 in [0, 1]
    y_test: np.ndarray    # (M,) int64
    name: str             # "mnist" | "fashion"
    source: Path          # the folder the files came from
    test_name: str = "test"   # "test", or "validation" for the held-out end of the training set
    classes: tuple[str, ...] = DIGITS

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, {self.test_name}={len(self.y_test)}, "
                f"source={str(self.source)!r})")


_MEMO: OrderedDict = OrderedDict()  # (dataset, stats of an images + labels file) -> (x, y), read-only
_MEMO_SIZE = 4                      # train and test of MNIST + Fashion-MNIST: ~440 MB of float32
_MEMO_LOCK = threading.Lock()


def _read_part(images_path: Path, labels_path: Path, info: DatasetInfo, hint: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        images = read_idx(images_path)
        labels = read_idx(labels_path)
    except IDXError as exc:
        raise DatasetError(f"cannot load {info.title}: {exc}. {hint}") from None
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DatasetError(f"cannot load {info.title}: {images_path} holds {images.dtype} data of shape "
                           f"{images.shape}, expected unsigned-byte images of {IMAGE_SIZE} x {IMAGE_SIZE}. {hint}")
    if labels.ndim != 1:
        raise DatasetError(f"cannot load {info.title}: {labels_path} holds an array of shape {labels.shape}, "
                           f"expected a list of labels. {hint}")
    if len(images) != len(labels):
        raise DatasetError(f"cannot load {info.title}: {images_path.name} has {len(images):,} images but "
                           f"{labels_path.name} has {len(labels):,} labels (in {images_path.parent}). {hint}")
    if len(labels) == 0:
        raise DatasetError(f"cannot load {info.title}: {images_path} holds no images. {hint}")
    if labels.dtype.kind not in "iu":
        raise DatasetError(f"cannot load {info.title}: {labels_path} holds {labels.dtype} labels, "
                           f"expected integers 0..9. {hint}")
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if len(bad):
        raise DatasetError(f"cannot load {info.title}: {labels_path} has labels outside 0..9 "
                           f"({labels[bad[0]]} at index {bad[0]}). {hint}")
    x = images.reshape(len(images), IMAGE_SIZE * IMAGE_SIZE).astype(np.float32)
    x /= 255  # division, not * (1/255): 255 maps to exactly 1.0
    y = labels.astype(np.int64)
    x.flags.writeable = y.flags.writeable = False  # shared by every caller through the memo
    return x, y


def _load_arrays(folder: Path, info: DatasetInfo, parts: tuple[str, ...] = ("train", "test")):
    """(x_train, y_train, x_test, y_test), each part read once per file version (memoised); a part not
    asked for is a pair of empty arrays."""
    paths, missing = _locate(folder, info)
    if missing:
        raise DatasetError(f"{info.title} is incomplete in {folder}: {', '.join(missing)} missing; "
                           f"run `{info.download_command}` or pass --data DIR")
    hint = (f"Delete the folder's {info.title} files and run `{info.download_command}`, "
            f"or pass --data DIR with good copies")
    empty = (np.zeros((0, IMAGE_SIZE * IMAGE_SIZE), np.float32), np.zeros(0, np.int64))
    for a in empty:
        a.flags.writeable = False
    arrays = []
    for part, (images, labels) in (("train", paths[0:2]), ("test", paths[2:4])):
        arrays += _load_part(images, labels, info, hint) if part in parts else empty
    return tuple(arrays)


def _load_part(images: Path, labels: Path, info: DatasetInfo, hint: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        stats = tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in (images, labels))
    except OSError as exc:  # removed or made unreadable since _locate saw it
        raise DatasetError(f"cannot load {info.title} from {images.parent}: {exc}") from None
    key = (info.name, stats)
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    arrays = _read_part(images, labels, info, hint)
    with _MEMO_LOCK:
        _MEMO[key] = arrays
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return arrays


def clear_memory_cache() -> None:
    """Forget the decoded arrays kept in memory (the next load reads the files again)."""
    with _MEMO_LOCK:
        _MEMO.clear()


def first_per_class(y: np.ndarray, n: int) -> np.ndarray:
    """Indices (sorted) of the first ``n`` examples of each class in labels ``y`` (N,)."""
    if n < 1:
        raise ValueError(f"limit per class must be >= 1, got {n}")
    order = np.argsort(y, kind="stable")              # grouped by class, original order inside a class
    counts = np.bincount(y, minlength=10)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(y)) - np.repeat(starts, counts)  # position of each sorted example within its class
    return np.sort(order[rank < n])


def load_dataset(name: str | DatasetInfo = "mnist", data_dir: str | os.PathLike | None = None, *,
                 validation: bool = False, limit_per_class: int | None = None, test_only: bool = False) -> Dataset:
    """Find, read and check the dataset; see the module docstring for where it is looked for.

    validation: hold out the last 10,000 training images as the test set (Nielsen's 50k/10k split;
        for training sets under 20,000 images, the last sixth), and never look at the real test set.
    limit_per_class: keep only the first N training images of each class (quick runs); the test or
        validation set stays whole.
    test_only: read only the test files (evaluating: a quarter of the work); the training arrays are empty.
    Raises DatasetError when the files are missing or inconsistent.
    """
    info = get_info(name)
    if limit_per_class is not None and limit_per_class < 1:
        raise ValueError(f"limit per class must be >= 1, got {limit_per_class}")
    folder = find_dataset(info, data_dir)
    if folder is None:
        places = []
        for p in search_path(info, data_dir):
            if p.is_dir():
                missing = _locate(p, info)[1]
                places.append(f"{p} (missing {', '.join(missing)})")
            else:
                places.append(f"{p} (no such folder)")
        raise DatasetError(f"{info.title} was not found in {'; '.join(places)}. "
                           f"Run `{info.download_command}` or pass --data DIR "
                           f"(a folder holding {', '.join(f.name for f in info.files)})")
    if test_only and validation:
        raise ValueError("test_only and validation exclude each other (validation comes from the training set)")
    x_train, y_train, x_test, y_test = _load_arrays(folder, info, ("test",) if test_only else ("train", "test"))
    test_name = "test"
    if validation:
        n = len(y_train)
        held = VALIDATION_SIZE if n >= 2 * VALIDATION_SIZE else n // 6
        if held < 1:
            raise DatasetError(f"{info.title} in {folder} has only {n} training images: too few to hold "
                               f"some out for validation")
        x_train, y_train, x_test, y_test = x_train[:-held], y_train[:-held], x_train[-held:], y_train[-held:]
        test_name = "validation"
    if limit_per_class is not None:
        keep = first_per_class(y_train, limit_per_class)
        x_train, y_train = x_train[keep], y_train[keep]
        x_train.flags.writeable = y_train.flags.writeable = False
    return Dataset(x_train, y_train, x_test, y_test, info.name, folder, test_name, info.classes)


# ---- downloading ---------------------------------------------------------------------------------

def _digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _raw_md5(path: Path) -> str | None:
    """md5 of the decompressed content of a gzip file, or None if it does not decompress."""
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                md5.update(chunk)
    except (OSError, EOFError, zlib.error):  # not gzip, truncated, corrupt: not this file
        return None
    return md5.hexdigest()


def _raw_sha256(path: Path) -> str | None:
    """sha256 of the decompressed content of a gzip file (at most 128 MB), or None if it does not decompress."""
    sha = hashlib.sha256()
    done = 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
                done += len(chunk)
                if done > 128 << 20:  # a gzip bomb is not one of our files
                    return None
    except (OSError, EOFError, zlib.error):  # not gzip, truncated, corrupt: not this file
        return None
    return sha.hexdigest()


def checksum_problem(path: str | os.PathLike, f: DataFile) -> str | None:
    """None if ``path`` is the published file ``f`` (or a re-gzipped copy of the same data), else why not.

    sha256 decides, whatever the mirror: of the .gz when it is known, or of the decompressed data (a
    re-gzipped copy, or a dataset whose .gz sha256 was never published). An md5 match alone is not enough."""
    path = Path(path)
    md5, sha = _digests(path)
    if f.sha256 is not None and sha == f.sha256:
        return None
    if f.raw_sha256 is not None and _raw_sha256(path) == f.raw_sha256:
        return None
    if f.sha256 is None and f.raw_sha256 is None:  # a DatasetInfo made without any sha256: md5 is all there is
        if md5 == f.md5 or (f.raw_md5 is not None and _raw_md5(path) == f.raw_md5):
            return None
        return f"checksum mismatch: md5 {md5}, expected {f.md5}"
    if f.sha256 is not None:
        return f"checksum mismatch: sha256 {sha}, expected {f.sha256}"
    return f"checksum mismatch: the sha256 of the decompressed data is not {f.raw_sha256}"


class _MirrorFailed(Exception):
    pass


def _fetch(url: str, target: Path, f: DataFile, progress, cancel, timeout: float) -> None:
    """Stream ``url`` into a temp file beside ``target``, verify it, rename it to ``target``."""
    received = 0

    def stream(out) -> None:
        nonlocal received
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the error page's connection
            raise _MirrorFailed(f"HTTP error {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise _MirrorFailed(f"cannot connect ({exc.reason})") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _MirrorFailed(f"cannot connect ({type(exc).__name__}: {exc})") from None
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else f.size
            limit = 2 * f.size + (1 << 20) if f.size else None  # a runaway stream is not our file
            done = 0
            if progress:
                progress(f.name, 0, total)
            while True:
                if cancel is not None and cancel():
                    raise DownloadCancelled(f"download of {f.name} cancelled")
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _MirrorFailed(f"connection lost after {done:,} bytes "
                                        f"({type(exc).__name__}: {exc})") from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                received = done
                if progress:
                    progress(f.name, done, total)
                if limit is not None and done > limit:
                    raise _MirrorFailed(f"sent more than {limit:,} bytes; expected {f.size:,}")
            if length and length.isdigit() and done != int(length):
                # http.client ends a body cut short quietly; the checksum would catch it, but say why
                raise _MirrorFailed(f"connection closed after {done:,} of {int(length):,} bytes")

    def verify(tmp: str) -> None:
        problem = checksum_problem(tmp, f)
        if problem:
            raise _MirrorFailed(f"{problem} ({received:,} bytes received)")

    # temp file beside the target, fsync, checksums, rename; deleted on any failure (fileio.atomic_write)
    atomic_write(target, stream, check=verify)


def download(name: str | DatasetInfo = "mnist", dest: str | os.PathLike | None = None, *,
             mirrors: list[str] | tuple[str, ...] | None = None,
             progress: Callable[[str, int, int | None], None] | None = None,
             cancel: Callable[[], bool] | None = None, timeout: float = 30) -> Path:
    """Fetch the four files into ``dest`` (default: the cache folder); returns the folder.

    Files already there with a good checksum are kept. Each file is tried on each mirror in order, moving
    on after a connection error, an HTTP error or a checksum mismatch. ``progress(file_name, bytes_done,
    bytes_total_or_None)`` is called per chunk; ``cancel()`` is polled between chunks and makes this raise
    DownloadCancelled. Raises DownloadError, listing each mirror's reason, when no mirror delivers a file.
    Pass a DatasetInfo as ``name`` to use other files or checksums (tests do).
    """
    info = get_info(name)
    mirrors = tuple(mirrors) if mirrors is not None else info.mirrors
    if not mirrors:
        raise ValueError("no mirrors to download from")
    dest = Path(dest).expanduser() if dest is not None else cache_dir(info.name)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the folder {dest} ({exc.strerror or exc})") from None
    for f in info.files:
        if cancel is not None and cancel():
            raise DownloadCancelled(f"download of {info.title} cancelled")
        target = dest / f.name
        if target.is_file() and checksum_problem(target, f) is None:
            if progress:
                size = target.stat().st_size
                progress(f.name, size, size)
            continue
        failures: list[tuple[str, str]] = []
        for mirror in mirrors:
            url = mirror if mirror.endswith("/") else mirror + "/"
            url += f.name
            try:
                _fetch(url, target, f, progress, cancel, timeout)
                break
            except _MirrorFailed as exc:
                failures.append((url, str(exc)))
            except OSError as exc:  # our side: disk full, folder not writable
                raise DownloadError(f"cannot write {f.name} into {dest} ({exc.strerror or exc})",
                                    f.name, failures) from None
        else:
            lines = "\n".join(f"  {url}: {reason}" for url, reason in failures)
            raise DownloadError(f"could not download {f.name} from any mirror:\n{lines}\n"
                                f"Check the internet connection, or put the four {info.title} files in "
                                f"{dest} by hand.", f.name, failures)
    return dest

