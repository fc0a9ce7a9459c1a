"""Sequence batches: StrokeDataset(output="stroke3" | "stroke5") vs sketch-rnn's per-sample code.

rasterfast: a stroke store of real sample drawings (the Kaggle-layout simplified train
CSVs, parsed once and repeated to fill the store, as in bench_stroke), read by
``StrokeDataset(output=...)`` a shuffled batch of 256 at a time on one thread: gather
from the memory-mapped ``.strokes`` files, convert (``ext/_sequence.pyx``) and wrap as
tensors, all in the loop. Also the conversion alone (:func:`rasterfast.to_stroke5` of
an already gathered StrokeBatch).

Baseline, per drawing, what sketch-rnn users write: ``json.loads`` of the drawing text,
NumPy points and ``np.diff`` to stroke-3 (``lines_to_strokes``), then for stroke-5 a
padded ``[max_len, 5]`` row block (``to_big_strokes``) stacked into the batch. Same
drawings, same run, interleaved best of ``--repeat``. Run from the repository root::

    python -m bench.bench_sequence [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import kaggle_strings  # noqa: E402
from bench._results import write_section  # noqa: E402
from bench.bench_stroke import epoch_rate, make_store  # noqa: E402

TARGET = 500_000  # drawings/s of one thread (issue 14)
BATCH = 256


def baseline_stroke3(text: str) -> np.ndarray:
    """One drawing's text to stroke-3 (int16 ``[n, 3]``), the per-sample way."""
    strokes = json.loads(text)
    pts = np.concatenate([np.asarray(s[:2], np.int64).T for s in strokes])
    pen = np.zeros(len(pts), np.int64)
    pen[np.cumsum([len(s[0]) for s in strokes]) - 1] = 1
    d = np.diff(pts, axis=0, prepend=np.zeros((1, 2), np.int64))
    return np.column_stack([d, pen]).astype(np.int16)


def baseline_rate(texts: list[str], fmt: str, max_len: int) -> float:
    """Drawings/s of the per-sample pipeline, batches of BATCH as float32 arrays."""
    t0 = time.perf_counter()
    for lo in range(0, len(texts), BATCH):
        chunk = texts[lo:lo + BATCH]
        if fmt == "stroke3":
            out = np.zeros((len(chunk), max_len, 3), np.float32)
            for i, text in enumerate(chunk):
                s = baseline_stroke3(text)[:max_len]
                out[i, :len(s)] = s
        else:
            out = np.zeros((len(chunk), max_len, 5), np.float32)
            for i, text in enumerate(chunk):
                s = baseline_stroke3(text)[:max_len]
                n = len(s)
                out[i, :n, :2] = s[:, :2]
                out[i, :n, 3] = s[:, 2]
                out[i, :n, 2] = 1 - s[:, 2]
                out[i, n:, 4] = 1
    return len(texts) / (time.perf_counter() - t0)


def kernel_rate(batch, fmt: str, max_len: int, repeat: int) -> float:
    from rasterfast import to_stroke3, to_stroke5

    conv = to_stroke3 if fmt == "stroke3" else to_stroke5
    pieces = [batch.slice(lo, min(lo + BATCH, len(batch))) for lo in range(0, len(batch), BATCH)]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in pieces:
            conv(p, max_len, on_long="truncate", dtype=np.float32)
        best = min(best, time.perf_counter() - t0)
    return len(batch) / best


def run(args) -> str:
    from rasterfast import StrokeBatch, StrokeDataset, parse_drawings

    texts = kaggle_strings("simplified")
    if args.quick:
        texts = texts[:600]
    tmp = Path(tempfile.mkdtemp(prefix="bench-seq-"))
    store = make_store(tmp, "simplified", texts, args.drawings)
    parsed = parse_drawings(texts, kind="simplified")
    longest = int(parsed.points_per_drawing().max())
    sample = texts[:args.baseline]
    gathered = StrokeBatch.concat([parsed] * max(1, args.limit // len(parsed)))
    lines = ["| output | max_len | StrokeDataset 1 thread (drawings/s) | target | conversion "
             "alone (drawings/s) | per-sample json + numpy (drawings/s) | ratio |",
             "|---|---|---|---|---|---|---|"]
    for fmt, max_len in (("stroke3", None), ("stroke5", None), ("stroke5", 250)):
        kw = {} if max_len is None else {"max_len": max_len, "on_long": "truncate"}
        ds = StrokeDataset(store, output=fmt, batch_size=BATCH, **kw)
        best = {"ds": 0.0, "kernel": 0.0, "base": 0.0}
        for rep in range(args.repeat):  # interleaved: the machine's load weighs on all alike
            ds.set_epoch(rep)
            best["ds"] = max(best["ds"], epoch_rate(ds, args.limit))
            best["kernel"] = max(best["kernel"], kernel_rate(gathered, fmt, ds.max_len, 1))
            best["base"] = max(best["base"], baseline_rate(sample, fmt, ds.max_len))
        label = f"{ds.max_len} (longest)" if max_len is None else f"{max_len}"
        lines.append(f"| {fmt} | {label} | {best['ds']:,.0f} | {TARGET:,} | "
                     f"{best['kernel']:,.0f} | {best['base']:,.0f} | "
                     f"{best['ds'] / best['base']:.0f}x |")
        print(lines[-1], flush=True)
    body = ["Real sample drawings (Kaggle-layout simplified train CSVs, 6,880 drawings, "
            f"longest {longest} points) parsed once and repeated into a "
            f"{args.drawings:,}-drawing stroke store; shuffled batches of {BATCH} as float32 "
            f"tensors, best of {args.repeat} passes of {args.limit:,} drawings, one thread. "
            "Conversion alone: `to_stroke3`/`to_stroke5` of gathered batches of "
            f"{BATCH}. Baseline: the first {args.baseline:,} drawing strings, one at a "
            "time (json.loads, numpy diff, padded into the same float32 batch). The "
            "machine was shared with other engineers' builds and tests while this ran: "
            "figures are lower bounds of an idle machine's, and ratios (same run, "
            "interleaved) are the steadier number.", "", *lines]
    return "\n".join(body)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no RESULTS.md")
    parser.add_argument("--drawings", type=int, default=200_000)
    parser.add_argument("--limit", type=int, default=100_000,
                        help="drawings read per timed pass")
    parser.add_argument("--baseline", type=int, default=3_000,
                        help="drawings of the per-sample baseline per pass")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        args.drawings, args.limit, args.baseline, args.repeat = 5_000, 2_000, 200, 1
    body = run(args)
    if not args.quick:
        write_section("sequence", body)


if __name__ == "__main__":
    main()
