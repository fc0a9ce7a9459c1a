"""``rasterfast export``: a shard directory's stroke store in another project's format.

One format so far: sketch-rnn's ``.npz`` (magenta's ``sketch_rnn_train.py`` loads it
with ``np.load(path, allow_pickle=True, encoding="latin1")`` and reads the keys
``train``, ``valid`` and ``test``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

HELP = """\
Write the drawings of DIR's stroke store (any build of rasterfast >= 0.2, with or without
images) in another project's format.

--format sketch-rnn writes one .npz file with the three keys sketch-rnn's loader reads:
  train, valid, test   object arrays of int16 [n, 3] arrays, one per drawing, in stroke-3:
                       (dx, dy, pen_lift) per point, dx/dy from the previous point (the
                       first from (0, 0)), pen_lift 1 at the last point of every stroke
                       (the convention of sketch-rnn's lines_to_strokes; no padding, no
                       start token: its DataLoader adds those).
Splits map train -> train, val -> valid, test -> test; a split DIR lacks is written as an
empty array (and said). Drawings are in the store's order (a build shuffles them) and keep
their 0-255 simplified coordinates: scaling is sketch-rnn's DataLoader's job (normalize()).
The store must hold simplified drawings (a build from simplified inputs, or with a
simplified recipe such as gray): raw points are floats in each drawing's own frame and
are not what sketch-rnn's Quick, Draw! data holds. Labels and words are not stored in
sketch-rnn's layout: write one file per word with --words to get its per-class files.

Load it as sketch-rnn does:
  data = numpy.load("cat.npz", allow_pickle=True, encoding="latin1")
  train, valid, test = data["train"], data["valid"], data["test"]

examples:
  rasterfast export shards64 --format sketch-rnn --out all.npz
  rasterfast export shards64 --format sketch-rnn --out cat.npz --words cat --max-drawings 70000
"""

#: Store split -> sketch-rnn key.
SKETCH_RNN_SPLITS = {"train": "train", "val": "valid", "test": "test"}
FORMATS = ("sketch-rnn",)
#: Drawings gathered and converted at a time (bounds the memory of the padded pass).
_CHUNK = 16384


def register(sub) -> None:
    """Add the ``export`` subcommand to ``sub``."""
    p = sub.add_parser("export", help="write a stroke store in sketch-rnn's .npz layout",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", metavar="DIR", help="a shard directory with a stroke store")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="the output layout (sketch-rnn: .npz of stroke-3 int16 arrays)")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="the file to write")
    p.add_argument("--words", metavar="W1,W2", default=None,
                   help="only drawings of these words (comma-separated; the test split of a "
                        "Kaggle build has no words, so it is then empty)")
    p.add_argument("--max-drawings", type=int, default=None, metavar="N",
                   help="at most N drawings per split, the first N in the store's order")
    p.add_argument("--no-compress", action="store_true",
                   help="numpy.savez instead of numpy.savez_compressed (faster, larger)")
    p.set_defaults(func=run)


def sketch_rnn_arrays(path, words=None, max_drawings=None, log=None) -> dict[str, np.ndarray]:
    """The three sketch-rnn arrays of the store at ``path`` (see ``rasterfast export --help``).

    Raises ``ValueError`` for a store of raw drawings, no stroke store, unknown words or
    a bad ``max_drawings``.
    """
    from ..format import Reader
    from ..sequence import to_stroke3

    if max_drawings is not None and (isinstance(max_drawings, bool) or max_drawings < 0):
        raise ValueError(f"max_drawings must be an int >= 0, got {max_drawings!r}")
    reader = Reader(path)
    if not reader.has_strokes:
        raise ValueError(f"{reader.path} has no stroke store (parts "
                         f"{list(reader.manifest.parts)}): build it with rasterfast >= 0.2")
    if reader.stroke_kind != "simplified":
        raise ValueError(f"{reader.path} stores {reader.stroke_kind} drawings; sketch-rnn's "
                         "layout holds int16 offsets of simplified drawings: build from "
                         "simplified inputs or with a simplified recipe (e.g. gray)")
    labels_wanted = None
    if words is not None:
        index = {w: i for i, w in enumerate(reader.words)}
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(f"words not in {reader.path}'s word list: {unknown[:10]} "
                             f"({len(reader.words)} words, e.g. {reader.words[:3]})")
        labels_wanted = [index[w] for w in words]
    out = {}
    for split, key in SKETCH_RNN_SPLITS.items():
        if split not in reader.splits:
            if log:
                log(f"{reader.path} has no split {split!r}: {key!r} is empty")
            out[key] = np.empty(0, object)
            continue
        rows = np.arange(int(reader.counts(split).sum()), dtype=np.int64)
        if labels_wanted is not None:
            rows = rows[np.isin(reader.labels(split), labels_wanted)]
        if max_drawings is not None:
            rows = rows[:max_drawings]
        arr = np.empty(len(rows), object)
        strokes = reader.strokes(split)
        for lo in range(0, len(rows), _CHUNK):
            seq, lengths = to_stroke3(strokes.gather(rows[lo:lo + _CHUNK]), dtype=np.int16)
            for i, n in enumerate(lengths.tolist()):
                arr[lo + i] = seq[i, :n].copy()
        out[key] = arr
        if log:
            log(f"{key}: {len(arr):,} drawings from split {split!r}")
    return out


def run(args) -> int:
    """Write the sketch-rnn ``.npz`` file; return the exit status."""
    words = None
    if args.words is not None:
        words = [w.strip() for w in args.words.split(",") if w.strip()]
        if not words:
            raise ValueError(f"--words needs at least one word, got {args.words!r}")

    def log(msg):
        print(msg, file=sys.stderr)

    arrays = sketch_rnn_arrays(args.dir, words, args.max_drawings, log)
    save = np.savez if args.no_compress else np.savez_compressed
    with open(args.out, "wb") as fh:   # a file object: numpy would append .npz to a name
        save(fh, **arrays)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {len(v):,}" for k, v in arrays.items()))
    return 0
