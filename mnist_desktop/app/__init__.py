"""Everything Qt: the main window and its views. Nothing outside this package imports PySide6 or pyqtgraph."""
