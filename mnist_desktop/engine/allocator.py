"""The C allocator's thresholds: freed arrays stay with the process for the next training step.

A training step allocates and frees the same few megabytes of arrays every time (im2col columns, layer
outputs, masks, gradients). With glibc's defaults each step gets them as fresh pages: arrays above the
mmap threshold are mapped and unmapped per call, and a freed heap top above the trim threshold goes back
to the system, so the next step faults every page in again. In the 2-core VM the benchmarks run on a
fault costs ~10 us: cnn-seed took ~1,060 faults (~11 ms) per 64-image step on one thread, half its time.
Raising both thresholds once (32 MB, glibc's largest mmap threshold, and a 64 MB trim threshold) keeps
the freed memory for reuse: no faults per step, cnn-seed 2.2x faster than with the thresholds the variables set
(benchmarks/README.md, "Allocator").

The cost: up to 64 MB of freed memory may stay mapped per malloc arena after a peak (the resident size
after a big evaluation stays near its peak instead of falling back); the peak itself is unchanged, and
arrays above 32 MB are still mapped and unmapped on their own.

``mallopt`` is called through ctypes (the standard library; nothing is compiled), on glibc only; other C
libraries keep their behaviour. ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` set in the
environment leave the allocator as the user chose.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1   # mallopt parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20   # glibc refuses more (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 64 << 20   # above the largest step we measured (cnn-bn, batch 64: faults gone from 32 MB)
ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

applied = False   # True once the thresholds are set in this process


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module's docstring); True if they are set now.
    Does nothing (False) elsewhere than glibc, or when the environment set either threshold."""
    global applied
    if applied:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or any(os.environ.get(v) for v in ENV):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # the mmap threshold first: setting either one turns off glibc's own adjustment of both
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return applied


keep_freed_memory()
