"""Data: IDX files, MNIST / Fashion-MNIST datasets, and training-time augmentation (NumPy + stdlib)."""
