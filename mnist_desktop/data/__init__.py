"""Data: IDX files, MNIST / Fashion-MNIST datasets, and training-time augmentation (NumPy + stdlib only)."""

from .augment import (AUGMENTATIONS, Augmenter, affine_transform, augment_batch, change_thickness, make_augmenter,
                      parse_augment, pull_matrices, rotate)
from .datasets import (DATASETS, DataFile, Dataset, DatasetError, DatasetInfo, DownloadCancelled, DownloadError,
                       cache_dir, checksum_problem, clear_memory_cache, download, find_dataset, first_per_class,
                       get_info, load_dataset, search_path)
from .idx import IDXError, parse_idx, read_idx, write_idx

__all__ = [
    "AUGMENTATIONS", "Augmenter", "affine_transform", "augment_batch", "change_thickness", "make_augmenter",
    "parse_augment", "pull_matrices", "rotate",
    "DATASETS", "DataFile", "Dataset", "DatasetError", "DatasetInfo", "DownloadCancelled", "DownloadError",
    "cache_dir", "checksum_problem", "clear_memory_cache", "download", "find_dataset", "first_per_class",
    "get_info", "load_dataset", "search_path",
    "IDXError", "parse_idx", "read_idx", "write_idx",
]
