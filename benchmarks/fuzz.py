"""Hostile files and faults against the command line and the window (offscreen), one subprocess per case.

    python benchmarks/fuzz.py                 # every family, prints a table (the one in README.md)
    python benchmarks/fuzz.py --quick         # a third of the cases
    python benchmarks/fuzz.py --family models --show-all

Families: models (generated bad model files through `predict --model`, `evaluate` and the window's
start-up `--model`), drawings (`predict` and the window's `--drawing`), images (`predict`), idx
(`evaluate --data`), settings (a corrupt settings file, then the window's start-up), saves (`train --out`
into a folder, a full disk simulated with RLIMIT_FSIZE, a missing folder; the previous model must stay).

Each case runs with a 10 s timeout; its peak memory is the child's ru_maxrss. A case counts as a clean
error when it exits without a Python traceback and, on the command line, exits non-zero with a one-line
message naming the file; the window must start (exit 0) and show its notice instead. After every case
the good files (a model, a drawing) are checked byte for byte, and no temp file may be left beside them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_desktop.engine import Network, model_spec, save  # noqa: E402
from mnist_desktop.engine.presets import mlp  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when a script runs)

TIMEOUT = 10.0
PY = sys.executable


@dataclass
class Case:
    family: str
    name: str
    argv: list[str]
    target: str                 # the file the message must name ("" for the window: it shows a notice)
    window: bool = False        # the window: must exit 0 (start anyway, say why in the notice)
    env: dict | None = None
    fsize_limit: int | None = None
    expect_ok: bool = False     # a good input: must succeed


@dataclass
class Result:
    case: Case
    status: str                 # clean | traceback | hang | accepted | unnamed | multiline | altered
    seconds: float
    peak_mb: float
    message: str


def run(case: Case, workdir: Path) -> Result:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "XDG_CONFIG_HOME": str(workdir / "config"), "XDG_DATA_HOME": str(workdir / "data"),
           "XDG_CACHE_HOME": str(workdir / "cache"), **(case.env or {})}
    limit = case.fsize_limit

    def pre():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    t0 = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "mnist_desktop", *case.argv], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=pre)
    import threading
    out: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda k=k, s=s: out.__setitem__(k, s.read()))
               for k, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for r in readers:
        r.start()
    hang = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > TIMEOUT:
            hang = True
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    for r in readers:
        r.join()
    peak_mb = usage.ru_maxrss / 1024
    stderr = out.get("stderr", b"").decode("utf-8", "replace")
    stdout = out.get("stdout", b"").decode("utf-8", "replace")
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "note:" not in ln and "QStandardPaths" not in ln]
    message = lines[-1] if lines else (stdout.strip().splitlines() or [""])[-1]
    if hang:
        status_ = "hang"
    elif "Traceback (most recent call last)" in stderr or proc.returncode < 0:
        status_ = "traceback"
    elif case.expect_ok or case.window:
        status_ = "clean" if proc.returncode == 0 else "traceback"
        if case.expect_ok and proc.returncode != 0:
            status_ = "refused-good"
    elif proc.returncode == 0 and not any("error" in ln for ln in stdout.splitlines()):
        status_ = "accepted"
    else:
        err_lines = [ln for ln in (stderr + "\n" + stdout).splitlines() if case.target and case.target in ln]
        status_ = "clean" if err_lines else "unnamed"
        if err_lines:
            message = err_lines[-1]
    return Result(case, status_, seconds, peak_mb, message[:200])


# ---- generated files -------------------------------------------------------------------------------------


def good_model(path: Path, sizes=(784, 16, 10)) -> Path:
    net = Network.from_architecture(mlp(list(sizes)), rng=np.random.default_rng(0))
    save(net, path, model_spec(net, name=path.stem))
    return path


def write_spec_model(path: Path, mutate) -> Path:
    net = Network.from_architecture(mlp([784, 16, 10]), rng=np.random.default_rng(0))
    spec = json.loads(json.dumps(model_spec(net)))
    arrays = net.arrays()
    mutate(spec, arrays)
    np.savez(path, spec=np.array(json.dumps(spec)), **arrays)
    return path


def model_files(d: Path, rng: np.random.Generator, quick: bool) -> list[Path]:
    out = []
    bad = [0, -1, 10**9, 200_000, float("inf"), float("-inf"), float("nan"), True, "16", None, 2.5, 1e30]
    for i, v in enumerate(bad):
        out.append(write_spec_model(d / f"units{i}.npz", lambda s, a, v=v: s["architecture"]["layers"][0].__setitem__("units", v)))
        out.append(write_spec_model(d / f"input{i}.npz", lambda s, a, v=v: s["architecture"].__setitem__("input_shape", [v])))
    for i, v in enumerate([float("nan"), -1, 0, float("inf")]):
        out.append(write_spec_model(d / f"bn{i}.npz", lambda s, a, v=v: s["architecture"]["layers"].insert(1, {"type": "batchnorm", "eps": v})))
    for i, v in enumerate([True, "1", 2, 0, None, 1.5]):
        out.append(write_spec_model(d / f"version{i}.npz", lambda s, a, v=v: s.__setitem__("format_version", v)))
    for i, shape in enumerate([[-1, -784], [0], [10**6, 10**6]]):
        out.append(write_spec_model(d / f"reshape{i}.npz", lambda s, a, v=shape: s["architecture"]["layers"].insert(0, {"type": "reshape", "shape": v})))
    out.append(write_spec_model(d / "conv0.npz", lambda s, a: s["architecture"]["layers"].insert(0, {"type": "conv2d", "filters": 0})))
    out.append(write_spec_model(d / "kernelinf.npz", lambda s, a: s["architecture"]["layers"].insert(0, {"type": "conv2d", "filters": 2, "kernel": float("inf")})))
    out.append(write_spec_model(d / "nanweights.npz", lambda s, a: a["0.W"].__setitem__((0, 0), np.nan)))
    out.append(write_spec_model(d / "wrongshape.npz", lambda s, a: a.__setitem__("0.W", np.zeros((3, 3), np.float32))))
    # nested deep, text, npy, empty, truncated, random bytes
    np.savez(d / "deep.npz", spec=np.array('{"format": "mnist-desktop-model", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"))
    out.append(d / "deep.npz")
    (d / "text.npz").write_text("this is a text file, not a model\n" * 20)
    out.append(d / "text.npz")
    np.save(d / "bare.npy", np.zeros(10))
    os.replace(d / "bare.npy", d / "bare.npz")
    out.append(d / "bare.npz")
    (d / "empty.npz").write_bytes(b"")
    out.append(d / "empty.npz")
    g = good_model(d / "trunc.npz").read_bytes()
    (d / "trunc.npz").write_bytes(g[: len(g) // 2])
    out.append(d / "trunc.npz")
    for i in range(3 if quick else 8):
        (d / f"random{i}.npz").write_bytes(b"PK" + rng.integers(0, 256, int(rng.integers(10, 5000)), dtype=np.uint8).tobytes())
        out.append(d / f"random{i}.npz")
        b = bytearray(g)
        for _ in range(int(rng.integers(1, 20))):
            b[int(rng.integers(len(b)))] = int(rng.integers(256))
        (d / f"flip{i}.npz").write_bytes(bytes(b))
        out.append(d / f"flip{i}.npz")
    # wrong sizes for the app
    out.append(good_model(d / "out5.npz", (784, 8, 5)))
    out.append(good_model(d / "in100.npz", (100, 8, 10)))
    out.append(good_model(d / "out20.npz", (784, 8, 20)))
    # a member that declares 2 GiB (zip bomb) and a junk member
    with zipfile.ZipFile(d / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("spec.npy", b"x")
        with z.open("0.W.npy", "w", force_zip64=True) as f:
            zeros = b"\0" * (1 << 22)
            for _ in range(0 if quick else 32):   # 128 MB of zeros, 128 KB compressed
                f.write(zeros)
    out.append(d / "bomb.npz")
    # not regular files
    os.mkfifo(d / "fifo.npz")
    out.append(d / "fifo.npz")
    (d / "zero.npz").symlink_to("/dev/zero")
    out.append(d / "zero.npz")
    (d / "folder.npz").mkdir()
    out.append(d / "folder.npz")
    out.append(d / "missing.npz")
    return out


def drawing_files(d: Path, rng: np.random.Generator, quick: bool) -> list[Path]:
    ok = {"width": 280, "height": 280, "pen_width": 18, "strokes": [[[100, 100], [150, 200]]]}
    objs = {}
    for key in ("width", "height", "pen_width"):
        for i, v in enumerate([0, -5, 4096, 1e6, 1e308, "x", None, True, [1], 2.5 if key != "pen_width" else -2.5]):
            objs[f"{key}{i}"] = {**ok, key: v}
    objs["huge-canvas"] = {**ok, "width": 4096, "height": 4096, "pen_width": 4096}
    objs["million-points"] = {**ok, "strokes": [[[i % 280, (i * 7) % 280] for i in range(1_000_000 if not quick else 200_000)]]}
    objs["scribble-2048"] = {**ok, "width": 2048, "height": 2048, "pen_width": 40,
                             "strokes": [rng.uniform(0, 2048, (3000, 2)).round(1).tolist()]}
    objs["far-points"] = {**ok, "strokes": [[[1e300, 5]]]}
    objs["strokes-string"] = {**ok, "strokes": "abc"}
    objs["not-object"] = [1, 2, 3]
    objs["missing-keys"] = {"width": 280}
    out = []
    for name, obj in objs.items():
        (d / f"{name}.json").write_text(json.dumps(obj))
        out.append(d / f"{name}.json")
    (d / "long-line.json").write_bytes(b'{"width": 280, "height": 280, "pen_width": 18, "strokes": [[' +
                                       b"[1, 2]," * 1_500_000 + b"[1, 2]]]}")   # 10 MB on one line
    out.append(d / "long-line.json")
    (d / "big-number.json").write_bytes(b'{"width": ' + b"9" * 100_000 + b"}")
    out.append(d / "big-number.json")
    (d / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    out.append(d / "deep.json")
    (d / "binary.json").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    out.append(d / "binary.json")
    with open(d / "fifty-mb.json", "wb") as f:
        f.write(b'{"width": 280, "height": 280, "pen_width": 18, "strokes": [[')
        f.write(b"[1.5, 2.5]," * 5_000_000)
        f.write(b"[1, 2]]]}")
    out.append(d / "fifty-mb.json")
    os.mkfifo(d / "fifo.json")
    out.append(d / "fifo.json")
    (d / "zero.json").symlink_to("/dev/zero")
    out.append(d / "zero.json")
    (d / "folder.json").mkdir()
    out.append(d / "folder.json")
    return out


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height and has a tiny (wrong) data stream."""
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def image_files(d: Path, rng: np.random.Generator, quick: bool) -> list[Path]:
    out = []
    for w, h in ((100_000, 100_000), (7900, 7900), (1, 10**6), (0, 0), (2**31 - 1, 2**31 - 1)):
        p = d / f"claims-{w}x{h}.png"
        p.write_bytes(png_header(w, h))
        out.append(p)
    (d / "text.png").write_text("not an image\n")
    out.append(d / "text.png")
    (d / "random.png").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    out.append(d / "random.png")
    (d / "empty.jpg").write_bytes(b"")
    out.append(d / "empty.jpg")
    os.mkfifo(d / "fifo.png")
    out.append(d / "fifo.png")
    (d / "zero.png").symlink_to("/dev/zero")
    out.append(d / "zero.png")
    (d / "folder.png").mkdir()
    out.append(d / "folder.png")
    return out


