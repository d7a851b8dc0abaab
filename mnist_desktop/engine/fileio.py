"""Atomic saves and careful reads: the one implementation every writer in the project uses.

Import it as ``mnist_desktop.fileio`` (everything outside the engine does); it lives inside ``engine`` only
so that ``engine/serialize.py`` can use it without importing from outside the engine (the layers run
``engine <- data, preprocess, ... <- cli, app``). Standard library only.

    atomic_write("model.npz", lambda f: f.write(data))     # temp file beside it, fsync, rename
    atomic_write(target, stream, check=verify)             # verify(temp_path) before the rename
    raw = read_capped("drawing.json", 8 << 20, what="drawing")   # refuses FIFOs, devices, /dev/zero

A save either replaces the target with the complete new content or leaves the previous file exactly as it
was: the data go to a hidden temp file in the same folder (``.NAME.PID.RANDOM.tmp``), are flushed to disk,
given ordinary permissions (the old file's, or 0o666 less the umask) and renamed over the target. Any
failure, Ctrl+C included, deletes the temp file. A temp file left by a process killed with ``kill -9``
carries that process's id, and the next save of the same name deletes it once that process is gone.

Disk full, permission denied, read-only disk, a folder where the file should be, a missing folder: all
become ``SaveError`` (an ``OSError``) whose message is one line naming the file and the reason.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import time
from pathlib import Path

__all__ = ["SaveError", "ReadError", "atomic_write", "new_file_mode", "save_error", "sweep_stale_temps",
           "read_capped", "check_regular_file", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".tmp"
_STALE_AFTER_S = 24 * 3600  # a temp whose owner cannot be told (another machine's pid) counts as stale after a day


class _OneLineError(OSError):
    def __init__(self, message: str, errno_: int | None = None, path: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno_
        self.filename = path
        self.strerror = reason or message  # callers that print ``exc.strerror`` get the reason alone

    def __str__(self) -> str:
        return self.message


class SaveError(_OneLineError):
    """A save failed; ``str(exc)`` is one line naming the file and why, ``exc.strerror`` the reason alone.
    The previous file is untouched and no temp file is left."""


class ReadError(_OneLineError):
    """A file that cannot be read safely (missing, a folder, a FIFO or device, too big); one line."""


def new_file_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give a new file (0o666 less the umask); temp
    files from ``mkstemp`` are private (0o600) and get these before they are renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
    errno.EISDIR: "it is a folder",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "part of the path is not a folder",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EFBIG: "the file is too large for this disk",
    errno.EIO: "input/output error on the disk",
}


def save_error(target, exc: OSError) -> SaveError:
    """``exc`` (from saving ``target``) as a one-line SaveError naming ``target``."""
    if isinstance(exc, SaveError):
        return exc
    reason = _REASONS.get(exc.errno) or (exc.strerror or str(exc) or type(exc).__name__).splitlines()[0]
    return SaveError(f"cannot save {target}: {reason}", exc.errno, str(target), reason)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, someone else's
    return True


def sweep_stale_temps(target) -> int:
    """Delete temp files a killed save of ``target`` left behind (same folder, ``.NAME.PID.*.tmp`` whose
    process is gone, or older than a day); returns how many. Never raises."""
    target = Path(target)
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$")
    removed = 0
    try:
        entries = list(os.scandir(target.parent if str(target.parent) else "."))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        m = pattern.match(entry.name)
        if not m:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            if _pid_alive(int(m.group(1))) and now - st.st_mtime < _STALE_AFTER_S:
                continue
            os.unlink(entry.path)
            removed += 1
        except (OSError, ValueError):
            continue
    return removed


def atomic_write(target: str | os.PathLike, write, *, check=None, mode: int | None = None) -> None:
    """Call ``write(fileobj)`` on a binary temp file beside ``target``, flush it to disk, call
    ``check(temp_path)`` if given (raise to refuse the content), then rename it over ``target``.

    OSErrors while saving become SaveError (one line, naming ``target``); anything ``write`` or ``check``
    raises that is not an OSError passes through unchanged. The temp file never outlives the call."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise SaveError(f"cannot save {target}: it is a folder", errno.EISDIR, str(target), "it is a folder")
    if not folder.is_dir():
        why = "part of the path is not a folder" if folder.exists() else "the folder does not exist"
        raise SaveError(f"cannot save {target}: {why}", errno.ENOENT, str(target), why)
    sweep_stale_temps(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.{os.getpid()}.", suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise save_error(target, exc) from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            if check is not None:
                check(tmp)
            if mode is None:
                try:
                    mode = stat.S_IMODE(os.stat(target).st_mode)  # keep the old file's permissions
                except OSError:
                    mode = new_file_mode()
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except SaveError:
            raise
        except OSError as exc:
            if exc.errno is None:
                raise  # not from the operating system: the writer's own error, theirs to report
            raise save_error(target, exc) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---- reading -------------------------------------------------------------------------------------------


def check_regular_file(path, what: str = "file") -> os.stat_result:
    """stat ``path`` (following symlinks) and refuse anything that is not a regular file, before anyone
    opens it: a FIFO would block the open forever, a device like /dev/zero never ends. ReadError."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ReadError(f"{path}: no such file", errno.ENOENT, str(path)) from None
    except NotADirectoryError:
        raise ReadError(f"{path}: no such file (part of the path is not a folder)", errno.ENOTDIR, str(path)) from None
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the {what} ({_reason(exc)})", exc.errno, str(path)) from None
    except ValueError:  # a NUL byte in the name
        raise ReadError(f"{str(path)[:200]!r}: not a valid file name", None, str(path)) from None
    article = "an" if what[:1].lower() in "aeiou" else "a"
    if stat.S_ISDIR(st.st_mode):
        raise ReadError(f"{path}: is a folder, not {article} {what}", errno.EISDIR, str(path))
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device" if
                stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "not a regular file")
        raise ReadError(f"{path}: is {kind}, not {article} {what}", None, str(path))
    return st


def read_capped(path, limit: int, what: str = "file") -> bytes:
    """The bytes of regular file ``path``, refusing more than ``limit`` bytes however big the file
    claims to be (a file can grow while it is read); ReadError naming the file otherwise."""
    path = Path(path)
    check_regular_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # never block, even if it became a FIFO
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the {what} ({_reason(exc)})", exc.errno, str(path)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between stat and open
            raise ReadError(f"{path}: not a regular file, not a {what}", None, str(path))
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except ReadError:
        raise
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the {what} ({_reason(exc)})", exc.errno, str(path)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ReadError(f"{path}: too big for a {what} (more than {_size(limit)})", errno.EFBIG, str(path))
    return data


def _reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno) or (exc.strerror or str(exc) or type(exc).__name__).splitlines()[0]


def _size(n: int) -> str:
    for unit, k in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= k:
            return f"{n / k:g} {unit}"
    return f"{n} bytes"
