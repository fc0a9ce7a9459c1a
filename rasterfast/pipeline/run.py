"""``rasterfast.build``: inputs to a finished shard directory, in three Dask stages.

1. ingest (one task per input file): text to the shuffle area (Parquet pieces under
   ``DIR/_shuffle/``), by split and bucket;
2. plan (one task per bucket, key columns only): repeated key_ids, counts per word,
   the ``--per-word`` cut, then the shards of every split (ranges of its hash order),
   decided on the driver;
3. render (one task per run of consecutive shards, at most ``task_size`` drawings): the
   planned shards, through ``format.Writer``: each shard's drawings as a ``.strokes`` file
   (the stroke store) and, unless ``images=False``, its rendered images. The shuffle area
   is removed at the end.

Every stage is a list of ``dask.delayed`` tasks computed by a ``distributed.LocalCluster``
of worker processes (the default for builds big enough to repay its start), Dask's
threaded or process scheduler, or a ``distributed`` cluster; the tasks share nothing but
files in the output directory and return small values (counts and file names, never
drawings), so any of them can run anywhere, and a killed build resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import multiprocessing
import os
import re
import resource
import shutil
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import check_on_error
from ..readers import find_sources, is_url
from .hashing import MAX_HASH
from .ingest import STOP_NAME, IngestSpec, bucket_pieces, ingest_task, raise_first_failure
from .plan import count_bucket, cut_losses, plan_shards, threshold_bucket, word_thresholds
from .progress import Progress, run_tasks
from .render_stage import RenderSpec, render_unit

__all__ = ["build", "rerender", "default_bucket_size", "default_task_size", "SCHEDULERS"]

#: Dask's local schedulers (``build`` and ``rerender`` also take "auto", "local" and the
#: address of a ``distributed`` scheduler).
SCHEDULERS = ("threads", "processes", "sync")
#: The schedulers that run on this machine (a LocalCluster's workers share its directory).
_ON_THIS_MACHINE = (*SCHEDULERS, "auto", "local")
#: ``scheduler="auto"`` starts a LocalCluster for builds of at least this many drawings
#: (estimated from the input sizes) when more than one worker is asked for: its worker
#: processes take ~1.5 s to start on a loaded 2-core machine, what the GIL-bound threads
#: lose on about this many drawings; smaller builds run on threads.
AUTO_CLUSTER_DRAWINGS = 50_000
#: The build's temporary shuffle area inside the output directory (removed when finished).
SHUFFLE = "_shuffle"
#: Bytes of input text per drawing, to estimate counts before reading (Kaggle CSV rows).
_ROW_BYTES = {"simplified": 500, "raw": 4200}
_COMPRESSION_RATIO = {None: 1.0, "gzip": 3.5, "zstd": 4.0}
#: Input text a render task's drawings come from, at most, by default: ~67k simplified
#: drawings (~20 MB of strokes in memory), ~8k raw (see ``default_task_size``).
_TASK_BYTES = 32 << 20
#: Buckets hold a quarter of a task's drawings at most (a render task reads, beyond its
#: own drawings, the parts of the two buckets at its ends that are not its: ~1.25x its
#: drawings read), and a build has 16 of them at least, where that leaves >= 1024 a
#: bucket. Not more: a bucket is a row group of every input's flushes, and a plan task
#: reads one from every input file (64 buckets of 40 small inputs made the plan a quarter
#: of a 60k build's CPU).
_BUCKETS_PER_TASK = 4
_MIN_BUCKETS = 16
_MIN_BUCKET_ROWS = 1024
#: Fewer buckets where inputs are small: a row group costs ~1 ms to write (measured: 13
#: nested columns, zstd), what ~30 raw or ~100 simplified drawings cost to ingest, so an
#: input flush's row groups should hold ~1000 drawings each.
_MIN_GROUP_ROWS = 1000
#: The most buckets (2**12): each is a plan task, and a row group in every ingest flush.
_MAX_BUCKET_BITS = 12


def default_task_size(kind: str) -> int:
    """Most drawings a render task writes, by default, for ``kind`` input.

    See ``build(task_size=...)``: ~67k simplified, ~8k raw.
    """
    return max(1, _TASK_BYTES // _ROW_BYTES[kind])


def default_bucket_size(kind: str, n_est: int = 0, flush_rows: int | None = None) -> int:
    """Drawings per bucket by default for ``kind`` input and about ``n_est`` drawings.

    See ``build(bucket_size=...)``: at most a quarter of :func:`default_task_size` (16k
    simplified, 2k raw), fewer for small builds, so that they have 16 buckets (never
    under 1024 drawings a bucket); but more where an input flush holds ``flush_rows``
    drawings (typically), so that its row groups hold ~1000 each (many small inputs).
    """
    most = default_task_size(kind) // _BUCKETS_PER_TASK
    size = min(most, max(_MIN_BUCKET_ROWS, n_est // _MIN_BUCKETS))
    if flush_rows:
        size = max(size, n_est * _MIN_GROUP_ROWS // max(1, flush_rows))
    return max(1, size)


def _input_bytes(src) -> int:
    return int(src.stored_bytes() * _COMPRESSION_RATIO.get(src.compression, 3.5))


def _row_bytes(sources, kind: str) -> int:
    """Bytes of text per drawing, measured on the first 256 KB of the first text input.

    Raw input drawn simplified has ~9x the rows' bytes of the recipe's kind; without a
    text input, ``_ROW_BYTES[kind]``.
    """
    for src in sources[:1]:
        if src.format == "bin":
            break
        try:
            with src.open(lines=True) as stream:
                head = stream.read(256 << 10)
        except Exception:          # an estimate only: the build reports real errors
            break
        lines = head.count(b"\n") - 1          # the last may be cut; a CSV header
        if lines >= 8:
            return max(1, head.rfind(b"\n") // (lines + 1))
    return _ROW_BYTES[kind]


def _estimate(sources, row_bytes: int, image_bytes: int) -> tuple[int, int]:
    """(estimated drawings, estimated bytes the build writes at its peak)."""
    text = sum(_input_bytes(s) for s in sources)
    n = max(1, text // row_bytes)
    shuffle = text // 4                   # Parquet + zstd of the parsed strokes
    strokes = text // 2                   # the .strokes files: flat arrays, no compression
    return n, n * image_bytes + shuffle + strokes


def _check_space(out: Path, need: int, n: int, image_bytes: int) -> None:
    probe = out if out.exists() else out.parent
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if need > free:
        raise OSError(f"not enough disk space at {probe}: this build needs about "
                      f"{need / 1e9:,.1f} GB ({n:,} drawings estimated from the input sizes x "
                      f"{image_bytes:,} bytes per image, plus the stroke store and the "
                      f"shuffle area), "
                      f"{free / 1e9:,.1f} GB are free")


def _check_writable(out: Path) -> None:
    """Create ``out`` now, so that one that cannot be written fails before any work."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"{out}: the output directory cannot be created ({err.strerror or err})"
                      ) from err
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"{out}: the output directory cannot be written (permission "
                              "denied)")


