"""Help menu: how to use, the keyboard shortcuts (read from the window's actions), the data folder; the
window title names the model."""

from PySide6.QtGui import QDesktopServices

from mnist_desktop.app import main_window as mw
from mnist_desktop.app.main_window import MainWindow


def test_help_menu_has_how_to_use_shortcuts_and_the_data_folder(qtbot, make_model, monkeypatch):
    w = MainWindow(persist=False)
    qtbot.addWidget(w)
    texts = [a.text() for a in w.menuBar().actions()[-1].menu().actions()]
    assert {"How to use", "Keyboard shortcuts", "Open data folder"} <= set(texts)
    dialog = w.show_how_to_use()
    qtbot.addWidget(dialog)
    html = dialog.text.toPlainText()
    for view in ("Draw", "Train", "Imagine", "Evaluate"):
        assert view in html
    assert "12 MB" in html and "--model cnn" in html
    rows = dict((what, keys) for keys, what in w.shortcut_rows())
    assert rows["Open model"] == "Ctrl+M" and rows["Undo"] == "Ctrl+Z" and rows["Draw"] == "Ctrl+1"
    assert "Draw: saliency overlay on/off" in rows and rows["How to use"] == "F1"
    shortcuts = w.show_shortcuts()
    qtbot.addWidget(shortcuts)
    assert "Ctrl+M" in shortcuts.text.toPlainText()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    assert w.open_data_folder()
    assert opened == [str(mw.app_data_dir())]


def test_the_window_title_names_the_model(qtbot, make_model):
    w = MainWindow(persist=False)
    qtbot.addWidget(w)
    w.open_model(make_model("tiny"))
    assert w.windowTitle() == "tiny — mnist-desktop"
    w.state.set_model(None)
    assert w.windowTitle() == "mnist-desktop"