def idx_dirs(d: Path, quick: bool) -> list[Path]:
    good = ROOT / "tests" / "data"
    out = []
    cases = {
        "huge-header": struct.pack(">HBB3I", 0, 8, 3, 10000, 4096, 4096) + b"\0" * 1000,
        "many-dims": struct.pack(">HBB", 0, 8, 255) + b"\xff" * 1020,
        "bad-magic": b"\1\2\3\4" + b"\0" * 100,
        "truncated": struct.pack(">HBB3I", 0, 8, 3, 10000, 28, 28) + b"\0" * 1000,
        "empty": b"",
    }
    if not quick:
        cases["gzip-bomb"] = None
    for name, raw in cases.items():
        folder = d / f"idx-{name}"
        folder.mkdir()
        for f in good.glob("*.gz"):
            shutil.copy(f, folder / f.name)
        target = folder / "t10k-images-idx3-ubyte.gz"
        if raw is None:   # 1 GiB of zeros, about 1 MB gzipped
            with gzip.open(target, "wb", compresslevel=9) as g:
                zeros = b"\0" * (1 << 24)
                for _ in range(64):
                    g.write(zeros)
        else:
            target.write_bytes(gzip.compress(raw, mtime=0))
        out.append(folder)
    return out


def settings_cases(d: Path) -> list[tuple[str, str]]:
    """(name, INI text) for a corrupt ~/.config/mnist-desktop/mnist-desktop.conf."""
    values = {
        "pen-nan": "[draw]\npen_width=nan\n", "pen-inf": "[draw]\npen_width=inf\n",
        "pen-1e308": "[draw]\npen_width=1e308\n", "pen-1e20": "[draw]\npen_width=100000000000000000000\n",
        "model-5000": "[model]\nlast=" + "a" * 5000 + "\n", "model-text": "[model]\nlast=" + str(d / "text.npz") + "\n",
        "model-fifo": "[model]\nlast=" + str(d / "fifo.npz") + "\n", "model-out5": "[model]\nlast=" + str(d / "out5.npz") + "\n",
        "view-junk": "[window]\nview=\\x00\\x01junk\ngeometry=@ByteArray(garbage)\n",
    }
    for key in ("epochs", "batch_size", "seed", "limit_per_class", "lr", "momentum"):
        values[f"train-{key}"] = f"[train]\n{key}=100000000000000000000\n"
    values["binary"] = "\0\1\2garbage\xff" * 50
    return list(values.items())


