"""``rasterfast verify``: check a shard directory's manifest, sizes, headers and checksums."""

from __future__ import annotations

import argparse

HELP = """\
Check DIR/manifest.json (against its own content digest) and every file it lists:
present, of the listed size, with a header that agrees with the manifest, and with the
listed sha256. Names every missing, truncated or altered file; exit status 1 if any.

example:
  rasterfast verify shards64
"""


def register(sub) -> None:
    """Add the ``verify`` subcommand to ``sub``."""
    p = sub.add_parser("verify", help="check a shard directory's files against its manifest",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--sizes-only", action="store_true",
                   help="sizes and headers only, no checksums (fast)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Check a shard directory against its manifest; return the exit status (1: damaged)."""
    from ..format import verify

    report = verify(args.dir, checksums=not args.sizes_only)
    print(report)
    return 0 if report.ok else 1
