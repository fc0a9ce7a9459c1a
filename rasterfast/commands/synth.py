"""``rasterfast synth``: realistic Quick, Draw! files of any size, with nothing to download."""

from __future__ import annotations

import argparse

HELP = """\
Write N drawings as per-word files in the exact layouts of the real data: Kaggle's
train CSV (<word>.csv: countrycode,drawing,key_id,recognized,timestamp,word) or
Google's ndjson (<word>.ndjson). Drawings are procedural doodles of built-in words
(circle, square, house, sun, fish, ...) with the stroke, point and timing statistics
of the real ones, or, with --like DIR, perturbed copies of the real drawings in DIR.
The same arguments and --seed give byte-identical files.

examples:
  rasterfast synth --out demo --n 100000 --format kaggle-csv --words 10
  rasterfast synth --out demo_raw --n 20000 --format ndjson --raw --gzip
  rasterfast synth --out more --n 50000 --like shared/data/quickdraw/ndjson/simplified
  rasterfast synth --out kaggle --n 110000 --test 10000     # plus test_simplified.csv
"""


def _words(text: str):
    """``--words``: a count (``10``) or names separated by commas (``circle,house``)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    names = [w.strip() for w in text.split(",") if w.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a number or comma-separated words")
    return names


def _positive(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    return v


def register(sub) -> None:
    """Add the ``synth`` subcommand to ``sub``."""
    from ..synth import SYNTH_FORMATS

    p = sub.add_parser("synth", help="write realistic synthetic Quick, Draw! files",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created)")
    p.add_argument("--n", required=True, type=_positive, metavar="N",
                   help="number of drawings in all, split evenly over the words")
    p.add_argument("--format", default="kaggle-csv", choices=SYNTH_FORMATS,
                   help="file layout (default: kaggle-csv)")
    p.add_argument("--raw", action="store_true",
                   help="raw drawings (screen coordinates and times) instead of simplified")
    p.add_argument("--like", metavar="DIR",
                   help="perturb the real drawings in DIR instead of drawing built-in shapes")
    p.add_argument("--seed", type=_positive, default=0, help="random seed (default: 0)")
    p.add_argument("--words", type=_words, metavar="K|W1,W2",
                   help="the first K words, or these words (default: all)")
    p.add_argument("--test", type=_positive, default=0, metavar="T",
                   help="kaggle-csv: put T of the N drawings in a Kaggle test file")
    p.add_argument("--gzip", action="store_true", help="gzip the files (.gz)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress line on stderr (default: when stderr is a terminal)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``rasterfast synth``; returns the exit status."""
    import time

    from ..synth import synth

    t0 = time.perf_counter()
    files = synth(args.out, args.n, format=args.format, raw=args.raw, like=args.like,
                  seed=args.seed, words=args.words, test=args.test, compress=args.gzip,
                  progress=args.progress)
    dt = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {args.n:,} drawings in {len(files)} files ({size / 1e6:,.1f} MB) "
          f"to {args.out} in {dt:.1f} s")
    return 0
