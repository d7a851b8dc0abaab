"""Pictures from arrays, NumPy only: colour maps, tiling, nearest upscaling, weight and feature-map grids,
confusion-matrix colours, a tiny pixel font, PNG files.

The command line and the Qt views share these, so a heatmap looks the same in a PNG and on screen:

    rgb = diverging_rgb(evidence)              # (28, 28) signed -> (28, 28, 3) uint8, blue < 0 < red
    big = upscale_nearest(rgb, 8)              # (224, 224, 3)
    write_png("three.png", big)                # atomic, no Qt needed
    grid = weights_rgb(explain.first_layer(net).tiles)   # (H, W, 3): the first layer's weights, 8 per row
    colors = confusion_colors(conf)            # (10, 10) counts -> (10, 10, 3): green diagonal, red mistakes

Images are row-major (row 0 at the top), like every array in the project.
"""

from __future__ import annotations

import math
import os
import struct
import zlib

import numpy as np

from mnist_desktop.fileio import atomic_write

# ---- colour maps -------------------------------------------------------------------------------

# ColorBrewer RdBu (11 classes), reversed so that negative is blue, with pure white in the middle.
# It is a perceptual diverging map (equal lightness steps on both arms, colour-blind safe), the same
# family as CET-D1 that the Qt views may use through pyqtgraph.
_DIVERGING_ANCHORS = np.array([
    (0x05, 0x30, 0x61), (0x21, 0x66, 0xAC), (0x43, 0x93, 0xC3), (0x92, 0xC5, 0xDE), (0xD1, 0xE5, 0xF0),
    (0xFF, 0xFF, 0xFF),
    (0xFD, 0xDB, 0xC7), (0xF4, 0xA5, 0x82), (0xD6, 0x60, 0x4D), (0xB2, 0x18, 0x2B), (0x67, 0x00, 0x1F),
], dtype=np.float64)

_LUT_SIZE = 255  # odd, so that 0 falls exactly on the middle (white) entry


