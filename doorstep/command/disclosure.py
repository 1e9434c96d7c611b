"""Disclosure control of the public bulletin's table.

The table is a tree of counts: the district, its streets, their communities; each parent equals
the sum of its children. Rules (issue 12):

- the district's own totals are exact;
- below the district a count from 1 to k−1 is hidden and shown as "<k" (primary suppression);
  zeros are shown;
- complementary suppression inside each parent: a further cell is hidden (shown "×") until no
  hidden cell can be recovered from the published totals and siblings. "Recovered" is decided by
  an attacker who knows every rule: a "<k" cell lies in 1..k−1, a "×" cell is at least k (it
  would show "<k" or 0 otherwise), and every parent is the sum of its children. The attacker
  computes the tightest bounds of every hidden cell by propagating those equations to a fixed
  point; the equations form a tree, so these bounds are the exact bounds of the linear system
  (and, the matrix being totally unimodular, attained by whole numbers). A cell whose bounds
  meet is recovered, and the next-smallest published sibling (or the parent) is hidden, round
  after round until no hidden cell is recovered;
- a table whose small count is recovered even with every cell below the district hidden (a
  street holding the whole district, say) cannot be protected: it is marked `unprotectable`, and
  a bulletin with it is neither drafted nor published;
- a day-on-day change is published only where both days' cells are published.

Every decision is logged: which cell, which rule, why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRIMARY = "primary"
COMPLEMENTARY = "complementary"
UNBOUNDED = 10**12


@dataclass
class Cell:
    code: str
    parent: str | None
    value: int
    hidden: str = ""  # "", PRIMARY or COMPLEMENTARY


@dataclass
class Suppressed:
    cells: dict[str, Cell]
    log: list[dict[str, object]] = field(default_factory=list)
    # hidden cells the attacker can still work out: the table must not be published
    unprotectable: list[str] = field(default_factory=list)

    def shown(self, code: str, k: int) -> str:
        cell = self.cells[code]
        if cell.hidden == PRIMARY:
            return f"<{k}"
        if cell.hidden == COMPLEMENTARY:
            return "×"
        return str(cell.value)


def groups(cells: dict[str, Cell]) -> dict[str, list[str]]:
    """parent code → child codes (each a linear equation: parent = Σ children)."""
    found: dict[str, list[str]] = {}
    for cell in cells.values():
        if cell.parent is not None and cell.parent in cells:
            found.setdefault(cell.parent, []).append(cell.code)
    for children in found.values():
        children.sort()
    return found


def attacker_bounds(
    published: dict[str, int | None],
    hidden_kind: dict[str, str],
    k: int,
    equations: dict[str, list[str]],
) -> dict[str, tuple[int, int]]:
    """What an attacker who knows the rules can tell of each hidden cell: (lowest, highest)."""
    bounds: dict[str, tuple[int, int]] = {}
    for code, kind in hidden_kind.items():
        bounds[code] = (1, k - 1) if kind == PRIMARY else (k, UNBOUNDED)

    def low(code: str) -> int:
        value = published.get(code)
        return value if value is not None else bounds[code][0]

    def high(code: str) -> int:
        value = published.get(code)
        return value if value is not None else bounds[code][1]

    changed = True
    rounds = 0
    while changed and rounds < 10_000:
        changed = False
        rounds += 1
        for parent, children in equations.items():
            terms = [parent, *children]
            # parent - Σ children = 0: each term's bounds from the others'
            for term in terms:
                if term not in bounds:
                    continue
                if term == parent:
                    lo = sum(low(c) for c in children)
                    hi = sum(high(c) for c in children)
                else:
                    others = [c for c in children if c != term]
                    lo = low(parent) - sum(high(c) for c in others)
                    hi = high(parent) - sum(low(c) for c in others)
                old_lo, old_hi = bounds[term]
                new = (max(old_lo, lo), min(old_hi, hi))
                if new != (old_lo, old_hi):
                    bounds[term] = new
                    changed = True
    return bounds


def pinned(
    published: dict[str, int | None],
    hidden_kind: dict[str, str],
    k: int,
    equations: dict[str, list[str]],
) -> list[str]:
    """The hidden cells whose value the attacker can work out (their bounds meet)."""
    bounds = attacker_bounds(published, hidden_kind, k, equations)
    return sorted(code for code, (lo, hi) in bounds.items() if lo >= hi)


def _exposed(cells: dict[str, Cell], k: int, equations: dict[str, list[str]]) -> list[str]:
    return pinned(
        {c.code: (None if c.hidden else c.value) for c in cells.values()},
        {c.code: c.hidden for c in cells.values() if c.hidden},
        k,
        equations,
    )


def suppress(cells: dict[str, Cell], *, root: str, k: int) -> Suppressed:
    """Hide what must be hidden, in place, and return the cells with the decision log.

    Each round takes the first cell the attacker can still pin that has a partner in its group
    (a published sibling; for a hidden parent, one of its children; else its parent) and hides
    that partner, until no hidden cell is pinned. When no pinned cell has one, the search widens
    to every published cell: the one that leaves the fewest pinned is hidden.

    Hiding more only widens what the attacker must consider, so the table with every cell below
    the district hidden is the most protected one. A small count pinned even there cannot be
    protected: `unprotectable` names it (a bulletin with such a table is refused). A cell pinned
    there is never a partner: hiding it would protect nothing and it would be pinned itself.
    Leaving those out, hiding all that remains protects every hidden cell, so the rounds end."""
    result = Suppressed(cells=cells)
    for cell in sorted(cells.values(), key=lambda c: c.code):
        if cell.code != root and 1 <= cell.value <= k - 1:
            cell.hidden = PRIMARY
            result.log.append(
                {"cell": cell.code, "rule": PRIMARY, "why": f"count between 1 and {k - 1}"}
            )
    equations = groups(cells)
    useless = set(_exposed(_all_hidden(cells, root), k, equations))
    result.unprotectable = sorted(c for c in useless if cells[c].hidden == PRIMARY)
    if result.unprotectable:
        for code in result.unprotectable:
            result.log.append(
                {
                    "cell": code,
                    "rule": "unprotectable",
                    "why": "recoverable even with every cell below the district hidden",
                }
            )
        return result
    while exposed := _exposed(cells, k, equations):
        for code in exposed:
            partner = _complement_for(cells, code, root=root, equations=equations, skip=useless)
            if partner is not None:
                _hide(result, partner, f"protects {code}, else recoverable from its group")
                break
        else:
            # no partner in the groups of the pinned cells: hide the published cell that leaves
            # the fewest pinned (each round hides one more; hiding all of them protects)
            best = min(
                _hideable(cells, root, skip=useless),
                key=lambda c: (_pinned_if_hidden(cells, c.code, k, equations), c.value, c.code),
            )
            _hide(result, best.code, f"protects {', '.join(exposed)}: no partner in their groups")
    return result


def _hideable(cells: dict[str, Cell], root: str, *, skip: set[str] | None = None) -> list[Cell]:
    """Published cells a "×" may cover: never the district, never a zero (shown as 0, and the
    attacker knows that a "×" is at least k; every other published cell below the district is)."""
    return [
        c
        for c in cells.values()
        if c.code != root and not c.hidden and c.value > 0 and c.code not in (skip or ())
    ]


def _hide(result: Suppressed, code: str, why: str) -> None:
    result.cells[code].hidden = COMPLEMENTARY
    result.log.append({"cell": code, "rule": COMPLEMENTARY, "why": why})


def _all_hidden(cells: dict[str, Cell], root: str) -> dict[str, Cell]:
    hideable = {c.code for c in _hideable(cells, root)}
    return {
        code: Cell(c.code, c.parent, c.value, COMPLEMENTARY if code in hideable else c.hidden)
        for code, c in cells.items()
    }


def _pinned_if_hidden(
    cells: dict[str, Cell], code: str, k: int, equations: dict[str, list[str]]
) -> int:
    trial = {c: Cell(x.code, x.parent, x.value, x.hidden) for c, x in cells.items()}
    trial[code].hidden = COMPLEMENTARY
    return len(_exposed(trial, k, equations))


def _complement_for(
    cells: dict[str, Cell],
    code: str,
    *,
    root: str,
    equations: dict[str, list[str]],
    skip: set[str],
) -> str | None:
    """The published cell to hide so that `code` is no longer exact: the smallest non-zero
    sibling; for a hidden parent, its smallest non-zero child; else the parent (never the
    district). Cells in `skip` are never chosen."""
    cell = cells[code]

    def usable(other: str) -> bool:
        return not cells[other].hidden and cells[other].value > 0 and other not in skip

    candidates: list[Cell] = []
    if cell.parent is not None:
        candidates = [cells[s] for s in equations.get(cell.parent, []) if s != code and usable(s)]
    if not candidates and code in equations:  # a hidden parent: hide one of its children
        candidates = [cells[c] for c in equations[code] if usable(c)]
    if candidates:
        return min(candidates, key=lambda c: (c.value, c.code)).code
    if cell.parent is not None and cell.parent != root and usable(cell.parent):
        return cell.parent
    return None


def changes(
    today: Suppressed, yesterday: Suppressed | None, *, k: int
) -> tuple[dict[str, str | None], list[dict[str, object]]]:
    """The published day-on-day change of each cell, or None where either day's cell is hidden
    (logged), or where there is no day before."""
    shown: dict[str, str | None] = {}
    log: list[dict[str, object]] = []
    for code, cell in today.cells.items():
        before = yesterday.cells.get(code) if yesterday else None
        if before is None:
            shown[code] = None
            continue
        if cell.hidden or before.hidden:
            shown[code] = None
            log.append(
                {
                    "cell": code,
                    "rule": "change",
                    "why": "change withheld: the cell is hidden on "
                    + ("both days" if cell.hidden and before.hidden else "one of the two days"),
                }
            )
            continue
        delta = cell.value - before.value
        shown[code] = f"+{delta}" if delta > 0 else str(delta)
    return shown, log
