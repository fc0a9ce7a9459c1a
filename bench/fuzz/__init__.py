"""A coverage-free mutation fuzzer for every decoder of rasterfast (issue 16).

``python -m bench.fuzz TARGET [--seconds N] [--inputs N] [--seed S] [--findings DIR]``
runs one target (or ``all``) in this process: it starts from the target's seed inputs
(real drawings of the sample and hand-made edge cases), mutates them (bit and byte
flips, inserts, deletes, duplicated and spliced chunks, interesting numbers, lying
length prefixes, truncation, quoting, invalid UTF-8, deep nesting), runs the target on
each input and counts the findings. ``--list`` lists the targets; ``--json LEDGER``
and ``--until N`` run a long campaign in chunks (see ``__main__``).

Inputs are kept small, as libFuzzer keeps them: seeds of one or a few records and
mutations cut at ``--max-len`` (:data:`DEFAULT_MAX_LEN`, 8 KiB, or the longest seed).
Most of a target's time is the fixed cost of one decoder call, so a small input runs
nearly as fast as an empty one, and a fuzzer finds more per CPU second with many small
inputs than with few large ones (a bug needs a few bytes in the wrong place, not many).

Time is CPU time: ``--seconds`` is a CPU-time budget, rates are inputs per CPU second,
and neither the hang watchdog nor its backstop counts time the process spent stopped
(``SIGSTOP``), so a campaign can be paused while benchmarks run.

Targets are found, not registered: every module ``bench/fuzz/<area>.py`` whose name
does not start with ``_`` defines ``TARGETS = [(name, seeds, run), ...]``, where
``seeds()`` returns a list of bytes and ``run(data: bytes)`` runs one input and raises
on a broken contract. Any exception that escapes ``run``, an "Exception ignored"
report (``sys.unraisablehook``) while it runs, or a run longer than ``--timeout``
seconds (a hang) is a finding; each is saved to the findings folder as the input
(``.bin``) and what went wrong (``.txt``). The input about to run is written to
``<findings>/<target>/last-input.seed<S>.bin`` first, and ``faulthandler`` writes the
Python stacks of a fatal signal to ``faulthandler.seed<S>.txt``, so that a crash no
handler survives (a segfault without a sanitizer report) still leaves its input. File
names hold the seed, so chunks of other seeds can share a findings folder. ``run`` may
return a small hashable outcome (for example the reject reasons): an input with an
outcome not seen before joins the corpus, the only feedback this fuzzer has.

The contract the decoder targets check (see :mod:`bench.fuzz._contract`): bad input
gives a ``ValueError`` subclass naming file, record and reason, or a counted reject
(``len(batch) + len(batch.rejects)`` = drawings given); what is accepted equals what a
reference (``json.loads``, the ``csv`` module, a Python ``.bin`` decoder) reads.
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import importlib
import math
import os
import pkgutil
import random
import re
import resource
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Target", "discover", "Mutator", "FuzzRun", "fuzz"]


@dataclass(frozen=True)
class Target:
    """One fuzz target: ``seeds()`` gives the starting inputs, ``run(data)`` checks one."""

    name: str
    seeds: Callable[[], list[bytes]]
    run: Callable[[bytes], object]
    module: str = ""


def discover() -> dict[str, Target]:
    """Every target of every ``bench/fuzz/<area>.py`` (names starting with ``_`` are helpers)."""
    found: dict[str, Target] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, seeds, run in getattr(module, "TARGETS", ()):
            if name in found:
                raise ValueError(f"fuzz target {name!r} is defined by both "
                                 f"{found[name].module} and {module.__name__}")
            found[name] = Target(name, seeds, run, module.__name__)
    return found


# -- mutations -----------------------------------------------------------------------------

#: Numbers that break parsers: limits of the integer types, float edge cases, long digits.
INTERESTING_TEXT = [
    b"0", b"-0", b"1", b"-1", b"255", b"256", b"-256", b"32767", b"32768", b"65535", b"65536",
    b"2147483647", b"2147483648", b"-2147483649", b"4294967296", b"9223372036854775807",
    b"9223372036854775808", b"18446744073709551616", b"1e308", b"1e309", b"-1e309", b"1e-400",
    b"3.4028235e38", b"3.4028236e38", b"1.5", b"0.1", b"1e2", b"1E+2", b"NaN", b"Infinity",
    b"-Infinity", b"nan", b"inf", b"00", b"01", b"1.", b".5", b"-", b"+1", b"0x10", b"1_000",
    b"9" * 40, b"1" + b"0" * 400, b"0." + b"0" * 400 + b"1", b"true", b"false", b"null",
    b'""', b"[]", b"{}", b"[[]]", b"[[[]]]", b"[[[],[]]]",
]
#: Binary values for lying length prefixes and counts (little-endian u8/u16/u32/u64).
INTERESTING_INT = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                   0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2**63 - 1, 2**64 - 1]
#: Bytes that are not UTF-8: lone continuation, truncated lead, overlong, surrogate, > U+10FFFF.
INVALID_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc3", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
                b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\xc3\xa9", b"\x00"]
#: Structure tokens of JSON and CSV.
TOKENS = [b"[", b"]", b"{", b"}", b",", b":", b'"', b"'", b'""', b"\\", b"\\u0000", b'\\"',
          b"\\ud800", b"\n", b"\r", b"\r\n", b" ", b"\t", b",,", b'","', b"UTC", b"\xef\xbb\xbf"]


#: Longest mutated input, unless a seed is longer (then the longest seed, as libFuzzer's
#: ``-max_len`` defaults to its largest seed, or 4096 without one). Small inputs run
#: fast, and a fuzzer finds more per CPU second with them; 8 KiB still lets records
#: cross the readers' 4 KiB blocks.
DEFAULT_MAX_LEN = 1 << 13


class Mutator:
    """Random mutations of byte strings; the corpus supplies material to splice in."""

    def __init__(self, rng: random.Random, corpus: list[bytes],
                 max_len: int = DEFAULT_MAX_LEN):
        self.rng = rng
        self.corpus = corpus
        self.max_len = max_len
        self.ops = [self.flip_bit, self.set_byte, self.insert_bytes, self.delete, self.duplicate,
                    self.splice, self.number_text, self.number_binary, self.truncate,
                    self.quote, self.invalid_utf8, self.token, self.nest, self.lines,
                    self.swap]

    def __call__(self, data: bytes) -> bytes:
        buf = bytearray(data)
        for _ in range(1 + self._small(1.0, 8)):
            self.rng.choice(self.ops)(buf)
        if len(buf) > self.max_len:
            del buf[self.max_len:]
        return bytes(buf)

    def _small(self, mean: float, cap: int = 1 << 12) -> int:
        """A length, exponentially distributed around ``mean``, at most ``cap``."""
        return min(int(-mean * math.log(1.0 - self.rng.random())), cap)

    def _pos(self, buf: bytearray, end: bool = True) -> int:
        return self.rng.randint(0, len(buf) if end else max(len(buf) - 1, 0))

    def _span(self, buf: bytearray) -> tuple[int, int]:
        a = self._pos(buf)
        return a, min(len(buf), a + 1 + self._small(8))

    def flip_bit(self, buf):
        if buf:
            buf[self._pos(buf, False)] ^= 1 << self.rng.randrange(8)

    def set_byte(self, buf):
        if buf:
            buf[self._pos(buf, False)] = self.rng.randrange(256)

    def insert_bytes(self, buf):
        n = 1 + self._small(4)
        at = self._pos(buf)
        buf[at:at] = bytes(self.rng.randrange(256) for _ in range(n))

    def delete(self, buf):
        a, b = self._span(buf)
        del buf[a:b]

    def duplicate(self, buf):
        a, b = self._span(buf)
        at = self._pos(buf)
        buf[at:at] = buf[a:b] * self.rng.choice((1, 1, 2, 16))

    def splice(self, buf):
        other = self.rng.choice(self.corpus)
        if not other:
            return
        a = self.rng.randint(0, len(other))
        b = min(len(other), a + 1 + self._small(64))
        at = self._pos(buf)
        if self.rng.random() < 0.5:        # insert a piece of another input
            buf[at:at] = other[a:b]
        else:                              # or continue with another input's tail
            buf[at:] = other[a:]

    def number_text(self, buf):
        # replace a run of digits (or any span) with an interesting number
        a = self._pos(buf)
        b = a
        while b < len(buf) and buf[b] in b"0123456789.-+eE":
            b += 1
        buf[a:b] = self.rng.choice(INTERESTING_TEXT)

    def number_binary(self, buf):
        # a lying length prefix or count: overwrite 1, 2, 4 or 8 bytes with an extreme value
        width = self.rng.choice((1, 2, 2, 4, 8))
        value = self.rng.choice(INTERESTING_INT) & ((1 << (8 * width)) - 1)
        if self.rng.random() < 0.3:
            value = (value + self.rng.choice((-1, 1))) % (1 << (8 * width))
        at = self._pos(buf)
        buf[at:at + width] = value.to_bytes(width, "little")

    def truncate(self, buf):
        del buf[self._pos(buf):]

    def quote(self, buf):
        a, b = self._span(buf)
        q = self.rng.choice((b'"', b"'", b'""'))
        r = self.rng.random()
        if r < 0.4:
            buf[b:b] = q
            buf[a:a] = q
        elif r < 0.7:
            at = buf.find(b'"', a)
            if at >= 0:
                del buf[at]
        else:
            buf[a:a] = q

    def invalid_utf8(self, buf):
        at = self._pos(buf)
        buf[at:at + self.rng.choice((0, 1))] = self.rng.choice(INVALID_UTF8)

    def token(self, buf):
        at = self._pos(buf)
        buf[at:at + self.rng.choice((0, 0, 1))] = self.rng.choice(TOKENS)

    def nest(self, buf):
        at = self._pos(buf)
        buf[at:at] = self.rng.choice((b"[", b"{\"a\":", b'"[')) * self.rng.choice((8, 70, 3000))

    def lines(self, buf):
        lines = bytes(buf).split(b"\n")
        if len(lines) < 2:
            return
        i, j = self.rng.randrange(len(lines)), self.rng.randrange(len(lines))
        r = self.rng.random()
        if r < 0.4:
            lines.insert(j, lines[i])
        elif r < 0.7:
            del lines[i]
        else:
            lines[i], lines[j] = lines[j], lines[i]
        buf[:] = b"\n".join(lines)

    def swap(self, buf):
        a, b = self._span(buf)
        c, d = self._span(buf)
        if b <= c:
            buf[a:d] = buf[c:d] + buf[b:c] + buf[a:b]


# -- running -------------------------------------------------------------------------------

class Hang(Exception):
    """A run that took longer than the timeout."""


@dataclass
class FuzzRun:
    """Counts of one target's run."""

    target: str
    inputs: int = 0
    seconds: float = 0.0
    findings: int = 0
    unique: dict = field(default_factory=dict)    # signature -> count
    cpu_seconds: float = 0.0                      # CPU time of the process (not paused time)
    corpus: int = 0                               # inputs kept as material at the end
    peak_rss_mb: float = 0.0                      # the process's peak so far: a leak shows

    @property
    def rate(self) -> float:
        """Inputs per CPU second (wall time would count pauses and other processes)."""
        return self.inputs / self.cpu_seconds if self.cpu_seconds else 0.0


