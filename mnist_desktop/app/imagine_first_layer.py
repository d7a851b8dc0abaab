"""The Imagine view's First layer tab: the first layer's weights as pictures (an MLP's hidden units as
28x28 tiles, a CNN's convolution filters) and, for a CNN and the current drawing, what each filter finds
in it (``explain.first_layer`` / ``explain.first_conv_maps``, drawn with ``heatmap.weights_rgb`` /
``heatmap.maps_rgb``).

    panel = FirstLayerPanel()
    panel.set_network(net)          # once per model
    panel.set_drawing(image)        # (28, 28) in [0, 1] or None
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from mnist_desktop import explain, heatmap
from mnist_desktop.app.imagine_widgets import ColorBar, ImageBox
from mnist_desktop.app.style import MUTED_TEXT, scaled_font
from mnist_desktop.engine.network import Network


class FirstLayerPanel(QWidget):
    """The First layer tab: the first layer's weights as tiles (MLP: hidden units as 28x28 pictures;
    CNN: the convolution filters) and, for a CNN and a drawing, each filter's feature map, in the same
    grid positions as the filters above them.

    ``first``: the FirstLayer shown (None: no model yet, or weights that are not pictures).
    ``maps``: the FeatureMaps shown (None without a CNN or a drawing).
    """

    LEFT = 150     # the left column: colour bar beside the weights, the drawing beside the maps

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.net: Network | None = None
        self.first: explain.FirstLayer | None = None
        self.maps: explain.FeatureMaps | None = None
        self.title = QLabel()
        self.title.setFont(scaled_font(self.font(), 1.1, bold=True))
        self.weights_box = ImageBox(min_size=120)
        self.bar = ColorBar()
        self.bar.set_scale(heatmap.DIVERGING_LUT, -1.0, 1.0, [(1.0, "ink wanted"), (0.0, "0"), (-1.0, "ink unwanted")])
        self.input_box = ImageBox(min_size=60)
        self.input_box.setFixedWidth(self.LEFT)
        self.input_box.caption.setText(f"<span style='color:{MUTED_TEXT}'>your drawing, as the network sees it</span>")
        self.maps_box = ImageBox(min_size=120)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {MUTED_TEXT};")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.RichText)
        self.text.setFont(scaled_font(self.font(), 1.05))
        top, bottom = QHBoxLayout(), QHBoxLayout()
        left = QVBoxLayout()                      # the colour bar, centred in a LEFT-wide column
        left.addWidget(self.bar, 0, Qt.AlignCenter)
        self._left = QWidget()
        self._left.setFixedWidth(self.LEFT)
        self._left.setLayout(left)
        top.addWidget(self._left)
        top.addWidget(self.weights_box, 1)
        bottom.addWidget(self.input_box, 0, Qt.AlignVCenter)
        bottom.addWidget(self.maps_box, 1)
        self._rows = QVBoxLayout()
        self._rows.addLayout(top, 1)
        self._rows.addLayout(bottom, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self._rows, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.text)
        self._show_maps(False)

    def _show_maps(self, on: bool) -> None:
        self.input_box.setVisible(on)
        self.maps_box.setVisible(on)
        self._rows.setStretch(1, 1 if on else 0)

    def _cell(self) -> int | None:
        """Side of a feature map of the first conv layer (its filters are drawn in squares this big)."""
        if self.first is None or self.first.kind != "conv2d":
            return None
        return int(self.net.shapes[self.first.index + 1][0])

    def set_network(self, net: Network | None) -> None:
        """Show ``net``'s first-layer weights (once per model; they do not change while shown)."""
        self.net, self.maps = net, None
        self.first = explain.first_layer(net) if net is not None else None
        first = self.first
        self._show_maps(False)
        self.hint.setText("")
        if first is None:
            self.title.setText("First layer")
            self.weights_box.clear("no picture for this layer")
            self.text.setText("This model's first layer does not look at the 28×28 picture directly, so its "
                              "weights cannot be drawn as pictures.")
            return
        shown = len(first.tiles)
        of = f" (the first {shown} of {first.total})" if shown < first.total else ""
        self.weights_box.set_image(heatmap.weights_rgb(first.tiles, self._cell()))
        if first.kind == "dense":
            self.title.setText(f"First layer: what each hidden unit looks for{of}")
            self.text.setText(
                "Each square is one hidden unit: its 784 incoming weights laid out as the 28×28 picture. "
                f"Ink on a <b style='color:{heatmap.EVIDENCE_FOR}'>red</b> pixel turns the unit up, ink on a "
                f"<b style='color:{heatmap.EVIDENCE_AGAINST}'>blue</b> pixel turns it down; each square has its "
                "own scale. "
                "The speckled frame is where MNIST never has ink: those weights never changed from their "
                "random start.")
            return
        k = first.tiles.shape[1]
        self.title.setText(f"First layer: {first.total} convolution filters of {k}×{k} pixels{of}")
        self.text.setText(
            "Each filter slides over the picture and responds where the ink matches its pattern "
            f"(<b style='color:{heatmap.EVIDENCE_FOR}'>red</b>: ink wanted, "
            f"<b style='color:{heatmap.EVIDENCE_AGAINST}'>blue</b>: ink unwanted; "
            "each filter on its own scale, enlarged).")

    def set_drawing(self, image: np.ndarray | None) -> None:
        """The current drawing (28, 28) in [0, 1], or None: a CNN shows what each filter finds in it."""
        first = self.first
        if first is None or first.kind != "conv2d":
            return
        self.maps = explain.first_conv_maps(self.net, image) if image is not None else None
        if self.maps is None:
            self._show_maps(False)
            self.hint.setText("Draw a digit in the Draw view to see what each filter finds in it.")
            return
        self._show_maps(True)
        self.hint.setText("")
        self.input_box.set_image(np.asarray(image, np.float32).reshape(28, 28), (0.0, 1.0))
        self.maps_box.set_image(heatmap.maps_rgb(self.maps.maps, self.maps.signed, self._cell()))
        where = "brighter: stronger" if not self.maps.signed else "red: pattern found, blue: its opposite"
        self.maps_box.caption.setText(
            f"<span style='color:{MUTED_TEXT}'>below each filter: where it responds in your drawing "
            f"(after {self.maps.stage.replace(' > ', ', ')}; {where})</span>")
