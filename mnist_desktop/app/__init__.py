"""Everything Qt (PySide6, pyqtgraph) lives in this package; nothing outside it imports Qt."""