def _signature(exc_text: str, kind: str) -> str:
    # the exception type and the innermost frame of the project: the same bug, once
    last = [ln.strip() for ln in exc_text.splitlines() if ln.strip().startswith('File "')]
    where = last[-1] if last else ""
    head = exc_text.strip().splitlines()[-1] if exc_text.strip() else kind
    # the message without numbers and quoted text: "record 3 ... 'x'" and "record 5 ... 'y'"
    # are one bug
    words = re.sub(r"'[^']*'|\"[^\"]*\"|b'.*|[0-9]+", "", head)[:60]
    return hashlib.sha1(f"{kind}|{words}|{where}".encode()).hexdigest()[:12]


class _Watchdog(threading.Thread):
    """Saves the input that runs longer than ``timeout`` and ends the process (a hang).

    The kernels release the GIL, so this thread runs while one is stuck. It counts the
    time an input has run in polls of 0.25 s, each counted as at most 1 s: a poll that
    comes much later than due means the whole process was stopped (``SIGSTOP`` while a
    benchmark runs, ``SIGCONT`` later) or starved of CPU, and that time is not the
    input's. A hang that holds the GIL (this thread cannot run) is left to
    :class:`_CpuBackstop`.
    """

    POLL = 0.25
    MAX_STEP = 1.0

    def __init__(self, timeout: float, save):
        super().__init__(daemon=True)
        self.timeout, self.save = timeout, save
        self.current: bytes | None = None
        self.serial = 0         # bumped per input, so that a new input restarts the count
        self.stopped = threading.Event()

    def start_input(self, data: bytes) -> None:
        self.serial += 1
        self.current = data

    def run(self):
        seen, ran = -1, 0.0
        last = time.monotonic()
        while not self.stopped.wait(min(self.POLL, self.timeout / 4)):
            now = time.monotonic()
            step, last = min(now - last, self.MAX_STEP), now
            cur, serial = self.current, self.serial
            if cur is None or serial != seen:
                seen, ran = serial, 0.0
                continue
            ran += step
            if ran > self.timeout:
                self.save(cur, "hang", f"input ran longer than {self.timeout} s\n"
                          + "".join(traceback.format_stack(sys._current_frames()[
                              threading.main_thread().ident])))
                sys.stderr.write(f"fuzz: hang (> {self.timeout} s); input saved\n")
                sys.stderr.flush()
                os._exit(3)


