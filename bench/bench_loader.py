"""Feeding batches: ShardDataset vs a map-style Dataset with per-sample __getitem__, and the
memcpy ceiling on the same bytes.

Run from the repository root: ``python -m bench.bench_loader [--quick] [--repeat 3]``.

Shards of 1 channel at 64 and 128 px are written with rasterfast.format.Writer from
**random uint8 images** (throughput of a loader does not depend on the pixels), shuffled
reading (``"window"`` order), read from the page cache (the files are read once before
timing). Every figure is the best of ``--repeat`` passes, because this 2-core machine is
shared and noisy; the first pass of a fresh dataset (maps not yet faulted in) is shown too.

Contenders, all yielding uint8 ``[B, 1, S, S]`` + int64 labels, B = 256:
- memcpy ceiling: the same bytes copied contiguously, batch by batch, from the mmap;
- ShardDataset iterated in the main process, through ShardLoader with prefetch threads,
  and through DataLoader(batch_size=None, num_workers=2); with the default order
  (single drawings shuffled within windows) and with ``block=4`` (runs of 4 rows);
- what users write today: a map-style Dataset over the same memmap (``__getitem__`` returns
  one image and label) with DataLoader(batch_size=256, shuffle=True) and default collate;
- the Kaggle-kernel floor: json.loads + cv2.line at 256 px + cv2.resize per drawing, from
  the real CSV strings of the sample (what the shards replace).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._results import write_section  # noqa: E402
from rasterfast.data import ShardDataset, ShardLoader  # noqa: E402
from rasterfast.format import Reader, Writer  # noqa: E402

DATA = Path(os.environ.get("RASTERFAST_DATA",
                           Path(__file__).resolve().parent.parent.parent / "shared/data/quickdraw"))
B = 256
SHARD = 16384
BASELINE = "baseline: map-style __getitem__ + default collate, k=0"


def make_dir(root: Path, size: int, n: int) -> Path:
    path = root / f"s{size}"
    words = [f"w{i}" for i in range(340)]
    w = Writer(path, {"bench": "random uint8"}, words, channels=1, size=size, seed=0)
    rng = np.random.default_rng(size)
    for i, start in enumerate(range(0, n, SHARD)):
        m = min(SHARD, n - start)
        with w.shard("train", i, m) as sh:
            for a in range(0, m, 4096):  # fill the memmap in place, in pieces
                b = min(a + 4096, m)
                sh.images[a:b] = rng.integers(0, 256, (b - a, 1, size, size), dtype=np.uint8)
            lab = rng.integers(0, 340, m)
            sh.set_meta({"key_id": np.arange(start, start + m, dtype=np.uint64),
                         "word": [words[j] for j in lab]})
    w.finish()
    for p in (path / "train").iterdir():  # into the page cache
        p.read_bytes()
    return path


def timed(fn, repeat: int) -> tuple[float, float]:
    """(first, best) seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times[0], min(times)


def drain(iterable, limit: int | None = None) -> int:
    n = 0
    for i, batch in enumerate(iterable):
        n += len(batch["labels"] if isinstance(batch, dict) else batch[1])
        if limit is not None and i + 1 >= limit:
            break
    return n


class MapStyle(Dataset):
    """What a user writes today: one sample per __getitem__ from the memmap."""

    def __init__(self, path):
        r = Reader(path)
        self.maps = [r.images("train", i) for i in range(len(r.shards("train")))]
        self.labels = r.labels("train").astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(r.counts("train"))])

    def __len__(self):
        return int(self.offsets[-1])

    def __getitem__(self, i):
        s = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return torch.from_numpy(np.array(self.maps[s][i - self.offsets[s]])), int(self.labels[i])


def memcpy_pass(path) -> None:
    r = Reader(path)
    out = np.empty((B, *r.image_shape), np.uint8)
    for i in range(len(r.shards("train"))):
        mm = r.images("train", i)
        for a in range(0, len(mm) - B + 1, B):
            np.copyto(out, mm[a:a + B])


