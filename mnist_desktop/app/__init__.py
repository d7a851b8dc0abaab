"""Everything Qt (PySide6, pyqtgraph) lives in this package; nothing outside it imports Qt.

Importing this package before NumPy makes OpenBLAS single-threaded (unless OPENBLAS_NUM_THREADS or
OMP_NUM_THREADS is set already). The window predicts one image at a time between paints; OpenBLAS's
worker threads spin after each call and take the core the GUI thread needs. Measured on the 2-core
development machine under load (benchmarks/draw_latency.py --preset cnn-seed): CNN prediction in the
Draw view 0.4 ms median single-threaded against 12 ms with the default threads, update-to-painted
11 ms against 29 ms; a CNN training step (batch 64) took 44 ms against 178 ms.
"""

import os as _os

if not (_os.environ.get("OPENBLAS_NUM_THREADS") or _os.environ.get("OMP_NUM_THREADS")):
    _os.environ["OPENBLAS_NUM_THREADS"] = "1"