class _CpuBackstop:
    """The backstop for a hang that holds the GIL, which the watchdog thread cannot see.

    ``ITIMER_PROF`` counts the CPU time of the process (not wall time: a stopped process
    uses none, so ``SIGSTOP`` cannot trip it), armed per input at ``3 * timeout``
    seconds; ``faulthandler`` writes every thread's stack to ``file`` on ``SIGPROF`` and
    then lets its default action end the process. The input itself is in
    ``last-input.seed<S>.bin`` (see :func:`fuzz`). Re-arming a timer is one system call, where
    ``faulthandler.dump_traceback_later`` started a thread per input (~80 us).
    """

    def __init__(self, timeout: float, file):
        import signal

        self.signal = signal
        self.seconds = 3 * timeout
        self.usable = hasattr(signal, "setitimer") and hasattr(signal, "SIGPROF") and \
            threading.current_thread() is threading.main_thread()
        if self.usable:
            faulthandler.register(signal.SIGPROF, file=file, all_threads=True, chain=True)

    def arm(self) -> None:
        if self.usable:
            self.signal.setitimer(self.signal.ITIMER_PROF, self.seconds)

    def disarm(self) -> None:
        if self.usable:
            self.signal.setitimer(self.signal.ITIMER_PROF, 0)

    def close(self) -> None:
        if self.usable:
            self.disarm()
            faulthandler.unregister(self.signal.SIGPROF)


