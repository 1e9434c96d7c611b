"""Every benchmark, in the order their databases depend on each other (`make bench`).

    .venv/bin/python bench/run_all.py [--persons 1000000]

About 30 minutes on a 2-core machine at 1M persons; each script prints its own figures and the
ratio against its same-run baseline, and saves JSON under var/bench/.
"""

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    args = parser.parse_args()
    persons = str(args.persons)
    steps = [
        ["import_roster.py", "--persons", persons, "--db", "both", "--xlsx-rows", "200000"],
        ["search_roster.py", "--persons", persons, "--db", "both"],
        ["sweep.py", "--persons", persons, "--db", "sqlite"],
        ["sweep.py", "--persons", persons, "--db", "postgres"],
        ["hostile_files.py"],
    ]
    failed = 0
    for step in steps:
        print(f"== {' '.join(step)}", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / step[0]), *step[1:]]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