def kaggle_floor(size: int, n: int) -> float:
    """Drawings/s of json.loads + cv2.line (lw 6 at 256 px) + cv2.resize, one core."""
    import cv2

    texts = []
    for p in sorted((DATA / "kaggle" / "train_simplified").iterdir()):
        with open(p, newline="") as fh:
            texts.extend(row["drawing"] for row in csv.DictReader(fh))
        if len(texts) >= n:
            break
    texts = texts[:n]

    def run():
        for t in texts:
            img = np.zeros((256, 256), np.uint8)
            for xs, ys in json.loads(t):
                for j in range(len(xs) - 1):
                    cv2.line(img, (xs[j], ys[j]), (xs[j + 1], ys[j + 1]), 255, 6)
            cv2.resize(img, (size, size))

    return len(texts) / timed(run, 2)[1]


def cases_for(path: Path, n: int, limit: int) -> dict:
    """name -> (drawings per call, function) for one shard directory."""

    def fresh(**kw):
        return ShardDataset(path, batch_size=B, seed=0, **kw)

    cases = {"memcpy ceiling (contiguous np.copyto from the mmap)": (n, lambda: memcpy_pass(path))}
    for block in (1, 4):
        tag = "" if block == 1 else f", block={block}"
        ds = fresh(block=block)
        cases[f"ShardDataset, main process (k=0){tag}"] = (n, lambda ds=ds: drain(ds))
        for threads in (1, 2) if block == 1 else (2,):
            ld = ShardLoader(fresh(block=block), threads=threads)
            cases[f"ShardLoader, {threads} prefetch thread(s){tag}"] = (n, lambda ld=ld: drain(ld))
    dl = DataLoader(fresh(), batch_size=None, num_workers=2, persistent_workers=True)
    cases["DataLoader(ds, batch_size=None, num_workers=2, persistent)"] = (n, lambda: drain(dl))
    base = DataLoader(MapStyle(path), batch_size=B, shuffle=True, num_workers=0)
    cases[BASELINE] = (limit * B, lambda: drain(base, limit))
    base2 = DataLoader(MapStyle(path), batch_size=B, shuffle=True, num_workers=2,
                       persistent_workers=True)
    cases["baseline: map-style __getitem__ + default collate, k=2"] = (
        limit * B, lambda: drain(base2, limit))
    return cases


def run(args) -> str:
    load = os.getloadavg()[0]
    rows = []
    root = Path(tempfile.mkdtemp(prefix="bench_loader_"))
    try:
        for size, n in ((64, args.n64), (128, args.n128)):
            path = make_dir(root, size, n)
            cases = cases_for(path, n, args.baseline_batches)
            # Round-robin, `repeat` times each, so that every contender sees the same spells
            # of load from the other processes on this machine.
            times = {name: [] for name in cases}
            for _ in range(args.repeat):
                for name, (_count, fn) in cases.items():
                    times[name].append(timed(fn, 1)[0])
            ref_rate = cases[BASELINE][0] / min(times[BASELINE])
            for name, (count, _fn) in cases.items():
                rate = count / min(times[name])
                rows.append(f"| {size} | {name} | {count / times[name][0]:,.0f} | {rate:,.0f} | "
                            f"{rate * size * size / 1e9:.2f} | {rate / ref_rate:.1f}x |")
            cases.clear()  # stops the persistent DataLoader workers
            floor = kaggle_floor(size, args.kaggle_n)
            rows.append(f"| {size} | Kaggle floor: json.loads + cv2.line 256 px + resize, 1 core "
                        f"(real CSV strings) | | {floor:,.0f} | | {floor / ref_rate:.2f}x |")
    finally:
        for p in sorted(root.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        root.rmdir()
    head = ("| px | setup | first pass drawings/s | best drawings/s | GB/s | vs map-style k=0 |\n"
            "|---|---|---|---|---|---|")
    note = (f"Random uint8 images (1 channel), {args.n64:,} drawings at 64 px and "
            f"{args.n128:,} at 128 px in shards of {SHARD:,}, from the page cache; shuffled "
            f"(`window` order); B = {B}; best of {args.repeat} passes, contenders run "
            f"round-robin, on a shared 2-core machine (load average at start {load:.1f}); "
            f"baselines timed over {args.baseline_batches} batches.")
    return f"{note}\n\n{head}\n" + "\n".join(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    args.n64, args.n128 = (1 << 18, 1 << 16)
    args.baseline_batches, args.kaggle_n = 200, 2000
    if args.quick:
        args.n64, args.n128, args.repeat = 1 << 15, 1 << 13, 1
        args.baseline_batches, args.kaggle_n = 20, 300
    table = run(args)
    print(table)
    if not args.no_write:
        write_section("loader", table)


if __name__ == "__main__":
    main()