def build_cases(work: Path, quick: bool, families: set[str]) -> tuple[list[Case], list[Path]]:
    rng = np.random.default_rng(0)
    bad = work / "bad"
    bad.mkdir()
    good = work / "good"
    good.mkdir()
    model = good_model(good / "good.npz")
    (good / "good.json").write_text(json.dumps({"width": 280, "height": 280, "pen_width": 18,
                                                "strokes": [[[140, 40], [140, 240]]]}))
    drawing = good / "good.json"
    cases: list[Case] = []
    models = model_files(bad, rng, quick)
    if "models" in families:
        for p in models:
            cases.append(Case("models", p.name, ["predict", "--model", str(p), str(drawing)], str(p)))
        for p in models[:: 3 if quick else 2]:
            cases.append(Case("models", "window " + p.name, ["--model", str(p), "--screenshot", str(work / "shot.png")],
                              "", window=True))
        for p in models[:: 6 if quick else 3]:
            cases.append(Case("models", "evaluate " + p.name, ["evaluate", str(p), "--data", str(ROOT / "tests" / "data")], str(p)))
    if "drawings" in families:
        for p in drawing_files(bad, rng, quick):
            cases.append(Case("drawings", p.name, ["predict", "--model", str(model), str(p)], str(p)))
            if not quick or p.name.startswith(("huge", "million", "fifo", "zero")):
                cases.append(Case("drawings", "window " + p.name, ["--model", str(model), "--drawing", str(p),
                                                                   "--screenshot", str(work / "shot.png")], "", window=True))
    if "images" in families:
        for p in image_files(bad, rng, quick):
            cases.append(Case("images", p.name, ["predict", "--model", str(model), str(p)], str(p)))
    if "idx" in families:
        for folder in idx_dirs(bad, quick):
            cases.append(Case("idx", folder.name, ["evaluate", str(model), "--data", str(folder)], "t10k-images"))
    if "settings" in families:
        for name, text in settings_cases(bad):
            env_dir = work / f"cfg-{name}"
            (env_dir / "mnist-desktop").mkdir(parents=True)
            (env_dir / "mnist-desktop" / "mnist-desktop.conf").write_text(text, errors="surrogateescape")
            cases.append(Case("settings", name, ["--screenshot", str(work / "shot.png")], "", window=True,
                              env={"XDG_CONFIG_HOME": str(env_dir)}))
    if "saves" in families:
        out_dir = work / "saves"
        out_dir.mkdir()
        keep = out_dir / "keep.npz"
        shutil.copy(model, keep)
        (out_dir / "folder.npz").mkdir()
        train = ["train", "--preset", "nielsen-30", "--epochs", "1", "--limit-per-class", "20", "--data", str(ROOT / "tests" / "data")]
        cases += [
            Case("saves", "out is a folder", train + ["--out", str(out_dir / "folder.npz")], "folder.npz"),
            Case("saves", "out folder missing", train + ["--out", str(out_dir / "nope" / "m.npz")], "nope"),
            Case("saves", "disk full (RLIMIT_FSIZE)", train + ["--out", str(keep)], str(keep), fsize_limit=20_000),
            Case("saves", "limit-per-class 0", train[:-4] + ["--limit-per-class", "0", "--out", str(keep)], "limit-per-class"),
            Case("saves", "limit-per-class -5", train[:-4] + ["--limit-per-class", "-5", "--out", str(keep)], "limit-per-class"),
            Case("saves", "momentum -1", train + ["--optimizer", "momentum", "--momentum", "-1", "--out", str(keep)], "momentum"),
            Case("saves", "momentum 1.02", train + ["--optimizer", "momentum", "--momentum", "1.02", "--out", str(keep)], "momentum"),
            Case("saves", "lr 1e30", train + ["--lr", "1e30", "--out", str(keep)], "diverged"),
            Case("saves", "drawing into a folder", ["predict", "--model", str(model), str(out_dir / "folder.npz")], "folder.npz"),
        ]
        for c in cases[-9:]:
            if c.name == "lr 1e30":
                c.target = "diverged"
    return cases, [model, drawing] + ([work / "saves" / "keep.npz"] if "saves" in families else [])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer and smaller cases")
    ap.add_argument("--family", action="append", help="only these families (repeatable)")
    ap.add_argument("--show-all", action="store_true", help="print every case, not only the failures")
    args = ap.parse_args(argv)
    families = set(args.family or ["models", "drawings", "images", "idx", "settings", "saves"])
    with tempfile.TemporaryDirectory(prefix="mnist-fuzz-") as tmp:
        work = Path(tmp)
        cases, good_files = build_cases(work, args.quick, families)
        digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in good_files}
        print(f"{len(cases)} cases; {cpu_model()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}", flush=True)
        results = []
        for case in cases:
            r = run(case, work)
            for p, h in digests.items():
                if hashlib.sha256(p.read_bytes()).hexdigest() != h:
                    r.status, r.message = "altered", f"{p.name} changed"
                    digests[p] = hashlib.sha256(p.read_bytes()).hexdigest()
                leftovers = [q.name for q in p.parent.iterdir() if q.name.endswith(".tmp")]
                if leftovers:
                    r.status, r.message = "altered", f"temp files left: {leftovers}"
            results.append(r)
            if args.show_all or r.status != "clean":
                print(f"  {r.status:10s} {r.seconds:5.1f}s {r.peak_mb:6.0f} MB  {case.family}/{case.name}: {r.message}",
                      flush=True)
    print()
    print("| family | cases | clean errors | tracebacks | hangs (>10 s) | other failures | max time | max memory |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    total = []
    for fam in ["models", "drawings", "images", "idx", "settings", "saves"]:
        rs = [r for r in results if r.case.family == fam]
        if not rs:
            continue
        total += rs
        _row(fam, rs)
    _row("**all**", total)
    bad = [r for r in total if r.status != "clean"]
    return 1 if bad else 0


def _row(name, rs) -> None:
    n = len(rs)
    clean = sum(r.status == "clean" for r in rs)
    tb = sum(r.status == "traceback" for r in rs)
    hang = sum(r.status == "hang" for r in rs)
    other = n - clean - tb - hang
    print(f"| {name} | {n} | {clean} | {tb} | {hang} | {other} | {max(r.seconds for r in rs):.1f} s | "
          f"{max(r.peak_mb for r in rs):.0f} MB |")


if __name__ == "__main__":
    sys.exit(main())
