"""Who am I: distributed rank and DataLoader worker, as one small value object."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["World"]


def _check_int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")


@dataclass(frozen=True)
class World:
    """Where this process reads: a rank of the run, and a DataLoader worker of that rank.

    Rank ``rank`` of ``world_size`` training processes; worker ``worker`` of
    ``num_workers`` DataLoader workers of that rank (``num_workers`` is 1 when reading in
    the main process).

    Batches are split at both levels: a rank owns a contiguous stretch of the epoch
    (:class:`rasterfast.data.order.Partition`), and its batches ``i`` go round-robin to its
    workers (``i % num_workers == worker``), the order in which ``DataLoader`` collects
    them, so the batches come out in the same order for any number of workers.
    """

    rank: int = 0
    world_size: int = 1
    worker: int = 0
    num_workers: int = 1

    def __post_init__(self):
        _check_int("world_size", self.world_size, 1)
        _check_int("num_workers", self.num_workers, 1)
        _check_int("rank", self.rank, 0)
        _check_int("worker", self.worker, 0)
        if self.rank >= self.world_size:
            raise ValueError(f"rank must be < world_size ({self.world_size}), got {self.rank}")
        if self.worker >= self.num_workers:
            raise ValueError(f"worker must be < num_workers ({self.num_workers}), "
                             f"got {self.worker}")

    @classmethod
    def detect(cls, rank: int | None = None, world_size: int | None = None) -> World:
        """The ranks given, else those of an initialised ``torch.distributed``, else 0 of 1."""
        if (rank is None) != (world_size is None):
            raise ValueError(f"give both rank and world_size or neither; got rank={rank!r}, "
                             f"world_size={world_size!r}")
        if rank is not None:
            return cls(rank=rank, world_size=world_size)
        try:
            import torch.distributed as dist
        except ImportError:  # pragma: no cover - torch is a dependency of rasterfast.data
            return cls()
        if dist.is_available() and dist.is_initialized():
            return cls(rank=dist.get_rank(), world_size=dist.get_world_size())
        return cls()

    def with_worker(self, info=None) -> World:
        """Return this world as seen from a DataLoader worker.

        ``info`` is ``torch.utils.data.get_worker_info()``: None in the main process.
        """
        if info is None:
            return replace(self, worker=0, num_workers=1)
        return replace(self, worker=info.id, num_workers=info.num_workers)

    def worker_batches(self, num_batches: int, start: int = 0) -> range:
        """The batch indices of this rank that this worker produces, from ``start`` on.

        ``DataLoader`` asks worker 0 first, then 1, ..., in a cycle, and that cycle restarts at
        every ``iter()``; so after a resume at ``start``, worker ``w`` gives batches
        ``start + w, start + w + k, ...`` and the loader still yields ``start, start + 1, ...``.
        """
        return range(start + self.worker, num_batches, self.num_workers)
