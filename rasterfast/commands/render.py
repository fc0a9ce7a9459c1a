"""``rasterfast render``: a finished build again, at another recipe or size."""

from __future__ import annotations

import argparse

from ..cli import positive_int

HELP = """\
Render the drawings of a finished build (DIR) again with another recipe or size, from
its stroke store (the .strokes file of every shard): the inputs are not read again, and
DIR2 gets the same drawings, splits, shards, order, labels and word list (drawing
(split, shard, row) is the same drawing in both). DIR2 holds images only. DIR may be a
`build --no-images` directory. A raw recipe (time3) needs a build from raw inputs with a
raw recipe; a simplified recipe needs one that stored simplified drawings.
A finished DIR2 (one holding manifest.json) is never overwritten: the command stops at
once with an error; remove DIR2 or choose another.

example:
  rasterfast render shards64 --recipe gray --size 128 --out shards128
"""


def register(sub) -> None:
    """Add the ``render`` subcommand to ``sub``."""
    p = sub.add_parser("render", help="re-render a build at another recipe or size",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build_dir", metavar="DIR", help="a finished build")
    p.add_argument("--out", required=True, metavar="DIR2", help="the new shard directory")
    p.add_argument("--recipe", required=True, help="preset name")
    p.add_argument("--size", type=int, help="image size in pixels (16-512)")
    p.add_argument("--scheduler", default="auto",
                   metavar="auto|local|threads|processes|ADDRESS",
                   help="where the tasks run, as for `rasterfast build` (default auto)")
    p.add_argument("--workers", type=positive_int, help="cores used (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args) -> int:
    """Re-render a build at another recipe; return the exit status."""
    from ..pipeline import rerender
    from ._common import print_summary, refuse_finished, refuse_foreign

    refuse_finished(args.out)           # before the plan stage runs
    refuse_foreign(args.out)
    manifest = rerender(args.build_dir, args.out, args.recipe, size=args.size,
                        scheduler=args.scheduler,
                        workers=args.workers, progress=not args.quiet)
    print_summary(manifest, args.out, words=False)
    return 0