def _refuse_empty(ingested) -> None:
    """Name the inputs when none held a row: "no drawings, 0 read" alone does not say which."""
    if ingested and all(r.read == 0 for r in ingested):
        names = [r.name for r in ingested]
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        raise ValueError(f"no drawings to write: every input is empty (no rows): "
                         f"{', '.join(names[:5])}{more}")


def _has_shards(out: Path) -> bool:
    """True when a shard file (``<split>/NNNNNN.*``) is in ``out``: the build got that far."""
    return any(re.fullmatch(r"[0-9]{6}\..+", f.name)
               for d in out.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))
               and d.name != SHUFFLE for f in d.iterdir())


def _nothing_left_on_failure(fn):
    """Wrap ``build``: a build that fails before its first shard removes what it created.

    Otherwise its scratch files hold the options of the failed run, and a retry with
    other ones (``on_error="warn"`` after a bad row) is refused as "another build"
    (issue 13). A build that finished shards keeps everything, to resume; so does one
    that is interrupted (KeyboardInterrupt is no Exception), as a killed one does.
    """
    @functools.wraps(fn)
    def wrapper(inputs, out, *args, **kwargs):
        _refuse_url_out(out)            # before Path() folds "s3://b" into "s3:/b"
        out = Path(out)
        before = set(out.iterdir()) if out.is_dir() else None
        try:
            return fn(inputs, out, *args, **kwargs)
        except Exception:
            if out.is_dir() and not _has_shards(out):
                if before is None:
                    shutil.rmtree(out, ignore_errors=True)
                else:
                    for p in set(out.iterdir()) - before:
                        if p.is_dir() and not p.is_symlink():
                            shutil.rmtree(p, ignore_errors=True)
                        else:
                            p.unlink(missing_ok=True)
            raise
    return wrapper


def _refuse_url_out(out) -> None:
    """Refuse an fsspec URL as the output directory: shards are memory-mapped files."""
    if is_url(os.fspath(out)):
        raise ValueError(f"{os.fspath(out)}: the output directory must be a path on a "
                         "filesystem every worker mounts (local, or shared: NFS, Lustre, a "
                         "mounted bucket), not a URL; inputs may be URLs, the output may not")


