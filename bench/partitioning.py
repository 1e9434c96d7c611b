"""A city on one PostgreSQL: the big tables partitioned by district (the first six digits of the
area code), and the plans of the hot queries pruned to one district.

    .venv/bin/python bench/partitioning.py [--districts 8] [--persons-per-district 50000]
                                           [--rounds 20] [--keep]

Builds, in `doorstep_bench_partitioning`, the tables a district's day is made of — households,
persons, visits, household progress and grid tallies — twice with the same rows: once declared
`PARTITION BY LIST (district)` with one partition per district, once as plain tables (the
baseline). Every row carries its `district`, and every hot query of a district names it (the
selectors know the user's district from the jurisdiction's path). For each hot query the script
prints the EXPLAIN of the partitioned layout, counts the partitions the plan touches (must be
1 of N: pruned at plan time), and times it on both layouts (median of `rounds`, same run). A
city-wide rollup (command of the city: no district) is shown too: an Append over all of them.
Prints; asserts nothing.
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchDB, log, save_results

FIRST_DISTRICT = 500101  # Chongqing's districts: 500101, 500102, … (the demo is 500109)
TABLES = ("household", "person", "visit", "progress", "tally")

SCHEMA = """
CREATE TABLE {p}household (
    district char(6) NOT NULL, id bigint NOT NULL, grid_id bigint NOT NULL,
    household_number varchar(32) NOT NULL, address varchar(200) NOT NULL,
    PRIMARY KEY (district, id)
){part};
CREATE TABLE {p}person (
    district char(6) NOT NULL, id bigint NOT NULL, household_id bigint NOT NULL,
    name varchar(50) NOT NULL, id_number varchar(18) NOT NULL, phone varchar(20) NOT NULL,
    PRIMARY KEY (district, id)
){part};
CREATE TABLE {p}visit (
    district char(6) NOT NULL, id bigint NOT NULL, campaign_id int NOT NULL,
    household_id bigint NOT NULL, outcome varchar(16) NOT NULL,
    visited_at timestamptz NOT NULL, PRIMARY KEY (district, id)
){part};
CREATE TABLE {p}progress (
    district char(6) NOT NULL, campaign_id int NOT NULL, household_id bigint NOT NULL,
    grid_id bigint NOT NULL, assigned_to int, state varchar(16) NOT NULL,
    persons_total smallint NOT NULL, persons_seen smallint NOT NULL,
    PRIMARY KEY (district, campaign_id, household_id)
){part};
CREATE TABLE {p}tally (
    district char(6) NOT NULL, campaign_id int NOT NULL, grid_id bigint NOT NULL,
    state varchar(16) NOT NULL, households int NOT NULL, persons int NOT NULL,
    PRIMARY KEY (district, campaign_id, grid_id, state)
){part};
CREATE INDEX ON {p}person (district, id_number);
CREATE INDEX ON {p}person (district, household_id);
CREATE INDEX ON {p}household (district, household_number);
CREATE INDEX ON {p}visit (district, campaign_id, household_id, visited_at);
CREATE INDEX ON {p}progress (district, campaign_id, assigned_to, grid_id);
"""

# One district's rows, from generate_series: ~2.9 persons a household, 100 grids a district,
# ~3 visits a household, a worker per grid. {d} is the district code (digits), {n} its persons.
FILL = """
INSERT INTO {p}household
SELECT '{d}', h, {d}::bigint * 1000 + h % 100, '{d}' || lpad(h::text, 8, '0'), '路' || h || '号'
FROM generate_series(1, {n} / 3) h;
INSERT INTO {p}person
SELECT '{d}', i, 1 + (i - 1) / 3, '居民' || i,
       '{d}' || '19800101' || lpad((i % 10000)::text, 4, '0'), '138' || lpad(i::text, 8, '0')
FROM generate_series(1, ({n} / 3) * 3) i;
INSERT INTO {p}visit
SELECT '{d}', v, 1, 1 + (v - 1) / 3, (ARRAY['not_home','refused','screened'])[1 + v % 3],
       now() - (v % 5000) * interval '1 minute'
FROM generate_series(1, ({n} / 3) * 3) v;
INSERT INTO {p}progress
SELECT '{d}', 1, h, {d}::bigint * 1000 + h % 100, h % 100,
       (ARRAY['screened','revisit','not_started'])[1 + h % 3], 3,
       CASE WHEN h % 3 = 0 THEN 3 ELSE 0 END
