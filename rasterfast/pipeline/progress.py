"""Running a stage of Dask tasks with a progress line.

A tqdm bar with drawings/s on a terminal, a log line every few seconds otherwise.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

__all__ = ["run_tasks", "Progress"]


class Progress:
    """Counts finished tasks and the drawings they report; prints to ``stream``.

    On a terminal, a :mod:`tqdm` bar of tasks with the drawings and drawings/s after it;
    elsewhere (a log file, a pipe) one plain line every ``every`` seconds and at the end,
    since a bar redrawn with carriage returns is unreadable there. ``enabled=False``
    prints nothing (``--quiet``).
    """

    def __init__(self, label: str, total: int, count: Callable[[object], int], *,
                 stream=None, enabled: bool = True, every: float = 5.0):
        self.label, self.total, self.count = label, total, count
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every
        self.done = self.drawings = 0
        self.t0 = self._last = time.perf_counter()
        self._bar = None   # made at the first task: a stage without tasks prints nothing

    def update(self, result) -> None:
        """Count one finished task and the drawings ``count(result)`` says it handled."""
        self.done += 1
        try:
            self.drawings += int(self.count(result))
        except (TypeError, ValueError, AttributeError):
            pass
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = self.drawings / max(now - self.t0, 1e-9)
        if self.tty:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=self.total, desc=f"{self.label:>8}", unit="task",
                                 file=self.stream, mininterval=0.2, dynamic_ncols=True)
            self._bar.set_postfix_str(f"{self.drawings:,} drawings, {rate:,.0f}/s",
                                      refresh=False)
            self._bar.update(1)
            if self.done == self.total:
                self._bar.close()
        elif now - self._last >= self.every or self.done == self.total:
            self._last = now
            self.stream.write(f"{self.label}: {self.done}/{self.total} tasks, "
                              f"{self.drawings:,} drawings, {rate:,.0f} drawings/s\n")
            self.stream.flush()

    def finish(self) -> float:
        """Close the bar; return the seconds since start."""
        if self._bar is not None:
            self._bar.close()
        return time.perf_counter() - self.t0


def run_tasks(tasks: Sequence, *, scheduler: str, workers: int | None, progress: Progress,
              client=None) -> list:
    """Compute the delayed ``tasks`` (in order) on the local scheduler or a distributed client.

    ``progress`` counts each of ``tasks`` as it finishes (as_completed on a client, a Dask
    callback locally, which sees only these keys, not the graph's other tasks) and is
    closed when the stage ends or fails.
    """
    if not tasks:
        return []
    try:
        return _compute(tasks, scheduler, workers, progress, client)
    finally:
        progress.finish()


def _compute(tasks: Sequence, scheduler: str, workers: int | None, progress: Progress,
             client) -> list:
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
