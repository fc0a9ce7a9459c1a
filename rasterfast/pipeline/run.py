"""``rasterfast.build``: inputs to a finished shard directory, in three Dask stages.

1. ingest (one task per input file): text to the shuffle area (Parquet pieces under
   ``DIR/_shuffle/``), by split and bucket;
2. plan (one task per bucket, key columns only): repeated key_ids, counts per word,
   the ``--per-word`` cut, then the shards of every split, decided on the driver;
3. render (one task per bucket): the planned shards, through ``format.Writer``: each
   shard's drawings as a ``.strokes`` file (the stroke store) and, unless
   ``images=False``, its rendered images. The shuffle area is removed at the end.

Every stage is a list of ``dask.delayed`` tasks computed on the threaded or
process scheduler of this machine, or on a ``distributed`` cluster; the tasks
share nothing but files in the output directory, so any of them can run
anywhere, and a killed build resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import resource
import time
import json
import math
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from ..errors import check_on_error
from ..readers import find_sources, is_url
from .hashing import MAX_HASH
from .ingest import STOP_NAME, IngestSpec, bucket_pieces, ingest_task, raise_first_failure
from .plan import count_bucket, plan_shards, threshold_bucket, word_thresholds
from .progress import Progress, run_tasks
from .render_stage import RenderSpec, render_bucket

__all__ = ["build", "rerender", "default_bucket_size", "SCHEDULERS"]

SCHEDULERS = ("threads", "processes", "sync")
#: The build's temporary shuffle area inside the output directory (removed when finished).
SHUFFLE = "_shuffle"
#: Bytes of input text per drawing, to estimate counts before reading (Kaggle CSV rows).
_ROW_BYTES = {"simplified": 500, "raw": 4200}
_COMPRESSION_RATIO = {None: 1.0, "gzip": 3.5, "zstd": 4.0}
#: Shuffle-area bytes a render task holds per bucket: the default number of drawings per
#: bucket is this over half the input text per drawing (~268k simplified, ~32k raw).
_BUCKET_BYTES = 64 << 20
#: The most buckets (2**12): each is a plan and a render task.
_MAX_BUCKET_BITS = 12


def default_bucket_size(kind: str) -> int:
    """Drawings per bucket by default for ``kind`` input (see ``build(bucket_size=...)``)."""
    return max(1, _BUCKET_BYTES // (_ROW_BYTES[kind] // 2))


def _input_bytes(src) -> int:
    return int(src.stored_bytes() * _COMPRESSION_RATIO.get(src.compression, 3.5))


def _estimate(sources, kind: str, image_bytes: int) -> tuple[int, int]:
    """(estimated drawings, estimated bytes the build writes at its peak)."""
    text = sum(_input_bytes(s) for s in sources)
    n = max(1, text // _ROW_BYTES[kind])
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
    if scheduler not in SCHEDULERS and not out.is_absolute():
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

    CPU is this process's (threads included) plus its finished child processes'; the
    workers of a distributed cluster are not counted (``cpu_s`` is then None).
    """

    def __init__(self, counted: bool = True):
        self.start = self.mark = time.perf_counter()
        self.cpu0 = self._cpu()
        self.counted = counted
        self.stages: dict = {}

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
        cpu = self._cpu() - self.cpu0 if self.counted else None
        return {"wall_s": round(wall, 3), "stages_s": self.stages, "drawings": drawings,
                "bytes_written": written,
                "cpu_s": None if cpu is None else round(cpu, 3)}


def _client(scheduler: str):
    if scheduler in SCHEDULERS:
        return None
    from distributed import Client

    return Client(scheduler)