class _LastInput:
    """The input about to run, written to ``last-input.seed<S>.bin`` before it runs.

    A hard crash (a segfault with no sanitizer report, a kill) then leaves its input
    behind; the file is removed when the run ends normally. One ``pwrite`` and one
    ``ftruncate`` per input into the page cache, which outlives the process.
    """

    def __init__(self, path: Path):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def write(self, data: bytes) -> None:
        os.pwrite(self.fd, data, 0)
        os.ftruncate(self.fd, len(data))

    def close(self, keep: bool = False) -> None:
        os.close(self.fd)
        if not keep:
            self.path.unlink(missing_ok=True)


def fuzz(target: Target, *, seconds: float | None = None, inputs: int | None = None,
         seed: int = 0, findings_dir: str | os.PathLike = "fuzz-findings", timeout: float = 10.0,
         max_len: int = DEFAULT_MAX_LEN, report=None) -> FuzzRun:
    """Fuzz ``target`` until ``seconds`` (CPU time of this process) pass or ``inputs``
    have run, whichever comes first.

    Every seed is run once first, unmutated; different ``seed`` values give different
    mutations, so a campaign runs in chunks of different seeds. CPU time, not wall time,
    is the budget, so that a run paused with ``SIGSTOP`` keeps its share. Returns the
    counts; findings are saved under ``findings_dir/<target>/``, and the input being run
    is in ``findings_dir/<target>/last-input.seed<seed>.bin`` until the run ends normally.
    """
    rng = random.Random(seed)
    corpus = [bytes(s) for s in target.seeds()]
    if not corpus:
        corpus = [b""]
    max_len = max(max_len, *map(len, corpus))
    seen_outcomes: set = set()
    out_dir = Path(findings_dir) / target.name
    result = FuzzRun(target.name)
    saved_per_sig: dict[str, int] = {}

    def save(data: bytes, kind: str, text: str) -> None:
        sig = _signature(text, kind)
        result.findings += 1
        result.unique[sig] = result.unique.get(sig, 0) + 1
        n = saved_per_sig.get(sig, 0)
        if n >= 5:                      # five examples of one bug are enough
            return
        saved_per_sig[sig] = n + 1
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = out_dir / f"{kind}-{sig}-seed{seed}-{n}"
        stem.with_suffix(".bin").write_bytes(data)
        stem.with_suffix(".txt").write_text(f"target {target.name}, seed {seed}, input "
                                            f"{result.inputs}, {len(data)} bytes\n{text}")

    unraisable: list[str] = []

    def hook(info):
        unraisable.append("".join(traceback.format_exception(
            info.exc_type, info.exc_value, info.exc_traceback))
            + f"\n(Exception ignored in: {info.object!r})")

    mutate = Mutator(rng, corpus, max_len)
    watchdog = _Watchdog(timeout, save)
    old_hook = sys.unraisablehook
    sys.unraisablehook = hook
    out_dir.mkdir(parents=True, exist_ok=True)
    backstop_path = out_dir / f"faulthandler.seed{seed}.txt"
    backstop_file = open(backstop_path, "w")  # noqa: SIM115 - open while fuzzing
    # a fatal signal (SIGSEGV, SIGABRT from a sanitizer) also dumps the Python stacks
    was_enabled = faulthandler.is_enabled()
    faulthandler.enable(file=backstop_file, all_threads=True)
    backstop = _CpuBackstop(timeout, backstop_file)
    last_input = _LastInput(out_dir / f"last-input.seed{seed}.bin")
    watchdog.start()
    t0, c0 = time.perf_counter(), time.process_time()
    budget = seconds
    pending_seeds = list(corpus)
    ended = False
    try:
        while True:
            if inputs is not None and result.inputs >= inputs:
                break
            if budget is not None and (result.inputs & 15) == 0 \
                    and time.process_time() - c0 >= budget:
                break
            data = pending_seeds.pop() if pending_seeds else mutate(rng.choice(corpus))
            last_input.write(data)
            watchdog.start_input(data)
            backstop.arm()
            try:
                outcome = target.run(data)
            except Exception:   # noqa: BLE001 - any exception is a finding
                save(data, "error", traceback.format_exc())
                outcome = None
            finally:
                backstop.disarm()
                watchdog.current = None
            if unraisable:
                save(data, "unraisable", "\n".join(unraisable))
                unraisable.clear()
            result.inputs += 1
            if outcome is not None and outcome not in seen_outcomes and len(corpus) < 4096:
                seen_outcomes.add(outcome)
                corpus.append(data)
            if report is not None and (result.inputs & 1023) == 0:
                report(result, time.process_time() - c0)
        ended = True
    finally:
        result.seconds = time.perf_counter() - t0
        result.cpu_seconds = time.process_time() - c0
        result.corpus = len(corpus)
        result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        watchdog.stopped.set()
        backstop.close()
        last_input.close(keep=not ended)
        if was_enabled:
            faulthandler.enable(all_threads=True)
        else:
            faulthandler.disable()
        backstop_file.close()
        sys.unraisablehook = old_hook
        if backstop_path.stat().st_size == 0:
            backstop_path.unlink()
        with contextlib.suppress(OSError):  # not empty, or another chunk removed it
            out_dir.rmdir()
    return result


def u16(value: int) -> bytes:
    """``value`` as a little-endian uint16 (for hand-made binary seeds)."""
    return struct.pack("<H", value)