def _refuse_relative_out(out: Path, scheduler: str) -> None:
    """Refuse a relative output directory with a ``distributed`` scheduler's address.

    The workers of a remote cluster resolve a relative path against their own working
    directories, so each would write its part of the build somewhere else.
    """
    if scheduler not in _ON_THIS_MACHINE and not out.is_absolute():
        raise ValueError(f"{out}: with a distributed scheduler ({scheduler}) the output "
                         "directory must be an absolute path that every worker sees as the "
                         f"same directory (a shared filesystem), such as {Path.cwd() / out} "
                         "if that is mounted at the same place on every worker")


def _for_workers(sources, scheduler: str) -> list:
    """Local inputs opened by absolute path on a cluster's workers (names stay as given)."""
    if scheduler in SCHEDULERS:
        return sources
    return [s if s.is_url else dataclasses.replace(s, path=os.path.abspath(s.path))
            for s in sources]


class _Clock:
    """Wall and CPU seconds of a build's stages, for the manifest's ``extra["timing"]``.

    ``cpu_s`` is this process's CPU (threads included) plus its finished child
    processes', and with a distributed client (the LocalCluster too) the tasks' CPU
    seconds, which their workers measure. Per stage: the tasks, their CPU seconds, and
    the peak RSS of every worker process that ran one.
    """

    def __init__(self, counted: bool = True):
        self.start = self.mark = time.perf_counter()
        self.cpu0 = self._cpu()
        self.counted = counted      # False: the tasks run in other processes
        self.stages: dict = {}
        self.task_cpu: dict = {}
        self.tasks: dict = {}
        self.peak_rss: dict = {}
        self.startup = 0.0

    def started(self, counted: bool) -> None:
        """The workers are ready (a cluster started): stages are timed from now on.

        The tasks' CPU counts in ``cpu_s`` unless they run in this process (``counted``).
        """
        self.counted = counted
        now = time.perf_counter()
        self.startup = round(now - self.start, 3)
        self.mark = now

    def measured(self, stage: str, done: list) -> list:
        """Record the measured tasks ``done`` of ``stage``; their results."""
        self.tasks[stage] = self.tasks.get(stage, 0) + len(done)
        self.task_cpu[stage] = self.task_cpu.get(stage, 0.0) + sum(m.cpu_s for m in done)
        for m in done:
            self.peak_rss[m.worker] = max(self.peak_rss.get(m.worker, 0.0), m.peak_rss_mb)
        return [m.result for m in done]

    @staticmethod
    def _cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = round(now - self.mark, 3)
        self.mark = now

    def report(self, manifest_splits: dict) -> dict:
        drawings = sum(sh.count for shards in manifest_splits.values() for sh in shards)
        written = sum(fe.size for shards in manifest_splits.values() for sh in shards
                      for fe in sh.files)
        wall = time.perf_counter() - self.start
        cpu = self._cpu() - self.cpu0
        if not self.counted:
            cpu += sum(self.task_cpu.values())
        return {"wall_s": round(wall, 3), "startup_s": self.startup, "stages_s": self.stages,
                "drawings": drawings,
                "bytes_written": written, "cpu_s": round(cpu, 3),
                "tasks": self.tasks,
                "tasks_cpu_s": {k: round(v, 3) for k, v in self.task_cpu.items()},
                "workers_peak_rss_mb": sorted((round(v, 1) for v in self.peak_rss.values()),
                                              reverse=True)}


def _run_stage(clock: _Clock, stage: str, fn, arglists: list, count, *, label=None,
               scheduler, workers, client, progress: bool, stream) -> list:
    """Compute ``fn(*args)`` for every ``args`` of ``arglists`` as measured tasks.

    Returns their results, in order. ``count(result)`` is the drawings a result reports
    (for the progress line).
    """
    from dask import delayed

    tasks = [delayed(_measured, pure=False)(fn, *args) for args in arglists]
    done = run_tasks(tasks, scheduler=scheduler, workers=workers, client=client,
                     progress=Progress(label or stage, len(tasks), lambda m: count(m.result),
                                       stream=stream, enabled=progress))
    return clock.measured(stage, done)


def _wants_cluster(scheduler: str, workers: int | None, n_est: int) -> bool:
    if scheduler == "local":
        return True
    return (scheduler == "auto" and (workers or os.cpu_count() or 1) > 1
            and n_est >= AUTO_CLUSTER_DRAWINGS)


_GUARD = ("rasterfast.build starts worker processes (scheduler 'local', the default for big "
          "builds), which import the script that called it again: put the script's code "
          "under `if __name__ == \"__main__\":` (as for multiprocessing), or pass "
          "scheduler=\"threads\"")


