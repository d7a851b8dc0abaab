"""The one atomic-write and careful-read module; see ``mnist_desktop.engine.fileio`` for the details.

Everything outside the engine imports from here. The implementation sits in the engine package only so
that the engine (model files) can use it without importing upward.
"""

from mnist_desktop.engine.fileio import (TEMP_SUFFIX, ReadError, SaveError, atomic_write, check_regular_file,
                                         new_file_mode, read_capped, save_error, sweep_stale_temps)

__all__ = ["SaveError", "ReadError", "atomic_write", "new_file_mode", "save_error", "sweep_stale_temps",
           "read_capped", "check_regular_file", "TEMP_SUFFIX"]
