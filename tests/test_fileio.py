"""fileio: atomic saves (previous file kept, no temp left, one-line errors) and capped, regular-file reads."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mnist_desktop import fileio
from mnist_desktop.fileio import ReadError, SaveError, atomic_write, read_capped


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_replaces_and_keeps_mode(tmp_path):
    target = tmp_path / "a.bin"
    atomic_write(target, lambda f: f.write(b"one"))
    assert target.read_bytes() == b"one"
    assert target.stat().st_mode & 0o777 == fileio.new_file_mode()
    os.chmod(target, 0o640)
    atomic_write(target, lambda f: f.write(b"two"))
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o640
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_keeps_previous_file_and_removes_temp(tmp_path, exc):
    target = tmp_path / "a.bin"
    target.write_bytes(b"good")

    def write(f):
        f.write(b"partial")
        raise exc

    with pytest.raises(type(exc)):
        atomic_write(target, write)
    assert target.read_bytes() == b"good"
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied"),
                                         (errno.EROFS, "read-only"), (errno.EDQUOT, "quota")])
def test_disk_errors_become_one_line_save_errors(tmp_path, code, words):
    target = tmp_path / "m.npz"
    target.write_bytes(b"good")

    def write(f):
        f.write(b"x")
        raise OSError(code, os.strerror(code))

    with pytest.raises(SaveError) as info:
        atomic_write(target, write)
    msg = str(info.value)
    assert "\n" not in msg and str(target) in msg and words in msg
    assert info.value.strerror and str(target) not in info.value.strerror
    assert isinstance(info.value, OSError)
    assert target.read_bytes() == b"good" and _temps(tmp_path) == []


def test_folder_target_and_missing_folder(tmp_path):
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(SaveError, match="it is a folder"):
        atomic_write(tmp_path / "d.npz", lambda f: f.write(b"x"))
    with pytest.raises(SaveError, match="folder does not exist"):
        atomic_write(tmp_path / "nope" / "m.npz", lambda f: f.write(b"x"))
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(SaveError, match="not a folder"):
        atomic_write(tmp_path / "file" / "m.npz", lambda f: f.write(b"x"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "m.npz").write_bytes(b"good")
    folder.chmod(0o500)
    try:
        with pytest.raises(SaveError, match="permission denied"):
            atomic_write(folder / "m.npz", lambda f: f.write(b"new"))
        assert (folder / "m.npz").read_bytes() == b"good"
    finally:
        folder.chmod(0o700)


def test_check_can_refuse_the_content(tmp_path):
    target = tmp_path / "a.bin"

    def check(tmp):
        assert os.path.exists(tmp)
        raise ValueError("bad checksum")

    with pytest.raises(ValueError, match="bad checksum"):
        atomic_write(target, lambda f: f.write(b"x"), check=check)
    assert not target.exists() and _temps(tmp_path) == []


def test_temp_left_by_a_killed_process_is_swept(tmp_path):
    """kill -9 during a save leaves .NAME.PID.XXXX.tmp; the next save of that name removes it."""
    target = tmp_path / "m.npz"
    code = textwrap.dedent(f"""
        import os, sys, time
        from mnist_desktop.fileio import atomic_write
        def write(f):
            f.write(b"x" * 1000); f.flush(); print("writing", flush=True); time.sleep(60)
        atomic_write({str(target)!r}, write)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    left = _temps(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".m.npz.{proc.pid}.")
    other = tmp_path / f".other.npz.{proc.pid}.abc.tmp"       # another file's temp is not ours to sweep
    other.write_bytes(b"")
    atomic_write(target, lambda f: f.write(b"ok"))
    assert target.read_bytes() == b"ok"
    assert _temps(tmp_path) == [other.name]


def test_read_capped_refuses_non_regular_and_big_files(tmp_path):
    f = tmp_path / "a.json"
    f.write_bytes(b"12345")
    assert read_capped(f, 5) == b"12345"
    with pytest.raises(ReadError, match="too big"):
        read_capped(f, 4)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(ReadError, match="FIFO"):
        read_capped(fifo, 100, "drawing")
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(ReadError, match="device"):
        read_capped(link, 100)
    with pytest.raises(ReadError, match="is a folder"):
        read_capped(tmp_path, 100)
    with pytest.raises(ReadError, match="no such file"):
        read_capped(tmp_path / "missing", 100)
