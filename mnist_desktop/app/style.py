"""The app's colours and fonts, in one place: light chrome, black image panes like MNIST itself.

Colours that describe data in pictures (the blue-white-red evidence map, confusion-matrix shades, weight
grids) live in ``mnist_desktop.heatmap``, NumPy only, so the command line's PNGs match the screen.
Strings are for style sheets and rich text (``f"color: {MUTED_TEXT}"``); QColors for painters and plots.

    label.setFont(scaled_font(label.font(), 1.4, bold=True))
    label.setStyleSheet(f"color: {MUTED_TEXT};")
    app.setWindowIcon(app_icon())                 # resources/icons/*.png, made from resources/mnist-desktop.svg
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QFont, QIcon

from mnist_desktop import shipped

# ---- text and plots ---------------------------------------------------------------------------------------
PLOT_BACKGROUND = "w"
PLOT_FOREGROUND = "#333333"         # axes, tick labels, values on plots
MUTED_TEXT = "#6b7280"              # captions, hints, secondary text
GRID_LINE = "#999999"               # dashed markers on plots
LEGEND_BORDER = "#cccccc"
RIGHT_COLOR = "#1a7f37"             # read correctly
WRONG_COLOR = "#c62828"             # a mistake; an error message
ERROR_COLOR = WRONG_COLOR
ACCENT = "#1f6fd1"                  # the number that matters (accuracy), a selection

# ---- the Draw view ----------------------------------------------------------------------------------------
BAR_COLOR = QColor("#b8c4d6")       # probability bars, per-digit accuracy bars
WEAK_BAR_COLOR = QColor("#8fa6c8")  # per-digit accuracy bars beside the weakest one (in WRONG_COLOR)
HIGHLIGHT_COLOR = QColor(ACCENT)    # the top digit's bar
UNSURE_COLOR = QColor("#b26a00")    # "3 or 5?": the two close digits, and the question
BOX_COLOR = QColor("#ff9f1c")       # ink bounding box, fit frame
GUIDE_COLOR = QColor("#4aa3ff")     # where the 20x20 fit landed in 28x28
OVERLAY_DIM = QColor(0, 0, 0, 140)  # under an overlay (canvas and 28x28 pane), white ink shows as mid grey

# ---- the Train view ---------------------------------------------------------------------------------------
TRAIN_COLOR = QColor("#1a9641")     # train accuracy (green)
TEST_COLOR = QColor(ACCENT)         # test accuracy (blue)
LOSS_COLOR = QColor("#d95f02")
RAW_LOSS_COLOR = QColor(217, 95, 2, 45)

# ---- several series on one plot (learning curves): Okabe-Ito, distinguishable for colour-blind readers -----
SERIES_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

# ---- message banners: level -> (background, text, border) ----------------------------------------------------
BANNER_COLORS = {
    "error": ("#fde8e8", "#8a1c1c", "#f5b5b5"),
    "warning": ("#fff6e0", "#7a5200", "#f3d38a"),
    "info": ("#e8f1fd", "#1c3f8a", "#b5cdf5"),
}


def scaled_font(base: QFont, factor: float = 1.0, bold: bool = False) -> QFont:
    """A copy of ``base`` ``factor`` times larger, bold if asked (titles, big numbers, hints)."""
    f = QFont(base)
    if factor != 1.0:
        f.setPointSizeF(f.pointSizeF() * factor)
    if bold:
        f.setBold(True)
    return f


def app_icon() -> QIcon:
    """The application icon at every size shipped (resources/icons/mnist-desktop-<N>.png); an empty icon
    if the resources are missing."""
    icon = QIcon()
    for path in shipped.icon_files():
        if path.suffix == ".png":
            n = int(path.stem.rsplit("-", 1)[-1])
            icon.addFile(str(path), QSize(n, n))
    return icon
