"""``rasterfast inspect``: what a shard directory holds."""

from __future__ import annotations

import argparse
import json

import numpy as np

HELP = """\
Print what a shard directory holds (images, stroke store and its bytes per drawing), the
recipe, the drawings per split and word, the rejects and the sketch-entropy percentiles
(from its manifest and metadata; images and strokes are not read).

example:
  rasterfast inspect shards64 --words 20
"""


def register(sub) -> None:
    """Add the ``inspect`` subcommand to ``sub``."""
    p = sub.add_parser("inspect", help="recipe, counts, rejects and entropy of a shard directory",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--words", type=int, default=10, metavar="K",
                   help="show the K most and least frequent words per split (default 10)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Print what a shard directory holds; return the exit status."""
    from ..format import Reader

    reader = Reader(args.dir)
    m = reader.manifest
    parts = []
    if m.has_images:
        parts.append(f"images uint8 {list(m.image_shape)}")
    if m.has_strokes:
        n = sum(m.count(s) for s in m.splits)
        size = sum(sh.strokes.size for s in m.splits for sh in m.shards(s))
        parts.append(f"stroke store ({m.strokes['kind']} {m.strokes['coords']}"
                     f"{', with times' if m.strokes['times'] else ''}; "
                     f"{size / max(1, n):,.0f} bytes a drawing)")
    print(f"{args.dir}: format {m.format_version}, {m.num_classes} words, "
          f"{' + '.join(parts)}, seed {m.seed}")
    print("recipe:", json.dumps(m.recipe, sort_keys=True))
    for split in reader.splits:
        meta = reader.meta(split, columns=["word", "entropy"])
        words, counts = np.unique(meta.column("word").to_numpy(zero_copy_only=False).astype(str),
                                  return_counts=True)
        # Kaggle test drawings have no word: not a word "" (issue 13)
        unlabelled = int(counts[words == ""].sum())
        counts, words = counts[words != ""], words[words != ""]
        what = f"{len(words)} words"
        if unlabelled and not len(words):
            what = "no words (Kaggle test rows)"
        elif unlabelled:
            what += f", {unlabelled:,} drawings without a word"
        print(f"\n{split}: {m.count(split):,} drawings in {len(reader.shards(split))} shards, "
              f"{what}")
        order = np.argsort(-counts, kind="stable")
        k = args.words
        if len(words) > 2 * k:
            shown = [*order[:k], None, *order[-k:]]
        else:
            shown = list(order)
        for i in shown:
            print("  ..." if i is None else f"  {counts[i]:>9,}  {words[i]}")
        ent = meta.column("entropy").to_numpy(zero_copy_only=False)
        ent = ent[~np.isnan(ent)]
        if len(ent):
            q = np.percentile(ent, [0, 1, 5, 50, 95, 99, 100])
            print("  entropy (bits) p0 p1 p5 p50 p95 p99 p100: " +
                  " ".join(f"{v:.2f}" for v in q))
    print(f"\ninputs: {len(m.inputs)}")
    totals = {k: sum(int(e.get(k, 0)) for e in m.inputs)
              for k in ("read", "written", "rejected", "filtered", "duplicate")}
    print("  " + ", ".join(f"{k} {v:,}" for k, v in totals.items()))
    rej = m.rejects or {}
    if rej.get("count"):
        print(f"rejects: {rej['count']:,}")
        for reason, n in list(rej.get("by_reason", {}).items())[:10]:
            print(f"  {n:>9,}  {reason}")
        for r in rej.get("first", [])[:5]:
            print(f"  e.g. {r['source']}, record {r['record']}: {r['reason']}")
    return 0
