"""Write the replay digits' file (mnist_desktop/data/replay_digits.npz) with their test-like versions.

The file holds 3,000 MNIST training digits (300 of each; ``images`` uint8 (3000, 784), ``labels``) that
adaptation mixes in (mnist_desktop/personalize.py), and ``test_like``: each of them distorted once by
``personalize.test_like`` (fixed operations and seed), as uint8. The memory's test-like check reads those;
shipping them saves every first adaptation of a model the 0.1-0.3 s of computing them.

    python scripts/replay_file.py              # adds or refreshes test_like in the shipped file, in place
    python scripts/replay_file.py --check      # says whether the file's test_like matches test_like(images)

The write is atomic (fileio.atomic_write: a temporary file, checked by load_replay, then a rename).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from mnist_desktop import personalize  # noqa: E402
from mnist_desktop.fileio import atomic_write  # noqa: E402


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(images * 255), 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--file", type=Path, default=personalize.REPLAY_FILE)
    p.add_argument("--check", action="store_true", help="compare, write nothing")
    args = p.parse_args(argv)
    with np.load(args.file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    tests = to_uint8(personalize.test_like(arrays["images"].astype(np.float32) / 255))
    if args.check:
        have = arrays.get("test_like")
        same = have is not None and have.shape == tests.shape and np.array_equal(have, tests)
        print(f"{args.file}: test_like {'matches' if same else 'missing or different'}")
        return 0 if same else 1
    arrays["test_like"] = tests
    atomic_write(args.file, lambda f: np.savez_compressed(f, **arrays),
                 check=personalize.load_replay)                  # refuse a file the app could not read
    print(f"{args.file}: {', '.join(f'{k} {v.shape}' for k, v in arrays.items())}, {args.file.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
