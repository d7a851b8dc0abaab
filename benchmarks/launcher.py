"""The launcher path, for the benchmarks that drive the window in their own process.

`mnist-desktop` (pyproject's console script) runs ``mnist_desktop.cli:main``: NumPy is loaded by the command
line before Qt and the window exist, and nothing in the environment chooses the thread counts. A benchmark
that builds the window itself must get the same threads, or it measures a setup users never run. So:

    import launcher                     # first: imports the CLI and builds its parser, as the launcher does
    ...
    print(launcher.check())             # the threads here, read from the libraries, against a real launch

``check()`` starts the real entry point once (offscreen, until the window is shown; it prints the BLAS pool
size OpenBLAS reports and the engine's threads), compares that with this process, and exits with a
message if they differ. Neither side may have a thread variable set: ``check()`` refuses them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MNIST_DESKTOP_THREADS")

sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from mnist_desktop import cli  # noqa: E402  (loads NumPy before any Qt, as `mnist-desktop` does)

cli.build_parser()


def here() -> str:
    """'BLAS threads N, engine threads M' for this process, read from the libraries."""
    from mnist_desktop.engine import threads
    return f"BLAS threads {threads.blas_threads()}, engine threads {threads.threads()}"


def launched() -> str:
    """The same line from the app started through its console-script entry point."""
    import tomllib
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["mnist-desktop"]
    module, func = entry.split(":")
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(QT_QPA_PLATFORM="offscreen", MNIST_DESKTOP_STARTUP_MARK="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    code = f"import sys; from {module} import {func}; sys.argv[0] = 'mnist-desktop'; sys.exit({func}())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    prefix = "mnist-desktop: "
    for line in out.stdout.splitlines():
        if line.startswith(prefix + "BLAS threads"):
            return line[len(prefix):]
    raise SystemExit(f"the launched app printed no thread line (exit {out.returncode}): {out.stderr[-500:]}")


def check() -> str:
    """One line for the report; exits if this process is not set up as the launched app is."""
    chosen = [v for v in THREAD_VARS if os.environ.get(v)]
    if chosen:
        raise SystemExit(f"unset {', '.join(chosen)}: the benchmark must run with the threads the app picks")
    mine, theirs = here(), launched()
    if mine != theirs:
        raise SystemExit(f"this process has {mine}, the launched app {theirs}: not the launcher's setup")
    return f"threads as launched by `mnist-desktop`: {mine} (checked against a real launch)"
