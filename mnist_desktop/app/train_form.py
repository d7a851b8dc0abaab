"""The Train view's form: the architecture (a preset or a custom MLP) and the training settings. Every
field has a tooltip; the form is remembered in QSettings (keys under ``train/``). The data panel is in
``data_panel``.

    form = TrainForm(settings)              # form.request() -> TrainRequest; ValueError with a reason

The form turns fields into the same (architecture, TrainConfig kwargs) as ``mnist-desktop train`` with
flags, through ``training.train_settings``: one place decides what a preset plus overrides means.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QSpinBox, QVBoxLayout, QWidget)

from mnist_desktop.app.state import K_FORM, setting
from mnist_desktop.app.style import ERROR_COLOR, MUTED_TEXT
from mnist_desktop.data import AUGMENTATIONS
from mnist_desktop.engine.optim import OPTIMIZERS, SCHEDULES
from mnist_desktop.engine.presets import ACTIVATIONS, PRESETS, get_preset, parse_layers
from mnist_desktop.engine.train import TrainConfig
from mnist_desktop.training import train_settings

CUSTOM = "custom"              # the architecture combo's entry for a custom MLP
DEFAULT_PRESET = "mlp-128x2"
AUGMENT_TIPS = {
    "rotate": "Turn each training image by a random angle (up to ±15°), a new one every epoch.",
    "shift": "Move each training image by up to 2 pixels in each direction.",
    "scale": "Shrink or enlarge each training image by up to 10%.",
    "thickness": "Make the strokes of each training image randomly thicker or thinner, like different pens.",
    "shear": "Slant each training image left or right (up to about 14°), as people's writing leans.",
    "elastic": "Bend the strokes of each training image a little with a smooth random warp (up to 1 pixel), "
               "like a wobbly hand.",
    "styles": "Draw some training digits in handwriting styles MNIST lacks: slashed zeros, ones with a flag "
              "and foot, crossed sevens, open-top fours, straight-stemmed or hooked nines, twos with a loop.",
}


def _muted(label: QLabel) -> QLabel:
    label.setStyleSheet(f"color: {MUTED_TEXT};")
    label.setWordWrap(True)
    return label


# ---- the network and the training settings --------------------------------------------------------------------


class NumberSpin(QDoubleSpinBox):
    """A number shown the short way (0.001, 1e-05, 3, 0) and typed the same way: learning rate, L2."""

    def __init__(self, lo: float, hi: float, step: float | None = None) -> None:
        super().__init__()
        self.setDecimals(8)
        self.setRange(lo, hi)
        if step is None:
            self.setStepType(QDoubleSpinBox.AdaptiveDecimalStepType)   # 0.001 -> 0.0011; 0.1 -> 0.11
        else:
            self.setSingleStep(step)

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        try:
            value = float(text)
        except ValueError:
            return QValidator.Intermediate, text, pos
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.Acceptable if ok else QValidator.Intermediate), text, pos


@dataclass(frozen=True)
class TrainRequest:
    """What the form asks for: an architecture dict and TrainConfig kwargs (as ``training.train_settings``
    gives them), and the preset's name (None for a custom MLP)."""

    architecture: dict
    training: dict
    preset: str | None


