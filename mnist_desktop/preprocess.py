"""A drawing or a picture -> the 28x28 image the network sees, the way MNIST itself was made.

LeCun's MNIST page: the digits were "size normalized to fit in a 20x20 pixel box while preserving their
aspect ratio", then "centered in a 28x28 image by computing the center of mass of the pixels". ``to_mnist``
does exactly that as a chain of small pure steps and returns every intermediate result (``Preprocessed``)
so the Draw view can show each one:

    gray (H, W) ink-high  --ink_box-->  box  --crop-->  (h0, w0)  --fit_in_box-->  fitted, long side 20
          --centre_offset-->  offset (centre of mass -> COM_TARGET)  --place-->  image (28, 28)

Conventions measured on MNIST itself (60,000 training digits; pixel (i, j) has its centre at index (i, j)):

- The centre of mass sits at (14.0, 14.0) on average, not at the geometric centre 13.5, and each digit's
  centre of mass is spread uniformly over [13.5, 14.5) in both axes: MNIST shifted by whole pixels so that
  the centre of mass *rounds to* pixel 14. ``COM_TARGET = 14.0``.
- The long side of the ink bounding box is 20 pixels for 99.7% of digits (grey anti-aliased edge included).
- The brightest pixel is 1.0 in 90% of digits and above 0.9 in all of them, so the result is scaled to a
  peak of 1 (faint pencil, or strokes thinner than a pixel after shrinking, would otherwise be dimmer than
  anything the network was trained on).

Resampling is one separable matrix per axis, ``out = R_rows @ crop @ R_cols.T``: exact area (box-filter)
weights when shrinking, linear interpolation when enlarging a tiny drawing. Both map the crop's exact extent
(fractional sizes included), so the aspect ratio is kept exactly. Centring is sub-pixel: the same matrices
are built with a fractional offset, which places the content exactly instead of rounding to a pixel (and
adds no blur, unlike a bilinear shift of the finished image); ``centering="integer"`` is MNIST's whole-pixel
shift. Measured with the dev MLP (784-128-128-10, 98.1% on MNIST test) by benchmarks/drawn_digits.py
(1,000 drawings, pen 18) and benchmarks/robustness.py (10,000 MNIST test digits pasted big and off-centre):

    choice                                  drawn digits   pen 4    pasted MNIST (direct: 98.13%)
    default: sub-pixel, area, peak 1, 25%      95.9%       92.8%      98.14%
    whole-pixel centring                       95.2%       92.2%      98.06%
    point-sampled bilinear, not area           95.1%       73.7%      98.21%
    no peak normalisation                      95.9%       91.7%      98.14%
    box threshold 5% / 50% of peak             95.9/95.9%  92.9/92.7% 98.15/98.09%

Area averaging is what keeps thin strokes (point sampling skips most of a 0.3 px line); sub-pixel centring
wins on every set; the threshold hardly matters for clean input and is there for photos and JPEGs.

NumPy only; no Qt here (the canvas and image loading live in ``mnist_desktop.app``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = 28              # output side, pixels
BOX = 20               # the long side of the digit inside it
COM_TARGET = 14.0      # where MNIST's centre of mass sits (row and column, pixel-centre index coordinates)
BLANK_LEVEL = 0.1      # an image whose brightest ink is below this has no ink
BOX_FRACTION = 0.25    # a pixel belongs to the ink box if it is at least this fraction of the brightest ink
CENTERINGS = ("subpixel", "integer")


@dataclass(frozen=True)
class Preprocessed:
    """Every step of ``to_mnist``, for the preview.

    gray:     (H, W) float32 in [0, 1], ink high (after any inversion): the input
    box:      (top, left, bottom, right), bottom/right exclusive: ink bounding box in ``gray``
    fitted:   (h, w) float32, max(h, w) == 20: the ink box scaled into 20x20, aspect kept
    image:    (28, 28) float32 in [0, 1]: what the network sees
    offset:   (row, col) of ``fitted``'s top-left corner inside ``image`` (after centring)
    inverted: True if the input was dark-on-light and was inverted
    """

    gray: np.ndarray
    box: tuple[int, int, int, int]
    fitted: np.ndarray
    image: np.ndarray
    offset: tuple[float, float]
    inverted: bool


# ---- pixels -> ink ---------------------------------------------------------------------------------

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Qt's qGray and most viewers


def _as_unit_float(pixels: np.ndarray) -> np.ndarray:
    """Any integer or float array -> float32 in [0, 1] (integers by their type's full range)."""
    a = np.asarray(pixels)
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        return (a.astype(np.float32) / np.float32(np.iinfo(a.dtype).max)).clip(0, 1)
    if np.issubdtype(a.dtype, np.floating):
        return np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0).clip(0, 1)
    raise ValueError(f"pixels must be numbers, got dtype {a.dtype}")


