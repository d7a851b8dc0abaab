"""Model files: one ``.npz`` holding every array plus a JSON ``spec`` string. Never pickle.

spec = {"format": "mnist-desktop-model", "format_version": 1, "name": ..., "architecture": {...},
        "training": {...}, "test_accuracy": 0.98 | null, "created": ISO date, ...}

``save`` writes atomically (temp file in the same folder, fsync, rename), so a crash or a full disk never
leaves half a model where a good one was. ``load`` validates everything and raises ``ModelFileError``, with
a message a person can act on, for any file that is not a complete, consistent model.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from . import modelcheck
from .fileio import ReadError, atomic_write, check_regular_file, new_file_mode  # noqa: F401  (re-exported)
from .network import Network

FORMAT = "mnist-desktop-model"
FORMAT_VERSION = 1


class ModelFileError(Exception):
    """A model file could not be read: missing, corrupt, truncated, or not a model of ours."""


def model_spec(net: Network, *, name: str = "", training: dict | None = None,
               test_accuracy: float | None = None, **extra) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "architecture": net.architecture(),
        "description": net.describe(),
        "training": training or {},
        "test_accuracy": test_accuracy,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def save(net: Network, path: str | os.PathLike, spec: dict | None = None, *, compress: bool = True) -> dict:
    """Write ``net`` (float32) and its spec to ``path`` atomically; returns the spec written.

    compress=False stores the arrays without deflate: float32 weights shrink by only ~7% compressed, and
    compressing the 2.7 MB of the shipped MLP takes ~0.1 s, a tenth of the 1 s an adaptation may take
    (the My digits view and ``adapt`` save that way). ``load`` reads both."""
    spec = dict(spec) if spec is not None else model_spec(net)
    spec.setdefault("format", FORMAT)
    spec.setdefault("format_version", FORMAT_VERSION)
    spec["architecture"] = net.architecture()
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in net.arrays().items()}
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, spec=np.array(json.dumps(spec)), **arrays)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return spec


def read_spec(path: str | os.PathLike) -> dict:
    """Only the spec (fast: no weights are decoded), validated like ``load`` validates it."""
    with _Archive(path) as archive:
        return archive.spec()


def load(path: str | os.PathLike, *, dtype=np.float32, digits: bool = False) -> tuple[Network, dict]:
    """-> (network, spec). Raises ModelFileError with a readable reason for anything wrong.

    digits=True: also refuse a model that does not take a 28x28 image and give 10 outputs (every place the
    app predicts digits needs that; see ``check_digit_model``)."""
    with _Archive(path) as archive:
        spec = archive.spec()
        try:
            net = Network.from_architecture(spec["architecture"], rng=np.random.default_rng(0), dtype=dtype)
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            raise ModelFileError(f"{path}: the architecture in this model file is not valid: {exc}") from None
        if digits:
            check_digit_model(net, path)
        expected = net.arrays()
        present = set(archive.members) - {"spec"}
        missing = sorted(set(expected) - present)
        extra = sorted(present - set(expected))
        if missing or extra:
            raise ModelFileError(f"{path}: the arrays do not match the architecture "
                                 f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'})")
        for k, dst in expected.items():
            a = archive.array(k, dst.shape)
            if not np.isfinite(a).all():
                raise ModelFileError(f"{path}: array {k!r} contains NaN or infinite values")
            if k.endswith(".var") and (a < 0).any():
                raise ModelFileError(f"{path}: array {k!r} (a variance) has negative values")
            dst[...] = a
    return net, spec


def check_digit_model(net: Network, path) -> None:
    """ModelFileError unless ``net`` takes one 28x28 image (784 values) and gives 10 outputs."""
    n_in = math.prod(net.input_shape)
    if n_in != 784 or net.n_outputs != 10:
        raise ModelFileError(f"{path}: this model takes {n_in:,} inputs and gives {net.n_outputs:,} outputs; "
                             f"the app needs a digit model, 784 -> 10 (a 28x28 image in, one output per digit)")


# ---- reading the archive, headers first ----------------------------------------------------------------

MAX_FILE_BYTES = 4 * modelcheck.MAX_PARAMS + (16 << 20)   # a model file on disk (float32, compressed)
MAX_DIRECTORY_BYTES = 1 << 20           # the zip's central directory: a few hundred entries
MAX_SPEC_BYTES = 1 << 20                # the JSON spec, uncompressed
MAX_MEMBERS = 4 * modelcheck.MAX_LAYERS + 1
MAX_MEMBER_BYTES = 8 * modelcheck.MAX_PARAMS + (1 << 16)   # one array, even stored as float64
MAX_TOTAL_BYTES = MAX_MEMBER_BYTES + MAX_SPEC_BYTES


class _Archive:
    """The .npz as a zip, every size checked from the headers before anything is inflated."""

    def __init__(self, path) -> None:
        self.path = path = Path(path)
        try:
            st = check_regular_file(path, "model file")
        except ReadError as exc:
            raise ModelFileError(str(exc).replace("no such file", "no such model file")) from None
        if st.st_size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path}: {st.st_size:,} bytes is too big for a model file "
                                 f"(at most {MAX_FILE_BYTES >> 20} MB)")
        try:
            self._fh = open(path, "rb")
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read the model file ({exc.strerror or exc})") from None
        try:
            self._zip = self._open_zip()
        except BaseException:
            self._fh.close()
            raise

    def _open_zip(self):
        path = self.path
        head = self._fh.read(8)
        self._fh.seek(0)
        if head.startswith(b"\x93NUMPY"):
            raise ModelFileError(f"{path}: not a model file (a bare .npy array, expected an .npz archive)")
        if not head.startswith(b"PK"):
            kind = "an empty file" if not head else ("a text file" if _looks_like_text(head) else "not a zip archive")
            raise ModelFileError(f"{path}: not a model file ({kind}; a model is an .npz archive saved by mnist-desktop)")
        _check_directory_size(self._fh, path)
        try:
            z = zipfile.ZipFile(self._fh)
            infos = z.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise ModelFileError(f"{path}: not a readable model file (damaged zip archive: {exc})") from None
        if len(infos) > MAX_MEMBERS:
            raise ModelFileError(f"{path}: {len(infos):,} entries is more than a model file has (at most {MAX_MEMBERS})")
        self.members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or name[:-4] in self.members:
                raise ModelFileError(f"{path}: not a model file (unexpected entry {name[:60]!r} in the archive)")
            key = name[:-4]
            limit = MAX_SPEC_BYTES if key == "spec" else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise ModelFileError(f"{path}: entry {key[:60]!r} declares {info.file_size:,} bytes uncompressed, "
                                     f"more than a model can hold ({limit:,}); refused without unpacking it")
            total += info.file_size
            self.members[key] = info
        if total > MAX_TOTAL_BYTES:
            raise ModelFileError(f"{path}: the archive declares {total:,} bytes uncompressed, more than a model "
                                 f"can hold ({MAX_TOTAL_BYTES:,})")
        if "spec" not in self.members:
            raise ModelFileError(f"{path}: not an mnist-desktop model (no 'spec' entry)")
        return z

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()
        self._fh.close()

    def _read(self, key: str, check) -> np.ndarray:
        """The array ``key``; ``check(shape, dtype)`` runs on its header before the data are read."""
        path = self.path
        try:
            with self._zip.open(self.members[key]) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
                if dtype.hasobject:
                    raise ModelFileError(f"{path}: entry {key!r} holds Python objects; model files never do")
                check(shape, dtype)
                n = math.prod(shape) * dtype.itemsize
                if n > self.members[key].file_size:
                    raise ValueError(f"the header claims {n:,} bytes, the entry holds fewer")
                data = f.read(n)
                if len(data) != n:
                    raise ValueError(f"truncated: {len(data):,} of {n:,} bytes")
                a = np.frombuffer(data, dtype=dtype)
                return a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
        except ModelFileError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, TypeError) as exc:
            raise ModelFileError(f"{path}: not a readable model file (entry {key!r}: {exc})") from None
        except Exception as exc:  # zlib.error and friends from a damaged archive
            raise ModelFileError(f"{path}: the model file is damaged ({type(exc).__name__}: {exc})") from None

    def spec(self) -> dict:
        path = self.path

        def check(shape, dtype):
            if shape != () or dtype.kind != "U":
                raise ModelFileError(f"{path}: not an mnist-desktop model (its spec is not a text entry)")

        raw = self._read("spec", check)
        try:
            spec = json.loads(str(raw[()]))
        except RecursionError:
            raise ModelFileError(f"{path}: the model's spec is nested too deeply to be a model") from None
        except (json.JSONDecodeError, TypeError, ValueError):
            raise ModelFileError(f"{path}: the model's spec is not valid JSON") from None
        if not isinstance(spec, dict) or spec.get("format") != FORMAT:
            found = spec.get("format") if isinstance(spec, dict) else None
            raise ModelFileError(f"{path}: not an mnist-desktop model (format is {str(found)[:40]!r})")
        version = spec.get("format_version")
        if type(version) is not int or version > FORMAT_VERSION or version < 1:
            raise ModelFileError(f"{path}: model format version {str(version)[:20]!r} is not supported by this "
                                 f"version (it reads version {FORMAT_VERSION})")
        try:
            modelcheck.check_json_depth(spec)
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        if not isinstance(spec.get("architecture"), dict):
            raise ModelFileError(f"{path}: the model's spec has no architecture")
        try:
            modelcheck.check_architecture(spec["architecture"])
        except ValueError as exc:
            raise ModelFileError(f"{path}: the architecture in this model file is not valid: {exc}") from None
        return spec

    def array(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        path = self.path

        def check(got, dtype):
            if tuple(got) != tuple(shape):
                raise ModelFileError(f"{path}: array {key!r} has shape {tuple(got)}, the architecture needs {tuple(shape)}")
            if dtype.kind != "f":
                raise ModelFileError(f"{path}: array {key!r} has type {dtype}, expected floating point")

        return self._read(key, check)


def _check_directory_size(fh, path) -> None:
    """Refuse, from the end-of-directory record alone, an archive whose list of entries is huge (reading
    it would build millions of objects)."""
    import struct

    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - (1 << 16) - 22))
    tail = fh.read()
    fh.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return  # zipfile will say what is wrong
    entries, directory = struct.unpack("<HI", tail[at + 10:at + 16])
    if entries == 0xFFFF or directory == 0xFFFFFFFF or entries > MAX_MEMBERS or directory > MAX_DIRECTORY_BYTES:
        raise ModelFileError(f"{path}: the archive lists too many entries to be a model file")


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(32 <= b < 127 or b in (9, 10, 13) for b in head)
