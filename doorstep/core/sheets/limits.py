"""The caps a sheet is read under. Django-free: the child process gets them as JSON."""

import json
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class SheetLimits:
    max_file_bytes: int = 300 * 1024 * 1024
    max_rows: int = 1_048_576  # Excel's own last row: a full XLSX roster still fits
    max_columns: int = 100
    max_cell_chars: int = 32_767  # Excel's own cell limit
    max_unpacked_bytes: int = 2 * 1024 * 1024 * 1024  # all parts read from one zip, together
    max_unpack_ratio: int = 100  # uncompressed / compressed, for a part over RATIO_FLOOR bytes
    max_shared_strings: int = 8_000_000
    max_xls_cells: int = 4_000_000  # XLS is parsed whole (python-calamine): all sheets' areas
    memory_bytes: int = 1024 * 1024 * 1024  # RLIMIT_AS of the reading process
    cpu_seconds: int = 900  # RLIMIT_CPU of the reading process
    timeout_seconds: float = 60.0  # longest wait for the next rows from the reading process

    def replaced(self, **changes) -> "SheetLimits":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: dict) -> "SheetLimits":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


# A part smaller than this is not judged by its compression ratio: a small, very repetitive
# part (styles, an empty sheet) is harmless whatever its ratio.
RATIO_FLOOR = 16 * 1024 * 1024
