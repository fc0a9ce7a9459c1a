"""StrokeBatch: many drawings as flat columns, the one in-memory form of every kernel.

The layout is that of an Arrow ``list<list<point>>`` column: points of all
drawings end to end in ``x``, ``y`` (and ``t``), strokes delimited by
``stroke_offsets`` into the points, drawings by ``drawing_offsets`` into the
strokes. Kernels read and write these arrays directly; no kernel sees Python
lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import Status, status_error

__all__ = ["StrokeBatch", "KINDS", "COORD_DTYPES", "NO_TIMESTAMP", "ARROW_TYPES", "ranges"]

#: ``"simplified"``: integer coordinates 0-255 (Google's simplified data, Kaggle's
#: ``train_simplified``); ``"raw"``: float coordinates in the drawing's own frame
#: with times in milliseconds.
KINDS = ("simplified", "raw")
COORD_DTYPES = {"simplified": np.dtype(np.int16), "raw": np.dtype(np.float32)}
#: The value of ``timestamp`` when the input does not give one.
NO_TIMESTAMP = np.datetime64("NaT", "us")

_PER_DRAWING = ("key_id", "label", "word", "countrycode", "recognized", "timestamp",
                "source_id", "record")

#: The per-drawing columns of :meth:`StrokeBatch.to_arrow`, in order, with their Arrow
#: types: the attributes of the same names, but ``source`` (the input's name) for
#: ``source_id``. The shard metadata (``meta.parquet``) and the build's shuffle area are
#: both made from these columns.
ARROW_TYPES = {
    "key_id": pa.uint64(),
    "label": pa.int16(),
    "word": pa.string(),
    "countrycode": pa.string(),
    "recognized": pa.int8(),
    "timestamp": pa.timestamp("us"),
    "source": pa.string(),
    "record": pa.int64(),
}


def _empty(dtype, n=0):
    return np.zeros(n, dtype=dtype)


@dataclass(eq=False, repr=False)
class StrokeBatch:
    """Drawings as flat columns (N drawings, S strokes, P points).

    Attributes
    ----------
    kind : {"simplified", "raw"}
        What the coordinates are: ``int16`` 0-255, or ``float32`` in the raw frame.
    x, y : ndarray, shape (P,)
        Point coordinates, ``int16`` (simplified) or ``float32`` (raw).
    t : ndarray, shape (P,) or (0,)
        ``int32`` milliseconds for raw drawings (and simplified ones made from
        raw by :func:`rasterfast.simplify`), empty when the input has no times.
    stroke_offsets : ndarray of int64, shape (S + 1,)
        Stroke ``j`` is points ``stroke_offsets[j]:stroke_offsets[j + 1]``.
    drawing_offsets : ndarray of int64, shape (N + 1,)
        Drawing ``i`` is strokes ``drawing_offsets[i]:drawing_offsets[i + 1]``.
    key_id : ndarray of uint64, shape (N,)
        0 when unknown.
    label : ndarray of int16, shape (N,)
        Index of ``word`` in the word list given to the reader; -1 when unknown.
    word, countrycode : ndarray of object (str), shape (N,)
        ``""`` when unknown.
    recognized : ndarray of int8, shape (N,)
        1, 0, or -1 when unknown.
    timestamp : ndarray of datetime64[us], shape (N,)
        When the drawing was made (UTC); ``NaT`` when unknown.
    source_id, record : ndarray of int32 / int64, shape (N,)
        Where each drawing came from: ``sources[source_id]`` and the 0-based
        record number within it.
    sources : tuple of str
        The names of the inputs.
    rejects : list of Reject
        Drawings that were given but left out (``on_error="skip"`` or ``"warn"``).
    """

    kind: str
    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    stroke_offsets: np.ndarray
    drawing_offsets: np.ndarray
    key_id: np.ndarray
    label: np.ndarray
    word: np.ndarray
    countrycode: np.ndarray
    recognized: np.ndarray
    timestamp: np.ndarray
    source_id: np.ndarray
    record: np.ndarray
    sources: tuple = ("<input>",)
    rejects: list = field(default_factory=list)

    # -- construction --------------------------------------------------------------
    @classmethod
    def from_columns(cls, kind, x, y, t, stroke_offsets, drawing_offsets, *, sources=("<input>",),
                     rejects=None, validate: bool = True, **per_drawing) -> StrokeBatch:
        """Build a batch from its stroke columns; per-drawing columns default to "unknown".

        ``per_drawing`` takes any of ``key_id, label, word, countrycode, recognized,
        timestamp, source_id, record``; ``record`` defaults to ``0..N-1``.
        ``validate=False`` skips :meth:`validate`: only for columns a kernel has just
        built and checked (the stroke store's gather), where the check would cost more
        Python time per batch than the copy did.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        unknown = set(per_drawing) - set(_PER_DRAWING)
        if unknown:
            raise TypeError(f"unknown per-drawing columns {sorted(unknown)}; valid: {_PER_DRAWING}")
        drawing_offsets = np.asarray(drawing_offsets, dtype=np.int64)
        n = len(drawing_offsets) - 1
        defaults = {
            "key_id": lambda: _empty(np.uint64, n),
            "label": lambda: np.full(n, -1, np.int16),
            "word": lambda: np.full(n, "", object),
            "countrycode": lambda: np.full(n, "", object),
            "recognized": lambda: np.full(n, -1, np.int8),
            "timestamp": lambda: np.full(n, NO_TIMESTAMP),
            "source_id": lambda: _empty(np.int32, n),
            "record": lambda: np.arange(n, dtype=np.int64),
        }
        dtypes = {"key_id": np.uint64, "label": np.int16, "word": object, "countrycode": object,
                  "recognized": np.int8, "timestamp": "datetime64[us]", "source_id": np.int32,
                  "record": np.int64}
        cols = {}
        for name in _PER_DRAWING:
            v = per_drawing.get(name)
            cols[name] = defaults[name]() if v is None else np.asarray(v, dtype=dtypes[name])
        dt = COORD_DTYPES[kind]
        batch = cls(
            kind=kind,
            x=np.asarray(x, dtype=dt),
            y=np.asarray(y, dtype=dt),
            t=np.asarray(t if t is not None else (), dtype=np.int32),
            stroke_offsets=np.asarray(stroke_offsets, dtype=np.int64),
            drawing_offsets=drawing_offsets,
            sources=tuple(sources),
            rejects=list(rejects or ()),
            **cols,
        )
        if validate:
            batch.validate()
        return batch

    @classmethod
    def from_lists(cls, drawings: Sequence, kind: str, **per_drawing) -> StrokeBatch:
        """Build a batch from drawings as nested lists (``json.loads`` of the drawing text).

        Slow (Python per point): for tests, references and small inputs.

        Examples
        --------
        >>> b = StrokeBatch.from_lists([[[[0, 10], [0, 5]]], [[[1], [2]], [[3, 4], [5, 6]]]],
        ...                            "simplified")
        >>> len(b), b.num_strokes, b.num_points
        (2, 3, 5)
        >>> b.drawing(1)[1]
        array([[3, 4],
               [5, 6]], dtype=int16)
        """
        xs, ys, ts, so, do = [], [], [], [0], [0]
        timed = None
        for drawing in drawings:
            for stroke in drawing:
                if timed is None:
                    timed = len(stroke) >= 3
                xs.extend(stroke[0])
                ys.extend(stroke[1])
                if timed:
                    ts.extend(stroke[2])
                so.append(len(xs))
            do.append(len(so) - 1)
        return cls.from_columns(kind, xs, ys, ts if timed else None, so, do, **per_drawing)

    @classmethod
    def empty(cls, kind: str, sources=("<input>",)) -> StrokeBatch:
        """A batch of no drawings."""
        return cls.from_columns(kind, [], [], None, [0], [0], sources=sources)

    @classmethod
    def from_arrow(cls, table: pa.Table, kind: str | None = None) -> StrokeBatch:
        """The batch of a table made by :meth:`to_arrow` (its inverse).

        Parameters
        ----------
        table : pyarrow.Table
            One row per drawing, with the stroke columns ``x``, ``y`` (and ``t``) and any
            of the per-drawing columns of :data:`ARROW_TYPES`; missing ones take the
            "unknown" values of :meth:`from_columns`, other columns are ignored.
        kind : {"simplified", "raw"}, optional
            Default: the table's ``kind`` schema metadata, else ``"simplified"``.

        Returns
        -------
        StrokeBatch
            Its points are views of the table's buffers where the types allow.
        """
        if kind is None:
            meta = table.schema.metadata or {}
            kind = meta.get(b"kind", b"simplified").decode()
        for name in ("x", "y"):
            if name not in table.column_names:
                raise ValueError(f"table has no stroke column {name!r} "
                                 f"(columns: {table.column_names})")
        x, so, do = _flat(table.column("x"))
        y, _, _ = _flat(table.column("y"))
        t = _flat(table.column("t"))[0] if "t" in table.column_names else None
        per = {}
        for name in ARROW_TYPES:
            if name in table.column_names and name != "source":
                per[name] = table.column(name).to_numpy(zero_copy_only=False)
        for name in ("word", "countrycode"):
            if name in per:
                per[name] = np.asarray(per[name], dtype=object)  # no copy when already object
        names = ["<input>"]
        if "source" in table.column_names and table.num_rows:
            # the few distinct file names and each row's index among them, without a
            # Python string per row
            sources = table.column("source")
            names = pc.unique(sources).to_pylist()
            per["source_id"] = pc.index_in(sources, value_set=pa.array(names, sources.type)
                                           ).to_numpy(zero_copy_only=False).astype(np.int32)
        return cls.from_columns(kind, x, y, t, so, do, sources=tuple(names), **per)

    # -- shape -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.drawing_offsets) - 1

    @property
    def num_strokes(self) -> int:
        """Number of strokes of all drawings."""
        return len(self.stroke_offsets) - 1

    @property
    def num_points(self) -> int:
        """Number of points of all drawings."""
        return len(self.x)

    @property
    def has_time(self) -> bool:
        """Whether every point has a time ``t``."""
        return len(self.t) == len(self.x) and (len(self.x) > 0 or self.kind == "raw")

    def strokes_per_drawing(self) -> np.ndarray:
        """Number of strokes of each drawing (int64, shape (N,))."""
        return np.diff(self.drawing_offsets)

    def points_per_drawing(self) -> np.ndarray:
        """Number of points of each drawing (int64, shape (N,))."""
        return np.diff(self.stroke_offsets[self.drawing_offsets])

    def source_of(self, i: int) -> str:
        """The name of the input drawing ``i`` came from."""
        return self.sources[self.source_id[i]]

    def drawing(self, i: int) -> list[np.ndarray]:
        """Drawing ``i`` as a list of strokes, each an array shaped like the input.

        ``(2, n)`` for simplified drawings (int16), ``(3, n)`` when there are times
        (raw drawings: float64, so that large times stay exact).
        """
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"drawing index {i} out of range for a batch of {n}")
        i %= n
        s0, s1 = self.drawing_offsets[i], self.drawing_offsets[i + 1]
        timed = self.has_time
        out = []
        for j in range(s0, s1):
            p0, p1 = self.stroke_offsets[j], self.stroke_offsets[j + 1]
            rows = [self.x[p0:p1], self.y[p0:p1]]
            if timed:
                rows.append(self.t[p0:p1])
                out.append(np.stack(rows).astype(np.result_type(self.x.dtype, np.int32)))
            else:
                out.append(np.stack(rows))
        return out

    def to_lists(self, i: int) -> list:
        """Drawing ``i`` as nested Python lists, as ``json.loads`` gives it."""
        return [s.tolist() for s in self.drawing(i)]

    # -- Arrow -------------------------------------------------------------------------
    def to_arrow(self, strokes: bool = True) -> pa.Table:
        """The batch as an Arrow table, one row per drawing: the one place its columns become Arrow.

        Parameters
        ----------
        strokes : bool, default True
            Add the stroke columns ``x``, ``y`` (and ``t`` when :attr:`has_time`) as
            ``large_list<large_list<int16 | float32 | int32>>``, built on the batch's
            offsets and points without copying them. False gives only the per-drawing
            columns.

        Returns
        -------
        pyarrow.Table
            The per-drawing columns of :data:`ARROW_TYPES` in that order, then the
            stroke columns; the schema metadata ``kind`` holds :attr:`kind`.
            :meth:`from_arrow` is the inverse (rejects are not carried).
        """
        cols = {
            "key_id": pa.array(self.key_id, ARROW_TYPES["key_id"]),
            "label": pa.array(self.label, ARROW_TYPES["label"]),
            # object arrays of str straight to Arrow (numpy's astype(str) cost 0.3 us a row)
            "word": pa.array(self.word, ARROW_TYPES["word"]),
            "countrycode": pa.array(self.countrycode, ARROW_TYPES["countrycode"]),
            "recognized": pa.array(self.recognized, ARROW_TYPES["recognized"]),
            "timestamp": pa.array(self.timestamp.astype("datetime64[us]"),
                                  ARROW_TYPES["timestamp"]),
            # the few file names, taken per row in Arrow rather than a Python string per row
            "source": pa.array(list(self.sources), ARROW_TYPES["source"]).take(
                pa.array(self.source_id, pa.int32())),
            "record": pa.array(self.record, ARROW_TYPES["record"]),
        }
        if strokes:
            so, do = self.stroke_offsets, self.drawing_offsets
            cols["x"] = _nested(self.x, so, do)
            cols["y"] = _nested(self.y, so, do)
            if self.has_time:
                cols["t"] = _nested(self.t, so, do)
        return pa.table(cols).replace_schema_metadata({"kind": self.kind})

    # -- checks -------------------------------------------------------------------------
    def validate(self) -> None:
        """Check the invariants of the layout; raise ``ValueError`` naming the first broken one."""
        n, so, do = len(self), self.stroke_offsets, self.drawing_offsets
        if len(do) < 1 or do[0] != 0 or np.any(np.diff(do) < 0) or do[-1] != len(so) - 1:
            raise ValueError("drawing_offsets must start at 0, not decrease, and end at "
                             "num_strokes")
        if len(so) < 1 or so[0] != 0 or np.any(np.diff(so) < 0) or so[-1] != len(self.x):
            raise ValueError("stroke_offsets must start at 0, not decrease, and end at num_points")
        if len(self.y) != len(self.x):
            raise ValueError(f"x and y differ in length: {len(self.x)} vs {len(self.y)}")
        if len(self.t) not in (0, len(self.x)):
            raise ValueError(f"t must be empty or as long as x ({len(self.x)}), got {len(self.t)}")
        for name in _PER_DRAWING:
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} values for {n} drawings")
        if n and (self.source_id.min() < 0 or self.source_id.max() >= len(self.sources)):
            raise ValueError("source_id out of range of sources")

    def __repr__(self) -> str:
        return (f"StrokeBatch(kind={self.kind!r}, drawings={len(self)}, "
                f"strokes={self.num_strokes}, points={self.num_points}, time={self.has_time}, "
                f"rejects={len(self.rejects)})")

    # -- reshaping ---------------------------------------------------------------------
    def take(self, indices) -> StrokeBatch:
        """A new batch of the drawings at ``indices``, in that order (rejects are not carried)."""
        from ._ext import _batch as _kernel

        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"indices out of range for a batch of {n}")
        idx = np.ascontiguousarray(idx % max(n, 1))
        do = np.ascontiguousarray(self.drawing_offsets, np.int64)
        so = np.ascontiguousarray(self.stroke_offsets, np.int64)
        if len(do) != n + 1 or not len(so):
            raise status_error(Status.E_OFFSETS, -1, caller=__name__)
        s_start, s_stop = do[idx], do[idx + 1]
        # the output sizes come from these offsets: check them before allocating (a bogus
        # offset asked for TiB, issue 16); the kernel checks every offset again as it copies
        bad = (s_start < 0) | (s_stop < s_start) | (s_stop >= len(so))
        if not bad.any():
            p_start, p_stop = so[s_start], so[s_stop]
            bad = (p_start < 0) | (p_stop < p_start) | (p_stop > len(self.x))
        if bad.any():  # the message the kernel's status gives
            raise status_error(Status.E_OFFSETS, int(idx[np.argmax(bad)]), caller=__name__)
        new_do = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(s_stop - s_start, out=new_do[1:])
        n_points = int((p_stop - p_start).sum())
        dt = COORD_DTYPES[self.kind]
        x = np.ascontiguousarray(self.x, dt)
        y = np.ascontiguousarray(self.y, dt)
        timed = len(self.t) == len(self.x) and len(self.t) > 0
        t = np.ascontiguousarray(self.t if timed else np.zeros(0), np.int32)
        out_x, out_y = np.empty(n_points, dt), np.empty(n_points, dt)
        out_t = np.empty(n_points if timed else 0, np.int32)
        new_so = np.empty(int(new_do[-1]) + 1, np.int64)
        # one memcpy per drawing and column: numpy's fancy indexing built and
        # followed an index per point, a random read each
        status, detail = _kernel._take(x, y, t, so, do, idx, out_x, out_y, out_t, new_so, new_do)
        if status:
            raise status_error(status, detail, caller=__name__)
        return StrokeBatch(
            kind=self.kind, x=out_x, y=out_y,
            t=out_t if timed else self.t.copy(),
            stroke_offsets=new_so, drawing_offsets=new_do,
            sources=self.sources, rejects=[],
            **{name: getattr(self, name)[idx] for name in _PER_DRAWING},
        )

    def slice(self, start: int, stop: int) -> StrokeBatch:
        """Drawings ``start`` to ``stop - 1`` as a batch whose coordinate columns are views.

        Equal to ``take(range(start, stop))`` without copying the points (only the
        offsets are rebased): the cheap way to cut a batch into consecutive pieces.
        """
        n = len(self)
        if not 0 <= start <= stop <= n:
            raise IndexError(f"slice {start}:{stop} out of range for a batch of {n}")
        s0, s1 = int(self.drawing_offsets[start]), int(self.drawing_offsets[stop])
        p0, p1 = int(self.stroke_offsets[s0]), int(self.stroke_offsets[s1])
        return StrokeBatch(
            kind=self.kind, x=self.x[p0:p1], y=self.y[p0:p1],
            t=self.t[p0:p1] if len(self.t) else self.t.copy(),
            stroke_offsets=self.stroke_offsets[s0:s1 + 1] - p0,
            drawing_offsets=self.drawing_offsets[start:stop + 1] - s0,
            sources=self.sources, rejects=[],
            **{name: getattr(self, name)[start:stop] for name in _PER_DRAWING},
        )

    @classmethod
    def concat(cls, batches: Iterable[StrokeBatch]) -> StrokeBatch:
        """One batch of all drawings of ``batches`` in order; sources and rejects are merged."""
        batches = list(batches)
        if not batches:
            raise ValueError("concat needs at least one batch")
        all_batches = batches
        # Batches of no drawings (a file that held only rejects) add rejects and
        # sources, not columns: their kind does not matter.
        batches = [b for b in batches if len(b)] or batches[:1]
        kinds = {b.kind for b in batches}
        if len(kinds) != 1:
            raise ValueError(f"cannot concatenate batches of different kinds: {sorted(kinds)}")
        timed = {b.has_time for b in batches if b.num_points}
        if len(timed) > 1:
            raise ValueError("cannot concatenate batches with and without times")
        sources: list[str] = []
        index: dict[str, int] = {}
        remaps = []
        for b in all_batches:
            remap = np.array([index.setdefault(s, len(index)) for s in b.sources] or [0], np.int32)
            if len(b) or b is batches[0]:
                remaps.append(remap)
        sources = list(index)
        so_parts, do_parts, p_base, s_base = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)], 0, 0
        for b in batches:
            so_parts.append(b.stroke_offsets[1:] + p_base)
            do_parts.append(b.drawing_offsets[1:] + s_base)
            p_base += b.num_points
            s_base += b.num_strokes
        keep_t = timed == {True}
        return cls(
            kind=batches[0].kind,
            x=np.concatenate([b.x for b in batches]),
            y=np.concatenate([b.y for b in batches]),
            t=np.concatenate([b.t for b in batches]) if keep_t else np.zeros(0, np.int32),
            stroke_offsets=np.concatenate(so_parts),
            drawing_offsets=np.concatenate(do_parts),
            sources=tuple(sources) or ("<input>",),
            rejects=[r for b in all_batches for r in b.rejects],
            source_id=np.concatenate([m[b.source_id]
                                       for m, b in zip(remaps, batches, strict=True)]),
            **{name: np.concatenate([getattr(b, name) for b in batches])
               for name in _PER_DRAWING if name != "source_id"},
        )


