"""Training speed: images per second of the engine's Trainer.train_step, beside PyTorch CPU doing the same.

    PYTHONPATH=. python benchmarks/train_speed.py [--presets nielsen-30,mlp-128x2,cnn-seed]
        [--batch-size 64] [--seconds 1.5] [--repeats 5] [--data DIR] [--threads N] [--no-torch] [--no-predict]

For each preset: the same architecture, loss, optimizer, learning rate and batch size in both; ours runs
the real ``Trainer.train_step`` (forward, loss, backward, optimizer step, loss and correct count back as
Python numbers), PyTorch runs the usual zero_grad/forward/loss/backward/step plus ``loss.item()`` and the
correct count. Each library runs in its own process (their thread pools would otherwise spin against
each other). Each side warms up, then the two are timed alternately ``--repeats`` times for
``--seconds`` each, with a short pause in between (on a shared machine a busy spell then hits both),
the other library's process stopped (SIGSTOP) while one is timed, so its idle threads cannot spin;
the table gives the median images/s of each and their ratio. Data: real MNIST training images when found (``--data DIR``, else
``$MNIST_DIR``, else the dataset cache), otherwise random images of the same shape; the output says which.
A second table gives the latency of one-image inference (what the Draw view does on every stroke) for
the same presets and two bigger 'same'-padded CNNs with batch normalisation.
PyTorch is imported only here and only if installed; it is never a dependency of the package.
``--threads`` sets both libraries' thread counts: torch.set_num_threads, and ours the engine's threads
(engine/threads.py: it splits conv/pool batches itself, BLAS stays one thread, as in the app and the
command line); the default is the CPU count for both. No thread variable may be set in the environment.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import os
import platform
import statistics
import struct
import sys
import time
from pathlib import Path

from machine import cpu_model  # benchmarks/ is on sys.path when a script runs

PRESET_NAMES = ["linear", "nielsen-30", "mlp-100-30", "mlp-128x2", "cnn-seed"]
# bigger CNNs (not presets) of the kind a shipped model may use; choose them with --presets
EXTRA_NAMES = ["cnn-same3-bn", "cnn-same5-bn"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default=",".join(PRESET_NAMES),
                   help=f"comma-separated preset names (default: {','.join(PRESET_NAMES)}; also "
                        f"{', '.join(EXTRA_NAMES)}: 32-32-64-64 'same' 3x3 or 5x5 convolutions with batch norm)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=1.5, help="length of one timed measurement")
    p.add_argument("--repeats", type=int, default=5, help="timed measurements per side and preset")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds of warm-up per side and preset")
    p.add_argument("--data", metavar="DIR", help="folder with the MNIST IDX files (default: $MNIST_DIR, cache)")
    p.add_argument("--threads", type=int, default=0, help="threads for OpenBLAS and torch (default: CPU count)")
    p.add_argument("--no-torch", action="store_true", help="measure the engine only")
    p.add_argument("--no-predict", dest="predict", action="store_false",
                   help="skip the one-image inference table")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.batch_size < 1 or args.seconds <= 0 or args.repeats < 1:
        p.error("--batch-size, --seconds and --repeats must be positive")
    unknown = [n for n in args.presets.split(",") if n not in PRESET_NAMES + EXTRA_NAMES]
    if unknown:
        p.error(f"unknown preset(s) {', '.join(unknown)} (known: {', '.join(PRESET_NAMES + EXTRA_NAMES)})")
    return args


# ---- data ---------------------------------------------------------------------------------------

def _read_idx_gz(path: Path):
    import numpy as np
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_training_images(data_dir: str | None, n: int, seed: int):
    """(x (n, 784) float32 in [0, 1], y (n,) int64, description of the source)."""
    import numpy as np
    try:  # the package's own loader, when this checkout has it
        from mnist_desktop.data.datasets import DatasetError, load_dataset
        try:
            ds = load_dataset("mnist", data_dir)
            return ds.x_train[:n], ds.y_train[:n], f"MNIST training images from {ds.source}"
        except DatasetError:
            pass
    except ImportError:
        for folder in [d for d in (data_dir, os.environ.get("MNIST_DIR")) if d]:
            for suffix in (".gz", ""):
                img = Path(folder) / f"train-images-idx3-ubyte{suffix}"
                lab = Path(folder) / f"train-labels-idx1-ubyte{suffix}"
                if img.is_file() and lab.is_file():
                    x = _read_idx_gz(img)[:n].reshape(-1, 784).astype(np.float32) / 255
                    y = _read_idx_gz(lab)[:n].astype(np.int64)
                    return x, y, f"MNIST training images from {folder}"
    rng = np.random.default_rng(seed)
    return (rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n),
            "random images of MNIST shape (no MNIST found: pass --data DIR or set MNIST_DIR)")


# ---- the two contenders -------------------------------------------------------------------------

def ours(preset, x, y, batch_size: int, seed: int):
    """A function running the next mini-batch through Trainer.train_step."""
    import numpy as np
    from mnist_desktop.engine import Network, TrainConfig, Trainer
    net = Network.from_architecture(preset.architecture, rng=np.random.default_rng(seed))
    t = preset.training
    cfg = TrainConfig(batch_size=batch_size, optimizer=t.get("optimizer", "adam"), lr=t.get("lr", 1e-3),
                      momentum=t.get("momentum", 0.9), seed=seed)
    trainer = Trainer(net, (x, y), None, cfg)
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x) - batch_size + 1, batch_size)]
    state = {"i": 0}

    def step():
        xb, yb = batches[state["i"] % len(batches)]
        state["i"] += 1
        return trainer.train_step(xb, yb)

    return step


def torch_model(arch: dict, torch):
    """The architecture dict as a torch.nn.Sequential (channels-first images, torch's native layout)."""
    nn = torch.nn
    shape = tuple(arch["input_shape"])  # per-example shape, ours (H, W, C) for images
    mods = []
    for layer in arch["layers"]:
        kind = layer["type"]
        if kind == "reshape":
            h, w, c = layer["shape"]
            mods.append(nn.Unflatten(1, (c, h, w)))
            shape = (c, h, w)
        elif kind == "conv2d":
            c, h, w = shape
            k, f = layer.get("kernel", 5), layer["filters"]
            pad = (k - 1) // 2 if layer.get("padding", "valid") == "same" else 0
            mods.append(nn.Conv2d(c, f, k, padding=pad))
            shape = (f, h + 2 * pad - k + 1, w + 2 * pad - k + 1)
        elif kind == "maxpool2d":
            s = layer.get("size", 2)
            mods.append(nn.MaxPool2d(s))
            shape = (shape[0], shape[1] // s, shape[2] // s)
        elif kind == "flatten":
            mods.append(nn.Flatten())
            shape = (int(torch.tensor(shape).prod()),)
        elif kind == "dense":
            mods.append(nn.Linear(shape[0], layer["units"]))
            shape = (layer["units"],)
        elif kind == "batchnorm":
            bn = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            mods.append(bn(shape[0], eps=layer.get("eps", 1e-5), momentum=1 - layer.get("momentum", 0.9)))
        elif kind == "dropout":
            mods.append(nn.Dropout(layer.get("p", 0.5)))
        else:
            mods.append({"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[kind]())
    return nn.Sequential(*mods)


def theirs(preset, x, y, batch_size: int, seed: int, torch):
    torch.manual_seed(seed)
    model = torch_model(preset.architecture, torch)
    model.train()
    t = preset.training
    name, lr = t.get("optimizer", "adam"), t.get("lr", 1e-3)
    if name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=t.get("momentum", 0.9) if name == "momentum" else 0.0)
    if preset.architecture.get("loss", "ce") == "ce":
        loss_fn = torch.nn.CrossEntropyLoss()
    else:  # Nielsen's quadratic cost: 1/(2n) sum ||a - y||^2
        def loss_fn(out, target):
            onehot = torch.nn.functional.one_hot(target, out.shape[1]).to(out.dtype)
            return 0.5 * ((out - onehot) ** 2).sum(dim=1).mean()
    xt, yt = torch.from_numpy(x.copy()), torch.from_numpy(y.astype("int64"))
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(x) - batch_size + 1, batch_size)]
    state = {"i": 0}

    def step():
        xb, yb = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad(set_to_none=True)
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        return loss.item(), int((out.argmax(dim=1) == yb).sum())

    return step


def wide_cnn(kernel: int) -> dict:
    """A bigger CNN of the kind a shipped model may use: two blocks of two 'same' convs (32, then 64
    channels) with batch normalisation, then dense 256 with batch normalisation and dropout."""
    layers: list[dict] = [{"type": "reshape", "shape": [28, 28, 1]}]
    for filters in (32, 64):
        for _ in range(2):
            layers += [{"type": "conv2d", "filters": filters, "kernel": kernel, "padding": "same"},
                       {"type": "batchnorm"}, {"type": "relu"}]
        layers += [{"type": "maxpool2d", "size": 2}, {"type": "dropout", "p": 0.25}]
    layers += [{"type": "flatten"}, {"type": "dense", "units": 256}, {"type": "batchnorm"}, {"type": "relu"},
               {"type": "dropout", "p": 0.5}, {"type": "dense", "units": 10, "init": "xavier"}]
    return {"input_shape": [784], "loss": "ce", "layers": layers}


def get_network(name: str):
    """A preset, or one of the bigger CNNs as a Preset trained with Adam."""
    from mnist_desktop.engine.presets import Preset, get_preset
    if name in EXTRA_NAMES:
        k = int(name[len("cnn-same")])
        return Preset(name, f"32-32-64-64 'same' {k}x{k} + BN", wide_cnn(k), {"optimizer": "adam", "lr": 1e-3})
    return get_preset(name)


def predict_latency(arch: dict, x, repeats: int = 200) -> tuple[float, float]:
    """(median ms of net.predict_proba(x[:1]), ms per image of predict_proba on 1,000 images)."""
    import numpy as np
    from mnist_desktop.engine import Network
    net = Network.from_architecture(arch, rng=np.random.default_rng(0))
    one = x[:1]
    for _ in range(20):
        net.predict_proba(one)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        net.predict_proba(one)
        times.append(time.perf_counter() - t0)
    many = x[:1000]
    net.predict_proba(many)  # first touch of the big buffers
    t0 = time.perf_counter()
    net.predict_proba(many)
    return statistics.median(times) * 1e3, (time.perf_counter() - t0) * 1e3 / len(many)


def images_per_second(step, batch_size: int, seconds: float) -> float:
    steps, t0 = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return steps * batch_size / dt


def worker(kind: str, args: argparse.Namespace, threads: int, conn) -> None:
    """One library per process: ``kind`` is "ours" or "torch". Each library's thread pool keeps spinning
    for a while after its last call; in one process the two pools would slow each other down.

    Commands on ``conn``: ("setup", preset name), ("measure", seconds), ("quit",).
    Replies: version info on start, then images/s (or None after setup)."""
    import numpy as np
    torch = None
    if kind == "torch":
        import torch
        torch.set_num_threads(threads)
        conn.send(f"{torch.__version__}, {torch.get_num_threads()} threads")
    else:
        from mnist_desktop.engine import threads as engine_threads
        engine_threads.set_threads(threads)
        conn.send(f"numpy {np.__version__}, engine threads {engine_threads.threads()}, "
                  f"BLAS threads {engine_threads.blas_threads()}")
    x, y, _ = load_training_images(args.data, 10_000, args.seed)
    x, y = np.ascontiguousarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)
    step = None
    while True:
        cmd = conn.recv()
        if cmd[0] == "setup":
            preset = get_network(cmd[1])
            if kind == "torch":
                step = theirs(preset, x, y, args.batch_size, args.seed, torch)
            else:
                step = ours(preset, x, y, args.batch_size, args.seed)
            images_per_second(step, args.batch_size, args.warmup)
            conn.send(None)
        elif cmd[0] == "measure":
            conn.send(images_per_second(step, args.batch_size, cmd[1]))
        else:
            return


