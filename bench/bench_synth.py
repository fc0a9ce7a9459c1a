"""Synthetic data and drawing text: ``rasterfast.synth`` and ``format_drawings`` vs json.dumps.

Run from the repository root: ``python -m bench.bench_synth [--quick] [--no-write]``.

* synth: drawings/s of ``rasterfast.synth`` writing per-word Kaggle CSVs (simplified
  and raw), end to end: generation, metadata, formatting, file writes.
* drawing text: ``format_drawings`` vs what users write today, ``json.dumps`` of each
  drawing's nested lists (and orjson.dumps, the fastest JSON library), on the same
  drawings in the same run. The lists are built beforehand and not timed, which
  favours the baselines (a user holding arrays pays ``tolist()`` as well).
* whole files: ``write_kaggle_csv`` vs ``csv.writer`` rows with ``json.dumps``.

Every figure is the best of ``--repeat`` runs on one core: the machine is shared.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import orjson  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import DATA, best_of  # noqa: E402
from bench._results import write_section  # noqa: E402
from rasterfast import StrokeBatch  # noqa: E402
from rasterfast.formatting import format_drawings, write_kaggle_csv  # noqa: E402
from rasterfast.synth import synth  # noqa: E402


def read_back(folder: Path, kind: str) -> StrokeBatch:
    from rasterfast import read_drawings

    return StrokeBatch.concat([b for b in read_drawings(folder) if b.kind == kind])


def csv_json_writer(path: Path, batch: StrokeBatch, lists: list) -> None:
    """What a user writes today: csv.writer rows, the drawing from json.dumps."""
    ts = [str(t).replace("T", " ") for t in batch.timestamp]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["countrycode", "drawing", "key_id", "recognized", "timestamp", "word"])
        for i, d in enumerate(lists):
            w.writerow([batch.countrycode[i], json.dumps(d), batch.key_id[i],
                        bool(batch.recognized[i]), ts[i], batch.word[i]])


def _pct(a) -> str:
    a = np.asarray(a, np.float64)
    return (f"{a.mean():,.1f}; " + "/".join(f"{np.percentile(a, q):,.0f}" for q in (5, 50, 95))
            + f" (p99 {np.percentile(a, 99):,.0f})")


def _describe(b: StrokeBatch) -> dict:
    so, do = b.stroke_offsets, b.drawing_offsets
    out = {"strokes per drawing": _pct(b.strokes_per_drawing()),
           "points per drawing": _pct(b.points_per_drawing()),
           "points per stroke": _pct(np.diff(so))}
    if b.kind == "raw":
        t = b.t.astype(np.int64)
        first = np.zeros(b.num_strokes, bool)
        first[do[:-1]] = True
        within = np.ones(len(t) - 1, bool)
        within[so[1:-1] - 1] = False
        start = t[so[do[:-1]]]
        out.update({
            "ms between points of a stroke": _pct(np.diff(t)[within]),
            "stroke duration, ms": _pct(t[so[1:] - 1] - t[so[:-1]]),
            "pause between strokes, ms": _pct((t[so[1:-1]] - t[so[1:-1] - 1])[~first[1:]]),
            "drawing duration, ms": _pct(t[so[do[1:]] - 1] - start),
            "first time != 0": f"{(start != 0).mean():.1%}",
            "drawings with float coordinates": f"""{(np.add.reduceat(
                ((b.x != np.round(b.x)) | (b.y != np.round(b.y))).astype(int),
                so[do[:-1]]) > 0).mean():.0%}""",
            "x-min / width, px": "{:.0f} / {:.0f}".format(
                np.minimum.reduceat(b.x, so[do[:-1]]).mean(),
                (np.maximum.reduceat(b.x, so[do[:-1]])
                 - np.minimum.reduceat(b.x, so[do[:-1]])).mean()),
        })
    out["recognized"] = f"{(b.recognized == 1).mean():.1%}"
    return out


def stats(per_word: int = 500) -> str:
    """Real sample vs synth (per_word drawings of every built-in word, seed 0)."""
    from rasterfast import read_drawings

    data = DATA
    lines = ["| statistic (mean; p5/p50/p95) | real | synth |", "|---|---|---|"]
    work = Path(tempfile.mkdtemp(prefix="bench-synth-stats-"))
    try:
        from rasterfast.synth import SYNTH_WORDS

        for kind in ("simplified", "raw"):
            real = StrokeBatch.concat(list(read_drawings(data / "ndjson" / kind)))
            synth(work / kind, per_word * len(SYNTH_WORDS), format="ndjson",
                  raw=kind == "raw", seed=0, progress=False)
            ours = read_back(work / kind, kind)
            r, s = _describe(real), _describe(ours)
            lines += [f"| {kind}: {k} | {r[k]} | {s[k]} |" for k in r]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    ap.add_argument("--stats", action="store_true",
                    help="print the real-vs-synth statistics table and exit")
    args = ap.parse_args()
    if args.stats:
        print(stats())
        return
    n_simp = 20_000 if args.quick else 200_000
    n_raw = 2_000 if args.quick else 20_000
    work = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    rows = []
    try:
        # -- synth, end to end ---------------------------------------------------------
        synth_rows = []
        for kind, n in (("simplified", n_simp), ("raw", n_raw)):
            out = work / kind
            sec = best_of(lambda o=out, n=n, k=kind: synth(o, n, raw=k == "raw", seed=1,
                                                        progress=False), args.repeat)
            mb = sum(f.stat().st_size for f in out.iterdir()) / 1e6
            synth_rows.append(f"| synth {kind}, {n:,} drawings, 40 per-word Kaggle CSVs | "
                              f"{n / sec:,.0f} | {mb / sec:,.1f} | {sec:.2f} s |")
        # -- drawing text ----------------------------------------------------------------
        for kind in ("simplified", "raw"):
            batch = read_back(work / kind, kind)
            lists = [batch.to_lists(i) for i in range(len(batch))]
            n = len(batch)
            ours = format_drawings(batch, "kaggle")[0]
            t_ours = best_of(lambda b=batch: format_drawings(b, "kaggle"), args.repeat)
            dumps = [json.dumps(d) for d in lists]
            t_json = best_of(lambda ls=lists: [json.dumps(d) for d in ls], args.repeat)
            t_orjson = best_of(lambda ls=lists: [orjson.dumps(d) for d in ls], args.repeat)
            mb_json = sum(map(len, dumps)) / 1e6
            mb_orjson = sum(len(orjson.dumps(d)) for d in lists) / 1e6
            mb_ours = len(ours) / 1e6
            if kind == "simplified":  # the same bytes: json.dumps prints Kaggle's layout
                assert ours == "".join(dumps).encode()
            rows.append(f"| {kind}: rasterfast.format_drawings | {n / t_ours:,.0f} | "
                        f"{mb_ours / t_ours:,.0f} | {t_json / t_ours:.1f}x |")
            rows.append(f"| {kind}: json.dumps per drawing (lists prebuilt) | {n / t_json:,.0f} | "
                        f"{mb_json / t_json:,.0f} | 1.0x |")
            rows.append(f"| {kind}: orjson.dumps per drawing (lists prebuilt) | "
                        f"{n / t_orjson:,.0f} | {mb_orjson / t_orjson:,.0f} | "
                        f"{t_json / t_orjson:.1f}x |")
            # -- whole files -------------------------------------------------------------
            t_write = best_of(lambda b=batch: write_kaggle_csv(work / "w.csv", b), args.repeat)
            t_csv = best_of(lambda b=batch, ls=lists: csv_json_writer(work / "c.csv", b, ls),
                            args.repeat)
            rows.append(f"| {kind}: write_kaggle_csv (whole file) | {n / t_write:,.0f} | "
                        f"{(work / 'w.csv').stat().st_size / 1e6 / t_write:,.0f} | "
                        f"{t_csv / t_write:.1f}x vs csv.writer + json.dumps |")
            rows.append(f"| {kind}: csv.writer + json.dumps (whole file) | {n / t_csv:,.0f} | "
                        f"{(work / 'c.csv').stat().st_size / 1e6 / t_csv:,.0f} | 1.0x |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    md = "\n".join([
        f"One core, best of {args.repeat}; shared machine (load average {load:.1f} at the end).",
        "",
        "| synth (end to end, files on disk) | drawings/s | MB/s written | time |",
        "|---|---|---|---|",
        *synth_rows,
        "",
        "Drawing text of the same drawings (the simplified ones above, read back; Kaggle "
        "`\", \"` layout; json.dumps prints the simplified text byte for byte the same, "
        "checked; for raw it writes `413.0` where the files have `413`):",
        "",
        "| contender | drawings/s | MB/s | vs json.dumps |",
        "|---|---|---|---|",
        *rows,
    ])
    print(md)
    if not args.no_write:
        write_section("synth", md)


if __name__ == "__main__":
    main()