def _make_lut(anchors: np.ndarray, size: int) -> np.ndarray:
    """(A, 3) anchor colours, evenly spaced -> (size, 3) uint8, linear interpolation between anchors."""
    pos = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, size)
    lut = np.stack([np.interp(t, pos, anchors[:, ch]) for ch in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


DIVERGING_LUT = _make_lut(_DIVERGING_ANCHORS, _LUT_SIZE)  # (255, 3) uint8; row 127 is white
EVIDENCE_FOR, EVIDENCE_AGAINST = "#b2182b", "#2166ac"     # the map's red and blue, for words about it
GRAY_LUT = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)   # (256, 3) black -> white


def diverging_rgb(values: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """(H, W) signed values -> (H, W, 3) uint8: blue for negative, white at 0, red for positive.

    Levels are symmetric: -vmax is the darkest blue, +vmax the darkest red (values beyond are clipped).
    ``vmax`` defaults to max |values|; an all-zero (or all-NaN) array is all white. NaN counts as 0.
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if vmax is None:
        vmax = float(np.abs(v).max()) if v.size else 0.0
    vmax = float(vmax)
    if not vmax > 0 or not math.isfinite(vmax):
        t = np.zeros_like(v)
    else:
        t = np.clip(v / vmax, -1.0, 1.0)
    idx = np.rint((t + 1.0) * ((_LUT_SIZE - 1) / 2)).astype(np.intp)
    return DIVERGING_LUT[idx]


# A warm sequential map for "how much": dark red -> red -> orange -> yellow (the top of matplotlib's
# "inferno"/"hot" family), shown over a black-and-white digit, so it never looks like ink itself.
_HEAT_ANCHORS = np.array([(0x80, 0x00, 0x26), (0xE3, 0x1A, 0x1C), (0xFD, 0x8D, 0x3C), (0xFE, 0xD9, 0x76),
                          (0xFF, 0xFF, 0xB2)], dtype=np.float64)
HEAT_LUT = _make_lut(_HEAT_ANCHORS, 256)  # (256, 3) uint8


def heat_rgba(values: np.ndarray, max_alpha: float = 0.9, gamma: float = 0.7) -> np.ndarray:
    """(H, W) values in [0, 1] (e.g. a saliency map, max 1) -> (H, W, 4) uint8 for an overlay: the warm
    map's colour for the value, opacity ``max_alpha * value ** gamma`` (0: fully transparent), both
    quantised to 256 levels. A gamma below 1 lifts the mid values, above 1 hides the faint haze and keeps
    the peaks. Values outside [0, 1] are clipped; NaN is 0."""
    lut = np.empty((256, 4), np.uint8)                  # one RGBA entry per level: a lookup, not a pow per pixel
    lut[:, :3] = HEAT_LUT
    lut[:, 3] = np.rint(255 * float(max_alpha) * np.linspace(0.0, 1.0, 256) ** float(gamma))
    v = np.asarray(values, dtype=np.float32) * np.float32(255)
    np.clip(v, 0.0, 255.0, out=v)                                    # NaN stays NaN here ...
    idx = np.nan_to_num(v + np.float32(0.5), nan=0.0, copy=False).astype(np.uint8)   # ... and becomes 0
    rgba = lut.view(np.uint32)[:, 0][idx]                           # (H, W) uint32: one gather per pixel
    return rgba.view(np.uint8).reshape(*idx.shape, 4)


def grayscale_rgb(values: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 gray: ``lo`` (default 0) black, ``hi`` (default 1) white, like
    MNIST's white digit on black. Values outside are clipped; NaN is black."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=lo)
    span = hi - lo
    t = np.clip((v - lo) / span, 0.0, 1.0) if span > 0 else np.zeros_like(v)
    g = np.rint(t * 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


# ---- layout ------------------------------------------------------------------------------------


def upscale_nearest(img: np.ndarray, factor: int) -> np.ndarray:
    """(H, W[, C]) -> (H*factor, W*factor[, C]): each pixel becomes a factor x factor block."""
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"upscale factor must be >= 1, got {factor}")
    img = np.asarray(img)
    if factor == 1:
        return img.copy()
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def tile(images, cols: int, pad: int = 1, fill=0) -> np.ndarray:
    """Lay out equally shaped images (H, W[, C]) in a grid, row by row, ``cols`` per row, with ``pad``
    pixels of ``fill`` between tiles and around the edge. Missing cells of the last row are ``fill``.

    -> (rows*H + (rows+1)*pad, cols*W + (cols+1)*pad[, C]), same dtype as the images.
    """
    images = [np.asarray(im) for im in images]
    if not images:
        raise ValueError("tile needs at least one image")
    shape, dtype = images[0].shape, images[0].dtype
    if any(im.shape != shape for im in images):
        raise ValueError(f"tiles must all have the same shape, got {sorted({im.shape for im in images})}")
    cols = max(1, min(int(cols), len(images)))
    pad = int(pad)
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    rows = -(-len(images) // cols)
    h, w = shape[:2]
    out = np.empty((rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad, *shape[2:]), dtype)
    out[...] = fill
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y:y + h, x:x + w] = im
    return out


# ---- grids of weights and feature maps ------------------------------------------------------------

TILE_FILL = (160, 160, 160)       # the grey between tiles: white (zero weight) tiles keep an edge


def _grid_cols(n: int) -> int:
    return n if n <= 8 else 8


def _centred(rgb: np.ndarray, cell: int) -> np.ndarray:
    """(h, w, 3) -> (cell, cell, 3): placed in the middle of a TILE_FILL square."""
    out = np.empty((cell, cell, 3), np.uint8)
    out[...] = TILE_FILL
    h, w = rgb.shape[:2]
    y, x = (cell - h) // 2, (cell - w) // 2
    out[y:y + h, x:x + w] = rgb
    return out


def weights_rgb(tiles: np.ndarray, cell: int | None = None, pad: int = 2) -> np.ndarray:
    """(K, h, w) signed weights -> one (H, W, 3) uint8 grid picture, 8 per row, each tile blue-white-red
    on its own scale. With ``cell``, each tile is enlarged by a whole factor and centred in a cell x cell
    square, so the grid lines up with a grid of cell x cell feature maps."""
    rgb = [diverging_rgb(t) for t in tiles]
    if cell is not None:
        k = max(tiles.shape[1:])
        cell = max(cell, k)
        rgb = [_centred(upscale_nearest(t, max(1, cell // k)), cell) for t in rgb]
    return tile(rgb, _grid_cols(len(rgb)), pad, TILE_FILL)


def maps_rgb(maps: np.ndarray, signed: bool, cell: int | None = None, pad: int = 2) -> np.ndarray:
    """(F, H, W) feature maps -> one grid picture on a common scale: white on black (>= 0) or
    blue-white-red (signed); 8 per row, each centred in a cell x cell square if ``cell`` is given."""
    top = float(np.abs(maps).max()) if maps.size else 0.0
    if signed:
        rgb = [diverging_rgb(m, vmax=top) for m in maps]
    else:
        rgb = [grayscale_rgb(m, 0.0, top if top > 0 else 1.0) for m in maps]
    if cell is not None:
        rgb = [_centred(t, max(cell, *maps.shape[1:])) for t in rgb]
    return tile(rgb, _grid_cols(len(rgb)), pad, TILE_FILL)


# ---- confusion-matrix colours ----------------------------------------------------------------------

CONFUSION_ZERO = (247, 247, 247)                                  # a zero cell: light grey
_MISTAKE = (np.array([254, 224, 210], np.float64), np.array([165, 15, 21], np.float64))   # light -> dark red
_RIGHT = (np.array([199, 233, 192], np.float64), np.array([0, 109, 44], np.float64))      # light -> dark green


def confusion_colors(conf: np.ndarray) -> np.ndarray:
    """(K, K) counts -> (K, K, 3) uint8 cell colours: the diagonal green, mistakes red, each on a log scale
    against its own largest count (log(1 + c) / log(1 + max)), so 1 mistake is visible beside 50; zero
    cells light grey."""
    c = np.asarray(conf, np.float64)
    K = c.shape[0]
    diag = np.eye(K, dtype=bool)
    out = np.empty((K, K, 3))
    for mask, (lo, hi) in ((diag, _RIGHT), (~diag, _MISTAKE)):
        top = c[mask].max() if mask.any() else 0.0
        t = np.log1p(c) / np.log1p(top) if top > 0 else np.zeros_like(c)
        # the lightest shade starts at 0.15 of the way, so a count of 1 is not mistaken for zero
        shade = lo + (0.15 + 0.85 * t)[..., None] * (hi - lo)
        out[mask] = shade[mask]
    out[c == 0] = CONFUSION_ZERO
    return np.round(out).astype(np.uint8)


def dark_cells(colors: np.ndarray) -> np.ndarray:
    """(K, K, 3) uint8 -> (K, K) bool: cells dark enough for white text (BT.601 luma < 150)."""
    return colors.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) < 150


# ---- a 3x5 pixel font (digits and a few signs), so labels need no font files --------------------

_GLYPHS = {
    "0": "111 101 101 101 111", "1": "010 110 010 010 111", "2": "111 001 111 100 111",
    "3": "111 001 111 001 111", "4": "101 101 111 001 001", "5": "111 100 111 001 111",
    "6": "111 100 111 101 111", "7": "111 001 010 010 010", "8": "111 101 111 101 111",
    "9": "111 101 111 001 111", "%": "101 001 010 100 101", ">": "100 010 001 010 100",
    ":": "000 010 000 010 000", ".": "000 000 000 000 010", "-": "000 000 111 000 000",
    "?": "111 001 011 000 010", " ": "000 000 000 000 000",
}
GLYPH_W, GLYPH_H = 3, 5


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """Text in the 3x5 pixel font (digits, '%', '>', ':', '.', '-', '?', space) -> (5*scale, width) bool,
    one blank column between characters. Unknown characters raise ValueError."""
    scale = max(1, int(scale))
    cols = []
    for i, ch in enumerate(text):
        glyph = _GLYPHS.get(ch)
        if glyph is None:
            raise ValueError(f"the pixel font has no {ch!r}")
        if i:
            cols.append(np.zeros((GLYPH_H, 1), bool))
        cols.append(np.array([[c == "1" for c in row] for row in glyph.split()], bool))
    mask = np.concatenate(cols, axis=1) if cols else np.zeros((GLYPH_H, 0), bool)
    return upscale_nearest(mask, scale) if scale > 1 else mask


def draw_text(img: np.ndarray, text: str, x: int, y: int, color, scale: int = 1) -> np.ndarray:
    """Paint ``text`` (see ``text_mask``) into ``img`` (H, W, 3) in place, top-left corner at (x, y),
    clipped at the edges; returns ``img``."""
    mask = text_mask(text, scale)
    h, w = img.shape[:2]
    y0, x0 = max(y, 0), max(x, 0)
    y1, x1 = min(y + mask.shape[0], h), min(x + mask.shape[1], w)
    if y1 > y0 and x1 > x0:
        region = img[y0:y1, x0:x1]
        region[mask[y0 - y:y1 - y, x0 - x:x1 - x]] = color
    return img


def with_caption(img: np.ndarray, text: str, *, scale: int = 2, color=(0, 0, 0),
                 background=(255, 255, 255)) -> np.ndarray:
    """(H, W, 3) uint8 -> (H + strip, W, 3) with ``text`` in a strip above the image (cut at the
    right edge if the image is narrower than the text)."""
    strip_h = (GLYPH_H + 2) * scale
    out = np.empty((img.shape[0] + strip_h, img.shape[1], 3), np.uint8)
    out[:strip_h] = background
    out[strip_h:] = img
    return draw_text(out, text, scale, scale, color, scale)


# ---- PNG ---------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(img: np.ndarray) -> bytes:
    """(H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> the bytes of an 8-bit PNG file."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"PNG pixels must be uint8, got {img.dtype}")
    if img.ndim == 2:
        color_type, channels = 0, 1
    elif img.ndim == 3 and img.shape[2] in (3, 4):
        color_type, channels = (2, 3) if img.shape[2] == 3 else (6, 4)
    else:
        raise ValueError(f"PNG image must be (H, W), (H, W, 3) or (H, W, 4), got shape {img.shape}")
    h, w = img.shape[:2]
    if h < 1 or w < 1:
        raise ValueError(f"PNG image must not be empty, got shape {img.shape}")
    rows = np.ascontiguousarray(img).reshape(h, w * channels)
    raw = np.zeros((h, 1 + w * channels), np.uint8)  # filter byte 0 (None) before every row
    raw[:, 1:] = rows
    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + _chunk(b"IEND", b""))


def write_png(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write ``img`` (see ``png_bytes``) to ``path`` atomically (temp file + rename)."""
    data = png_bytes(img)
    atomic_write(path, lambda f: f.write(data))
