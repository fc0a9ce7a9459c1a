"""``rasterfast build``: inputs to a shard directory."""

from __future__ import annotations

import argparse

from ..cli import positive_int

HELP = """\
Read Quick, Draw! drawings (Kaggle CSVs, Google ndjson or .bin; plain, .gz, .zst or
inside a .zip; files, directories or globs, local or at fsspec URLs), render them with
a recipe, and write memory-mapped shards to DIR: manifest.json and per shard
<split>/NNNNNN.images.npy (uint8 [n, C, S, S]), .strokes (the drawings themselves: the
stroke store, ~250 bytes a simplified drawing), .labels.npy and .meta.parquet.

With --no-images only the stroke store is written (no images.npy): the fast path for big
recipes. rasterfast.StrokeDataset renders batches from it on the fly, at any size and any
recipe the stored drawings allow (raw inputs with a raw recipe such as time3 keep the raw
points and times; a simplified recipe keeps simplified drawings), and `rasterfast render`
writes images from it later. The recipe still decides what is stored.

Drawings are ordered by a keyed hash of their key_id, so every shard mixes all words and
the result is byte-identical whatever the workers, scheduler, task or bucket size: a
split's drawings in that order, cut into near-equal shards of at most --shard-size.
Kaggle test files (no word column) become the `test` split in their original order. A
killed build resumes when the same command is run again; `rasterfast verify DIR` checks
a finished one. A finished DIR (one holding manifest.json) is never rebuilt nor
overwritten: the command stops at once with an error; remove DIR or choose another to
build again. A build that fails before its first shard (a bad input, say) leaves nothing
behind, so it can be run again with other options.

Inputs may be URLs: s3://bucket/train_simplified/, gs://..., https://host/cat.ndjson.gz,
memory://... (a directory or glob where the filesystem lists them; an HTTP server's index
page does). Each is read by the worker that ingests it, so every worker needs the
protocol's package (s3fs, gcsfs, aiohttp) and its credentials (the environment, ~/.aws,
FSSPEC_<PROTOCOL>_<OPTION> variables). The output DIR is a path, never a URL: every
worker writes its shards there, so with --scheduler ADDRESS it must be an absolute path
on a filesystem that all the cluster's machines mount at the same place (NFS, Lustre, a
mounted bucket); a relative DIR is refused.

Bad drawings stop the build (--on-error raise), naming the file and line; --on-error
skip leaves them out, --on-error warn also prints each one (the first 20, then a
count). Every one is listed in DIR/rejects.parquet, and the summary counts them.

examples:
  rasterfast build train_simplified.zip test_simplified.csv --out shards64 \\
      --recipe beluga --size 64 --val-fraction 0.02
  rasterfast build s3://my-bucket/quickdraw/train_simplified/ --out /shared/shards64 \\
      --scheduler tcp://scheduler:8786
"""


def register(sub) -> None:
    """Add the ``build`` subcommand to ``sub``."""
    p = sub.add_parser("build", help="inputs to memory-mapped image shards",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, directories or globs; local paths or fsspec URLs")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the shard directory to write (a path every worker sees: absolute "
                   "with --scheduler ADDRESS)")
    p.add_argument("--recipe", default="gray", help="preset name (see `rasterfast preview "
                   "--list-recipes`); default gray")
    p.add_argument("--size", type=int, help="image size in pixels, 16-512 (default 64, as "
                   "for every preset)")
    p.add_argument("--shard-size", type=int, default=8192, metavar="N",
                   help="most drawings per shard (default 8192)")
    p.add_argument("--val-fraction", type=float, default=0.05, metavar="F",
                   help="share of drawings in the val split, by key_id hash (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="order and split seed (default 0)")
    p.add_argument("--words", metavar="FILE",
                   help="word list, one per line (label = line index); also filters")
    p.add_argument("--per-word", type=int, metavar="N",
                   help="keep N drawings per word: those with the smallest key_id hash")
    p.add_argument("--recognized-only", action="store_true",
                   help="drop drawings the game did not recognise")
    p.add_argument("--on-error", choices=["raise", "warn", "skip"], default="raise",
                   help="bad drawings: stop (default), or skip them (counted in the "
                   "summary and the manifest); warn also prints each one")
    p.add_argument("--scheduler", default="auto",
                   metavar="auto|local|threads|processes|ADDRESS",
                   help="where the tasks run: local = a Dask LocalCluster of --workers "
                   "processes (every core busy; started for the build, ~1.5 s); auto "
                   "(default) = local for inputs of ~50,000 drawings or more, else threads; "
                   "threads or processes = Dask's local schedulers; or the address of a "
                   "distributed scheduler (tcp://host:8786; then --out must be an absolute path "
                   "on a filesystem shared by its workers). The dashboard's address is "
                   "printed when there is one")
    p.add_argument("--workers", type=positive_int,
                   help="cores used: local worker processes or threads (default: all cores)")
    p.add_argument("--task-size", type=positive_int, metavar="N",
                   help="most drawings a render task writes (whole shards, one at least; "
                   "default: about 4 tasks per worker, at most ~67k simplified or ~8k raw "
                   "drawings: ~250 MB of memory a task); the shards do not depend on it")
    p.add_argument("--bucket-size", type=positive_int, metavar="N",
                   help="drawings per bucket of the shuffle (default: a quarter of the "
                   "largest task, fewer for small inputs); the shards do not depend on it")
    p.add_argument("--no-images", action="store_true",
                   help="write only the stroke store (render on the fly with StrokeDataset)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args) -> int:
    """Run ``rasterfast build``: ingest, shuffle and render; return the exit status."""
    from ..errors import StrokeParseError
    from ..pipeline import build
    from ._common import print_summary, refuse_finished, warn_rejects

    refuse_finished(args.out)           # before the inputs are even listed
    try:
        manifest = build(args.inputs, args.out, args.recipe, size=args.size,
                         shard_size=args.shard_size, val_fraction=args.val_fraction,
                         seed=args.seed, words=args.words, per_word=args.per_word,
                         recognized_only=args.recognized_only, on_error=args.on_error,
                         scheduler=args.scheduler, workers=args.workers,
                         progress=not args.quiet, images=not args.no_images,
                         bucket_size=args.bucket_size, task_size=args.task_size)
    except StrokeParseError as err:
        if args.on_error != "raise":
            raise
        raise ValueError(f"{err} (to leave bad drawings out and go on: --on-error skip, or "
                         f"--on-error warn to also list them)") from err
    if args.on_error == "warn":
        warn_rejects("build", args.out)
    print_summary(manifest, args.out)
    return 0
