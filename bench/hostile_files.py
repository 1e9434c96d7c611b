"""Hostile spreadsheets against the sheet reader, full size, beside the reader they replaced.

    .venv/bin/python bench/hostile_files.py [--only NAME ...] [--no-old]

Builds each hostile file under var/bench/hostile/ (never committed; the shapes come from
tests/hostile_sheets.py), then reads it the way an upload is read: `open_sheet(path).rows()`
in this process, which plays the serving process. For each it prints the refusal (or the rows
read and the rows flagged), the time to the refusal, the reading process's peak memory, and this
process's RSS before and after. Targets (issue 9): refused within 5 s and 300 MB of the reading
process's memory, the serving process's RSS unchanged.

Baseline measured in the same run: the same file read as before this change (python-calamine's
whole-sheet read, or the csv module) in a throw-away process capped at 3 GB and 60 s, so the
machine survives it, and the time and peak of an ordinary 1,000-row roster through the new
reader (the ratio column is hostile time / ordinary time). Nothing is asserted.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "doorstep.settings.dev")

import django  # noqa: E402

django.setup()

from _common import BENCH_VAR, PYTHON, log, save_results  # noqa: E402

from doorstep.core.sheets.reading import UnreadableFile, open_sheet  # noqa: E402
from tests import hostile_sheets as hostile  # noqa: E402
from tests.sheets import write_xls, write_xlsx  # noqa: E402

FOLDER = BENCH_VAR / "hostile"
TARGET_SECONDS, TARGET_MB = 5.0, 300
OLD_CAP_BYTES, OLD_TIMEOUT = 3 << 30, 60

_OLD_READER = """
import csv, resource, sys, json
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
path = sys.argv[1]
rows = 0
if path.endswith('.csv'):
    with open(path, encoding='utf-8', newline='') as handle:
        for row in csv.reader(handle):
            rows += 1
else:
    from python_calamine import CalamineWorkbook
    book = CalamineWorkbook.from_path(path)
    for name in book.sheet_names:
        sheet = book.get_sheet_by_name(name)
        if sheet.height > 0:
            for row in sheet.iter_rows():
                rows += 1
            break
peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))
print(json.dumps({{'rows': rows, 'peak_kb': peak}}))
"""


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ordinary(path: Path) -> Path:
    rows = [[f"H{i}", f"张{i}", f"50010919900101{i % 10000:04d}"] for i in range(1000)]
    return write_xlsx(path, rows, header=["户号", "姓名", "身份证号"])


def late_trouble_csv(path: Path) -> Path:
    good = [[f"H{i}", f"张{i}", f"5001091990{i:08d}"] for i in range(200_000)]
    return hostile.csv_with_late_trouble(path, good, ["户号", "姓名", "身份证号"])


def nul_csv(path: Path) -> Path:
    lines = ["户号,姓名,备注"] + [
        f"H{i},张{i},备注{chr(0) if i % 200 == 0 else ''}{i}" for i in range(10_000)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def xls_full(path: Path) -> Path:
    source = write_xls(path.with_suffix(".ok.xls"), [["H1", "张三"]], header=["户号", "姓名"])
    return hostile.xls_claiming_a_full_sheet(path, source)


FILES = {
    "xfd-used-range.xlsx": ("used range A1:XFD1048576", hostile.used_range_xfd),
    "20m-cells.xlsx": ("20M cells, 1,000,000 × 20", lambda p: hostile.many_cells(p, 10**6, 20)),
    "16384-columns.xlsx": ("16,384 columns in a row", hostile.wide_row),
    "zip-bomb.xlsx": ("zip bomb: 2 GB of spaces", lambda p: hostile.zip_bomb(p, 2 << 30)),
    "deep-strings.xlsx": (
        "shared string 1,000,000 elements deep",
        lambda p: hostile.deep_shared_strings(p, 10**6),
    ),
    "declared-strings.xlsx": (
        "shared strings declaring 10^9 entries",
        lambda p: hostile.huge_shared_strings(p, 10, 10**9),
    ),
    "30m-strings.xlsx": (
        "30,000,000 shared strings, none declared",
        lambda p: hostile.huge_shared_strings(p, 30 * 10**6, 0),
    ),
    "rows-past-last.xlsx": (
        "a cell on row 1,048,577",
        lambda p: hostile.rows_past_the_last(p, 1_048_577),
    ),
    "xls-full-sheet.xls": ("XLS declaring 65,536 × 256", xls_full),
    "ods-wide.ods": ("ODS: one cell repeated over 16,384 columns", hostile.ods_wide),
    "late-trouble.csv": ("CSV: 140 KB cell, bad UTF-8, NUL after 200,000 rows", late_trouble_csv),
    "nul.csv": ("CSV: a NUL in one row of 200", nul_csv),
}


def read_new(path: Path) -> dict:
    before = rss_mb()
    started = time.perf_counter()
    rows = flagged = 0
    outcome = ""
    source = None
    try:
        source = open_sheet(path)
        for row in source.rows():
            rows += 1
            flagged += bool(row.problem)
        outcome = f"read: {rows:,} rows, {flagged:,} flagged with a reason"
    except UnreadableFile as refused:
        outcome = f"refused: {refused}"
    seconds = time.perf_counter() - started
    stats = source.stats if source is not None else None
    return {
        "outcome": outcome,
        "seconds": round(seconds, 2),
        "reader_peak_mb": round(stats.peak_rss_kb / 1024, 1) if stats else 0.0,
        "reader_cpu_s": round(stats.cpu_seconds, 2) if stats else 0.0,
        "serving_rss_before_mb": round(before, 1),
        "serving_rss_after_mb": round(rss_mb(), 1),
    }


def read_old(path: Path) -> dict:
    started = time.perf_counter()
    script = _OLD_READER.format(cap=OLD_CAP_BYTES)
    try:
        proc = subprocess.run(
            [PYTHON, "-c", script, str(path)],
            capture_output=True,
            text=True,
            timeout=OLD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": f"still reading after {OLD_TIMEOUT} s (killed)", "seconds": OLD_TIMEOUT}
    seconds = round(time.perf_counter() - started, 2)
    if proc.returncode == 0:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        return {
            "outcome": f"read {result['rows']:,} rows",
            "seconds": seconds,
            "peak_mb": round(result["peak_kb"] / 1024, 1),
        }
    signal = -proc.returncode if proc.returncode < 0 else None
    last = (proc.stderr.strip().splitlines() or [""])[-1][:80]
    how = f"died of signal {signal}" if signal else f"exit {proc.returncode}: {last}"
    return {"outcome": f"{how} (capped at {OLD_CAP_BYTES >> 30} GB)", "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="file names to run (default: all)")
    parser.add_argument("--no-old", action="store_true", help="skip the old reader")
    args = parser.parse_args()
    FOLDER.mkdir(parents=True, exist_ok=True)
    base_path = ordinary(FOLDER / "ordinary-1000.xlsx")
    read_new(base_path)  # warm up: imports, first child
    base = read_new(base_path)
    print(
        f"baseline: an ordinary 1,000-row XLSX read in {base['seconds']} s, reading process "
        f"peak {base['reader_peak_mb']} MB",
        flush=True,
    )
    results = {"baseline": base, "files": {}}
    for name, (label, build) in FILES.items():
        if args.only and name not in args.only:
            continue
        path = FOLDER / name
        if not path.exists():
            started = time.perf_counter()
            build(path)
            log(f"{name}: built in {time.perf_counter() - started:.1f} s")
        new = read_new(path)
        old = {} if args.no_old else read_old(path)
        ratio = new["seconds"] / max(base["seconds"], 0.001)
        within = new["seconds"] <= TARGET_SECONDS and new["reader_peak_mb"] <= TARGET_MB
        if new["outcome"].startswith("refused"):
            verdict = f"{'within' if within else 'OUTSIDE'} {TARGET_SECONDS:.0f} s / {TARGET_MB} MB"
        else:
            verdict = "read, its unusable rows each with a reason"
        grew = new["serving_rss_after_mb"] - new["serving_rss_before_mb"]
        print(
            f"{label} [{name}, {path.stat().st_size / 1024:,.1f} KB]\n"
            f"    new: {new['outcome']}\n"
            f"         {new['seconds']} s ({ratio:.1f}× the ordinary file), reading process "
            f"peak {new['reader_peak_mb']} MB, {new['reader_cpu_s']} s CPU; serving process "
            f"RSS {new['serving_rss_before_mb']} → {new['serving_rss_after_mb']} MB "
            f"({grew:+.1f}) -> {verdict}"
            + (
                f"\n    old: {old['outcome']} after {old['seconds']} s"
                + (f", peak {old['peak_mb']} MB" if "peak_mb" in old else "")
                if old
                else ""
            ),
            flush=True,
        )
        results["files"][name] = {"label": label, "new": new, "old": old, "ratio": ratio}
    print(
        f"serving process peak RSS over the run: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB"
    )
    saved = save_results("hostile", results)
    log(f"results saved to {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
