"""The window's log: warnings and errors, with tracebacks, in a file in the app's data folder.

    path = setup_logging(app_data_dir())    # run_app does this once; returns .../mnist-desktop.log
    log = logging.getLogger(__name__)       # any module: log.warning(...), log.exception(...)

What lands in the file: records of WARNING and above from the ``mnist_desktop`` loggers (a background
job's failure with its traceback, see app/jobs.py), Python warnings, Qt's own warnings, and exceptions
nobody caught (in a slot, on the UI thread, in a worker thread), each with its traceback. The same
records go to stderr. The file is kept under 1 MB (one old copy, ``mnist-desktop.log.1``).
Help › Open log folder shows the folder.
"""

from __future__ import annotations

import logging
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

from PySide6.QtCore import QtMsgType, qInstallMessageHandler

LOG_FILE = "mnist-desktop.log"
MAX_BYTES = 1_000_000
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
_TAG = "_mnist_desktop_handler"          # marks our handlers, so a second setup replaces them

log = logging.getLogger("mnist_desktop")
_previous_qt_handler = None              # what qInstallMessageHandler replaced, put back by teardown_logging
_qt_handler_installed = False


def setup_logging(folder: Path, level: int = logging.WARNING, *, stderr: bool = True) -> Path:
    """Send WARNING+ records of the ``mnist_desktop`` loggers, Python warnings, Qt warnings and uncaught
    exceptions to ``folder/mnist-desktop.log`` (and stderr). Calling it again replaces the handlers.
    Returns the log file's path."""
    path = Path(folder) / LOG_FILE
    teardown_logging()
    handlers: list[logging.Handler] = [RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=1,
                                                           encoding="utf-8", delay=True)]
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.setLevel(level)
        setattr(handler, _TAG, True)
        for name in ("mnist_desktop", "py.warnings", "qt"):
            logging.getLogger(name).addHandler(handler)
    log.setLevel(min(log.level or level, level))
    logging.captureWarnings(True)
    _install_hooks()
    return path


def teardown_logging() -> None:
    """Remove what ``setup_logging`` installed (closing the file)."""
    for name in ("mnist_desktop", "py.warnings", "qt"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if getattr(h, _TAG, False)]:
            logger.removeHandler(handler)
            handler.close()
    if getattr(sys.excepthook, _TAG, False):
        sys.excepthook = sys.excepthook.previous
    if getattr(threading.excepthook, _TAG, False):
        threading.excepthook = threading.excepthook.previous
    logging.captureWarnings(False)
    global _qt_handler_installed
    if _qt_handler_installed:
        qInstallMessageHandler(_previous_qt_handler)
        _qt_handler_installed = False


def log_file(folder: Path) -> Path:
    return Path(folder) / LOG_FILE


# ---- hooks -----------------------------------------------------------------------------------------------

_QT_LEVELS = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}


def _qt_message(mode, context, message: str) -> None:
    if "This plugin does not support" in message:      # the offscreen platform's notices mean nothing
        return
    logging.getLogger("qt").log(_QT_LEVELS.get(mode, logging.WARNING), message)


def _install_hooks() -> None:
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        log.error("uncaught exception", exc_info=(kind, value, tb))
        if previous is not sys.__excepthook__:      # the default would print it to stderr a second time
            previous(kind, value, tb)

    excepthook.previous = previous
    setattr(excepthook, _TAG, True)
    sys.excepthook = excepthook

    previous_thread = threading.excepthook

    def thread_excepthook(args):
        log.error("uncaught exception in thread %s", getattr(args.thread, "name", "?"),
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    thread_excepthook.previous = previous_thread
    setattr(thread_excepthook, _TAG, True)
    threading.excepthook = thread_excepthook
    global _previous_qt_handler, _qt_handler_installed
    _previous_qt_handler = qInstallMessageHandler(_qt_message)
    _qt_handler_installed = True
