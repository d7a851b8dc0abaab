"""IDX reading and writing: round trips, and every kind of broken file gives IDXError with a clear message."""

import gzip
import os
import struct

import numpy as np
import pytest

from mnist_desktop.data.idx import IDXError, idx_bytes, parse_idx, read_idx, write_idx


def idx_header(code, *shape):
    return struct.pack(f">HBB{len(shape)}I", 0, code, len(shape), *shape)


def test_parse_tiny_ubyte_images_built_in_memory():
    pixels = bytes(range(2 * 3 * 4))
    arr = read_idx(idx_header(0x08, 2, 3, 4) + pixels)
    assert arr.dtype == np.uint8 and arr.shape == (2, 3, 4)
    np.testing.assert_array_equal(arr.ravel(), np.arange(24))
    arr[0, 0, 0] = 7  # a writable copy, not a view of the bytes


def test_labels_magic_2049_and_images_magic_2051():
    # the magic numbers MNIST documents are exactly type 0x08 with 1 and 3 dimensions
    assert struct.unpack(">I", idx_header(0x08, 5)[:4])[0] == 2049
    assert struct.unpack(">I", idx_header(0x08, 5, 28, 28)[:4])[0] == 2051
    assert read_idx(idx_header(0x08, 5) + bytes([0, 1, 2, 3, 9])).tolist() == [0, 1, 2, 3, 9]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_type_raw_and_gzip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 5, 2)) * 50).astype(dtype)
    path = tmp_path / f"x-idx3{suffix}"
    write_idx(path, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, arr)
    assert read_idx(path.read_bytes()).shape == (3, 5, 2)  # bytes work too, gzip detected by content
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_big_endian_on_disk():
    raw = idx_bytes(np.array([1, 256], dtype=np.int16))
    assert raw == idx_header(0x0B, 2) + b"\x00\x01\x01\x00"
    np.testing.assert_array_equal(parse_idx(raw), [1, 256])


def test_gzip_output_is_reproducible(tmp_path):
    arr = np.arange(100, dtype=np.uint8).reshape(10, 10)
    write_idx(tmp_path / "a.gz", arr)
    write_idx(tmp_path / "b.gz", arr)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_write_replaces_atomically_and_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    write_idx(path, np.array([1, 2, 3], np.uint8))
    with pytest.raises(IDXError, match="cannot store dtype"):
        write_idx(path, np.array([1.5], np.float16))
    np.testing.assert_array_equal(read_idx(path), [1, 2, 3])
    write_idx(path, np.array([4, 5], np.uint8))
    np.testing.assert_array_equal(read_idx(path), [4, 5])
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.parametrize("raw, message", [
    (b"", "too short for the 4-byte header"),
    (b"\x00\x00", "too short for the 4-byte header"),
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "two zero bytes, found 01 00"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown data type code 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03" + struct.pack(">2I", 2, 28), "too short for the header of 3 dimensions"),
    (idx_header(0x08, 2, 28, 28) + bytes(2 * 784 - 1), "truncated.*2 x 28 x 28.*1,568 data bytes.*1,567"),
    (idx_header(0x08, 2, 28, 28) + bytes(2 * 784 + 1), "extra bytes at the end"),
    (idx_header(0x0C, 3) + bytes(11), "truncated.*int32"),
    (idx_header(0x08, 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(8), "truncated"),  # no huge allocation
    (b"<html>404 Not Found</html>", "two zero bytes"),
])
def test_bad_headers_and_sizes(raw, message):
    with pytest.raises(IDXError, match=message):
        read_idx(raw, name="fake-idx")
    with pytest.raises(IDXError, match="^fake-idx: "):
        read_idx(raw, name="fake-idx")


def test_error_names_the_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_header(0x08, 10) + bytes(9))
    with pytest.raises(IDXError) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "truncated" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_truncated_gzip_is_idx_error(tmp_path):
    data = gzip.compress(idx_header(0x08, 100, 28, 28) + np.random.default_rng(0).bytes(78400))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IDXError, match="gzip stream is truncated") as info:
        read_idx(path)
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no zlib traceback attached


def test_corrupt_gzip_is_idx_error(tmp_path):
    data = bytearray(gzip.compress(idx_header(0x08, 100, 28, 28) + bytes(78400)))
    data[20:40] = b"\xff" * 20  # smash the deflate stream
    path = tmp_path / "images.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(IDXError, match="corrupt gzip data"):
        read_idx(path)
    data = bytearray(gzip.compress(idx_header(0x08, 4) + bytes(4)))
    data[-8] ^= 0xFF  # CRC no longer matches
    with pytest.raises(IDXError, match=r"images.gz: corrupt gzip data \(CRC check failed"):
        read_idx(bytes(data), name="images.gz")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(IDXError, match="nothing-here.*file not found"):
        read_idx(tmp_path / "nothing-here")
    with pytest.raises(IDXError, match="is a folder"):
        read_idx(tmp_path)


def test_write_rejects_what_idx_cannot_hold(tmp_path):
    with pytest.raises(IDXError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.array(3, np.uint8))
    with pytest.raises(IDXError, match="cannot store dtype uint16"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
    assert list(tmp_path.iterdir()) == []