def pause_others(procs: dict, running: str | None) -> None:
    """Stop every worker process but ``running``'s (SIGSTOP; None: resume them all). An idle library's
    threads may keep spinning after its last call, on the cores the other one is being timed on; stopped,
    they cannot. (Not on Windows: there the 0.3 s pause before each measurement is all there is.)"""
    import signal
    if not hasattr(signal, "SIGSTOP"):
        return
    for kind, proc in procs.items():
        os.kill(proc.pid, signal.SIGCONT if running in (None, kind) else signal.SIGSTOP)


def torch_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("torch") is not None


# ---- report -------------------------------------------------------------------------------------

def machine_info(np, torch_version: str | None, data_source: str, threads: int, ours_version: str = "") -> list[str]:
    cpu = cpu_model()
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        blas = "unknown BLAS"
    lines = [
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- machine: {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        f"- python {platform.python_version()}, numpy {np.__version__} ({blas})",
        f"- ours: {ours_version}",
        f"- torch: {torch_version or 'not measured'} (own process; ours in another)",
        f"- threads: {threads}",
        f"- data: {data_source}",
    ]
    return lines


def main(argv=None) -> None:
    args = parse_args(argv)
    threads = args.threads or os.cpu_count() or 1
    chosen = [v for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MNIST_DESKTOP_THREADS") if os.environ.get(v)]
    if chosen:
        sys.exit(f"unset {', '.join(chosen)}: --threads sets both libraries' threads")
    import multiprocessing
    import numpy as np

    kinds = ["ours"]
    if not args.no_torch:
        if torch_available():
            kinds.append("torch")
        else:
            print("(torch is not installed: measuring the engine only)", file=sys.stderr)
    ctx = multiprocessing.get_context("spawn")
    procs, conns, versions = {}, {}, {}
    for kind in kinds:
        parent, child = ctx.Pipe()
        procs[kind] = ctx.Process(target=worker, args=(kind, args, threads, child), daemon=True)
        procs[kind].start()
        conns[kind] = parent
        versions[kind] = parent.recv()
    names = args.presets.split(",")
    x, y, source = load_training_images(args.data, 10_000, args.seed)
    x = np.ascontiguousarray(x, dtype=np.float32)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    bs = args.batch_size

    rows = []
    try:
        for name in names:
            preset = get_network(name)
            for kind in kinds:
                conns[kind].send(("setup", name))
                conns[kind].recv()
            results = {k: [] for k in kinds}
            for r in range(args.repeats):
                for kind in (kinds if r % 2 == 0 else kinds[::-1]):  # alternate who goes first
                    pause_others(procs, kind)
                    time.sleep(0.3)
                    conns[kind].send(("measure", args.seconds))
                    results[kind].append(conns[kind].recv())
            pause_others(procs, None)
            med = {k: statistics.median(v) for k, v in results.items()}
            spread = {k: (min(v), max(v)) for k, v in results.items()}
            rows.append((name, preset.training.get("optimizer", "adam"), med, spread))
            print(f"{name}: ours {med['ours']:,.0f} img/s" +
                  (f", torch {med['torch']:,.0f} img/s" if "torch" in med else ""), file=sys.stderr, flush=True)
    finally:
        pause_others(procs, None)
        for kind in kinds:
            conns[kind].send(("quit",))
            procs[kind].join(timeout=10)

    print(f"## Training speed, batch {bs} ({args.repeats} alternating runs of {args.seconds:g} s each, medians)\n")
    print("| preset | batch | optimizer | ours img/s | torch img/s | ours/torch |")
    print("|---|---:|---|---:|---:|---:|")
    for name, opt, med, _ in rows:
        t = med.get("torch")
        theirs_col, ratio = (f"{t:,.0f}", f"{med['ours'] / t:.2f}x") if t else ("-", "-")
        print(f"| {name} | {bs} | {opt} | {med['ours']:,.0f} | {theirs_col} | {ratio} |")
    print("\nRange over the runs (min-max img/s): " + "; ".join(
        f"{name} ours {s['ours'][0]:,.0f}-{s['ours'][1]:,.0f}"
        + (f", torch {s['torch'][0]:,.0f}-{s['torch'][1]:,.0f}" if "torch" in s else "")
        for name, _, _, s in rows))
    if args.predict:
        from mnist_desktop.engine import threads as engine_threads
        engine_threads.set_threads(threads)
        print("\n## One-image inference: net.predict_proba(x[:1]), median of 200 calls\n")
        print("| network | 1 image, ms | 1,000 images, ms per image |")
        print("|---|---:|---:|")
        nets = [(name, get_network(name).architecture) for name in names if name not in EXTRA_NAMES]
        nets += [(f"{name} (32-32-64-64 'same' {name[8]}x{name[8]} + BN)", get_network(name).architecture)
                 for name in EXTRA_NAMES]
        for label, arch in nets:
            one, per_image = predict_latency(arch, x)
            print(f"| {label} | {one:.3f} | {per_image:.3f} |")
    print()
    print("\n".join(machine_info(np, versions.get("torch"), source, threads, versions.get("ours", ""))))
    if load_start is not None:
        print(f"- load average (1 min) at start: {load_start:.2f}, at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