def border_ring(a: np.ndarray) -> np.ndarray:
    """(H, W) -> the pixels of a ring along the edges, 5% of the short side wide (at least 1 pixel); the
    whole image, flattened, if it is too small for a ring."""
    H, W = a.shape
    k = max(1, round(0.05 * min(H, W)))
    if 2 * k >= min(H, W):
        return a.ravel()
    return np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[k:-k, :k].ravel(), a[k:-k, -k:].ravel()])


def border_level(lum: np.ndarray) -> float:
    """(H, W) -> the background level: the median of the border ring, so a digit touching the edge or a
    frame line does not move it."""
    return float(np.median(border_ring(lum)))


def _background_under(lum: np.ndarray, alpha: np.ndarray) -> float:
    """The level transparent pixels show. If the border is mostly opaque the picture has its own background
    (paper with transparent rounded corners, say): the median of its opaque border pixels. If the border is
    mostly transparent, the opposite of the visible content: white under a dark digit, black under a light one."""
    ring_alpha, ring_lum = border_ring(alpha), border_ring(lum)
    if np.median(ring_alpha) >= 0.5:
        return float(np.median(ring_lum[ring_alpha >= 0.5]))
    covered = float(alpha.sum())
    content = float((alpha * lum).sum()) / covered if covered > 0 else 0.0
    return 1.0 if content < 0.5 else 0.0


