#!/usr/bin/env bash
# One chunk of the fuzz campaign under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   bench/fuzz_campaign.sh TREE SEED TARGET:INPUTS [TARGET:INPUTS ...]
#
# TREE: a clone of this repository whose kernels are built with the sanitizers. When TREE
# does not exist it is cloned from this checkout's HEAD and built the way .ci/sanitize
# builds (about 1.5 min on 2 cores); this checkout's own kernels are left alone. Each
# TARGET then runs INPUTS inputs of seed SEED, one after the other, from TREE (the current
# directory comes first on sys.path, so the sanitizer kernels are the ones loaded), its
# counts checkpointed every 30 s into this checkout's ledger bench/fuzz_campaign.json (or
# $LEDGER), its findings saved under $FINDINGS (default TREE/fuzz-findings).
#
# One chunk per core, each with its own seed (a seed's inputs are the same every run, so a
# new chunk needs a seed not in the ledger: `python -m bench.fuzz --table LEDGER` lists
# them). A chunk stopped with SIGTERM keeps the counts of its last checkpoint; SIGSTOP and
# SIGCONT pause it (the hang timeout counts CPU time). Example, two cores:
#   nohup bench/fuzz_campaign.sh /tmp/fuzz-asan 401 ndjson:500000 > a.log 2>&1 &
#   nohup bench/fuzz_campaign.sh /tmp/fuzz-asan 402 ndjson:500000 > b.log 2>&1 &
# (start the second once the first has built TREE).
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,20p' "$0"; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=$1 SEED=$2
shift 2
LEDGER=${LEDGER:-$ROOT/bench/fuzz_campaign.json}
FINDINGS=${FINDINGS:-$TREE/fuzz-findings}
export RASTERFAST_DATA="${RASTERFAST_DATA:-$(cd "$ROOT/.." && pwd)/shared/data/quickdraw}"
ASAN_LIB=$(gcc -print-file-name=libasan.so)
STDCXX_LIB=$(gcc -print-file-name=libstdc++.so.6)
test -f "$ASAN_LIB" || { echo "libasan not found (gcc -print-file-name=libasan.so)"; exit 1; }

if [ ! -d "$TREE" ]; then
    git clone -q "$ROOT" "$TREE"
    flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    (cd "$TREE" && CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
        python setup.py -q build_ext --inplace --force -j "$(nproc)")
fi
cd "$TREE"
echo "tree $TREE at $(git log --oneline -1)"
# libstdc++ after libasan: see .ci/sanitize. malloc_context_size=0: no stack kept per
# allocation (a report still names the faulting access), which the campaign's rates assume.
export LD_PRELOAD="$ASAN_LIB:$STDCXX_LIB"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:malloc_context_size=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for spec in "$@"; do
    target=${spec%%:*} inputs=${spec##*:}
    echo "== $(date -u +%H:%M:%S) $target $inputs inputs, seed $SEED"
    python -m bench.fuzz "$target" --inputs "$inputs" --seed "$SEED" --json "$LEDGER" \
        --findings "$FINDINGS" || status=$?
    echo "== $(date -u +%H:%M:%S) $target exit $status"
done
exit $status