#: glibc malloc settings of a LocalCluster's worker processes. distributed starts them with
#: MALLOC_TRIM_THRESHOLD_=65536, so that freed memory goes back to the system at once; a
#: build's tasks free and allocate tens of MB per block, and every page given back was
#: faulted in and zeroed again (clear_page was the top kernel symbol under perf). Measured
#: on 2 cores, 1M drawings to gray 64, 2 workers, 3 interleaved runs: 20.4-21.0 s with
#: distributed's setting, 18.4-19.9 s with these (ingest 5.6-5.9 -> 4.4-4.5 s); peak RSS a
#: worker 395-426 -> 419-482 MB. Blocks under 256 MiB come from the heap, and up to 512 MiB
#: of freed heap stays with the process, which does nothing but the build's tasks.
WORKER_MALLOC = {"MALLOC_TRIM_THRESHOLD_": 512 << 20, "MALLOC_MMAP_THRESHOLD_": 256 << 20,
                 "MALLOC_TOP_PAD_": 64 << 20}


def _worker_environ() -> dict:
    """Distributed's environment for new worker processes, with :data:`WORKER_MALLOC`."""
    import dask

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    env.update(WORKER_MALLOC)
    return env


def _client(scheduler: str, workers: int | None = None, n_est: int = 0, stream=None,
            announce: bool = False):
    """``(client, cluster)`` for ``scheduler``.

    A new LocalCluster of ``workers`` processes of one thread ("local", or "auto" for a
    big build), a client of the scheduler at an address, or ``(None, None)`` for Dask's
    local schedulers. The dashboard's address is printed to ``stream`` when ``announce``
    and there is one.
    """
    if scheduler in SCHEDULERS or (scheduler == "auto" and not _wants_cluster(
            scheduler, workers, n_est)):
        return None, None
    from distributed import Client

    if scheduler not in ("auto", "local"):
        client, cluster = Client(scheduler), None
    else:
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            raise RuntimeError(_GUARD)     # a worker importing an unguarded script
        import dask
        from distributed import LocalCluster

        try:
            import bokeh  # noqa: F401   (the dashboard needs it)
            dashboard = "127.0.0.1:0"
        except ImportError:
            dashboard = None
        try:
            # threads_per_worker=1: the ingest and plan stages hold the GIL, so processes
            # are the only way to use every core; the kernels are single-threaded.
            with dask.config.set({"distributed.nanny.pre-spawn-environ": _worker_environ()}):
                cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                       threads_per_worker=1, processes=True,
                                       dashboard_address=dashboard,
                                       silence_logs=logging.ERROR)
        except Exception as err:
            raise RuntimeError(f"{_GUARD} ({type(err).__name__}: {err})") from err
        client = Client(cluster)
    if announce:
        link = client.dashboard_link if "dashboard" in client.scheduler_info().get(
            "services", {}) else None
        if link:
            stream.write(f"dashboard: {link}\n")
            stream.flush()
    return client, cluster


def _close(client, cluster) -> None:
    """Close a client and the LocalCluster it made (its worker processes end with it)."""
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def _cores(client, workers: int | None) -> int:
    """Workers that run tasks at once: the client's threads, or the local ones."""
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return workers or os.cpu_count() or 1


@dataclass
class _Measured:
    """A task's result, with its thread's CPU seconds and its process's peak RSS."""

    result: object
    cpu_s: float
    worker: str
    peak_rss_mb: float


def _measured(fn, *args):
    """Run ``fn(*args)`` as a task, measured.

    The CPU of this thread only: the tasks are single-threaded, and other tasks may
    share the process.
    """
    t0 = time.thread_time()
    result = fn(*args)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return _Measured(result, time.thread_time() - t0, f"{socket.gethostname()}:{os.getpid()}",
                     rss)


