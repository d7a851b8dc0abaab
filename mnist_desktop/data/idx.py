"""IDX files, the format MNIST ships in: read them with every header field checked, write them atomically.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the data, row-major::

    00 00 <type> <ndim>  <dim 0> ... <dim ndim-1>  <data>
    type 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64

    images = read_idx("train-images-idx3-ubyte.gz")   # (60000, 28, 28) uint8
    write_idx("labels-idx1-ubyte.gz", labels)          # gzip because of the name; temp file + rename

Anything that is not a complete, consistent IDX file (wrong magic, unknown type, truncated or oversized
data, a corrupt gzip stream, an unreadable file) raises ``IDXError`` naming the file and the problem.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from mnist_desktop.fileio import ReadError, atomic_write, read_capped

# IDX type code -> big-endian dtype, as defined on LeCun's MNIST page
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
MAX_IDX_BYTES = 128 << 20   # MNIST's training images are 47 MB; far beyond any set of 28x28 images we load


class IDXError(ValueError):
    """An IDX file is missing, unreadable, corrupt, truncated or not IDX at all."""


def _type_code(dtype: np.dtype) -> int:
    for code, idx_dtype in IDX_TYPES.items():
        if idx_dtype.kind == dtype.kind and idx_dtype.itemsize == dtype.itemsize:
            return code
    known = ", ".join(str(d.newbyteorder("=")) for d in IDX_TYPES.values())
    raise IDXError(f"IDX cannot store dtype {dtype} (it stores {known})")


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Uncompressed IDX bytes -> array in native byte order (a copy, writable). Raises IDXError."""
    what = f"{name}: not a valid IDX file"
    if len(raw) < 4:
        raise IDXError(f"{what}: only {len(raw)} bytes, too short for the 4-byte header")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise IDXError(f"{what}: the header must start with two zero bytes, found {raw[:2].hex(' ')}")
    if code not in IDX_TYPES:
        known = ", ".join(f"{c:#04x} ({d.newbyteorder('=')})" for c, d in IDX_TYPES.items())
        raise IDXError(f"{what}: unknown data type code {code:#04x} (known: {known})")
    if ndim == 0:
        raise IDXError(f"{what}: the header says 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{what}: {len(raw)} bytes, too short for the header of {ndim} dimensions")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_TYPES[code]
    expected = dtype.itemsize
    for d in shape:
        expected *= d  # Python int: no overflow however silly the header
    got = len(raw) - header
    if got != expected:
        dims = " x ".join(str(d) for d in shape)
        problem = "truncated" if got < expected else "has extra bytes at the end"
        raise IDXError(f"{name}: IDX file {problem}: the header says {dims} of {dtype.newbyteorder('=')} "
                       f"({expected:,} data bytes) but the file holds {got:,}")
    arr = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))  # native order; astype copies, so the result is writable


def read_idx(source: str | os.PathLike | bytes | bytearray | memoryview, *, name: str | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip, recognised by its content) from a path or from bytes.

    Returns an array of the header's shape, in native byte order (e.g. (60000, 28, 28) uint8).
    ``name`` is used in error messages (default: the path, or "<bytes>").
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        name = name or "<bytes>"
    else:
        name = name or str(source)
        try:  # regular files only (a FIFO would block), never more than the largest IDX we accept
            raw = read_capped(source, MAX_IDX_BYTES, "IDX file")
        except ReadError as exc:
            raise IDXError(str(exc).replace("no such file", "file not found")) from None
    if raw[:2] == _GZIP_MAGIC:
        raw = _gunzip_capped(raw, name)
    return parse_idx(raw, name)


def _expected_size(head: bytes) -> int | None:
    """Total bytes (header + data) the IDX header in ``head`` announces; None if it is not readable yet."""
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in IDX_TYPES or head[3] == 0:
        return None
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        return None
    size = IDX_TYPES[head[2]].itemsize
    for d in struct.unpack(f">{ndim}I", head[4:4 + 4 * ndim]):
        size *= d
    return 4 + 4 * ndim + size


def _gunzip_capped(raw: bytes, name: str) -> bytes:
    """Decompress, reading the IDX header first and refusing (without inflating the rest) data that
    claim or turn out to be more than MAX_IDX_BYTES: a gzip of a gigabyte of zeros is a few MB."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as g:
            head = g.read(4 + 4 * 255)
            want = _expected_size(head)
            if want is not None and want > MAX_IDX_BYTES:
                claim = f"{want:,}" if want < 10**15 else f"about 10^{len(str(want)) - 1}"
                raise IDXError(f"{name}: the IDX header claims {claim} bytes of data, more than an image "
                               f"set can be (at most {MAX_IDX_BYTES:,})")
            rest = g.read(MAX_IDX_BYTES + 1 - len(head))
            if len(head) + len(rest) > MAX_IDX_BYTES:
                raise IDXError(f"{name}: decompresses to more than {MAX_IDX_BYTES:,} bytes; not an IDX file of ours")
            return head + rest
    except EOFError:
        raise IDXError(f"{name}: the gzip stream is truncated (the download or copy was cut short?)") from None
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise IDXError(f"{name}: corrupt gzip data ({exc})") from None


def idx_bytes(array: np.ndarray) -> bytes:
    """The uncompressed IDX encoding of ``array`` (type chosen from its dtype; 1 to 255 dimensions)."""
    array = np.asarray(array)
    code = _type_code(array.dtype)
    if not 1 <= array.ndim <= 255:
        raise IDXError(f"IDX stores 1 to 255 dimensions, got an array of {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise IDXError(f"IDX dimensions must be below 2**32, got shape {array.shape}")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as IDX to ``path`` atomically (temp file + rename); gzip if the name ends in .gz.

    The gzip header carries no name and a zero time, so the same array always gives the same bytes.
    """
    data = idx_bytes(array)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    atomic_write(path, lambda f: f.write(data))
