"""Everything Qt (PySide6, pyqtgraph) lives in this package; nothing outside it imports Qt.

The window's BLAS pool is one thread: the engine sets it at run time when it is imported
(mnist_desktop/engine/threads.py), however early NumPy was loaded. The Draw view predicts one image at a
time between paints; OpenBLAS's spinning worker threads would take the core the GUI thread needs.
"""
