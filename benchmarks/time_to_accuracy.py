"""Time to accuracy: wall time of training until the MNIST test accuracy first reaches 99.0% and 99.5%,
for a preset the Train view offers (default: cnn-seed, the fast CNN), ours beside the same recipe in PyTorch CPU.

    PYTHONPATH=. python benchmarks/time_to_accuracy.py [--preset cnn-seed] [--epochs N] [--evals-per-epoch 4]
        [--threads N] [--no-torch] [--seed 0] [--data DIR]

The same recipe on both sides: the preset's architecture (train_speed.torch_model builds it in torch),
optimizer, learning rate and per-batch schedule, batch size, the same shuffling and the same augmentation
(our NumPy augmenter, run on each batch for both sides, so its cost counts for both). Each side runs in its
own process, one after the other (never at the same time: 2 cores), with ``--threads`` threads (default:
the CPU count; ours through the engine's threads, BLAS one thread, as the app runs it). Ours is the
command line's training step (``Trainer.train_step``). The test set is scored ``--evals-per-epoch`` times an
epoch in inference mode with the clock stopped: the times are training time only (the evaluation time is
printed separately). A side stops once it has reached the highest target, or after ``--epochs``.
PyTorch is imported only here and only if installed; it is never a dependency of the package.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

from machine import cpu_model  # benchmarks/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGETS = (0.99, 0.995)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="cnn-seed")
    p.add_argument("--epochs", type=int, default=0, help="at most this many epochs (default: the preset's)")
    p.add_argument("--evals-per-epoch", type=int, default=4)
    p.add_argument("--threads", type=int, default=0, help="threads for each side (default: CPU count)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--torch-only", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="folder with the MNIST files (default: $MNIST_DIR, the cache)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training setting of the preset, e.g. lr=0.002, batch_size=128, "
                        "augment=shift+rotate, or arch=cnn-seed (another preset's layers), for trying "
                        "recipes; the report says what ran")
    return p.parse_args(argv)


def get_recipe(args):
    """The preset with the --set overrides applied."""
    import dataclasses

    from mnist_desktop.engine import get_preset
    preset = get_preset(args.preset)
    training = dict(preset.training)
    arch = preset.architecture
    for item in args.set:
        key, _, value = item.partition("=")
        if key == "arch":  # another preset's layers
            arch = get_preset(value).architecture
        elif key == "augment":
            training[key] = [v for v in value.split("+") if v]
        elif key in ("batch_size", "epochs"):
            training[key] = int(value)
        elif key == "lr":
            training[key] = float(value)
        else:
            training[key] = value
    return dataclasses.replace(preset, architecture=arch, training=training)


def schedule(args, preset, n_train: int):
    """(epochs, batch size, batches per epoch, lr(progress), augmenter or None, eval points per epoch)."""
    from mnist_desktop.data.augment import make_augmenter
    from mnist_desktop.engine.optim import scheduled_lr
    t = preset.training
    epochs = args.epochs or t.get("epochs", 10)
    bs = t.get("batch_size", 64)
    batches = math.ceil(n_train / bs)
    base, sched = t.get("lr", 1e-3), t.get("schedule", "constant")

    def lr(progress: float) -> float:
        return scheduled_lr(base, sched, progress, epochs=t.get("epochs", 10))

    aug = make_augmenter(t["augment"]) if t.get("augment") else None
    evals = sorted({round(batches * (i + 1) / args.evals_per_epoch) for i in range(args.evals_per_epoch)})
    return epochs, bs, batches, lr, aug, evals


def run_side(kind: str, args, conn) -> None:
    """Train one side; sends ("eval", seconds, epoch progress, accuracy) lines, then ("done", summary)."""
    import numpy as np

    from mnist_desktop.data import load_dataset
    from mnist_desktop.engine import get_preset, threads
    threads_n = args.threads or os.cpu_count() or 1
    ds = load_dataset("mnist", args.data)
    x, y, xt, yt = ds.x_train, ds.y_train.astype(np.int64), ds.x_test, ds.y_test.astype(np.int64)
    preset = get_recipe(args)
    epochs, bs, batches, lr, aug, evals = schedule(args, preset, len(x))
    rng = np.random.default_rng(args.seed)            # shuffling and augmentation: the same on both sides
    if kind == "ours":
        from mnist_desktop.engine import Network, TrainConfig, Trainer
        threads.set_threads(threads_n)
        net = Network.from_architecture(preset.architecture, rng=np.random.default_rng(args.seed))
        t = preset.training
        trainer = Trainer(net, (x, y), None, TrainConfig(batch_size=bs, optimizer=t.get("optimizer", "adam"),
                                                         lr=t.get("lr", 1e-3), seed=args.seed))

        def step(xb, yb, rate):
            trainer.optimizer.lr = rate
            trainer.train_step(xb, yb)

        def score() -> float:
            return float(np.mean(net.predict(xt) == yt))

        conn.send(("info", f"numpy {np.__version__}, engine threads {threads.threads()}, "
                           f"BLAS threads {threads.blas_threads()}"))
    else:
        import torch
        from train_speed import torch_model
        torch.set_num_threads(threads_n)
        torch.manual_seed(args.seed)
        model = torch_model(preset.architecture, torch)
        t = preset.training
        if t.get("optimizer", "adam") != "adam":
            raise SystemExit("the torch side implements the adam presets only")
        opt = torch.optim.Adam(model.parameters(), lr=t.get("lr", 1e-3))
        loss_fn = torch.nn.CrossEntropyLoss()
        xt_t, yt_t = torch.from_numpy(np.array(xt)), torch.from_numpy(np.array(yt))

        def step(xb, yb, rate):
            for g in opt.param_groups:
                g["lr"] = rate
            opt.zero_grad(set_to_none=True)
            out = model(torch.from_numpy(xb))
            loss = loss_fn(out, torch.from_numpy(yb))
            loss.backward()
            opt.step()
            loss.item()

        def score() -> float:
            model.eval()
            with torch.no_grad():
                correct = sum(int((model(xt_t[i:i + 1000]).argmax(1) == yt_t[i:i + 1000]).sum())
                              for i in range(0, len(xt_t), 1000))
            model.train()
            return correct / len(xt_t)

        model.train()
        conn.send(("info", f"torch {torch.__version__}, {torch.get_num_threads()} threads"))
    train_s = eval_s = 0.0
    reached: dict[float, float] = {}
    best = 0.0
    seen = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        xe, ye = x[order], y[order]
        t0 = time.perf_counter()
        for b in range(batches):
            xb, yb = xe[b * bs:(b + 1) * bs], ye[b * bs:(b + 1) * bs]
            if aug is not None:
                xb = aug(xb, rng)
            step(np.ascontiguousarray(xb, dtype=np.float32), yb, lr(epoch + b / batches))
            seen += len(yb)
            if b + 1 in evals:
                train_s += time.perf_counter() - t0
                t1 = time.perf_counter()
                acc = score()
                eval_s += time.perf_counter() - t1
                best = max(best, acc)
                for target in TARGETS:
                    if acc >= target and target not in reached:
                        reached[target] = train_s
                progress = epoch + (b + 1) / batches
                conn.send(("eval", train_s, progress, acc))
                if len(reached) == len(TARGETS):
                    conn.send(("done", {"reached": reached, "best": best, "train_s": train_s, "eval_s": eval_s,
                                        "epochs": progress, "img_s": seen / train_s}))
                    return
                t0 = time.perf_counter()
    conn.send(("done", {"reached": reached, "best": best, "train_s": train_s, "eval_s": eval_s,
                        "epochs": float(epochs), "img_s": seen / train_s}))


def fmt(seconds) -> str:
    return "not reached" if seconds is None else f"{seconds:,.1f} s"


def main(argv=None) -> int:
    args = parse_args(argv)
    preset = get_recipe(args)
    kinds = ["torch"] if args.torch_only else ["ours"]
    if not args.no_torch and not args.torch_only:
        import importlib.util
        if importlib.util.find_spec("torch"):
            kinds.append("torch")
        else:
            print("(torch is not installed: measuring ours only)", file=sys.stderr)
    ctx = multiprocessing.get_context("spawn")
    load0 = os.getloadavg()[0]
    results, infos = {}, {}
    for kind in kinds:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=run_side, args=(kind, args, child), daemon=True)
        proc.start()
        while True:
            msg = parent.recv()
            if msg[0] == "info":
                infos[kind] = msg[1]
            elif msg[0] == "eval":
                print(f"{kind:>5}: {msg[1]:7.1f} s training, epoch {msg[2]:5.2f}, test {msg[3] * 100:.2f}%",
                      file=sys.stderr, flush=True)
            else:
                results[kind] = msg[1]
                break
        proc.join(timeout=30)
    cpu = cpu_model()
    t = preset.training
    import numpy as np

    from mnist_desktop.engine import Network
    layers = Network.from_architecture(preset.architecture, rng=np.random.default_rng(0)).describe()
    print(f"## Time to accuracy: {args.preset} ({preset.summary})\n")
    print(f"Layers: {layers}{' (--set arch)' if any(s.startswith('arch=') for s in args.set) else ''}\n")
    print(f"Recipe: {t.get('optimizer', 'adam')} lr {t.get('lr')} {t.get('schedule', 'constant')} over "
          f"{t.get('epochs')} epochs, batch {t.get('batch_size')}, augmentation {', '.join(t.get('augment', [])) or 'none'}; "
          f"test scored {args.evals_per_epoch}x per epoch (clock stopped)\n")
    print("| side | to 99.0% | to 99.5% | best test | epochs run | img/s | scoring time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, r in results.items():
        reached = r["reached"]
        print(f"| {kind} | {fmt(reached.get(0.99))} | {fmt(reached.get(0.995))} | {r['best'] * 100:.2f}% | "
              f"{r['epochs']:.2f} | {r['img_s']:,.0f} | {r['eval_s']:.1f} s |")
    if "ours" in results and "torch" in results:
        for target in TARGETS:
            a, b = results["ours"]["reached"].get(target), results["torch"]["reached"].get(target)
            if a and b:
                print(f"\nto {target * 100:.1f}%: ours {b / a:.2f}x as fast as torch", end="")
        print()
    print(f"\n- {time.strftime('%Y-%m-%d %H:%M')}; {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    for kind, info in infos.items():
        print(f"- {kind}: {info}")
    print(f"- load average (1 min) at start {load0:.2f}, at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
