"""Write the small MNIST subset in this folder from the full MNIST files.

    python tests/data/make_subset.py [MNIST_FOLDER]

MNIST_FOLDER defaults to $MNIST_DIR, else /work/shared/datasets/mnist. The source files must be the
canonical ones (checked against the published checksums). Output, in the original names and format:
the first 300 images of each digit from the training set (3,000, in their original order) and the first
100 of each digit from the test set (1,000), as gzipped IDX files. Running it again gives the same bytes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository, so this runs without installing

from mnist_desktop.data.datasets import DATASETS, checksum_problem, first_per_class  # noqa: E402
from mnist_desktop.data.idx import read_idx, write_idx  # noqa: E402

PER_CLASS = {"train": 300, "test": 100}


def main(argv: list[str]) -> int:
    src = Path(argv[1] if len(argv) > 1 else os.environ.get("MNIST_DIR") or "/work/shared/datasets/mnist")
    files = DATASETS["mnist"].files
    for f in files:
        problem = checksum_problem(src / f.name, f) if (src / f.name).is_file() else "missing"
        if problem:
            print(f"{src / f.name}: {problem}; need the canonical MNIST files", file=sys.stderr)
            return 1
    for split, (images_file, labels_file) in (("train", files[0:2]), ("test", files[2:4])):
        x, y = read_idx(src / images_file.name), read_idx(src / labels_file.name)
        keep = first_per_class(y.astype(np.int64), PER_CLASS[split])
        write_idx(HERE / images_file.name, x[keep])
        write_idx(HERE / labels_file.name, y[keep])
        counts = np.bincount(y[keep], minlength=10).tolist()
        print(f"{split}: {len(keep)} of {len(y)} images (last index kept: {keep[-1]}), per digit {counts}")
    for f in files:
        print(f"  {f.name}: {(HERE / f.name).stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
