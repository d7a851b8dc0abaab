"""The README's window screenshots, retaken: Draw (a drawn 3 with the Strokes overlay), Draw unsure (a drawn
0 the CNN reads as "0 or 8?"), Imagine (MLP and CNN, back-projections of all ten), Evaluate (the shipped CNN
on the MNIST test set) and the Train view's Learning curve tab (docs/learning-curve.json opened). The Train
view mid-run comes from scripts/train_view_shot.py (a real run). ``--only my-digits`` makes My digits
(``--per-digit`` drawings of each digit by --writer, ``--misread`` of them chosen among those the model
misreads, the shipped ``--digits-model`` adapted to them) and its What it did panel close up:

    MNIST_DIR=/path/to/mnist PYTHONPATH=. python scripts/readme_shots.py --only my-digits --digits-model cnn \
        --writer /work/shared/datasets/writers/syn-jcp-dig11 --misread 2       # README's two pictures

    MNIST_DIR=/path/to/mnist PYTHONPATH=. python scripts/readme_shots.py --out docs \\
        --drawings /work/shared/datasets/drawn-digits --writer /work/shared/datasets/writers/syn-sjb-dig20
    PYTHONPATH=. python scripts/readme_shots.py --only draw,imagine-mlp      # some of them

Offscreen, settings read but never written, My digits in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ["draw", "draw-unsure", "imagine-mlp", "imagine-cnn", "evaluate", "train-learning-curve"]   # + my-digits


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs"))
    p.add_argument("--drawings", default="/work/shared/datasets/drawn-digits", help="the drawn-digits folder")
    p.add_argument("--three", default="00300_3.json", help="the drawn 3 of docs/draw.png")
    p.add_argument("--unsure", default="00008_0.json", help="the drawn 0 of docs/draw-unsure.png")
    p.add_argument("--writer", default="/work/shared/datasets/writers/syn-sjb-dig20", help="My digits' drawings")
    p.add_argument("--per-digit", type=int, default=5)
    p.add_argument("--misread", type=int, default=0, help="of each digit's, up to this many that the model misreads")
    p.add_argument("--digits-model", default="mlp", help="the shipped model My digits adapts")
    p.add_argument("--only", default=",".join(SHOTS))
    args = p.parse_args(argv)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    home = tempfile.mkdtemp(prefix="readme-shots-")
    os.environ["XDG_DATA_HOME"] = home                   # My digits and adapted models go here, not to ~
    from PySide6.QtCore import QCoreApplication, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from mnist_desktop.app.main_window import MainWindow, _quiet_offscreen_notices
    from mnist_desktop.app.state import APPLICATION, ORGANIZATION
    from mnist_desktop.app.widgets import configure_pyqtgraph

    qInstallMessageHandler(_quiet_offscreen_notices)
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    configure_pyqtgraph()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def window(model: str, size=(1280, 800)) -> MainWindow:
        w = MainWindow(persist=False)
        w.load_startup_model(model)
        w.show()
        w.resize(*size)
        settle()
        return w

    def settle(rounds: int = 5) -> None:
        for _ in range(rounds):
            app.processEvents()

    def wait(predicate, seconds: float = 120) -> None:
        import time
        end = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > end:
                raise TimeoutError("the window did not get ready")
            app.processEvents()
            time.sleep(0.02)

    def save(w, name: str, widget=None) -> None:
        settle()
        (widget or w).grab().save(str(out / f"{name}.png"))
        print(f"saved {out / name}.png")
        w.close()
        w.deleteLater()
        settle()

    only = set(args.only.split(","))
    for name in ("draw", "draw-unsure"):
        if name in only:
            w = window("cnn", (1280, 800) if name == "draw" else (1190, 760))
            w.open_drawing(Path(args.drawings) / (args.three if name == "draw" else args.unsure))
            w.draw_view.set_attribution_method("strokes")
            w.draw_view.set_saliency_visible(True)
            w.draw_view.refresh_now()
            wait(lambda: not w.draw_view.saliency.timer.isActive())
            save(w, name, None if name == "draw" else w.draw_view)
    for model in ("mlp", "cnn"):
        if f"imagine-{model}" in only:
            w = window(model)
            w.show_view("imagine")
            view = w.view("imagine")
            view.prepare_screenshot() if hasattr(view, "prepare_screenshot") else None
            save(w, f"imagine-{model}")
    if "evaluate" in only:
        w = window("cnn")
        w.show_view("evaluate")
        w.view("evaluate").prepare_screenshot()
        save(w, "evaluate")
    if "train-learning-curve" in only:
        w = window("cnn", (1400, 820))
        w.show_view("train")
        w.train_view.modes.setCurrentIndex(1)
        w.train_view.curve.open_json(ROOT / "docs" / "learning-curve.json")
        save(w, "train-learning-curve")
    if "my-digits" in only:
        picked = Path(home) / "picked"
        picked.mkdir()
        from mnist_desktop.app.imageio import preprocess_file
        from mnist_desktop.engine.serialize import load
        from mnist_desktop.shipped import resolve_model

        net, _ = load(resolve_model(args.digits_model))

        def misread(f: Path, d: int) -> bool:
            pre = preprocess_file(f)
            return pre is not None and int(net.predict(pre.image.reshape(1, 784))[0]) != d

        for d in range(10):
            files = sorted(Path(args.writer).glob(f"*_{d}.json"))
            wrong = [f for f in files if misread(f, d)][:args.misread] if args.misread else []
            for f in (wrong + [f for f in files if f not in wrong])[:args.per_digit]:
                shutil.copy(f, picked / f.name)
        w = window(args.digits_model)
        w.show_view("digits")
        view = w.my_digits_view
        view.import_folder(picked)
        wait(lambda: view.preparer.current("prepare") is None, 300)   # as while a user looks at the collection
        assert view.start_adapt()
        wait(lambda: not view.runner.busy, 300)
        wait(lambda: view.last_check is not None or not view.runner.busy, 300)
        settle()
        view.refresh()
        settle()
        view.panel.grab().save(str(out / "my-digits-after.png"))
        print(f"saved {out / 'my-digits-after'}.png")
        save(w, "my-digits")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
