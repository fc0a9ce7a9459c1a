"""``python -m bench.fuzz TARGET|all [--seconds N] [--inputs N] [--seed S] [--findings DIR]``."""

from __future__ import annotations

import argparse
import platform
import sys
import time

from . import discover, fuzz


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fuzz",
        description="Mutation-fuzz rasterfast's decoders in process; print inputs run, "
                    "inputs/s and findings (saved to --findings). Exit status 1 if any.")
    parser.add_argument("target", nargs="?", help="a target name (see --list) or 'all'")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per target (default 10 when --inputs is not given)")
    parser.add_argument("--inputs", type=int, default=None, help="inputs per target")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--findings", default="fuzz-findings",
                        help="folder for findings: input .bin + traceback .txt "
                             "(default ./fuzz-findings)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds one input may run before it is a hang (default 10)")
    parser.add_argument("--max-len", type=int, default=1 << 16,
                        help="longest mutated input in bytes (default 65536)")
    args = parser.parse_args(argv)
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
    seconds = args.seconds if args.seconds is not None or args.inputs is not None else 10.0
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} python "
          f"{platform.python_version()} seed {args.seed}", flush=True)
    total = 0
    for target in chosen:
        def report(r, elapsed):
            sys.stderr.write(f"\r  {r.target}: {r.inputs:,} inputs, "
                             f"{r.inputs / elapsed:,.0f}/s, {r.findings} findings   ")
        r = fuzz(target, seconds=seconds, inputs=args.inputs, seed=args.seed,
                 findings_dir=args.findings, timeout=args.timeout, max_len=args.max_len,
                 report=report if sys.stderr.isatty() else None)
        if sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 78 + "\r")
        print(f"{r.target:24s} {r.inputs:>10,} inputs {r.seconds:8.1f} s {r.rate:>9,.0f}/s "
              f"{r.findings:>6} findings ({len(r.unique)} distinct)", flush=True)
        total += r.findings
    if total:
        print(f"findings saved under {args.findings}/")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
