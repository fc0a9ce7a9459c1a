"""Training throughput by feeder: batches already on the device, ShardLoader(device=...),
and the Kaggle per-sample pipeline; plus the CPU overlap check of the device loader.

Run from the repository root::

    python -m bench.bench_train                  # CUDA if present, real sizes there
    python -m bench.bench_train --quick --no-write   # tiny CPU smoke run (CI)
    python -m bench.bench_train --overlap-only   # the CPU overlap measurement alone

Model: torchvision's ResNet-18 (first conv for 1 or 3 channels, 340 classes) when
torchvision imports, else a small built-in CNN (said in the output). One SGD step per
batch (cross-entropy; bf16 autocast and channels_last on CUDA). Feeders, each timed over
``--steps`` steps after ``--warmup``:

(a) ``on-device``: one batch of (b) copied on the device before timing, reused:
    the compute bound (run first and again last; the better of the two);
(b) ``ShardLoader``: :class:`rasterfast.data.ShardDataset` over shards of random uint8
    images (throughput does not depend on the pixels) through
    ``ShardLoader(device=..., to_float=True, channels_last=<on CUDA>)``;
(c) ``Kaggle per-sample``: a map-style Dataset whose ``__getitem__`` does ``json.loads``
    of a real drawing string of the sample + ``cv2.line`` at 256 px + ``cv2.resize``
    (3 channels: the stroke index as colour, as Kaggle kernels did), in ``--workers``
    DataLoader processes, default collate, then ``.to(device)`` and ``to_float``.

Each is printed as img/s and as a share of (a), for 64 px 1 channel and 128 px 3
channels. On a CPU these figures measure the CPU, not a feeder: the overlap section is
the CPU evidence (a simulated step that sleeps with the GIL released, so the loader's
work can only hide behind it if it really runs concurrently).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import kaggle_strings  # noqa: E402
from bench._results import write_section  # noqa: E402
from rasterfast import to_float  # noqa: E402
from rasterfast.data import ShardDataset, ShardLoader  # noqa: E402
from rasterfast.format import Writer  # noqa: E402

CLASSES = 340
SHARD = 8192


# -- data -----------------------------------------------------------------------------------------
def make_shards(root: Path, size: int, channels: int, n: int) -> Path:
    """A train split of ``n`` random uint8 images, read once into the page cache."""
    path = root / f"s{size}c{channels}"
    words = [f"w{i}" for i in range(CLASSES)]
    w = Writer(path, {"bench": "random uint8"}, words, channels=channels, size=size, seed=0)
    rng = np.random.default_rng(size * 10 + channels)
    for i, start in enumerate(range(0, n, SHARD)):
        m = min(SHARD, n - start)
        with w.shard("train", i, m) as sh:
            for a in range(0, m, 2048):
                b = min(a + 2048, m)
                sh.images[a:b] = rng.integers(0, 256, (b - a, channels, size, size),
                                              dtype=np.uint8)
            lab = rng.integers(0, CLASSES, m)
            sh.set_meta({"key_id": np.arange(start, start + m, dtype=np.uint64),
                         "word": [words[j] for j in lab]})
    w.finish()
    for p in (path / "train").iterdir():
        p.read_bytes()
    return path


class KaggleSamples(Dataset):
    """The per-sample pipeline of the Kaggle kernels: json.loads + cv2 per drawing."""

    def __init__(self, strings, size: int, channels: int):
        self.strings, self.size, self.channels = strings, size, channels

    def __len__(self):
        return len(self.strings)

    def __getitem__(self, i):
        import cv2

        img = np.zeros((256, 256, self.channels), np.uint8)
        strokes = json.loads(self.strings[i])
        for t, (xs, ys) in enumerate(strokes):
            color = 255 if self.channels == 1 else \
                (255 - min(t, 10) * 13, min(t, 10) * 13, max(255 - t * 40, 40))
            for j in range(len(xs) - 1):
                cv2.line(img, (xs[j], ys[j]), (xs[j + 1], ys[j + 1]), color, 6)
        img = cv2.resize(img, (self.size, self.size))
        img = img.reshape(self.size, self.size, self.channels)
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))), i % CLASSES


# -- model --------------------------------------------------------------------------------------
class SmallCNN(nn.Module):
    """The fallback when torchvision is absent: 4 conv-BN-ReLU blocks, global pool, linear."""

    def __init__(self, channels: int, classes: int = CLASSES, width: int = 32):
        super().__init__()
        layers, c = [], channels
        for k in range(4):
            out = width * 2 ** k
            layers += [nn.Conv2d(c, out, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            c = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, classes)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


def make_model(kind: str, channels: int) -> tuple[nn.Module, str]:
    if kind in ("auto", "resnet18"):
        try:
            import torchvision
        except ImportError:
            if kind == "resnet18":
                raise
        else:
            m = torchvision.models.resnet18(num_classes=CLASSES)
            m.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
            return m, "ResNet-18 (torchvision)"
    return SmallCNN(channels), "small built-in CNN (torchvision not importable)"


# -- timing ---------------------------------------------------------------------------------------
def train_rate(model, opt, batches, device, steps: int, warmup: int, channels_last: bool) -> float:
    """img/s of ``steps`` SGD steps on the batches of the iterator ``batches``."""
    loss_fn = nn.CrossEntropyLoss()
    cuda = device.type == "cuda"

    def step(x, y):
        if channels_last and not x.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    seen = 0
    for i in range(warmup + steps):
        if i == warmup:
            if cuda:
                torch.cuda.synchronize(device)
            t0, seen = time.perf_counter(), 0
        x, y = next(batches)
        step(x, y)
        seen += len(y)
    if cuda:
        torch.cuda.synchronize(device)
    return seen / (time.perf_counter() - t0)


def cycle_loader(loader):
    while True:
        for b in loader:
            yield b["images"], b["labels"]


def on_device(x, y):
    while True:
        yield x, y


def cycle_kaggle(dl, device, cuda: bool):
    while True:
        for x, y in dl:
            x = to_float(x.to(device, non_blocking=cuda))
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y.to(device, non_blocking=cuda)


def feeders_table(args, device) -> tuple[str, list[str]]:
    cuda = device.type == "cuda"
    strings = kaggle_strings("simplified")
    rows, model_name = [], ""
    root = Path(tempfile.mkdtemp(prefix="bench_train_"))
    try:
        for size, channels, batch in args.configs:
            model, model_name = make_model(args.model, channels)
            model = model.to(device)
            if cuda:
                model = model.to(memory_format=torch.channels_last)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            need = (args.steps + args.warmup) * batch
            n = max(need, batch * 4)
            path = make_shards(root, size, channels, n)
            rates = {}
            ds = ShardDataset(path, batch_size=batch, seed=0, block=4)
            loader = ShardLoader(ds, device=device, to_float=True, channels_last=cuda,
                                 threads=args.threads)
            # (a) trains on a copy of the loader's first batch: the same values as (b)
            first = next(iter(loader))
            x, y = first["images"].clone(), first["labels"].clone()
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            bound = "(a) on-device batches (compute bound)"
            rates[bound] = train_rate(model, opt, on_device(x, y), device, args.steps,
                                      args.warmup, cuda)
            rates[f"(b) ShardDataset + ShardLoader(device, threads={loader.threads}, "
                  f"pin_memory={loader.pin_memory}, to_float)"] = train_rate(
                model, opt, cycle_loader(loader), device, args.steps, args.warmup, cuda)
            kag = KaggleSamples(strings[:max(need, 64)], size, channels)
            dl = DataLoader(kag, batch_size=batch, shuffle=True, num_workers=args.workers,
                            pin_memory=cuda, persistent_workers=args.workers > 0,
                            drop_last=True)
            rates[f"(c) Kaggle per-sample (json.loads + cv2), {args.workers} worker "
                  "processes"] = train_rate(model, opt, cycle_kaggle(dl, device, cuda), device,
                                            args.steps, args.warmup, cuda)
            del dl
            # (a) again, last: the best of a run before and after the others, so that
            # warm-up (allocator, kernel choice) is not counted against the bound
            rates[bound] = max(rates[bound], train_rate(model, opt, on_device(x, y), device,
                                                        args.steps, args.warmup, cuda))
            for name, r in rates.items():
                rows.append(f"| {size} px, {channels} ch, B={batch} | {name} | {r:,.0f} | "
                            f"{r / rates[bound]:.0%} |")
                print(f"{size} px {channels} ch: {name}: {r:,.0f} img/s, share of (a) "
                      f"{r / rates[bound]:.0%}", flush=True)
    finally:
        for p in sorted(root.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        root.rmdir()
    head = "| input | feeder | img/s | share of (a) |\n|---|---|---:|---:|"
    return model_name, [head] + rows


# -- overlap on the CPU -------------------------------------------------------------------------
def overlap_table(args) -> list[str]:
    """Batches/s of ShardLoader(device="cpu", to_float=True) when the step is a sleep."""
    size, channels, batch, n_batches = 128, 3, args.overlap_batch, args.overlap_batches
    root = Path(tempfile.mkdtemp(prefix="bench_overlap_"))
    rows = ["| loader | loader alone ms/batch | step (sleep) ms | loop batches/s | "
            "step rate /s | share of step rate |", "|---|---:|---:|---:|---:|---:|"]
    try:
        path = make_shards(root, size, channels, batch * (n_batches + 2))

        def loop(threads, sleep_s):
            ds = ShardDataset(path, batch_size=batch, seed=0, block=4)
            ld = ShardLoader(ds, device="cpu", to_float=True, threads=threads, prefetch=2)
            it = iter(ld)
            next(it)  # the first batch has nobody to hide behind
            t0 = time.perf_counter()
            for _ in range(n_batches):
                time.sleep(sleep_s)  # the step: GIL released, as a GPU step's host side is
                next(it)
            dt = time.perf_counter() - t0
            it.close()
            return n_batches / dt

        alone = min(1 / loop(0, 0.0) for _ in range(2))
        step = max(args.overlap_step_ms / 1000, 1.5 * alone)
        for threads in (0, 1):
            rate = max(loop(threads, step) for _ in range(args.repeat))
            label = ("threads=0 (gather + convert in the training thread)" if threads == 0
                     else "threads=1 (gather + convert in a prefetch thread)")
            rows.append(f"| {label} | {alone * 1e3:.1f} | {step * 1e3:.1f} | {rate:.2f} | "
                        f"{1 / step:.2f} | {rate * step:.0%} |")
            print(f"overlap: {label}: {rate:.2f} batches/s, step rate {1 / step:.2f}/s, share "
                  f"{rate * step:.0%} (loader alone {alone * 1e3:.1f} ms/batch)", flush=True)
    finally:
        for p in sorted(root.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        root.rmdir()
    note = (f"ShardLoader(device='cpu', to_float=True, prefetch=2), {size} px, {channels} ch, "
            f"B={batch} (uint8 gather + float32 conversion into the ring), {n_batches} "
            f"batches after the first; the step is time.sleep (GIL released), at least 1.5x "
            f"the loader's own time per batch; best of {args.repeat}.")
    return [note, ""] + rows


def parse_configs(text: str, cuda: bool, quick: bool):
    out = []
    for part in text.split(","):
        size, ch = part.split("x")
        size, ch = int(size), int(ch)
        batch = (8 if quick else 64 if not cuda else 1024 if size <= 64 else 512)
        out.append((size, ch, batch))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="cuda, cpu or auto (default)")
    ap.add_argument("--configs", default="64x1,128x3", help="SIZExCHANNELS, comma-separated")
    ap.add_argument("--batch", type=int, help="batch size for every config (default: 1024 "
                    "at 64 px and 512 at 128 px on CUDA, 64 on CPU, 8 with --quick)")
    ap.add_argument("--steps", type=int, help="timed steps (default 100 CUDA, 10 CPU, 3 quick)")
    ap.add_argument("--warmup", type=int, help="untimed steps first (default 20 / 2 / 1)")
    ap.add_argument("--workers", type=int, help="DataLoader processes of the Kaggle pipeline "
                    "(default: cores - 1, at most 15; 1 with --quick)")
    ap.add_argument("--threads", type=int, help="ShardLoader threads (default: its own)")
    ap.add_argument("--model", default="auto", choices=["auto", "resnet18", "small"])
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the overlap runs")
    ap.add_argument("--overlap-step-ms", type=float, default=40.0)
    ap.add_argument("--overlap-batch", type=int, default=256)
    ap.add_argument("--overlap-batches", type=int, default=30)
    ap.add_argument("--overlap-only", action="store_true")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a CI smoke run)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    dev = args.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(dev)
    cuda = device.type == "cuda"
    args.configs = parse_configs(args.configs, cuda, args.quick)
    if args.batch:
        args.configs = [(s, c, args.batch) for s, c, _ in args.configs]
    if args.steps is None:
        args.steps = 3 if args.quick else 100 if cuda else 10
    if args.warmup is None:
        args.warmup = 1 if args.quick else 20 if cuda else 2
    if args.workers is None:
        args.workers = 1 if args.quick else max(1, min(15, (os.cpu_count() or 2) - 1))
    if args.quick:
        args.overlap_batch, args.overlap_batches, args.repeat = 16, 4, 1
        args.overlap_step_ms = 5.0
    parts = []
    if not args.overlap_only:
        model_name, table = feeders_table(args, device)
        parts.append(f"Device: {device} ({torch.cuda.get_device_name(device) if cuda else 'CPU'}"
                     f"), torch {torch.__version__}; model: {model_name}; SGD, "
                     f"{'bf16 autocast, channels_last' if cuda else 'float32'}; "
                     f"{args.steps} timed steps after {args.warmup}.\n")
        parts.append("\n".join(table))
        parts.append("")
    parts.append("CPU overlap of the device loader:\n")
    parts.append("\n".join(overlap_table(args)))
    text = "\n".join(parts)
    print(text)
    if not args.no_write and not args.quick:
        if not cuda and not args.overlap_only:
            # On a CPU the feeders' table measures the CPU (and, on a shared machine, the
            # scheduler: more runnable threads get more of it), not the feeders: keep only
            # the overlap section, which is the CPU evidence.
            text = ("Feeder table: not recorded from a CPU run (run on CUDA for it).\n\n"
                    + text[text.index("CPU overlap of the device loader:"):])
        write_section("train", text)


if __name__ == "__main__":
    main()