def _nested(values: np.ndarray, stroke_offsets: np.ndarray, drawing_offsets: np.ndarray):
    inner = pa.LargeListArray.from_arrays(pa.array(stroke_offsets, pa.int64()), pa.array(values))
    return pa.LargeListArray.from_arrays(pa.array(drawing_offsets, pa.int64()), inner)


def _flat(col: pa.ChunkedArray | pa.Array):
    """Points, stroke offsets and drawing offsets of a ``list<list<...>>`` column."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    o0, o1 = arr.offsets[0].as_py(), arr.offsets[-1].as_py()
    do = arr.offsets.to_numpy() - o0
    inner = arr.values.slice(o0, o1 - o0)
    i0, i1 = inner.offsets[0].as_py(), inner.offsets[-1].as_py()
    so = inner.offsets.to_numpy() - i0
    values = inner.values.slice(i0, i1 - i0).to_numpy(zero_copy_only=False)
    return values, so.astype(np.int64), do.astype(np.int64)


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for each pair, vectorised."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(lengths)
    out = np.ones(total, np.int64)
    nz = lengths > 0
    first = np.concatenate([[0], ends[:-1]])[nz]
    s = np.asarray(starts, np.int64)[nz]
    # at the first slot of each range, jump from the previous range's last value to its start
    prev_last = np.concatenate([[0], (s + lengths[nz] - 1)[:-1]])
    out[first] = s - prev_last
    out[0] = s[0]
    return np.cumsum(out)
