"""Help › How to use, Help › Keyboard shortcuts and Help › About: the README's "what each view does" inside the
app, every shortcut the window has (read from its actions, so the list cannot go stale), the version and the
current model."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenuBar, QTextBrowser, QVBoxLayout, QWidget

from mnist_desktop import __version__

HOW_TO_USE = """
<h3>Draw</h3>
<p>Draw a digit with the mouse (or a tablet) on the black canvas. While you draw, the view shows what MNIST's
own preprocessing makes of it (the ink's bounding box, the fit into 20x20 keeping the aspect ratio, the 28x28
image centred by its centre of mass: exactly what the network sees) and the ten probabilities.</p>
<ul><li>Pen width slider (in canvas pixels; the canvas is 280x280); Undo (Ctrl+Z); Clear (Delete or Esc);
<b>Saliency</b> (S) shows which pixels drove the answer.</li>
<li>File › Open image (Ctrl+I), or drop a PNG/JPEG/BMP on the canvas: dark-on-light pictures are inverted,
transparency counts as paper.</li>
<li>File › Save drawing / Open drawing (Ctrl+S / Ctrl+O) keep the strokes as a .json file.</li>
<li>File › Try an example: ten drawings that come with the app.</li>
<li>File › Open model (Ctrl+M), or the model picker: the shipped CNN and MLP, or any .npz trained here.</li></ul>
<h3>Train</h3>
<p>Needs the MNIST files (12 MB): the Download button fetches them once, or "Choose folder…" points at a
copy. Pick a preset or an MLP such as 784-128-64-10, the optimizer and the rest (each field has a tooltip),
and press Start (F5). Accuracy and loss are plotted live; Pause / Resume (F6) and Stop (Shift+F5) act within
a second, and a Stop keeps the network trained so far. Save the result, or "Use in Draw view".</p>
<h3>Imagine</h3>
<p>"What does the network think a 3 looks like?" Back-projection pushes the digit's output backwards through
the weights: a map of evidence (red for the digit, blue against), not a drawing. Activation maximisation
grows an image the network is sure shows the digit. Each picture is fed back through the network and its
verdict shown. The First layer tab shows the first layer's weights (and a CNN's feature maps).</p>
<h3>Evaluate</h3>
<p>Needs the MNIST test files, like Train. Accuracy on the 10,000 test digits, per-digit accuracy and the
confusion matrix; click a cell to see its digits, click a digit to open it in the Draw view. Sliders damage
the test digits (rotation, noise, thickness, shift); Compare puts two models side by side.</p>
<h3>Command line</h3>
<p><code>mnist-desktop download</code>, <code>train</code>, <code>evaluate [cnn|mlp|FILE]</code>,
<code>predict FILE…</code>, <code>imagine DIGIT|all --out PNG</code>; <code>mnist-desktop SUBCOMMAND --help</code>
says more. <code>--model cnn</code> / <code>--model mlp</code> name the shipped models.</p>
"""


def menu_actions(menu_bar: QMenuBar) -> list[QAction]:
    """Every action in the menu bar's menus and their submenus (breadth first), the submenus themselves left out."""
    actions = []
    for menu_action in menu_bar.actions():
        menu = menu_action.menu()
        stack = [menu] if menu is not None else []
        while stack:
            m = stack.pop(0)
            for a in m.actions():
                (stack.append(a.menu()) if a.menu() is not None else actions.append(a))
    return actions


def shortcut_rows(actions: list[QAction], extra: list[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """(keys, what) for every action with a shortcut (menus, views), then ``extra``; keys in the
    platform's own notation (e.g. 'Ctrl+M')."""
    rows, seen = [], set()
    for a in actions:
        keys = ", ".join(s.toString(QKeySequence.NativeText) for s in a.shortcuts())
        what = a.text().replace("&", "").rstrip("…").strip()
        if keys and (keys, what) not in seen:
            seen.add((keys, what))
            rows.append((keys, what))
    return rows + list(extra)


def shortcuts_html(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='padding:2px 16px 2px 0'><b>{k}</b></td><td>{w}</td></tr>" for k, w in rows)
    return f"<table>{cells}</table>"


def show_text(parent: QWidget, title: str, html: str, size=(640, 560)) -> QDialog:
    """A non-modal window with ``html`` (links open in the browser) and a Close button."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    text = QTextBrowser()
    text.setOpenExternalLinks(True)
    text.setHtml(html)
    buttons = QDialogButtonBox(QDialogButtonBox.Close)
    buttons.rejected.connect(dialog.close)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    layout.addWidget(buttons)
    dialog.resize(*size)
    dialog.text = text
    dialog.show()
    return dialog


def about_html(model) -> str:
    """Help › About: the version, what the app is, and the current model (a state.LoadedModel, or None)."""
    if model is None:
        model_html = "No model is loaded."
    else:
        created = model.spec.get("created", "")
        model_html = (f"Model: <b>{model.name}</b><br>{model.description}<br>{model.accuracy_text}"
                      f"<br>{model.net.n_params():,} parameters"
                      + (f"<br>created {created}" if created else "")
                      + (f"<br><small>{model.path}</small>" if model.path else ""))
    return (f"<h3>mnist-desktop {__version__}</h3>"
            "<p>Draw digits, train networks and look inside them. The networks run on a small "
            "NumPy engine inside the app: no machine-learning framework needed.</p>"
            f"<p>{model_html}</p>")