@_nothing_left_on_failure
def build(inputs, out, recipe="gray", *, size: int | None = None, shard_size: int = 8192,
          val_fraction: float = 0.05, seed: int = 0, words=None, per_word: int | None = None,
          recognized_only: bool = False, on_error: str = "raise", scheduler: str = "threads",
          workers: int | None = None, progress: bool = True, check_space: bool = True,
          entropy: bool = True, images: bool = True, bucket_size: int | None = None,
          stream=None):
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
        Most drawings per shard (shards of a bucket are near-equal).
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
    scheduler : {"threads", "processes"} or str
        Dask's local schedulers, or the address of a ``distributed`` scheduler.
    workers : int, optional
        Workers of the local scheduler (default: all cores).
    progress : bool
        Print progress to ``stream`` (stderr): a bar on a terminal, log lines otherwise.
    entropy : bool
        Compute each image's sketch entropy into the metadata (NaN otherwise, and
        always NaN without images).
    bucket_size : int, optional
        Drawings per bucket, the unit of the shuffle and of the plan and render tasks
        (a render task holds one bucket's drawings). The number of buckets is the power
        of two that brings the estimated drawings (from the input sizes) to at most this
        per bucket, at most 4096. Default: about 64 MB of drawings a bucket (268k
        simplified, 32k raw: :func:`default_bucket_size`). Shards never straddle
        buckets, so this (with the input sizes, never the workers) shapes the shards.
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
    from dask import delayed

    from ..recipe import Recipe

    check_on_error(on_error)
    for name, v, lo in (("shard_size", shard_size, 1), ("seed", seed, 0),
                        ("bucket_size", 1 if bucket_size is None else bucket_size, 1)):
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
    n_est, need = _estimate(sources, kind, image_bytes)
    if (out / "manifest.json").exists():
        raise FileExistsError(f"{out} is a finished build (it has manifest.json); "
                              "choose another directory or remove it")
    _check_writable(out)
    if check_space:
        _check_space(out, need, n_est, image_bytes)
    rows_per_bucket = bucket_size or default_bucket_size(kind)
    bucket_bits = min(_MAX_BUCKET_BITS,
                      max(0, math.ceil(math.log2(max(1, n_est / rows_per_bucket)))))
    store = out / SHUFFLE
    spec = IngestSpec(store=str(store), geometry="raw" if kind == "raw" else "simplified",
                      seed=seed, val_fraction=val_fraction, bucket_bits=bucket_bits,
                      words=words, recognized_only=recognized_only, on_error=on_error)
    _claim_store(store, spec, [s.name for s in sources])
    client = _client(scheduler)
    clock = _Clock(counted=client is None)
    try:
        (store / STOP_NAME).unlink(missing_ok=True)      # left by a failed run, resumed
        tasks = [delayed(ingest_task, pure=False)(s, i, spec) for i, s in enumerate(sources)]
        ingested = run_tasks(tasks, scheduler=scheduler, workers=workers, client=client,
                             progress=Progress("ingest", len(tasks), lambda r: r.read,
                                               stream=stream, enabled=progress))
        raise_first_failure(ingested)
        _refuse_empty(ingested)
        clock.stage("ingest")
        return _plan_and_render(ingested, spec, recipe, out, words, per_word, shard_size, seed,
                                scheduler, workers, client, progress, stream, entropy, images,
                                clock)
    finally:
        if client is not None:
            client.close()


def rerender(build_dir, out, recipe, *, size: int | None = None, scheduler: str = "threads",
             workers: int | None = None, progress: bool = True, entropy: bool = True,
             stream=None):
    """Render a finished build again, at another recipe or size, from its stroke store.

    The inputs are not read again: ``out`` gets the same drawings, splits, shards, order,
    labels and metadata as ``build_dir`` (drawing ``(split, shard, row)`` is the same in
    both), rendered from the ``.strokes`` files. ``out`` holds images only; the stroke
    store stays in ``build_dir``.

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
    from dask import delayed

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
            tasks.append(delayed(rerender_shards, pure=False)(
                writer, recipe.get_config(), os.path.abspath(source.path), split,
                entries[i:i + per_task], source.stroke_kind, entropy))
    client = _client(scheduler)
    clock = _Clock(counted=client is None)
    try:
        run_tasks(tasks, scheduler=scheduler, workers=workers, client=client,
                  progress=Progress("render", len(tasks), lambda n: n, stream=stream,
                                    enabled=progress))
    finally:
        if client is not None:
            client.close()
    clock.stage("render")
    extra = {k: v for k, v in (old.extra or {}).items() if k != "timing"}
    extra["rendered_from"] = os.path.abspath(source.path)
    return writer.finish(inputs=old.inputs, rejects=old.rejects, extra=extra,
                         expected={s: len(old.shards(s)) for s in old.splits},
                         timing=clock.report)


def _claim_store(store: Path, spec: IngestSpec, names: list[str]) -> None:
    """Record the ingest configuration; refuse to mix with another one."""
    # "layout" versions the shuffle area: an unfinished build of another layout is refused
    # (2: one file per input flush, a row group per split and bucket)
    config = {"layout": 2, "spec": {k: (list(v) if isinstance(v, tuple) else v)
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


def _plan_and_render(ingested, spec, recipe, out, words, per_word, shard_size, seed, scheduler,
                     workers, client, progress, stream, entropy, images, clock):
    from dask import delayed

    from ..format import Writer

    def prog(label, n, count):
        return Progress(label, n, count, stream=stream, enabled=progress)

    store = Path(spec.store)
    channels = len(recipe.channels)
    # 2. plan
    index = bucket_pieces(store, ingested)

    def groups_of(bucket, splits=("train", "val")):
        return {s: index.get((s, bucket), []) for s in splits}

    buckets = sorted({b for (split, b) in index if split in ("train", "val")})
    tasks = [delayed(count_bucket, pure=False)(groups_of(b), b) for b in buckets]
    counted = run_tasks(tasks, scheduler=scheduler, workers=workers, client=client,
                        progress=prog("plan", len(tasks), lambda r: sum(r.counts.values())))
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
    if per_word is not None:
        cut, _short = word_thresholds(counted, per_word)
        by_bucket: dict = {}
        for w, (b, k) in cut.items():
            by_bucket.setdefault(b, {})[w] = k
        tasks = [delayed(threshold_bucket, pure=False)(groups_of(b), b, ks)
                 for b, ks in sorted(by_bucket.items())]
        for got in run_tasks(tasks, scheduler=scheduler, workers=workers, client=client,
                             progress=prog("cut", len(tasks), lambda r: 0)):
            for w, (thr, per_split) in got.items():
                thresholds[w] = thr
                cut_counts[w] = per_split
    plans = {}
    for split in ("train", "val"):
        per_bucket = {}
        for bc in counted:
            n = 0
            for (s, w), c in bc.counts.items():
                if s != split:
                    continue
                if w in cut:
                    b_cut = cut[w][0]
                    n += c if bc.bucket < b_cut else cut_counts[w][split] if bc.bucket == b_cut else 0
                else:
                    n += c
            per_bucket[bc.bucket] = n
        plans[split] = plan_shards(split, per_bucket, shard_size)
    plans["test"] = plan_shards("test", {0: sum(test_count.counts.values())}, shard_size)
    clock.stage("plan")
    # 3. render
    writer = Writer(out, recipe, list(words), channels=channels, size=recipe.size, seed=seed,
                    parts=("images", "strokes") if images else ("strokes",),
                    strokes={"kind": spec.geometry, "times": spec.geometry == "raw"})
    rspec = RenderSpec(store=str(store), recipe=recipe.get_config(), words=tuple(words),
                       writer=writer, thresholds={w: t for w, t in thresholds.items()
                                                  if t != int(MAX_HASH)}, entropy=entropy,
                       images=images)
    tasks = [delayed(render_bucket, pure=False)(rspec, split, b, first, sizes,
                                                index.get((split, b), []))
             for split, plan in plans.items() for b, first, sizes in plan.buckets]
    rendered = run_tasks(tasks, scheduler=scheduler, workers=workers, client=client,
                         progress=prog("render", len(tasks), lambda r: r.drawings))
    clock.stage("render")
    # counters per input: read = written + rejected + filtered + duplicate
    written, filtered, duplicates = Counter(), Counter(), Counter()
    for r in rendered:
        written.update(r.written)
        filtered.update(r.filtered)
        duplicates.update(r.duplicates)
    for bc in counted + [test_count]:
        duplicates.update(bc.duplicates)
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