FROM generate_series(1, {n} / 3) h;
INSERT INTO {p}tally
SELECT district, campaign_id, grid_id, state, count(*), sum(persons_total)
FROM {p}progress WHERE district = '{d}' GROUP BY district, campaign_id, grid_id, state;
"""

# The hot queries of one district's day, each naming the district (as the selectors would).
HOT = {
    "worker list (a worker's households in grid order)": """
        SELECT p.household_id, h.household_number, h.address, p.state
        FROM {p}progress p JOIN {p}household h
             ON h.district = p.district AND h.id = p.household_id
        WHERE p.district = %(d)s AND p.campaign_id = 1 AND p.assigned_to = 7
        ORDER BY p.grid_id, h.household_number""",
    "coverage rollup (grid tallies of the district)": """
        SELECT grid_id, state, sum(households), sum(persons)
        FROM {p}tally WHERE district = %(d)s AND campaign_id = 1
        GROUP BY grid_id, state""",
    "search by ID number": """
        SELECT h.household_number, pe.name FROM {p}person pe
        JOIN {p}household h ON h.district = pe.district AND h.id = pe.household_id
        WHERE pe.district = %(d)s AND pe.id_number = %(d)s || '198001010042'""",
    "a household's visits (the fold's input)": """
        SELECT outcome, visited_at FROM {p}visit
        WHERE district = %(d)s AND campaign_id = 1 AND household_id = 4242
        ORDER BY visited_at""",
    "gap list (households not started, first page)": """
        SELECT household_id FROM {p}progress
        WHERE district = %(d)s AND campaign_id = 1 AND state = 'not_started'
        ORDER BY grid_id, household_id LIMIT 50""",
}
CITY = """
    SELECT district, state, sum(households) FROM {p}tally WHERE campaign_id = 1
    GROUP BY district, state"""


def district_codes(count: int) -> list[str]:
    return [str(FIRST_DISTRICT + i) for i in range(count)]


def build(conn, districts: list[str], persons: int) -> None:
    for prefix, part in (("part_", " PARTITION BY LIST (district)"), ("flat_", "")):
        conn.execute(SCHEMA.format(p=prefix, part=part))
    for table in TABLES:
        for code in districts:
            conn.execute(
                f"CREATE TABLE part_{table}_{code} PARTITION OF part_{table} "
                f"FOR VALUES IN ('{code}')"
            )
    for code in districts:
        t0 = time.perf_counter()
        for prefix in ("part_", "flat_"):
            # the values are this script's own digits, formatted into the SQL
            for statement in FILL.format(p=prefix, d=int(code), n=int(persons)).split(";"):
                if statement.strip():
                    conn.execute(statement)
        seconds = time.perf_counter() - t0
        log(f"district {code}: {persons:,} persons on both layouts in {seconds:.1f} s")
    conn.execute("VACUUM ANALYZE")


def partitions_in(plan: str, table_names: set[str]) -> set[str]:
    return {m for m in re.findall(r"\bpart_[a-z]+_\d{6}\b", plan) if m in table_names}


def timed(conn, sql: str, params: dict, rounds: int) -> float:
    conn.execute(sql, params).fetchall()  # warm: plan cache and buffers, as in a running server
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        conn.execute(sql, params).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--districts", type=int, default=8)
    parser.add_argument("--persons-per-district", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    db = BenchDB("postgres", "doorstep_bench_partitioning")
    db.create_empty()
    districts = district_codes(args.districts)
    conn = db.connect()
    t0 = time.perf_counter()
    build(conn, districts, args.persons_per_district)
    log(f"built {len(districts)} districts in {time.perf_counter() - t0:.1f} s")
    all_partitions = {f"part_{t}_{c}" for t in TABLES for c in districts}
    target = districts[len(districts) // 2]
    params = {"d": target}
    results = {"districts": len(districts), "persons_per_district": args.persons_per_district}
    rows = []
    for label, sql in HOT.items():
        plan = "\n".join(
            r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + sql.format(p="part_"), params)
        )
        touched = partitions_in(plan, all_partitions)
        tables = {name.rsplit("_", 1)[0] for name in touched}
        per_table = {t: sorted(n for n in touched if n.startswith(t + "_")) for t in tables}
        pruned = all(names == [f"{t}_{target}"] for t, names in per_table.items())
        partitioned_ms = timed(conn, sql.format(p="part_"), params, args.rounds)
        flat_ms = timed(conn, sql.format(p="flat_"), params, args.rounds)
        print(f"\n=== {label}, district {target}\n{plan}")
        print(
            f"--> partitions touched: {', '.join(sorted(touched))} "
            f"({'pruned to one district' if pruned else 'NOT PRUNED'} of {len(districts)}); "
            f"median {partitioned_ms:.2f} ms partitioned vs {flat_ms:.2f} ms on one table "
            f"(ratio {partitioned_ms / flat_ms:.2f})"
        )
        rows.append((label, pruned, len(touched), partitioned_ms, flat_ms))
        results[label] = {
            "pruned": pruned,
            "partitions": sorted(touched),
            "partitioned_ms": round(partitioned_ms, 3),
            "flat_ms": round(flat_ms, 3),
        }
    city_plan = "\n".join(
        r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + CITY.format(p="part_"))
    )
    city_ms = timed(conn, CITY.format(p="part_"), {}, args.rounds)
    city_flat = timed(conn, CITY.format(p="flat_"), {}, args.rounds)
    touched = partitions_in(city_plan, all_partitions)
    print(f"\n=== city-wide rollup (no district: every partition)\n{city_plan}")
    print(
        f"--> partitions touched: {len(touched)} of {len(districts)}; median {city_ms:.2f} ms "
        f"partitioned vs {city_flat:.2f} ms on one table"
    )
    results["city rollup"] = {
        "partitions": len(touched),
        "partitioned_ms": round(city_ms, 3),
        "flat_ms": round(city_flat, 3),
    }
    print(f"\n{len(districts)} districts x {args.persons_per_district:,} persons")
    print(f"{'hot query':<52} {'pruned':>7} {'partitioned':>12} {'one table':>10} {'ratio':>6}")
    for label, pruned, _count, part_ms, flat_ms in rows:
        print(
            f"{label:<52} {'yes' if pruned else 'NO':>7} {part_ms:>9.2f} ms "
            f"{flat_ms:>7.2f} ms {part_ms / flat_ms:>6.2f}"
        )
    conn.close()
    if not args.keep:
        db.drop()
    print(f"saved {save_results('partitioning', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
