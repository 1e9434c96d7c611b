"""Disclosure control against an attacker who knows the rules and solves the equations: for every
random table, no hidden cell has a single possible value."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from doorstep.command import disclosure
from doorstep.command.disclosure import COMPLEMENTARY, PRIMARY, Cell


def _table(values: list[list[int]]) -> dict[str, Cell]:
    """District D; street Si; community Ci_j with the given counts; parents are the sums."""
    cells = {}
    total = 0
    for i, communities in enumerate(values):
        street = sum(communities)
        total += street
        cells[f"S{i}"] = Cell(f"S{i}", "D", street)
        for j, value in enumerate(communities):
            cells[f"C{i}_{j}"] = Cell(f"C{i}_{j}", f"S{i}", value)
    cells["D"] = Cell("D", None, total)
    return cells


def _domain(cell: Cell, k: int, cap: int) -> range:
    if cell.hidden == PRIMARY:
        return range(1, k)
    if cell.hidden == COMPLEMENTARY:
        return range(k, cap + 1)
    return range(cell.value, cell.value + 1)


def brute_force_values(cells: dict[str, Cell], k: int) -> dict[str, set[int]]:
    """Every value each hidden cell can take in some whole-number solution of the published
    table (an independent attacker: enumerates, street by street)."""
    cap = cells["D"].value
    streets = sorted(c for c in cells if c.startswith("S"))
    per_street: dict[str, list[dict[str, int]]] = {}
    for street in streets:
        kids = sorted(c for c in cells if cells[c].parent == street)
        options = []
        for street_value in _domain(cells[street], k, cap):
            domains = [_domain(cells[c], k, cap) for c in kids]
            for combo in itertools.product(*domains):
                if sum(combo) == street_value:
                    options.append({street: street_value, **dict(zip(kids, combo, strict=True))})
        per_street[street] = options
    possible: dict[str, set[int]] = {c: set() for c in cells if cells[c].hidden}
    # the district total ties the streets together
    for choice in itertools.product(*(per_street[s] for s in streets)):
        if sum(option[s] for option, s in zip(choice, streets, strict=True)) != cap:
            continue
        for option in choice:
            for code, value in option.items():
                if code in possible:
                    possible[code].add(value)
    return possible


tables = st.lists(
    st.lists(st.integers(min_value=0, max_value=14), min_size=1, max_size=3), min_size=1, max_size=3
)


@settings(max_examples=150)
@given(values=tables, k=st.integers(min_value=3, max_value=6))
def test_no_hidden_cell_is_recoverable(values, k):
    cells = _table(values)
    result = disclosure.suppress(cells, root="D", k=k)
    assert cells["D"].hidden == ""  # the district total is exact
    for cell in cells.values():
        if cell.code != "D" and 1 <= cell.value <= k - 1:
            assert cell.hidden == PRIMARY
        if cell.value == 0:
            assert result.shown(cell.code, k) == "0"
    if any(e["rule"] == "unprotectable" for e in result.log):
        # only when a single street holds the whole district: its value is the exact total
        return
    possible = brute_force_values(cells, k)
    for code, found in possible.items():
        assert len(found) > 1, (code, cells[code].value, found, values, k)
        assert cells[code].value in found
    logged = {e["cell"] for e in result.log}
    assert logged == {c.code for c in cells.values() if c.hidden}


def test_a_lone_small_sibling_takes_a_partner():
    cells = _table([[3, 20, 40], [9, 9]])
    result = disclosure.suppress(cells, root="D", k=5)
    assert result.shown("C0_0", 5) == "<5"
    assert result.shown("C0_1", 5) == "×"  # the smallest other sibling
    assert result.shown("C0_2", 5) == "40"
    assert result.shown("D", 5) == "81"
    assert result.shown("S1", 5) == "18"


def test_changes_are_withheld_where_either_day_is_hidden():
    today = disclosure.suppress(_table([[3, 20, 40], [9, 9]]), root="D", k=5)
    before = disclosure.suppress(_table([[10, 2, 40], [9, 6]]), root="D", k=5)
    shown, log = disclosure.changes(today, before, k=5)
    assert shown["D"] == "+14"
    assert shown["C0_2"] == "0"
    assert shown["C0_0"] is None and shown["C0_1"] is None  # hidden today / partner
    assert shown["C1_0"] == "0" and shown["C1_1"] == "+3"
    assert {e["cell"] for e in log} >= {"C0_0", "C0_1"}