@_nothing_left_on_failure
def build(inputs, out, recipe="gray", *, size: int | None = None, shard_size: int = 8192,
          val_fraction: float = 0.05, seed: int = 0, words=None, per_word: int | None = None,
          recognized_only: bool = False, on_error: str = "raise", scheduler: str = "auto",
          workers: int | None = None, progress: bool = True, check_space: bool = True,
          entropy: bool = True, images: bool = True, bucket_size: int | None = None,
          task_size: int | None = None, stream=None):
    """Build memory-mapped shards (images and the stroke store) from Quick, Draw! inputs.

    Parameters
    ----------
    inputs : path, glob or list of them
        Anything :func:`rasterfast.read_drawings` takes. Kaggle test files (no
        ``word`` column) become the ``test`` split, in their original order.
    out : path
        The shard directory (new, or an unfinished build of the same
        configuration, which is resumed). A build that fails before it finished
        a shard removes what it created there, so that it can be run again with
        other options.
    recipe : str or Recipe
        A preset name (see ``Recipe.presets()``) or a :class:`~rasterfast.Recipe`.
    size : int, optional
        Image size for a preset name (the preset's default otherwise).
    shard_size : int
        Most drawings per shard. A split's drawings, in hash order, are cut into
        near-equal shards (sizes differ by at most one): ``ceil(n / shard_size)`` of them.
    val_fraction : float
        Share of the drawings in the ``val`` split, chosen by a hash of the
        key_id and ``seed``: the same drawings for every recipe and size.
    seed : int
        Decides the order of drawings (by a keyed hash of the key_id) and the split.
    words : list of str or path, optional
        The word list (label = index); it also filters. Default: the sorted
        words found in the inputs.
    per_word : int, optional
        Keep, per word, the ``per_word`` drawings with the smallest order hash
        (a stable random sample).
    recognized_only : bool
        Drop drawings that the game did not recognise.
    on_error : {"raise", "warn", "skip"}
        What a bad drawing does (see :func:`rasterfast.read_drawings`).
    scheduler : {"auto", "local", "threads", "processes", "sync"} or str
        Where the tasks run. "local": a ``distributed.LocalCluster`` of ``workers``
        processes of one thread, started for this build and closed after it (a
        script calling ``build`` must then guard its code with ``if __name__ ==
        "__main__":``, as for multiprocessing). "auto" (default): "local" for a build
        of about 50,000 drawings or more (``AUTO_CLUSTER_DRAWINGS``, from the input
        sizes) with more than one worker, else "threads": the cluster takes ~1.5 s to
        start. "threads", "processes", "sync": Dask's local schedulers (threads hold
        the GIL in ingest and plan). Anything else: the address of a ``distributed``
        scheduler (``tcp://host:8786``), whose workers must see ``out`` and the
        inputs at the same paths. The dashboard's address is printed when there is
        one (a LocalCluster has one when bokeh is installed).
    workers : int, optional
        Cores used: the LocalCluster's processes or the local scheduler's threads or
        processes (default: all cores). Ignored for a scheduler address.
    progress : bool
        Print progress to ``stream`` (stderr): a bar on a terminal, log lines otherwise.
    entropy : bool
        Compute each image's sketch entropy into the metadata (NaN otherwise, and
        always NaN without images).
    bucket_size : int, optional
        Drawings per bucket, the unit of the shuffle (a row group of every ingest
        flush) and of the plan tasks. The number of buckets is the power of two that
        brings the estimated drawings (from the input sizes) to at most this per
        bucket, at most 4096. Default: :func:`default_bucket_size` (a quarter of the
        default task size at most: 16k simplified, 2k raw; 16 buckets for smaller
        builds; fewer, bigger ones where inputs are small, so that a row group holds ~1000
        drawings). The shards do not depend on it: it only trades the shuffle's row
        groups against what a render task reads beyond its own drawings.
    task_size : int, optional
        Most drawings a render task writes: it renders a run of consecutive whole
        shards (one at least: a shard larger than this is one task). Default: the
        drawings spread over four tasks per worker, rounded down to whole shards, at
        most :func:`default_task_size` (~67k simplified, ~8k raw). A render task holds
        in memory the buckets it overlaps (decoded and sorted; the last one is kept for
        the next task of its process), its drawings as a StrokeBatch, and a 16 MB
        image buffer; an ingest task holds one flush of its input (min(rows, 200k)
        drawings). Measured, 64 px gray, peak RSS a process (~250 MB of it the
        libraries and the kept heap; ``bench/bench_build_memory.py``): 1M drawings in
        25k-row inputs 338 MB; 4M in 100k-row inputs 486 MB (the ingest's flushes); 4M
        in 25k-row inputs 489 MB (the render's 125k-drawing buckets, see
        ``bucket_size``; 412 MB with 31k-drawing buckets, for 31% more CPU). So memory
        grows with the input files (up to 200k rows) and, where inputs are small, with
        the buckets; pass a smaller ``bucket_size`` to bound it at the cost of smaller
        row groups.
        The shards do not depend on it nor on the workers.
    images : bool
        Render and store the images. False: only the stroke store (every shard's
        ``.strokes`` file, labels and metadata), which :class:`rasterfast.StrokeDataset`
        renders on the fly at any recipe and size the stored drawings allow, and
        ``rasterfast render`` turns into images later.

    Returns
    -------
    rasterfast.format.Manifest
        What ``manifest.json`` now says.
    """
    from ..recipe import Recipe

    check_on_error(on_error)
    for name, v, lo in (("shard_size", shard_size, 1), ("seed", seed, 0),
                        ("bucket_size", 1 if bucket_size is None else bucket_size, 1),
                        ("task_size", 1 if task_size is None else task_size, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    if per_word is not None and (not isinstance(per_word, int) or per_word < 1):
        raise ValueError(f"per_word must be a positive integer, got {per_word!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if isinstance(recipe, str):
        recipe = Recipe.preset(recipe, **({"size": size} if size is not None else {}))
    elif size is not None and size != recipe.size:
        raise ValueError(f"size={size} conflicts with the recipe's size {recipe.size}")
    if isinstance(words, (str, os.PathLike)):
        words = [w.strip() for w in Path(words).read_text().splitlines() if w.strip()]
    if words is not None:
        words = tuple(words)
        if len(set(words)) != len(words):
            raise ValueError("words has duplicates")
    out = Path(out)
    _refuse_relative_out(out, scheduler)
    stream = stream if stream is not None else sys.stderr
    sources = _for_workers(find_sources(inputs), scheduler)
    kind = recipe.needs
    channels = len(recipe.channels)
    image_bytes = channels * recipe.size * recipe.size if images else 0
    row_bytes = _row_bytes(sources, kind)
    n_est, need = _estimate(sources, row_bytes, image_bytes)
    if (out / "manifest.json").exists():
        raise FileExistsError(f"{out} is a finished build (it has manifest.json); "
                              "choose another directory or remove it")
    _check_writable(out)
    if check_space:
        _check_space(out, need, n_est, image_bytes)
    if getattr(multiprocessing.current_process(), "_inheriting", False) and \
            _wants_cluster(scheduler, workers, n_est):
        raise RuntimeError(_GUARD)    # a spawned worker importing an unguarded script
    # drawings a typical input flush holds (the median input), for the row groups' size
    flush_rows = sorted(min(IngestSpec.flush_rows, max(1, _input_bytes(s) // row_bytes))
                        for s in sources)[len(sources) // 2] if sources else None
    rows_per_bucket = bucket_size or default_bucket_size(kind, n_est, flush_rows)
    bucket_bits = min(_MAX_BUCKET_BITS,
                      max(0, math.ceil(math.log2(max(1, n_est / rows_per_bucket)))))
    store = out / SHUFFLE
    spec = IngestSpec(store=str(store), geometry="raw" if kind == "raw" else "simplified",
                      seed=seed, val_fraction=val_fraction, bucket_bits=bucket_bits,
                      words=words, recognized_only=recognized_only, on_error=on_error)
    _claim_store(store, spec, [s.name for s in sources])
    clock = _Clock()
    client, cluster = _client(scheduler, workers, n_est, stream, announce=progress)
    clock.started(client is None)
    if scheduler in ("auto", "local"):
        scheduler = "threads"               # what runs the tasks when there is no client
    run = functools.partial(_run_stage, clock, scheduler=scheduler, workers=workers,
                            client=client, progress=progress, stream=stream)
    try:
        (store / STOP_NAME).unlink(missing_ok=True)      # left by a failed run, resumed
        ingested = run("ingest", ingest_task, [(s, i, spec) for i, s in enumerate(sources)],
                       lambda r: getattr(r, "read", 0))
        raise_first_failure(ingested)
        _refuse_empty(ingested)
        clock.stage("ingest")
        return _plan_and_render(ingested, spec, recipe, out, words, per_word, shard_size, seed,
                                run, _cores(client, workers), task_size, progress, entropy,
                                images, clock)
    finally:
        _close(client, cluster)


def rerender(build_dir, out, recipe, *, size: int | None = None, scheduler: str = "auto",
             workers: int | None = None, progress: bool = True, entropy: bool = True,
             stream=None):
    """Render a finished build again, at another recipe or size, from its stroke store.

    The inputs are not read again: ``out`` gets the same drawings, splits, shards, order,
    labels and metadata as ``build_dir`` (drawing ``(split, shard, row)`` is the same in
    both), rendered from the ``.strokes`` files. ``out`` holds images only; the stroke
    store stays in ``build_dir``. ``scheduler`` and ``workers`` are those of
    :func:`build` ("auto": a LocalCluster for 50,000 drawings or more).

    Raises
    ------
    ValueError
        ``build_dir`` has no stroke store, or stores drawings the recipe cannot draw
        (e.g. a raw-time recipe on simplified drawings).
    FileExistsError
        ``out`` is a finished shard directory.

    Returns
    -------
    rasterfast.format.Manifest
    """
    from ..format import Reader, Writer
    from ..recipe import Recipe
    from ..store import check_recipe
    from .render_stage import rerender_shards

    _refuse_url_out(out)
    _refuse_relative_out(Path(out), scheduler)
    source = Reader(build_dir)
    if isinstance(recipe, str):
        recipe = Recipe.preset(recipe, **({"size": size} if size is not None else {}))
    elif size is not None and size != recipe.size:
        raise ValueError(f"size={size} conflicts with the recipe's size {recipe.size}")
    if not source.has_strokes:
        raise ValueError(f"{build_dir} has no stroke store (a build of rasterfast < 0.2, or a "
                         "directory written by rasterfast render): build it again from the inputs")
    check_recipe(recipe, source.stroke_kind, source.stroke_times, build_dir)
    out = Path(out)
    if (out / "manifest.json").exists():
        raise FileExistsError(f"{out} is a finished build (it has manifest.json); "
                              "choose another directory or remove it")
    old = source.manifest
    stream = stream if stream is not None else sys.stderr
    writer = Writer(out, recipe, list(old.words), channels=len(recipe.channels),
                    size=recipe.size, seed=old.seed)
    per_task = 8   # shards per task: enough tasks for every worker, few enough to schedule
    tasks = []
    for split in old.splits:
        entries = [(sh.index, sh.count, sh.strokes.name, sh.labels.name, sh.meta.name)
                   for sh in old.shards(split)]
        for i in range(0, len(entries), per_task):
            tasks.append((writer, recipe.get_config(), os.path.abspath(source.path), split,
                          entries[i:i + per_task], source.stroke_kind, entropy))
    clock = _Clock()
    client, cluster = _client(scheduler, workers, sum(old.count(s) for s in old.splits),
                              stream, announce=progress)
    clock.started(client is None)
    try:
        _run_stage(clock, "render", rerender_shards, tasks, lambda n: n,
                   scheduler="threads" if scheduler in ("auto", "local") else scheduler,
                   workers=workers, client=client, progress=progress, stream=stream)
    finally:
        _close(client, cluster)
    clock.stage("render")
    extra = {k: v for k, v in (old.extra or {}).items() if k != "timing"}
    extra["rendered_from"] = os.path.abspath(source.path)
    return writer.finish(inputs=old.inputs, rejects=old.rejects, extra=extra,
                         expected={s: len(old.shards(s)) for s in old.splits},
                         timing=clock.report)


def _claim_store(store: Path, spec: IngestSpec, names: list[str]) -> None:
    """Record the ingest configuration; refuse to mix with another one."""
    # "layout" versions the shuffle area: an unfinished build of another layout is refused
    # (2: one file per input flush, a row group per split and bucket; 3: the same files,
    # but shards are ranges of each split's order, not cut per bucket: the shards that an
    # unfinished layout-2 build wrote are not this plan's; 4: groups files, a complete
    # Parquet file per split and bucket, instead of row groups of one Parquet file)
    config = {"layout": 4, "spec": {k: (list(v) if isinstance(v, tuple) else v)
                                    for k, v in spec.__dict__.items() if k != "store"},
              "inputs": names}
    path = store / "_config.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != config:
            raise ValueError(f"{store.parent} holds an unfinished build of other inputs or "
                             "options; remove it to start over")
        return
    if store.parent.exists() and any(p.name != SHUFFLE for p in store.parent.iterdir()):
        raise FileExistsError(f"{store.parent} is not empty and holds no rasterfast build")
    store.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config))
    tmp.replace(path)


def _plan_and_render(ingested, spec, recipe, out, words, per_word, shard_size, seed, run,
                     cores, task_size, progress, entropy, images, clock):
    from ..format import Writer

    store = Path(spec.store)
    channels = len(recipe.channels)
    # 2. plan
    index = bucket_pieces(store, ingested)

    def groups_of(bucket, splits=("train", "val")):
        return {s: index.get((s, bucket), []) for s in splits}

    buckets = sorted({b for (split, b) in index if split in ("train", "val")})
    counted = run("plan", count_bucket, [(groups_of(b), b) for b in buckets],
                  lambda r: sum(r.counts.values()))
    test_count = count_bucket(groups_of(0, ("test",)), 0, splits=("test",))
    found = {w for bc in counted for (_, w) in bc.counts if w}
    n_read = sum(r.read for r in ingested)
    if not found and not test_count.counts:
        raise ValueError(f"no drawings to write: {n_read:,} read, "
                         f"{sum(r.rejected for r in ingested):,} rejected, "
                         f"{sum(r.filtered for r in ingested):,} filtered out")
    if words is None:
        words = tuple(sorted(found))
    else:
        missing = [w for w in words if w not in found]
        if missing and found:
            raise ValueError(f"{len(missing)} word(s) of the word list are in none of the "
                             f"inputs: {missing[:10]}; fix the list (labels must have drawings)")
    thresholds: dict = {}
    cut: dict = {}
    cut_counts: dict = {}
    cut_inputs: dict = {}
    if per_word is not None:
        cut, _short = word_thresholds(counted, per_word)
        by_bucket: dict = {}
        for w, (b, k) in cut.items():
            by_bucket.setdefault(b, {})[w] = k
        for got in run("plan", threshold_bucket,
                       [(groups_of(b), b, ks) for b, ks in sorted(by_bucket.items())],
                       lambda r: 0, label="cut"):
            for w, (thr, per_split, lost) in got.items():
                thresholds[w] = thr
                cut_counts[w] = per_split
                cut_inputs[w] = lost
    plans = {}
    for split in ("train", "val"):
        per_bucket = {}
        for bc in counted:
            n = 0
            for (s, w), c in bc.counts.items():
                if s != split:
                    continue
                if w not in cut or bc.bucket < cut[w][0]:
                    n += c
                elif bc.bucket == cut[w][0]:
                    n += cut_counts[w][split]
            per_bucket[bc.bucket] = n
        plans[split] = plan_shards(split, per_bucket, shard_size)
    plans["test"] = plan_shards("test", {0: sum(test_count.counts.values())}, shard_size)
    clock.stage("plan")
    # 3. render: runs of whole shards, about four tasks per worker (so that all are busy
    # to the end), at most default_task_size drawings a task (memory)
    total = sum(plan.count for plan in plans.values())
    most = task_size or min(default_task_size(spec.geometry),
                            max(shard_size, total // (4 * cores)))
    writer = Writer(out, recipe, list(words), channels=channels, size=recipe.size, seed=seed,
                    parts=("images", "strokes") if images else ("strokes",),
                    strokes={"kind": spec.geometry, "times": spec.geometry == "raw"})
    rspec = RenderSpec(store=str(store), recipe=recipe.get_config(), words=tuple(words),
                       writer=writer, thresholds={w: t for w, t in thresholds.items()
                                                  if t != int(MAX_HASH)}, entropy=entropy,
                       images=images)
    units = [u for plan in plans.values() for u in plan.units(most)]
    rendered = run("render", render_unit,
                   [(rspec, u, [index.get((u.split, b), []) for b, _ in u.buckets])
                    for u in units], lambda r: r.drawings)
    clock.stage("render")
    # counters per input: read = written + rejected + filtered + duplicate
    # (repeated key_ids and the --per-word cut are counted by the plan, once per bucket)
    written, duplicates = Counter(), Counter()
    for r in rendered:
        written.update(r.written)
    for bc in counted + [test_count]:
        duplicates.update(bc.duplicates)
    filtered = Counter(cut_losses(counted, cut, cut_inputs))
    stats, rejects = [], []
    for res in ingested:
        i = res.index
        entry = {"name": res.name, "split": res.split, "kind": res.kind, "read": res.read,
                 "written": written[i], "rejected": res.rejected,
                 "filtered": res.filtered + filtered[i], "duplicate": duplicates[i]}
        if entry["read"] != entry["written"] + entry["rejected"] + entry["filtered"] + \
                entry["duplicate"]:
            raise RuntimeError(f"counts do not add up for {res.name}: {entry}")
        stats.append(entry)
        rejects.extend(res.rejects)
    if rejects:  # the manifest keeps a summary; every reject is listed here
        import pyarrow as pa

        from .shuffle import write_table_atomic

        write_table_atomic(pa.table({
            "source": [r.source for r in rejects], "record": [int(r.record) for r in rejects],
            "offset": [int(r.offset) for r in rejects], "reason": [r.reason for r in rejects]}),
            out / "rejects.parquet")
    expected = {split: plan.num_shards for split, plan in plans.items() if plan.num_shards}
    extra = {"val_fraction": spec.val_fraction, "per_word": per_word,
             "recognized_only": spec.recognized_only, "shard_size": shard_size,
             "order": "keyed splitmix64 hash of key_id (seed); test split in input order",
             "duplicates_kept": "first occurrence in input order"}
    manifest = writer.finish(inputs=stats, rejects=rejects, extra=extra, expected=expected,
                             timing=clock.report)
    # Only after the commit point: a build killed before it resumes from the shuffle area.
    shutil.rmtree(store, ignore_errors=True)
    return manifest
