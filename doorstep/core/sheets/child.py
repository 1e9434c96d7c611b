"""The reading process: limits itself, reads one sheet, streams its rows to stdout. Django-free.

Started by `sandbox.py` with `python -I -B` and nothing of Django loaded. It reads a JSON request
on stdin, sets its own resource limits before it opens the file (address space, CPU seconds, no
core files, no files written), and answers in frames: a 4-byte length, a 1-byte kind, a body.

  M  JSON   what is known of the sheet before its end ({"declared_rows": N})
  R  pickle a batch of rows, each a tuple (number, cells, problem or None), of plain values only
  E  JSON   the file is refused: {"code": ..., "params": {...}} (problems.REFUSALS)
  D  JSON   the end: {"rows": rows sent}

Nothing it reads from the file reaches stderr or a log: an unexpected error is reported by the
name of its class only.
"""

import contextlib
import json
import pickle
import resource
import struct
import sys
from collections.abc import Iterator

from .limits import SheetLimits
from .problems import SheetRefused, SheetRow

FRAME = struct.Struct(">IB")
BATCH_ROWS = 1000
BATCH_CHARS = 1_000_000
FIRST_BATCH_ROWS = 16  # the column check needs a dozen rows, at once


def _die_with_parent(parent: int) -> None:
    """A reading process outlives nothing: when the process that started it dies (an import
    killed mid-way), the kernel ends this one too (Linux's PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import os
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died before the call
            os._exit(1)
    except (OSError, AttributeError):
        pass  # not Linux: the broken pipe at the next write ends it instead


def _limit_resources(limits: SheetLimits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _peak_kb() -> int:
    """This process's own peak resident memory (VmHWM starts again at exec, unlike ru_maxrss,
    which still counts the parent's pages the fork began with)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reader(request: dict, limits: SheetLimits):
    kind, path = request["format"], request["path"]
    if kind == "csv":
        from .csvrows import csv_rows

        class _Csv:
            declared_rows = None

            def rows(self) -> Iterator[SheetRow]:
                return csv_rows(
                    path,
                    request["encoding"],
                    request["delimiter"],
                    limits,
                    cr_lines=request.get("cr_lines", False),
                )

            def close(self) -> None:
                pass

        return _Csv()
    if kind == "xlsx":
        from .xlsx import XlsxReader

        return XlsxReader(path, limits)
    if kind == "ods":
        from .ods import OdsReader

        return OdsReader(path, limits)
    if kind == "xls":
        from .xls import XlsReader

        return XlsReader(path, limits)
    raise SheetRefused("not_a_sheet")


class _Out:
    def __init__(self) -> None:
        self.stream = sys.stdout.buffer
        self.batch: list[tuple] = []
        self.chars = 0
        self.batch_rows = FIRST_BATCH_ROWS
        self.sent = 0

    def frame(self, kind: bytes, body: bytes) -> None:
        self.stream.write(FRAME.pack(len(body), kind[0]) + body)
        self.stream.flush()

    def row(self, row: SheetRow) -> None:
        problem = tuple(row.problem) if row.problem is not None else None
        self.batch.append((row.number, row.cells, problem))
        self.chars += len(row.cells) * 8 + sum(len(c) for c in row.cells if c.__class__ is str)
        if len(self.batch) >= self.batch_rows or self.chars >= BATCH_CHARS:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            self.frame(b"R", pickle.dumps(self.batch, protocol=pickle.HIGHEST_PROTOCOL))
            self.sent += len(self.batch)
            self.batch, self.chars, self.batch_rows = [], 0, BATCH_ROWS


def main() -> None:
    request = json.loads(sys.stdin.buffer.read(1 << 20))
    limits = SheetLimits.from_dict(request["limits"])
    _die_with_parent(int(request.get("parent", 0)))
    _limit_resources(limits)
    out = _Out()
    after_row = int(request.get("after_row", 0))
    try:
        reader = _reader(request, limits)
        announced = False
        for row in reader.rows():
            if not announced and reader.declared_rows is not None:
                out.frame(b"M", json.dumps({"declared_rows": reader.declared_rows}).encode())
                announced = True
            if row.number > after_row:
                out.row(row)
        out.flush()
        reader.close()
    except SheetRefused as refused:
        out.flush()
        body = {"code": refused.code, "params": refused.params, "peak_kb": _peak_kb()}
        out.frame(b"E", json.dumps(body).encode())
        return
    except MemoryError:
        out.batch = []
        out.frame(b"E", json.dumps({"code": "memory", "params": {}}).encode())
        return
    except BrokenPipeError:
        return  # the caller has all it wanted and stopped reading
    except BaseException as error:  # a library's panic too: any failure is a file we cannot read
        out.batch = []
        body = {"code": "damaged", "params": {"error": type(error).__name__}}
        out.frame(b"E", json.dumps(body).encode())
        return
    out.frame(b"D", json.dumps({"rows": out.sent, "peak_kb": _peak_kb()}).encode())


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
