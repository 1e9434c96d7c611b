"""The calling side of the reading process: start it, take its rows, end it. Django-free.

The child is a fresh `python -I -B` with an empty environment (no secret key, no database URL)
that imports only this package's parsers. The caller waits at most `timeout_seconds` for each
frame and never accepts a frame larger than MAX_FRAME; rows arrive as pickles of plain values,
loaded by an unpickler that knows no class but the datetime types, so even a reading process
taken over by a hostile file could not make the caller run anything.

A reading process that dies (its memory limit, its CPU limit) or stops answering is ended and
its file refused; `ReaderStats` keeps its peak memory and CPU time (os.wait4) for the logs and
for bench/hostile_files.py.
"""

import contextlib
import datetime
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .child import FRAME
from .limits import SheetLimits
from .problems import RowProblem, SheetRefused, SheetRow

MAX_FRAME = 64 * 1024 * 1024
AHEAD_BYTES = 16 * 1024 * 1024  # rows read ahead of the caller, pickled (a few 100,000 rows)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])
_BOOT = (
    "import sys; sys.path.insert(0, {root!r}); from doorstep.core.sheets.child import main; main()"
)
_ALLOWED_CLASSES = {
    ("datetime", "date"): datetime.date,
    ("datetime", "datetime"): datetime.datetime,
    ("datetime", "time"): datetime.time,
    ("datetime", "timedelta"): datetime.timedelta,
}


class ReaderUnavailable(RuntimeError):
    """The reading process could not be started: the server's problem, not the file's."""


class _RowsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_CLASSES[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not a cell value") from None


@dataclass
class ReaderStats:
    peak_rss_kb: int = 0  # the reading process's own peak when it said so, else ru_maxrss
    reported_peak_kb: int = 0
    cpu_seconds: float = 0.0
    seconds: float = 0.0
    exit_status: int | None = None
    rows: int = 0
    declared_rows: int | None = None
    notes: list[str] = field(default_factory=list)


def read_rows(
    request: dict,
    limits: SheetLimits,
    stats: ReaderStats | None = None,
    *,
    ahead_bytes: int = AHEAD_BYTES,
) -> Iterator[SheetRow]:
    """Rows from a reading process for `request` (path, format, encoding, delimiter, after_row);
    SheetRefused when the file is refused, ReaderUnavailable when no process could start. Closing
    the iterator early ends the process. Up to `ahead_bytes` of rows are read ahead of the
    caller (little for a caller that wants a few rows)."""
    stats = stats if stats is not None else ReaderStats()
    started = time.monotonic()
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-I", "-B", "-c", _BOOT.format(root=_PACKAGE_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"},
            cwd="/",
            close_fds=True,
        )
    except OSError as error:
        raise ReaderUnavailable(str(error)) from None
    pump: _Pump | None = None
    try:
        assert process.stdin is not None and process.stdout is not None
        try:
            order = {**request, "limits": _limits_dict(limits), "parent": os.getpid()}
            process.stdin.write(json.dumps(order).encode())
            process.stdin.close()
        except BrokenPipeError:
            pass  # it died at once; its exit status says why below
        pump = _Pump(process.stdout, ahead_bytes)
        pump.start()
        for kind, body in pump.frames_within(limits.timeout_seconds):
            if kind == b"R":
                batch = _RowsUnpickler(io.BytesIO(body)).load()
                stats.rows += len(batch)
                for number, cells, problem in batch:
                    yield SheetRow(number, cells, RowProblem(*problem) if problem else None)
            elif kind == b"M":
                stats.declared_rows = json.loads(body).get("declared_rows")
            elif kind == b"E":
                refusal = json.loads(body)
                stats.reported_peak_kb = refusal.get("peak_kb", 0)
                _end(process, stats, started, kill=False)
                raise SheetRefused(refusal["code"], **refusal.get("params", {}))
            elif kind == b"D":
                stats.reported_peak_kb = json.loads(body).get("peak_kb", 0)
                _end(process, stats, started, kill=False)
                return
        # The stream ended without its last frame: the process died.
        _end(process, stats, started, kill=False)
        raise SheetRefused(_death_reason(stats.exit_status))
    except _Timeout:
        raise SheetRefused("timeout") from None
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError):
        raise SheetRefused("damaged") from None
    finally:
        _end(process, stats, started, kill=True)
        if pump is not None:
            pump.stop()
        if process.stdout is not None:
            process.stdout.close()


def _limits_dict(limits: SheetLimits) -> dict:
    return json.loads(limits.to_json())


def _death_reason(status: int | None) -> str:
    if status in (-signal.SIGXCPU, -signal.SIGKILL):
        return "timeout"
    return "memory"  # SIGABRT / SIGSEGV / SIGBUS: an allocation failed in native code


def _end(process: subprocess.Popen, stats: ReaderStats, started: float, *, kill: bool) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()
    if process.returncode is not None:
        return
    if kill:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
    except ChildProcessError:
        process.returncode = process.returncode or 0
        return
    process.returncode = os.waitstatus_to_exitcode(status)
    stats.exit_status = process.returncode
    stats.peak_rss_kb = stats.reported_peak_kb or usage.ru_maxrss
    stats.cpu_seconds = usage.ru_utime + usage.ru_stime
    stats.seconds = time.monotonic() - started


class _Timeout(Exception):
    pass


class _Pump(threading.Thread):
    """Takes the reading process's frames off the pipe as they come, into a buffer of at most
    AHEAD_BYTES: the reading process goes on parsing while the caller works on the rows it has
    (a pipe holds 64 KB, and without this the two would take turns instead of overlapping).
    Only bytes move here; rows are unpickled by the caller."""

    def __init__(self, stream, ahead_bytes: int) -> None:
        super().__init__(daemon=True, name="sheet-reader-pump")
        self.stream, self.ahead_bytes = stream, ahead_bytes
        self.frames: deque[tuple[bytes, bytes]] = deque()
        self.size = 0
        self.finished = self.closed = False
        self.too_large = False
        self.ready = threading.Condition()

    def run(self) -> None:
        read = self.stream.read
        try:
            while True:
                head = read(FRAME.size)
                if len(head) < FRAME.size:
                    return
                length, kind = FRAME.unpack(head)
                if length > MAX_FRAME:
                    self.too_large = True
                    return
                body = read(length)
                if len(body) < length:
                    return
                with self.ready:
                    while self.size > self.ahead_bytes and not self.closed:
                        self.ready.wait()
                    if self.closed:
                        return
                    self.frames.append((bytes([kind]), body))
                    self.size += len(body)
                    self.ready.notify_all()
        except (OSError, ValueError):
            return  # the pipe was closed under us: the caller is done
        finally:
            with self.ready:
                self.finished = True
                self.ready.notify_all()

    def frames_within(self, timeout: float) -> Iterator[tuple[bytes, bytes]]:
        """Each frame as it comes, within `timeout` seconds of asking for it."""
        while True:
            deadline = time.monotonic() + timeout
            with self.ready:
                while not self.frames:
                    if self.finished:
                        if self.too_large:
                            raise SheetRefused("memory")
                        return
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _Timeout
                    self.ready.wait(left)
                frame = self.frames.popleft()
                self.size -= len(frame[1])
                self.ready.notify_all()
            yield frame

    def stop(self) -> None:
        with self.ready:
            self.closed = True
            self.ready.notify_all()
        self.join(timeout=10)
