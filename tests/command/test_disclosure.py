"""Disclosure control against an attacker who knows the rules and solves the equations: for every
random table, no hidden cell has a single possible value."""

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


def _sums(domains: list[range | set[int]], cap: int) -> set[int]:
    """Every total of one whole number from each domain (at most `cap`)."""
    totals = {0}
    for domain in domains:
        totals = {t + v for t in totals for v in domain if t + v <= cap}
    return totals


def brute_force_values(cells: dict[str, Cell], k: int) -> dict[str, set[int]]:
    """Every value each hidden cell can take in some whole-number solution of the published
    table (an independent attacker: enumerates the sums, street by street, then the district)."""
    cap = cells["D"].value
    streets = sorted(c for c in cells if c.startswith("S"))
    kids = {s: sorted(c for c in cells if cells[c].parent == s) for s in streets}
    domains = {c: set(_domain(cells[c], k, cap)) for c in cells}
    # a street's values that its communities can add up to
    alone = {s: domains[s] & _sums([domains[c] for c in kids[s]], cap) for s in streets}
    # ... and that the other streets can complete to the district's total
    street_values = {
        s: {t for t in alone[s] if cap - t in _sums([alone[o] for o in streets if o != s], cap)}
        for s in streets
    }
    possible: dict[str, set[int]] = {c: set() for c in cells if cells[c].hidden}
    for street in streets:
        if street in possible:
            possible[street] = set(street_values[street])
        for kid in kids[street]:
            if kid not in possible:
                continue
            rest = _sums([domains[c] for c in kids[street] if c != kid], cap)
            possible[kid] = {
                v for v in domains[kid] if any(t - v in rest for t in street_values[street])
            }
    return possible


tables = st.lists(
    st.lists(st.integers(min_value=0, max_value=14), min_size=1, max_size=3), min_size=1, max_size=3
)


def _subtraction_leaks(cells: dict[str, Cell]) -> list[str]:
    """Hidden cells a reader works out by subtraction: a published parent minus its published
    children leaves one hidden child; a hidden parent whose children are all published."""
    leaks = []
    for parent in cells.values():
        children = [c for c in cells.values() if c.parent == parent.code]
        if not children:
            continue
        hidden = [c.code for c in children if c.hidden]
        if not parent.hidden and len(hidden) == 1:
            leaks.append(hidden[0])
        if parent.hidden and not hidden:
            leaks.append(parent.code)
    return leaks


def _everything_hidden(cells: dict[str, Cell]) -> dict[str, Cell]:
    """The most a table can hide: every non-zero cell below the district."""
    return {
        code: Cell(
            code, c.parent, c.value, c.hidden or (COMPLEMENTARY if code != "D" and c.value else "")
        )
        for code, c in cells.items()
    }


@settings(max_examples=300, deadline=None)
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
    refused = sorted(e["cell"] for e in result.log if e["rule"] == "unprotectable")
    if refused:
        # only a table that no suppression protects is given up on (and then refused)
        most = brute_force_values(_everything_hidden(cells), k)
        for code in refused:
            assert cells[code].hidden == PRIMARY and most[code] == {cells[code].value}
        assert result.unprotectable == refused
        return
    assert _subtraction_leaks(cells) == [], (values, k)
    possible = brute_force_values(cells, k)
    for code, found in possible.items():
        assert len(found) > 1, (code, cells[code].value, found, values, k)
        assert cells[code].value in found
    logged = {e["cell"] for e in result.log}
    assert logged == {c.code for c in cells.values() if c.hidden}
    assert result.unprotectable == []


def test_a_small_street_whose_community_is_alone_is_protected_through_the_other_street():
    # S0 = 9 - 7 and C0_0 = S0 - 0 were recoverable: the old search gave up at C0_0
    cells = _table([[2, 0], [7]])
    result = disclosure.suppress(cells, root="D", k=5)
    assert result.unprotectable == []
    assert {c for c in cells if cells[c].hidden} == {"S0", "C0_0", "S1", "C1_0"}
    assert all(len(v) > 1 for v in brute_force_values(cells, 5).values())


def test_a_street_holding_the_whole_district_cannot_be_protected():
    cells = _table([[2]])
    result = disclosure.suppress(cells, root="D", k=5)
    assert result.unprotectable == ["C0_0", "S0"]
    assert result.shown("D", 5) == "2"


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
