"""``python -m bench.fuzz TARGET|all [--seconds N] [--inputs N] [--seed S] [--findings DIR]
[--json LEDGER [--until N]]``; ``python -m bench.fuzz --table LEDGER``.

A campaign (say 1M inputs per target) runs in chunks: each chunk uses another ``--seed``
(other seeds, other inputs) and adds its counts to the JSON ledger, which it rewrites
every 30 s while a target runs, so a chunk that is killed loses at most that much.
``--until N`` runs each target only up to N inputs in the ledger in all. Chunks may run
at the same time on one ledger and findings folder (one per core, each its own seed).
A chunk may be paused (``SIGSTOP``/``SIGCONT``) while something else needs the machine:
budgets, rates and the hang watchdog count CPU time, not wall time.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

from . import DEFAULT_MAX_LEN, discover, fuzz

CHECKPOINT_S = 30.0


def _load(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"runs": {}}


def _store(path: Path, ledger: dict) -> None:
    """Write this process's entries of ``ledger`` into the ledger file as it is now.

    Chunks running at the same time (one per core, other seeds) share the file: the read,
    merge and replace happen under an exclusive ``flock`` of ``LEDGER.lock``, so that each
    keeps the others' entries (without it two chunks ending together lost one's counts:
    a CI failure).
    """
    with open(path.with_name(f"{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = _load(path)
        for target, runs in ledger["runs"].items():
            fresh["runs"].setdefault(target, {}).update(runs)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(fresh, indent=1, sort_keys=True))
        os.replace(tmp, path)     # readers without the lock see the old file or the new one


def _record(ledger: dict, r, seed: int, args) -> None:
    """This chunk's counts of one target in the ledger, keyed by seed (a rerun of one
    seed repeats its inputs, so it replaces the entry instead of adding to it)."""
    ledger["runs"].setdefault(r.target, {})[str(seed)] = {
        "inputs": r.inputs, "cpu_seconds": round(r.cpu_seconds, 2),
        "wall_seconds": round(r.seconds, 2), "findings": r.findings,
        "distinct": sorted(r.unique), "corpus": r.corpus, "max_len": args.max_len,
        "peak_rss_mb": round(r.peak_rss_mb),
        "host": platform.node(), "python": platform.python_version(),
        "ended": time.strftime("%Y-%m-%d %H:%M:%S")}


def totals(ledger: dict) -> dict:
    """Per target: inputs, CPU seconds, findings, distinct findings, seeds, largest corpus."""
    out = {}
    for target, runs in ledger["runs"].items():
        out[target] = {
            "inputs": sum(e["inputs"] for e in runs.values()),
            "cpu_seconds": sum(e["cpu_seconds"] for e in runs.values()),
            "findings": sum(e["findings"] for e in runs.values()),
            "distinct": len({d for e in runs.values() for d in e["distinct"]}),
            "seeds": sorted(runs, key=int), "corpus": max(e["corpus"] for e in runs.values()),
            # recorded since 2026-12-05 (a leak under gzip grew a process to 11 GB)
            "peak_rss_mb": max((e["peak_rss_mb"] for e in runs.values() if "peak_rss_mb" in e),
                               default=None)}
    return out


def table(ledger: dict) -> str:
    """The ledger's totals as a Markdown table."""
    rows = ["| target | inputs | CPU s | inputs/CPU s | corpus | findings (distinct) | "
            "peak RSS MB | seeds |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for target, t in sorted(totals(ledger).items()):
        rate = t["inputs"] / t["cpu_seconds"] if t["cpu_seconds"] else 0.0
        rows.append(f"| {target} | {t['inputs']:,} | {t['cpu_seconds']:,.0f} | {rate:,.0f} | "
                    f"{t['corpus']} | {t['findings']} ({t['distinct']}) | "
                    f"{'' if t['peak_rss_mb'] is None else format(t['peak_rss_mb'], ',')} | "
                    f"{','.join(t['seeds'])} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fuzz",
        description="Mutation-fuzz rasterfast's decoders in process; print inputs run, "
                    "inputs per CPU second and findings (saved to --findings). Exit status 1 "
                    "if any.")
    parser.add_argument("target", nargs="?", help="a target name (see --list) or 'all'")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--seconds", type=float, default=None,
                        help="CPU seconds per target (default 10 when neither --inputs nor "
                             "--until is given)")
    parser.add_argument("--inputs", type=int, default=None, help="inputs per target")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed (default 0); chunks of a campaign use different ones")
    parser.add_argument("--findings", default="fuzz-findings",
                        help="folder for findings: input .bin + traceback .txt; the input "
                             "running is in <target>/last-input.seed<S>.bin until the target "
                             "ends normally (default ./fuzz-findings)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds one input may run before it is a hang, paused time not "
                             "counted (default 10)")
    parser.add_argument("--max-len", type=int, default=DEFAULT_MAX_LEN,
                        help="longest mutated input in bytes, unless a seed is longer "
                             f"(default {DEFAULT_MAX_LEN})")
    parser.add_argument("--json", metavar="LEDGER", default=None,
                        help="add this chunk's counts per target and seed to the JSON ledger "
                             "LEDGER (created if missing) and print the ledger's totals")
    parser.add_argument("--until", type=int, default=None,
                        help="with --json: run each target until the ledger holds this many "
                             "inputs for it in all (targets already there are skipped)")
    parser.add_argument("--table", metavar="LEDGER", default=None,
                        help="print the totals of a ledger as a Markdown table and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(table(_load(Path(args.table))))
        return 0
    targets = discover()
    if args.list or args.target is None:
        for name, t in targets.items():
            print(f"{name:24s} {t.module}")
        return 0 if args.list else 2
    if args.target == "all":
        chosen = list(targets.values())
    elif args.target in targets:
        chosen = [targets[args.target]]
    else:
        parser.error(f"unknown target {args.target!r}; valid: all, {', '.join(targets)}")
    if args.until is not None and args.json is None:
        parser.error("--until needs --json (the ledger it counts in)")
    ledger_path = Path(args.json) if args.json else None
    ledger = {"runs": {}} if ledger_path else None     # this chunk's entries
    no_limit = args.seconds is None and args.inputs is None and args.until is None
    seconds = 10.0 if no_limit else args.seconds
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} python "
          f"{platform.python_version()} seed {args.seed}", flush=True)
    total = 0
    for target in chosen:
        inputs = args.inputs
        if args.until is not None:
            runs = _load(ledger_path)["runs"].get(target.name, {})
            done = sum(e["inputs"] for s, e in runs.items() if s != str(args.seed))
            left = args.until - done
            if left <= 0:
                print(f"{target.name:24s} done: {done:,} inputs in the ledger", flush=True)
                continue
            inputs = left if inputs is None else min(inputs, left)
        last_save = [time.monotonic()]

        def report(r, cpu, target=target, last_save=last_save):
            if sys.stderr.isatty():
                sys.stderr.write(f"\r  {r.target}: {r.inputs:,} inputs, "
                                 f"{r.inputs / max(cpu, 1e-9):,.0f}/CPU s, "
                                 f"{r.findings} findings   ")
            if ledger_path and time.monotonic() - last_save[0] > CHECKPOINT_S:
                r.cpu_seconds = cpu     # so far (the wall time and corpus at the end)
                r.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                _record(ledger, r, args.seed, args)
                _store(ledger_path, ledger)
                last_save[0] = time.monotonic()

        r = fuzz(target, seconds=seconds, inputs=inputs, seed=args.seed,
                 findings_dir=args.findings, timeout=args.timeout, max_len=args.max_len,
                 report=report if sys.stderr.isatty() or ledger_path else None)
        if sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 78 + "\r")
        print(f"{r.target:24s} {r.inputs:>10,} inputs {r.cpu_seconds:8.1f} CPU s "
              f"{r.rate:>9,.0f}/CPU s {r.seconds:8.1f} s wall  corpus {r.corpus:5d} "
              f"{r.findings:>6} findings ({len(r.unique)} distinct)  peak RSS "
              f"{r.peak_rss_mb:,.0f} MB", flush=True)
        if ledger_path:
            _record(ledger, r, args.seed, args)
            _store(ledger_path, ledger)
        total += r.findings
    if ledger_path:
        print(f"\n{ledger_path} in all:\n{table(_load(ledger_path))}")
    if total:
        print(f"findings saved under {args.findings}/")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
