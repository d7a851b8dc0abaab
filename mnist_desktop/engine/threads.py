"""Threads: one-threaded BLAS, and the engine's own workers that split a batch of images between cores.

OpenBLAS, left alone, runs one thread per core and keeps them spinning after each call. Between the Draw
view's single predictions that costs the GUI thread its core (a CNN prediction took p90 ~60 ms instead of
~0.7 ms), and for the engine's products (a few hundred to a few thousand rows by 20-800 columns) its
threads scale poorly anyway. So the engine sets the BLAS pool to one thread **at run time**, through the
library's own API (threadpoolctl), which works however late NumPy was imported: the command line loads
NumPy long before it opens the window, so an environment variable set then is read by nobody.

Where two cores pay, the engine uses them itself: the convolution and pooling layers split a batch of
images into ``threads()`` parts and run them on a small pool of Python threads (NumPy releases the GIL in
its loops and inside BLAS). Work too small to repay the hand-off (one drawn digit, an MLP's batch of 64)
stays on the calling thread. A thread that finds the pool busy (e.g. the Evaluate view's two scoring
threads, or a pool worker itself) runs its parts alone instead of queueing behind the others.

Per workload (measured on the 2-core development machine, see benchmarks/README.md):
- Draw view, single images: one thread (no split; one-threaded BLAS keeps the GUI core free);
- training and batched inference of CNNs: ``threads()`` workers (default: the number of cores, at most 4);
- MLPs: one thread (their products at batch 64 take tens of microseconds: a hand-off costs as much).

``MNIST_DESKTOP_THREADS=N`` sets the engine's threads; ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` set
in the environment leave the BLAS pool as the user chose.
"""

from __future__ import annotations

import math
import os
import threading
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, Sequence, TypeVar

from threadpoolctl import ThreadpoolController

ENV_THREADS = "MNIST_DESKTOP_THREADS"
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
MAX_DEFAULT_THREADS = 4

T = TypeVar("T")

_controller: ThreadpoolController | None = None
_threads = 1
_pool: ThreadPoolExecutor | None = None
_pool_busy = threading.Lock()  # held by the one caller whose parts are on the pool
_workers = threading.local()   # .inside: True on the pool's own threads


def _blas() -> ThreadpoolController:
    global _controller
    if _controller is None:
        import numpy  # noqa: F401  (loads the BLAS library threadpoolctl looks for)
        _controller = ThreadpoolController()
    return _controller


def blas_threads() -> int | None:
    """The BLAS pool's size as the library itself reports it (None: no BLAS threadpoolctl knows)."""
    pools = [p for p in _blas().info() if p["user_api"] == "blas"]
    return max(p["num_threads"] for p in pools) if pools else None


def set_blas_threads(n: int) -> None:
    """Resize the BLAS pool now (in place; later calls from any thread use ``n`` threads)."""
    _blas().limit(limits=max(1, int(n)), user_api="blas")


def default_threads() -> int:
    """``MNIST_DESKTOP_THREADS`` if set to a positive whole number, else the core count (at most 4)."""
    text = os.environ.get(ENV_THREADS, "").strip()
    if text:
        try:
            if int(text) >= 1:
                return int(text)
        except ValueError:
            pass
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_THREADS))


def threads() -> int:
    """How many threads the engine splits a batch between."""
    return _threads


def set_threads(n: int) -> None:
    """Split batches between ``n`` threads from now on (1: everything on the calling thread)."""
    global _threads, _pool
    n = max(1, int(n))
    if n == _threads:
        return
    with _pool_busy:
        old, _pool, _threads = _pool, None, n
    if old is not None:
        old.shutdown(wait=False)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_threads - 1, thread_name_prefix="engine",
                                   initializer=_mark_worker)
    return _pool


def _mark_worker() -> None:
    _workers.inside = True


def split(n: int, parts: int, min_size: int = 1) -> list[tuple[int, int]]:
    """[0, n) as up to ``parts`` contiguous (start, stop) ranges of about equal size, each at least
    ``min_size`` long (fewer ranges when ``n`` is small)."""
    parts = max(1, min(parts, n // max(min_size, 1)))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


# A part handed to another thread must be worth the hand-off (~40 us on the development machine): at
# least this many multiply-adds (a product) or elements (an elementwise pass) per part.
MIN_PART_FLOPS = 4_000_000
MIN_PART_ELEMENTS = 200_000


def ranges(n: int, cost_per_item: float, min_cost: float) -> list[tuple[int, int]]:
    """[0, n) split for ``threads()`` threads: ranges of items costing at least ``min_cost`` each
    (one range when the whole is cheap, e.g. one image)."""
    return split(n, _threads, max(1, math.ceil(min_cost / max(cost_per_item, 1e-9))))


def for_ranges(fn: Callable[[int, int], T], n: int, cost_per_item: float, min_cost: float) -> list[T]:
    """``fn(start, stop)`` over ``ranges(n, ...)``, in parallel; the results in order."""
    return parallel_map(lambda r: fn(*r), ranges(n, cost_per_item, min_cost))


def parallel_map(fn: Callable[[T], object], items: Sequence[T]) -> list:
    """``[fn(item) for item in items]``, the items spread over the engine's threads (the caller runs the
    first). Sequential when there is one item or one thread, on a pool thread, or while another caller
    has the pool. An exception in any part is raised here, after every part has finished."""
    if len(items) <= 1 or _threads <= 1 or getattr(_workers, "inside", False) or not _pool_busy.acquire(False):
        return [fn(item) for item in items]
    try:
        futures = [_executor().submit(fn, item) for item in items[1:]]
        try:
            first = fn(items[0])
        finally:
            wait(futures)  # every part finishes before anything is returned or raised
        return [first, *(f.result() for f in futures)]
    finally:
        _pool_busy.release()


@contextmanager
def sequential():
    """Within this block the calling thread splits nothing (e.g. one of several threads that each score
    their own batches: they already keep the cores busy)."""
    before = getattr(_workers, "inside", False)
    _workers.inside = True
    try:
        yield
    finally:
        _workers.inside = before


def apply_defaults() -> None:
    """The engine's policy, applied when it is imported: one-threaded BLAS (unless the environment
    chose), ``default_threads()`` engine threads."""
    global _threads
    if not any(os.environ.get(var) for var in BLAS_ENV):
        set_blas_threads(1)
    _threads = default_threads()


apply_defaults()
