#!/usr/bin/env bash
# Issue 12's many-core build figures: `bench/bench_build.py --workers W` (1 worker against
# a LocalCluster of W, same input, same run, dd's write rate beside them) on a machine
# with more cores than this project's 2-core one: a lent device machine (16 cores, Python
# 3.12, no dask there, nothing can be fetched there) or any Linux box.
#
#   bench/device_build.sh --prepare    here: fill .whl/ (ignored by git) with a cp312 wheel
#                                       of this tree and the wheels the device lacks
#   bench/device_build.sh              there: install .whl/ into /tmp/site, run the
#                                       benchmark, write $OUT/RESULTS.md and $OUT/log.txt
#
# With the device tool: run(command="bash bench/device_build.sh", carry=[".whl"],
# timeout_s=600). N (default 6,000,000 drawings) and W (default: every core) are read from
# the environment. At 6M: ~26 GB of shards per build (each removed before the next),
# ~3 GB of input; 1 worker takes ~150-200 s of the ~5 min. Copy the section
# build_<W>workers of $OUT/RESULTS.md into bench/RESULTS.md here.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WHEELS="$ROOT/.whl"
# what bench_build and rasterfast need that the device image lacks (see
# /work/.library/device/KINDS.md): dask and distributed and their own needs, zstandard
MISSING="dask==2026.8.0 distributed==2026.8.0 partd==1.4.2 locket==1.0.0 tblib==3.2.2
         zict==3.0.0 tornado==6.6.1 zstandard==0.25.0"

if [ "${1:-}" = "--prepare" ]; then
    rm -rf "$WHEELS" && mkdir -p "$WHEELS"
    PY312=${PY312:-$(PYENV_VERSION=3.12.1 pyenv which python 2>/dev/null || command -v python3.12)}
    "$PY312" -m pip wheel -q --no-deps -w "$WHEELS" "$ROOT"
    # shellcheck disable=SC2086
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
        -d "$WHEELS" $MISSING
    ls -l "$WHEELS"
    du -sh "$WHEELS"
    exit 0
fi

OUT=${OUT:-$ROOT/device-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
# The checkout has rasterfast's sources but no built kernels, and bench_build puts its
# parent folder first on sys.path: run a copy of bench/ from a folder without rasterfast/,
# so that the package comes from the wheel.
rm -rf /tmp/rfbench && mkdir -p /tmp/rfbench && cp -r "$ROOT/bench" /tmp/rfbench/
cd /tmp/rfbench
{
    date -u
    nproc
    free -g | head -2
    df -h /tmp | tail -1
    python3 -c "import rasterfast, dask, distributed, numpy, pyarrow; print('rasterfast',
        rasterfast.__version__, rasterfast.__file__, 'dask', dask.__version__, 'numpy',
        numpy.__version__, 'pyarrow', pyarrow.__version__)"
    python3 bench/bench_build.py --n "${N:-6000000}" --big 0 --raw 0 --skip-baseline \
        --workers "${W:-$(nproc)}" --work /tmp/rfwork
} 2>&1 | tee "$OUT/log.txt"
cp bench/RESULTS.md "$OUT/RESULTS.md"
