"""``rasterfast demo``: the whole path on built-in data, for a newcomer."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from ..cli import positive_int

MARKER = ".rasterfast-demo"

HELP = """\
Run the whole path on synthetic data, with no download and no other files:
  1. `rasterfast synth` writes a Kaggle-layout dataset (per-word train CSVs + a test CSV);
  2. `rasterfast build` turns it into 64 px shards (Dask, all cores);
  3. one epoch is read through ShardDataset in a torch DataLoader;
  4. a contact sheet of the shards is written as a PNG.
Prints what each stage did and its drawings/s. Needs torch for step 3.

example:
  rasterfast demo --out demo --n 20000
"""


def register(sub) -> None:
    """Add the ``demo`` subcommand to ``sub``."""
    p = sub.add_parser("demo", help="synthesize, build and load a dataset end to end",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", metavar="DIR", default="rasterfast-demo",
                   help="where to put it all (default ./rasterfast-demo; a previous demo "
                   "there is replaced)")
    p.add_argument("--keep", action=argparse.BooleanOptionalAction, default=True,
                   help="keep the folder afterwards (default); --no-keep removes it")
    p.add_argument("--n", type=int, default=20_000, help="drawings to synthesize (default 20000)")
    p.add_argument("--recipe", default="gray", help="build recipe (default gray)")
    p.add_argument("--size", type=int, default=64, help="image size (default 64)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=positive_int, help="build workers (default: all cores)")
    p.set_defaults(func=run)


def _line(stage: str, n: int, seconds: float, what: str) -> None:
    print(f"{stage:<8} {n:>9,} drawings in {seconds:6.2f} s  {n / max(seconds, 1e-9):>12,.0f}/s  "
          f"{what}", flush=True)


def run(args) -> int:
    """Run ``rasterfast demo``: synthesize, build and load; return the exit status."""
    if args.n < 100:
        raise ValueError(f"--n must be at least 100, got {args.n}")
    root = Path(args.out)
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise FileExistsError(f"{root} is not empty and not a previous demo; choose another "
                                  "folder with --out")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text("made by `rasterfast demo`; replaced by the next one\n")
    try:
        _demo(root, args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def _demo(root: Path, args) -> None:
    from ..format import Reader
    from ..pipeline import build
    from ..preview import contact_sheet, write_png
    from ..synth import synth

    inputs, shards = root / "input", root / "shards"
    t0 = time.perf_counter()
    synth(inputs, args.n, format="kaggle-csv", seed=0, test=args.n // 20, progress=False)
    # test_solution.csv holds the answers (key_id,word), not drawings: not a build input
    files = sorted(p for p in inputs.iterdir() if p.is_file() and p.name != "test_solution.csv")
    _line("synth", args.n, time.perf_counter() - t0,
          f"{len(files)} Kaggle-layout CSVs in {inputs}")

    t0 = time.perf_counter()
    manifest = build(files, shards, args.recipe, size=args.size, workers=args.workers,
                     progress=False, val_fraction=0.05)
    n_built = sum(manifest.count(s) for s in manifest.splits)
    splits = ", ".join(f"{s} {manifest.count(s):,}" for s in manifest.splits)
    _line("build", n_built, time.perf_counter() - t0,
          f"{args.recipe} {args.size} px shards ({splits}) in {shards}")

    import torch
    from torch.utils.data import DataLoader

    from ..data import ShardDataset

    ds = ShardDataset(shards, split="train", batch_size=args.batch_size, shuffle=True, seed=0)
    loader = DataLoader(ds, batch_size=None, num_workers=0)
    t0 = time.perf_counter()
    seen, checksum = 0, 0
    for batch in loader:
        images, labels = batch["images"], batch["labels"]
        seen += images.shape[0]
        checksum += int(labels.sum())
    dt = time.perf_counter() - t0
    _line("epoch", seen, dt, f"ShardDataset + DataLoader(batch_size=None, num_workers=0): "
          f"{len(ds)} batches of uint8 {list(images.shape)[1:]}, torch {torch.__version__}")

    reader = Reader(shards)
    images = reader.images("train", 0)[:64]
    words = reader.meta("train", 0, columns=["word"]).column("word").to_pylist()[:64]
    png = write_png(root / "preview.png", contact_sheet(images, words, cols=8, zoom=2))
    print(f"preview  {png}")
    print("next steps:", *next_steps(root, shards), sep="\n  ")


def next_steps(root: Path, shards: Path) -> list[str]:
    """Commands worth running after the demo, on its own output (each one works as shown)."""
    return [
        f"rasterfast inspect {shards}    # drawings per split and word, rejects, entropy",
        f"rasterfast preview {shards} --pick high-entropy --out {root / 'odd.png'}",
        f"rasterfast render {shards} --recipe order3 --size 96 --out {root / 'shards96'}",
        f"python -c \"from rasterfast import ShardDataset; "
        f"print(ShardDataset('{shards}', split='train', batch_size=256).words)\"",
        "rasterfast build YOUR_FILES --out shards64 --recipe beluga --size 64   # real data",
        "a training loop, MAP@3 and a Kaggle submission: README.md, "
        "\"Building shards and training\"",
    ]
