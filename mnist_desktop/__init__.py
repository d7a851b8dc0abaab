"""mnist-desktop: draw, train and explore handwritten-digit networks with an embedded NumPy engine."""

__version__ = "0.1.0"
