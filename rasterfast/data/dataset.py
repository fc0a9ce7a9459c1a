"""ShardDataset: whole uint8 batches gathered from memory-mapped image shards, for PyTorch.

A batch is gathered with one ``memcpy`` per image, straight from the page cache into the
output tensor (``Reader.gather``, GIL released): no per-drawing Python, no float
conversion (see :func:`rasterfast.to_float`). The order, partition, filters and resuming
are those of :class:`~rasterfast.data.base.BatchDataset`.
"""

from __future__ import annotations

import numpy as np

from ..format import Reader
from .base import BatchDataset
from .order import DEFAULT_WINDOW

__all__ = ["ShardDataset"]


class ShardDataset(BatchDataset):
    """Batches of uint8 images and int64 labels from a shard directory.

    Parameters
    ----------
    path : str or Path
        A finished shard directory (see :class:`rasterfast.format.Reader`).
    split : str
        ``"train"``, ``"val"``, ``"test"`` or any split the directory has.
    batch_size : int
        Drawings per batch (the last batch of a rank is shorter when ``drop_last=False``
        and the rank's share is not a multiple).
    shuffle : bool
        False: the stored order (shard 0 first), e.g. the test split for a submission.
        True: the ``order`` permutation, new for every epoch (:meth:`set_epoch`).
    seed : int
        The order is a pure function of ``(seed, epoch)``.
    drop_last : bool
        False: every drawing at least once per epoch; when ``world_size`` does not divide
        the count, the first ``pad < world_size`` drawings of the epoch order are read
        twice so that every rank gets the same batches. True: full batches only, no drawing
        twice; up to ``world_size * batch_size - 1`` drawings skipped (different ones each
        epoch when shuffled).
    words : sequence of str, optional
        Keep only drawings of these words. Labels stay indices into the directory's full
        word list (``self.words``), so models agree across filters.
    recognized : bool, optional
        Keep only drawings whose ``recognized`` flag is this (unknown flags are dropped).
    entropy : (float or None, float or None), optional
        Keep drawings with ``lo <= entropy <= hi`` (None: unbounded; NaN is dropped).
    return_key_ids : bool
        Add ``key_ids`` (int64 ``[B]``) to each batch.
    rank, world_size : int, optional
        This process's place in a distributed run; default: ``torch.distributed`` when it
        is initialised, else 0 of 1.
    order : str, optional
        A name in :data:`rasterfast.data.order.ORDERS`; default ``"window"`` when
        shuffling, ``"sequential"`` otherwise.
    window, block : int
        Drawings per window, and rows per shuffled run, of the ``"window"`` order (see
        :func:`rasterfast.data.order.window_shuffle` for their effect; ``block=4`` is
        faster and right for shards from ``rasterfast build``, whose rows are in hash order).
    check : {"sizes", "headers", "labels", "full"}
        What to check of the split's files when the dataset is made
        (:data:`rasterfast.format.CHECK_LEVELS`): by default that each exists with its
        listed size and header; ``"labels"`` also the sha256 of the labels and metadata
        files (a few dozen bytes per drawing: a label changed to another valid one is
        found), ``"full"`` also of the images. What is and is not checked when, is in
        ``rasterfast/format/README.md``.

    Attributes
    ----------
    words : list of str
        The class list (label ``i`` is ``words[i]``); ``num_classes = len(words)``.
    image_shape : tuple
        ``(C, S, S)``.
    count : int
        Drawings in the split after the filters.

    Notes
    -----
    Batches are dicts: ``images`` uint8 ``[B, C, S, S]``, ``labels`` int64 ``[B]`` (-1:
    unknown, as in the test split), and ``key_ids`` int64 ``[B]`` when asked. Within a batch
    the drawings are in storage order (shard, row), which turns the gather into forward
    reads; which drawings share a batch is the random draw.

    Fastest setup: no worker processes. A batch is one memcpy per image from the page
    cache (``Reader.gather``, GIL released); iterating the dataset in the main process
    (``for batch in ds`` or ``DataLoader(ds, batch_size=None, num_workers=0)``) measured
    0.99M drawings/s at 64 px (1.18M with ``block=4``), against 84k for a map-style Dataset
    with per-sample ``__getitem__`` and 122k for this dataset through 2 DataLoader workers,
    whose per-batch inter-process hand-over dominates (bench/bench_loader.py, shared
    2-core machine, best of 5, 2026-12-02). :class:`rasterfast.data.ShardLoader` gathers ahead in
    threads (and can gather straight into pinned memory for ``non_blocking`` copies); on
    that 2-core machine it was not faster than the main process, even with a simulated
    200 us training step per batch.

    It also works with ``DataLoader(ds, batch_size=None, num_workers=k)`` for any k (set
    ``persistent_workers=True`` to keep workers between epochs: :meth:`set_epoch` and
    :meth:`load_state_dict` reach them through shared memory). Ranks come from
    ``rank``/``world_size`` or from ``torch.distributed`` *when the dataset is made*:
    make it after ``init_process_group``.

    Resuming: ``state_dict(batches_consumed)`` with the number of batches the training loop
    has taken in this epoch (iterating the dataset in the main process or through
    ShardLoader counts them for you). After ``load_state_dict``, the next pass over that
    epoch starts at the first unseen batch, in every worker; ``set_epoch`` to another
    epoch clears it.
    """

    def __init__(self, path, split: str = "train", batch_size: int = 256, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False, words=None, recognized=None,
                 entropy=None, return_key_ids: bool = False, rank: int | None = None,
                 world_size: int | None = None, *, order: str | None = None,
                 window: int = DEFAULT_WINDOW, block: int = 1, check: str = "headers"):
        reader = Reader(path, check="sizes")
        reader.check(check, splits=[split])
        if not reader.has_images:
            raise ValueError(f"{reader.path} has no images (a build --no-images): render them "
                             f"on the fly with rasterfast.StrokeDataset({str(path)!r}, recipe), "
                             f"or write them with `rasterfast render`")
        super().__init__(reader, split, batch_size, shuffle, seed, drop_last, words, recognized,
                         entropy, return_key_ids, rank, world_size, order=order, window=window,
                         block=block)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, S, S)`` of every image."""
        return self.reader.image_shape

    def _fill(self, rows: np.ndarray, out: np.ndarray, epoch: int) -> None:
        # One memcpy per image from the page cache into the output, GIL released.
        self.reader.gather(self.split, rows, out=out)
