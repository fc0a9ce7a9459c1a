"""Parsing drawing text: rasterfast.parse_drawings vs orjson.loads and json.loads + numpy.

Run from the repository root: ``python -m bench.bench_parse [--repeat 7] [--no-write]``.
All contenders get the same real drawing strings (split out of the Kaggle CSVs
of the sample beforehand), on one core, in the same run; each figure is the
best of ``--repeat`` runs, because this machine is shared and noisy.

What users run today is ``json.loads(row.drawing)`` and then one
``np.array`` per stroke; orjson is the fastest JSON library for Python and
makes Python objects for every number.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import orjson  # noqa: E402
import pyarrow as pa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import best_of, kaggle_strings  # noqa: E402
from bench._results import write_section  # noqa: E402
from rasterfast import parse_drawings  # noqa: E402


def orjson_all(texts):
    return [orjson.loads(t) for t in texts]


def json_numpy(texts, dtype):
    return [[np.array(stroke, dtype=dtype) for stroke in json.loads(t)] for t in texts]


def run(repeat: int) -> str:
    rows = []
    for kind, dtype in (("simplified", np.int16), ("raw", np.float64)):
        texts = kaggle_strings(kind)
        nbytes = sum(len(t) for t in texts)
        arrow = pa.array(texts, pa.string())
        # partial binds this kind's texts now (a lambda would see the loop's last ones)
        contenders = {
            "json.loads + np.array per stroke": partial(json_numpy, texts, dtype),
            "orjson.loads alone": partial(orjson_all, texts),
            "rasterfast.parse_drawings (list of str)": partial(parse_drawings, texts, kind),
            "rasterfast.parse_drawings (pyarrow array)": partial(parse_drawings, arrow, kind),
        }
        times = {name: best_of(fn, repeat) for name, fn in contenders.items()}
        base_json = times["json.loads + np.array per stroke"]
        base_orjson = times["orjson.loads alone"]
        for name, t in times.items():
            rows.append(f"| {kind} | {name} | {len(texts) / t:,.0f} | {nbytes / t / 1e6:,.0f} "
                        f"| {base_json / t:.1f}x | {base_orjson / t:.1f}x |")
        n = len(texts)
        rows.append(f"| {kind} | ({n:,} real drawings, {nbytes / n:,.0f} bytes each) | | | | |")
    table = ["| data | contender | drawings/s | MB/s | vs json+numpy | vs orjson |",
             "|---|---|---:|---:|---:|---:|", *rows]
    return ("One core, best of "
            f"{repeat} runs, same strings for every contender.\n\n" + "\n".join(table))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = parser.parse_args(argv)
    text = run(args.repeat)
    print(text)
    if not args.no_write:
        write_section("parse", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