class TrainForm(QWidget):
    """The architecture (presets with their summaries, or a custom MLP typed as 784-128-64-10 with an
    activation, checked as typed) and the training settings. Picking a preset fills its settings.

    Signal: changed() after any field changed.
    """

    changed = Signal()

    def __init__(self, settings: QSettings | None = None, persist: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings, self.persist = settings, persist
        self._restoring = True
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_network_box())
        layout.addWidget(self._build_training_box())

        ## fill: the stored form, else the default preset's settings
        self._restore()
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        self.layers_edit.textChanged.connect(self._on_layers_changed)
        for w in (self.activation_combo, self.optimizer_combo, self.schedule_combo):
            w.currentIndexChanged.connect(self._on_field_changed)
        for w in (self.lr_spin, self.batch_spin, self.epochs_spin, self.l2_spin, self.dropout_spin, self.seed_spin):
            w.valueChanged.connect(self._on_field_changed)
        for check in self.augment_checks.values():
            check.toggled.connect(self._on_field_changed)
        self._restoring = False

    def _build_network_box(self) -> QGroupBox:
        """A preset, or a custom MLP's layer sizes and activation."""
        arch_box = QGroupBox("Network")
        self.preset_combo = QComboBox()
        for name, preset in PRESETS.items():
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.summary, Qt.ToolTipRole)
        self.preset_combo.addItem("custom MLP", CUSTOM)
        self.preset_combo.setItemData(self.preset_combo.count() - 1, "Type the layer sizes yourself",
                                      Qt.ToolTipRole)
        self.preset_combo.setToolTip("A named architecture with the training settings that suit it (the same "
                                     "presets as `mnist-desktop train --preset`), or a custom MLP.")
        self.summary_label = _muted(QLabel())
        self.layers_edit = QLineEdit("784-128-64-10")
        self.layers_edit.setToolTip("Layer sizes from input to output, e.g. 784-128-64-10: 784 inputs (28×28 "
                                    "pixels), hidden layers of your choice (1 to 8192 units), 10 outputs.")
        self.activation_combo = QComboBox()
        self.activation_combo.addItems(list(ACTIVATIONS))
        self.activation_combo.setToolTip("The function after each hidden layer: relu (fast to train), sigmoid "
                                         "or tanh (the classic S-curves).")
        self.layers_error = QLabel()
        self.layers_error.setWordWrap(True)
        self.layers_error.setStyleSheet(f"color: {ERROR_COLOR};")
        custom = QHBoxLayout()
        custom.addWidget(self.layers_edit, 1)
        custom.addWidget(self.activation_combo)
        self._custom_row = QWidget()
        self._custom_row.setLayout(custom)
        custom.setContentsMargins(0, 0, 0, 0)
        arch = QVBoxLayout(arch_box)
        arch.addWidget(self.preset_combo)
        arch.addWidget(self.summary_label)
        arch.addWidget(self._custom_row)
        arch.addWidget(self.layers_error)
        return arch_box

    def _build_training_box(self) -> QGroupBox:
        """Optimizer, learning rate and schedule, batch size, epochs, regularisation, augmentation, seed."""
        train_box = QGroupBox("Training")
        self.optimizer_combo = QComboBox()
        self.optimizer_combo.addItems(list(OPTIMIZERS))
        self.optimizer_combo.setToolTip("How the weights move each step: sgd (plain gradient descent), momentum "
                                        "(SGD that keeps some of its previous step), adam (per-weight step sizes).")
        self.lr_spin = NumberSpin(1e-6, 100.0)
        self.lr_spin.setToolTip("Learning rate: the size of each step. Too small learns slowly; too large "
                                "makes the loss explode (training stops and says so). Adam: about 0.001; "
                                "SGD: about 0.1.")
        self.schedule_combo = QComboBox()
        self.schedule_combo.addItems(list(SCHEDULES))
        self.schedule_combo.setToolTip("How the learning rate changes during the run: constant, step (divided "
                                       "by 10 every third of the run) or cosine (eases down to zero by the end).")
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 4096)
        self.batch_spin.setToolTip("Images per step: the gradient is averaged over this many. Larger batches "
                                   "are faster per image but take fewer steps per epoch.")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1000)
        self.epochs_spin.setToolTip("Passes over the training set. After each one the network is scored on "
                                    "the training and test images and a point is added to the plot.")
        self.l2_spin = NumberSpin(0.0, 1.0, step=1e-4)
        self.l2_spin.setToolTip("L2 weight decay: pulls every weight toward zero a little each step, "
                                "against overfitting. 0 turns it off; 0.0001 is a gentle amount.")
        self.dropout_spin = QDoubleSpinBox()
        self.dropout_spin.setDecimals(2)
        self.dropout_spin.setRange(0.0, 0.9)
        self.dropout_spin.setSingleStep(0.05)
        self._dropout_tip = ("Dropout: the fraction of hidden units switched off at random in each training "
                             "step (MLPs), against overfitting. 0 turns it off.")
        self.dropout_spin.setToolTip(self._dropout_tip)
        aug_widget = self._build_augment_checks()
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2_147_483_647)
        self.seed_spin.setToolTip("Random seed for the initial weights, the shuffling, dropout and "
                                  "augmentation: the same seed and settings train the same network again.")
        form = QFormLayout(train_box)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for label, field in (("Optimizer", self.optimizer_combo), ("Learning rate", self.lr_spin),
                             ("Schedule", self.schedule_combo), ("Batch size", self.batch_spin),
                             ("Epochs", self.epochs_spin), ("L2 decay", self.l2_spin),
                             ("Dropout", self.dropout_spin), ("Augment", aug_widget), ("Seed", self.seed_spin)):
            row_label = QLabel(label)
            row_label.setToolTip(field.toolTip())
            form.addRow(row_label, field)
        return train_box

    def _build_augment_checks(self) -> QWidget:
        self.augment_checks: dict[str, QCheckBox] = {}
        aug = QGridLayout()
        aug.setContentsMargins(0, 0, 0, 0)
        for i, name in enumerate(AUGMENTATIONS):
            check = QCheckBox(name)
            check.setToolTip(AUGMENT_TIPS.get(name, name) + " Only training images are changed.")
            self.augment_checks[name] = check
            aug.addWidget(check, i // 2, i % 2)
        aug_widget = QWidget()
        aug_widget.setLayout(aug)
        aug_widget.setToolTip("Augmentation: random changes to the training images, a new one every time an "
                              "image is used, so the network sees more variety.")
        return aug_widget

    # ---- reading the form -------------------------------------------------------------------------------------

    @property
    def preset(self) -> str | None:
        """The chosen preset's name, None for a custom MLP."""
        data = self.preset_combo.currentData()
        return None if data == CUSTOM else data

    def augment(self) -> list[str]:
        return [name for name, check in self.augment_checks.items() if check.isChecked()]

    def layers_problem(self) -> str | None:
        """Why the custom MLP text is not usable, or None (also None for a preset)."""
        if self.preset is not None:
            return None
        try:
            parse_layers(self.layers_edit.text())
        except ValueError as exc:
            return str(exc)
        return None

    def request(self) -> TrainRequest:
        """The architecture and TrainConfig kwargs the form asks for; ValueError saying what is wrong."""
        problem = self.layers_problem()
        if problem:
            raise ValueError(f"The custom MLP's layer sizes are not usable: {problem}.")
        preset = self.preset
        dropout = round(self.dropout_spin.value(), 4)
        if preset is not None:
            p = get_preset(preset)
            # a preset keeps its own architecture unless the dropout was changed (MLPs only)
            dropout = None if p.is_cnn or dropout == _preset_dropout(preset) else dropout
        options = SimpleNamespace(
            preset=preset, layers=self.layers_edit.text(),
            activation=self.activation_combo.currentText() if preset is None else None, loss=None,
            dropout=dropout, augment=",".join(self.augment()) or "none",
            optimizer=self.optimizer_combo.currentText(), lr=float(self.lr_spin.value()), momentum=None,
            schedule=self.schedule_combo.currentText(), batch_size=self.batch_spin.value(),
            epochs=self.epochs_spin.value(), l2=float(self.l2_spin.value()), seed=self.seed_spin.value())
        arch, training = train_settings(options)
        TrainConfig(**training).validate()
        return TrainRequest(arch, training, preset)

    # ---- writing the form -----------------------------------------------------------------------------------

    def set_preset(self, name: str | None) -> None:
        """Choose a preset (its training settings fill the form) or None / "custom" for a custom MLP."""
        index = self.preset_combo.findData(name or CUSTOM)
        if index < 0:
            raise ValueError(f"unknown preset {name!r}")
        self.preset_combo.setCurrentIndex(index)

    def fill_from_preset(self, name: str) -> None:
        """The preset's training settings (TrainConfig's defaults where it has none); the seed stays."""
        p = get_preset(name)
        base = TrainConfig()
        t = {**{k: getattr(base, k) for k in ("optimizer", "lr", "schedule", "batch_size", "epochs", "l2")},
             "augment": [], **p.training}
        self.optimizer_combo.setCurrentText(t["optimizer"])
        self.lr_spin.setValue(float(t["lr"]))
        self.schedule_combo.setCurrentText(t["schedule"])
        self.batch_spin.setValue(int(t["batch_size"]))
        self.epochs_spin.setValue(int(t["epochs"]))
        self.l2_spin.setValue(float(t["l2"]))
        self.dropout_spin.setValue(_preset_dropout(name))
        for op, check in self.augment_checks.items():
            check.setChecked(op in t["augment"])

    def set_enabled_for_run(self, running: bool) -> None:
        """Nothing can be changed while a run uses the settings."""
        for child in self.findChildren(QGroupBox):
            child.setEnabled(not running)

    def _show_architecture(self) -> None:
        preset = self.preset
        self._custom_row.setVisible(preset is None)
        if preset is None:
            self.summary_label.setText("A multi-layer perceptron: fully connected layers, the hidden ones "
                                       "followed by the activation, softmax output.")
            problem = self.layers_problem()
            self.layers_error.setText(problem or "")
            self.layers_error.setVisible(bool(problem))
            self.layers_edit.setStyleSheet(f"border: 1px solid {ERROR_COLOR};" if problem else "")
        else:
            self.summary_label.setText(get_preset(preset).summary)
            self.layers_error.setVisible(False)
        cnn = preset is not None and get_preset(preset).is_cnn
        self.dropout_spin.setEnabled(not cnn)
        self.dropout_spin.setToolTip(self._dropout_tip + (" A CNN preset fixes its own dropout." if cnn else ""))

    # ---- settings ---------------------------------------------------------------------------------------------

    def _restore(self) -> None:
        s = self.settings
        preset = setting(s, K_FORM + "preset", str, DEFAULT_PRESET)
        index = self.preset_combo.findData(preset)
        self.preset_combo.setCurrentIndex(index if index >= 0 else self.preset_combo.findData(DEFAULT_PRESET))
        self.fill_from_preset(self.preset or DEFAULT_PRESET)
        self.layers_edit.setText(setting(s, K_FORM + "layers", str, self.layers_edit.text()))
        self.activation_combo.setCurrentText(setting(s, K_FORM + "activation", str, "relu"))
        if s is not None and s.value(K_FORM + "optimizer") is not None:   # a stored form wins over the preset
            self.optimizer_combo.setCurrentText(setting(s, K_FORM + "optimizer", str, "adam"))
            self.lr_spin.setValue(setting(s, K_FORM + "lr", float, self.lr_spin.value()))
            self.schedule_combo.setCurrentText(setting(s, K_FORM + "schedule", str, "constant"))
            self.batch_spin.setValue(setting(s, K_FORM + "batch_size", int, self.batch_spin.value()))
            self.epochs_spin.setValue(setting(s, K_FORM + "epochs", int, self.epochs_spin.value()))
            self.l2_spin.setValue(setting(s, K_FORM + "l2", float, 0.0))
            self.dropout_spin.setValue(setting(s, K_FORM + "dropout", float, self.dropout_spin.value()))
            stored = setting(s, K_FORM + "augment", str, "")
            for op, check in self.augment_checks.items():
                check.setChecked(op in stored.split(","))
        self.seed_spin.setValue(setting(s, K_FORM + "seed", int, 0))
        self._show_architecture()

    def _save(self) -> None:
        if self.settings is None or not self.persist or self._restoring:
            return
        values = {"preset": self.preset or CUSTOM, "layers": self.layers_edit.text(),
                  "activation": self.activation_combo.currentText(), "optimizer": self.optimizer_combo.currentText(),
                  "lr": float(self.lr_spin.value()), "schedule": self.schedule_combo.currentText(),
                  "batch_size": self.batch_spin.value(), "epochs": self.epochs_spin.value(),
                  "l2": float(self.l2_spin.value()), "dropout": float(self.dropout_spin.value()),
                  "augment": ",".join(self.augment()), "seed": self.seed_spin.value()}
        for key, value in values.items():
            self.settings.setValue(K_FORM + key, value)

    # ---- events ---------------------------------------------------------------------------------------------------

    def _on_preset_changed(self, index: int) -> None:
        if self.preset is not None:
            self._restoring = True          # one save after the whole fill, not one per field
            self.fill_from_preset(self.preset)
            self._restoring = False
        self._show_architecture()
        self._on_field_changed()

    def _on_layers_changed(self, text: str) -> None:
        self._show_architecture()
        self._on_field_changed()

    def _on_field_changed(self, *args) -> None:
        if self._restoring:
            return
        self._save()
        self.changed.emit()


def _preset_dropout(name: str) -> float:
    """The dropout probability of a preset's first dropout layer (0.0 without one)."""
    layers = get_preset(name).architecture["layers"]
    return next((float(l["p"]) for l in layers if l["type"] == "dropout"), 0.0)
