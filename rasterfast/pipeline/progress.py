"""Running a stage of Dask tasks with a progress line: a bar with drawings/s on a terminal,
a log line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

__all__ = ["run_tasks", "Progress"]


class Progress:
    """Counts finished tasks and the drawings they report; prints to ``stream``."""

    def __init__(self, label: str, total: int, count: Callable[[object], int], *,
                 stream=None, enabled: bool = True, every: float = 5.0):
        self.label, self.total, self.count = label, total, count
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every if not self.tty else 0.2
        self.done = self.drawings = 0
        self.t0 = self._last = time.perf_counter()

    def update(self, result) -> None:
        self.done += 1
        try:
            self.drawings += int(self.count(result))
        except (TypeError, ValueError, AttributeError):
            pass
        now = time.perf_counter()
        if self.enabled and (now - self._last >= self.every or self.done == self.total):
            self._last = now
            self._print(now)

    def _print(self, now: float) -> None:
        rate = self.drawings / max(now - self.t0, 1e-9)
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            end = "\n" if self.done == self.total else ""
            self.stream.write(f"\r{self.label:>8} [{bar}] {self.done}/{self.total} tasks, "
                              f"{self.drawings:,} drawings, {rate:,.0f}/s{end}")
        else:
            self.stream.write(f"{self.label}: {self.done}/{self.total} tasks, "
                              f"{self.drawings:,} drawings, {rate:,.0f} drawings/s\n")
        self.stream.flush()

    def finish(self) -> float:
        """Seconds since start."""
        return time.perf_counter() - self.t0


def run_tasks(tasks: Sequence, *, scheduler: str, workers: int | None, progress: Progress,
              client=None) -> list:
    """Compute the delayed ``tasks`` (in order) on the local scheduler or a distributed client."""
    if not tasks:
        return []
    if client is not None:
        from distributed import as_completed

        futures = client.compute(list(tasks))
        index = {f.key: i for i, f in enumerate(futures)}
        results = [None] * len(futures)
        for future in as_completed(futures):
            results[index[future.key]] = res = future.result()
            progress.update(res)
        return results

    import dask
    from dask.callbacks import Callback

    keys = {t.key for t in tasks}

    class _Counter(Callback):
        def _posttask(self, key, result, dsk, state, worker_id):
            if key in keys:
                progress.update(result)

    with _Counter():
        return list(dask.compute(*tasks, scheduler=scheduler, num_workers=workers))
