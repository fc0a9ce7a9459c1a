"""What several subcommands print or check the same way: a finished --out, the counts, rejects."""

from __future__ import annotations

import sys
from pathlib import Path

#: Rejects that ``--on-error warn`` prints one by one; the rest are counted.
WARN_LIMIT = 20

#: Per-input counters of a manifest, in the order a summary shows them.
COUNTERS = ("written", "rejected", "filtered", "duplicate")


def refuse_finished(out) -> None:
    """Raise ``FileExistsError`` when ``out`` is a finished build, before any work is done.

    Like ``git clone`` into an existing repository, a second run into a finished
    directory is refused, not redone nor silently skipped: the user says which by
    removing it or choosing another directory.
    """
    out = Path(out)
    if (out / "manifest.json").is_file():
        raise FileExistsError(f"{out} is a finished build (it has manifest.json); nothing was "
                              f"done: choose another --out, or remove {out} to build it again")


def refuse_foreign(out) -> None:
    """Raise ``FileExistsError`` when ``out`` holds files but no (unfinished) shard directory."""
    from ..format.layout import BUILD_NAME

    out = Path(out)
    if out.is_dir() and any(out.iterdir()) and not (out / BUILD_NAME).is_file():
        raise FileExistsError(f"{out} is not empty and holds no rasterfast build; nothing was "
                              "done: choose another --out")


def counts_line(manifest) -> str:
    """``"N rows read from K inputs: W written, R rejected, F filtered, D duplicate"``."""
    inputs = manifest.inputs or []
    totals = {k: sum(int(e.get(k, 0)) for e in inputs) for k in ("read", *COUNTERS)}
    return (f"{totals['read']:,} rows read from {len(inputs)} input(s): "
            + ", ".join(f"{totals[k]:,} {k}" for k in COUNTERS))


def rate_line(manifest) -> str | None:
    """The build's speed line, from the manifest's ``extra["timing"]``.

    ``"N drawings in W s: R drawings/s, M MB written (B MB/s), C CPU-us a drawing; stages
    ..."``; None when the build did not record it.
    """
    t = (manifest.extra or {}).get("timing")
    if not t or not t.get("wall_s"):
        return None
    n, wall, mb = t["drawings"], t["wall_s"], t["bytes_written"] / 1e6
    cpu = (f", {t['cpu_s'] / n * 1e6:,.1f} CPU-us a drawing" if t.get("cpu_s") is not None
           and n else "")
    stages = ", ".join(f"{k} {v:,.1f} s" for k, v in t.get("stages_s", {}).items())
    return (f"{n:,} drawings in {wall:,.1f} s: {n / wall:,.0f} drawings/s, {mb:,.1f} MB written "
            f"({mb / wall:,.1f} MB/s){cpu}" + (f"; {stages}" if stages else ""))


def empty_inputs(manifest) -> list[str]:
    """Names of the inputs that held no rows at all."""
    return [e["name"] for e in (manifest.inputs or []) if int(e.get("read", 0)) == 0]


def print_summary(manifest, out, *, words: bool = True, stream=None) -> None:
    """The last lines of ``build`` and ``render``: drawings per split, then every counter."""
    stream = stream if stream is not None else sys.stdout
    counts = ", ".join(f"{s}: {manifest.count(s):,}" for s in ("train", "val", "test")
                       if s in manifest.splits)
    tail = f", {manifest.num_classes} words" if words else ""
    print(f"wrote {out}: {counts} drawings{tail}", file=stream)
    print(counts_line(manifest), file=stream)
    rate = rate_line(manifest)
    if rate:
        print(rate, file=stream)
    empty = empty_inputs(manifest)
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        print(f"note: {len(empty)} input(s) held no drawings: {shown}", file=stream)


def reject_where(source: str, record: int) -> str:
    """``"file, line N"`` for a text input (lines as an editor numbers them), else the record."""
    from ..readers import line_number

    line = line_number(source, record)
    if line > 0:
        return f"{source}, line {line}"
    return f"{source}, record {record}" if record >= 0 else source


def warn_rejects(command: str, out, *, limit: int = WARN_LIMIT, stream=None) -> int:
    """Print each reject of the build in ``out`` to ``stream`` (stderr), at most ``limit``.

    Returns the number of rejects. Every reject is in ``out/rejects.parquet``.
    """
    import pyarrow.parquet as pq

    stream = stream if stream is not None else sys.stderr
    path = Path(out) / "rejects.parquet"
    if not path.is_file():
        return 0
    table = pq.read_table(path, columns=["source", "record", "reason"])
    n = table.num_rows
    head = table.slice(0, limit).to_pylist()
    for r in head:
        print(f"rasterfast {command}: warning: rejected {reject_where(r['source'], r['record'])}: "
              f"{r['reason']}", file=stream)
    if n > len(head):
        print(f"rasterfast {command}: warning: ... and {n - len(head):,} more rejects (all "
              f"{n:,} are listed in {path})", file=stream)
    return n