def ink_from_pixels(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """(H, W) or (H, W, 1|3|4) uint8 (or other integers, or floats in [0, 1]) -> ((H, W) float32 ink-high in
    [0, 1], inverted?).

    1) grayscale by luminance (BT.601);
    2) transparency shows the background: the picture's own (its opaque border) if it has one, else the
       opposite of the visible content (a dark digit on a transparent background is put on white, a light
       one on black), so transparent never means ink;
    3) background from the border ring; if it is light the digit is dark on light: invert. The background
       level maps to 0 and the far end of the range (black for an inverted image, white otherwise) to 1,
       so a grey photo background does not turn into ink.
    """
    a = _as_unit_float(pixels)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        lum, alpha = a, None
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        lum = a[:, :, :3] @ LUMA
        alpha = a[:, :, 3] if a.shape[2] == 4 else None
    else:
        raise ValueError(f"pixels must be (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
    if lum.shape[0] < 1 or lum.shape[1] < 1:
        raise ValueError(f"the image is empty (shape {a.shape})")

    if alpha is not None and alpha.min() < 1.0:
        lum = alpha * lum + (1.0 - alpha) * _background_under(lum, alpha)

    bg = border_level(lum)
    inverted = bg > 0.5
    ink = (bg - lum) / bg if inverted else (lum - bg) / (1.0 - bg)
    return np.clip(ink, 0.0, 1.0).astype(np.float32), inverted


# ---- the steps ---------------------------------------------------------------------------------------


def is_blank(gray: np.ndarray) -> bool:
    """True if no pixel reaches BLANK_LEVEL (an empty canvas, or only faint noise)."""
    g = np.asarray(gray)
    return g.size == 0 or not np.isfinite(g).any() or float(np.nanmax(g)) < BLANK_LEVEL


def ink_threshold(gray: np.ndarray) -> float:
    """The level above which a pixel counts for the bounding box: a quarter of the brightest ink, so faint
    anti-aliasing, JPEG ringing and a photo's noise do not inflate the box, and faint ink still has one."""
    return max(BLANK_LEVEL, BOX_FRACTION * float(np.max(gray)))


def ink_box(gray: np.ndarray) -> tuple[int, int, int, int] | None:
    """(H, W) -> (top, left, bottom, right) of the pixels at or above ``ink_threshold``; None if blank."""
    if is_blank(gray):
        return None
    ink = gray >= ink_threshold(gray)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def crop(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, bottom, right = box
    return gray[top:bottom, left:right]


def resample_matrix(n_in: int, scale: float, n_out: int, offset: float = 0.0) -> np.ndarray:
    """(n_out, n_in) float64 weights mapping input pixels, where pixel i spans [i, i + 1), onto output
    pixels, where input position x lands at ``offset + scale * x``.

    Shrinking (scale <= 1): exact area averaging, R[j, i] = length of [j, j+1) & image of [i, i+1); an output
    pixel only partly covered by the input gets the covered fraction (that is the anti-aliased edge).
    Enlarging (scale > 1): linear interpolation between input pixel centres (clamped at the input's edges),
    times the fraction of the output pixel the content covers, so the content's edges, and hence a sub-pixel
    offset, are kept exactly.
    """
    j = np.arange(n_out, dtype=np.float64)[:, None]
    if scale <= 1.0:
        i = np.arange(n_in, dtype=np.float64)[None, :]
        lo = np.maximum(j, offset + scale * i)
        hi = np.minimum(j + 1.0, offset + scale * (i + 1.0))
        return np.clip(hi - lo, 0.0, None)
    j = j[:, 0]
    coverage = np.clip(np.minimum(j + 1.0, offset + scale * n_in) - np.maximum(j, offset), 0.0, 1.0)
    t = np.clip((j + 0.5 - offset) / scale - 0.5, 0.0, n_in - 1.0)  # output centres, in input pixel centres
    i0 = np.floor(t)
    frac = t - i0
    i0 = i0.astype(np.int64)
    R = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    np.add.at(R, (rows, i0), coverage * (1.0 - frac))
    np.add.at(R, (rows, np.minimum(i0 + 1, n_in - 1)), coverage * frac)
    return R


def fit_scale(shape: tuple[int, int], box: int = BOX) -> float:
    """The scale that makes the long side of a (h0, w0) crop exactly ``box`` pixels."""
    return box / max(shape)


def fitted_shape(shape: tuple[int, int], box: int = BOX) -> tuple[int, int]:
    """(h0, w0) -> (h, w): the long side is ``box``; the short side the whole pixels that hold it."""
    s = fit_scale(shape, box)
    return tuple(max(1, int(np.ceil(n * s - 1e-6))) for n in shape)  # type: ignore[return-value]


def _inner_offset(n_in: int, n_fit: int, scale: float) -> float:
    """Where the content starts inside its fitted cells: centred when the short side is fractional."""
    return (n_fit - scale * n_in) / 2.0


def place(cropped: np.ndarray, out_shape: tuple[int, int], offset: tuple[float, float], box: int = BOX) -> np.ndarray:
    """Resample the crop to its fitted size and put its fitted frame's top-left at ``offset`` (fractional
    allowed) inside an ``out_shape`` image of zeros: out = R_rows @ crop @ R_cols.T."""
    h0, w0 = cropped.shape
    s = fit_scale(cropped.shape, box)
    h, w = fitted_shape(cropped.shape, box)
    R_rows = resample_matrix(h0, s, out_shape[0], offset[0] + _inner_offset(h0, h, s))
    R_cols = resample_matrix(w0, s, out_shape[1], offset[1] + _inner_offset(w0, w, s))
    out = R_rows @ cropped.astype(np.float64) @ R_cols.T
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def fit_in_box(cropped: np.ndarray, box: int = BOX) -> np.ndarray:
    """(h0, w0) crop -> (h, w) float32, max(h, w) == box, aspect kept, area-averaged (linear if enlarged)."""
    return place(cropped, fitted_shape(cropped.shape, box), (0.0, 0.0), box)


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(H, W) -> (row, col) in pixel-centre index coordinates (pixel (i, j) is at (i, j))."""
    m = float(image.sum(dtype=np.float64))
    if m <= 0:
        return (image.shape[0] - 1) / 2.0, (image.shape[1] - 1) / 2.0
    r = float(image.sum(axis=1, dtype=np.float64) @ np.arange(image.shape[0])) / m
    c = float(image.sum(axis=0, dtype=np.float64) @ np.arange(image.shape[1])) / m
    return r, c


def centre_offset(fitted: np.ndarray, *, size: int = SIZE, target: float = COM_TARGET,
                  centering: str = "subpixel") -> tuple[float, float]:
    """Where fitted's top-left goes in the size x size frame so its centre of mass lands on ``target``.

    "integer" rounds to whole pixels like MNIST; "subpixel" keeps the fraction.
    Either way the offset is clamped so the whole fitted box stays in the
    frame: for a lopsided shape, losing ink would be worse than a centre of mass slightly off target.
    """
    if centering not in CENTERINGS:
        raise ValueError(f"centering must be one of {', '.join(CENTERINGS)}, got {centering!r}")
    com = center_of_mass(fitted)
    out = []
    for c, n in zip(com, fitted.shape):
        o = target - c
        if centering == "integer":
            o = float(np.ceil(o - 0.5))  # the centre of mass lands in [target - 0.5, target + 0.5), as in MNIST
        out.append(float(min(max(o, 0.0), size - n)))
    return out[0], out[1]


def normalize_peak(*images: np.ndarray) -> tuple[np.ndarray, ...]:
    """Scale all the given images by the same factor so the first one's brightest pixel is 1."""
    peak = float(images[0].max())
    if peak <= 0:
        return images
    return tuple((im / np.float32(peak)).clip(0.0, 1.0).astype(np.float32) for im in images)


def to_mnist(gray: np.ndarray, *, inverted: bool = False, centering: str = "subpixel",
             normalize: bool = True) -> Preprocessed | None:
    """(H, W) ink-high image in [0, 1] -> Preprocessed (image: (28, 28) float32 in [0, 1]); None if blank.

    ``inverted`` is only recorded (pass what ``ink_from_pixels`` said). ``centering`` and ``normalize`` exist
    to measure the alternatives; the defaults are the measured best.
    """
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"to_mnist needs a 2-D (H, W) image, got shape {gray.shape}")
    gray = np.nan_to_num(gray.astype(np.float32), nan=0.0).clip(0.0, 1.0)
    box = ink_box(gray)                                    # 1) bounding box of the ink
    if box is None:
        return None
    cropped = crop(gray, box)                              # 2) crop
    fitted = fit_in_box(cropped)                           # 3) long side 20, aspect kept, area-averaged
    offset = centre_offset(fitted, centering=centering)    # 4) centre of mass -> (14, 14)
    image = place(cropped, (SIZE, SIZE), offset)           # 5) the same resampling, at that offset, zero fill
    if normalize:
        image, fitted = normalize_peak(image, fitted)      # 6) peak ink 1, like MNIST
    return Preprocessed(gray=gray, box=box, fitted=fitted, image=image, offset=offset, inverted=bool(inverted))


# ---- from the network's input back to the drawing ---------------------------------------------------


def input_to_net_transform(pre: Preprocessed) -> tuple[float, float, float]:
    """The affine map ``to_mnist`` applied to ``pre.gray``: (scale, row0, col0) such that a point at
    (Y, X) in the input, in pixel-edge coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)), lands at
    (row0 + scale * Y, col0 + scale * X) in the 28x28 image (same edge coordinates). It is ``place``'s
    resampling: the crop starts at the box's top-left, is scaled by ``fit_scale`` and centred inside its
    fitted cells, and the fitted frame sits at ``pre.offset``. Peak normalisation changes no geometry."""
    top, left, bottom, right = pre.box
    h0, w0 = bottom - top, right - left
    s = fit_scale((h0, w0))
    h, w = fitted_shape((h0, w0))
    row0 = pre.offset[0] + _inner_offset(h0, h, s) - s * top
    col0 = pre.offset[1] + _inner_offset(w0, w, s) - s * left
    return s, row0, col0


def _sample_matrix(n_out: int, step: float, start: float, n_net: int = SIZE) -> np.ndarray:
    """(n_out, n_net) weights that read a 28x28 axis at n_out pixels; output pixel k covers
    [start + step * k, start + step * (k + 1)) in 28x28 edge coordinates, and the frame is black beyond.

    Finer than the 28x28 grid (step <= 1, a drawing on the canvas): linear interpolation between the two
    nearest 28x28 pixel centres, so the overlay is smooth, not blocky. Coarser (step > 1, a tiny input
    enlarged by to_mnist): the area average over the pixel's footprint, so no 28x28 pixel is skipped.
    """
    if step > 1.0:
        return resample_matrix(n_net, 1.0 / step, n_out, -start / step)
    u = start + step * (np.arange(n_out) + 0.5) - 0.5               # centres, in 28x28 pixel-centre coords
    i0 = np.floor(u).astype(np.int64)
    frac = u - i0
    A = np.zeros((n_out, n_net + 2))               # one spare column each side stands for "off the frame"
    rows = np.arange(n_out)
    A[rows, np.clip(i0 + 1, 0, n_net + 1)] += 1.0 - frac
    A[rows, np.clip(i0 + 2, 0, n_net + 1)] += frac
    return A[:, 1:-1]


def net_map_to_input(pre: Preprocessed, values: np.ndarray,
                     out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """A (28, 28) map over the network's input (e.g. a saliency map) -> the same map over the original
    input ``pre.gray``: (H, W) float32, or ``out_shape`` (oh, ow) covering the same area at a coarser grid
    (an opened photo need not get a 4000x3000 overlay).

    Each output pixel takes the value at the point where its centre lands in the 28x28 image (the inverse
    of ``input_to_net_transform``: crop, scale and centre-of-mass shift undone), linearly interpolated
    between 28x28 pixel centres, and 0 where it lands outside the 28x28 frame. So a single bright 28x28
    pixel comes back as a bright patch of about 1/scale input pixels over the strokes it was made from.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (SIZE, SIZE):
        raise ValueError(f"expected a ({SIZE}, {SIZE}) map, got shape {v.shape}")
    H, W = pre.gray.shape
    oh, ow = out_shape if out_shape is not None else (H, W)
    s, row0, col0 = input_to_net_transform(pre)
    A_rows = _sample_matrix(oh, s * H / oh, row0)                     # (oh, 28)
    A_cols = _sample_matrix(ow, s * W / ow, col0)                     # (ow, 28)
    return (A_rows @ v @ A_cols.T).astype(np.float32)                 # (oh, ow)
