"""The parts of a zipped workbook (XLSX, ODS), opened only after their declared sizes pass.

A zip says in its directory how large each part unpacks to; `zipfile` never hands out more than
that (and checks the CRC at the end), so refusing by the declared sizes and ratios before reading
is what stops a zip bomb, and a part that lies about its size ends as a damaged file.
"""

import zipfile
from typing import IO

from .limits import RATIO_FLOOR, SheetLimits
from .problems import SheetRefused

MAX_PARTS = 10_000


class ZippedWorkbook:
    def __init__(self, path: str, limits: SheetLimits):
        self.limits = limits
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise SheetRefused("damaged") from None
        infos = self.zip.infolist()
        if len(infos) > MAX_PARTS:
            raise SheetRefused("structure")
        self.parts = {info.filename: info for info in infos}
        self.unpacked = 0  # declared bytes of the parts opened so far

    def has(self, name: str) -> bool:
        return name in self.parts

    def open(self, name: str, *, max_bytes: int | None = None) -> IO[bytes]:
        """A stream of one part, or SheetRefused when its declared size or compression ratio
        is out of bounds (`max_bytes`: a tighter cap for parts that are small in any workbook)."""
        info = self.parts.get(name)
        if info is None:
            raise SheetRefused("damaged")
        if info.flag_bits & 0x1:
            raise SheetRefused("encrypted")
        size = info.file_size
        self.unpacked += size
        if self.unpacked > self.limits.max_unpacked_bytes or (max_bytes and size > max_bytes):
            raise SheetRefused("unpacked_too_large", limit=self.limits.max_unpacked_bytes)
        if size > RATIO_FLOOR:
            ratio = size / max(1, info.compress_size)
            if ratio > self.limits.max_unpack_ratio:
                raise SheetRefused(
                    "unpack_ratio", ratio=int(ratio), limit=self.limits.max_unpack_ratio
                )
        try:
            return self.zip.open(info)
        except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError):
            raise SheetRefused("damaged") from None

    def read_small(self, name: str, max_bytes: int = 64 * 1024 * 1024) -> bytes:
        with self.open(name, max_bytes=max_bytes) as stream:
            try:
                return stream.read()
            except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                raise SheetRefused("damaged") from None

    def close(self) -> None:
        self.zip.close()


def read_chunks(stream: IO[bytes], size: int = 1 << 20):
    """The part's bytes in chunks; a part that breaks off or fails its CRC is a damaged file."""
    while True:
        try:
            chunk = stream.read(size)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            raise SheetRefused("damaged") from None
        if not chunk:
            return
        yield chunk
