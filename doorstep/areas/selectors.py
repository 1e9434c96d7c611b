"""Reads of the area tree. Subtrees are path ranges, so they use the index on both databases."""

from django.db.models import Q, QuerySet

from doorstep.core.db import prefix_q

from .models import Area, AreaLevel


def path_prefix_q(field: str, prefix: str) -> Q:
    """`field` (a materialised area path) lies in the subtree whose path is `prefix`."""
    return prefix_q(field, prefix)


def area_subtree(area: Area) -> QuerySet[Area]:
    return Area.objects.filter(path_prefix_q("path", area.path))


def areas_visible_to(user) -> QuerySet[Area]:
    root = getattr(user, "jurisdiction_area", None) if user.is_authenticated else None
    if root is None:
        return Area.objects.none()
    return area_subtree(root)


def area_ancestors(area: Area) -> list[Area]:
    codes = [c for c in area.path.strip("/").split("/") if c]
    by_code = {a.code: a for a in Area.objects.filter(code__in=codes)}
    return [by_code[c] for c in codes if c in by_code]


def grids_under(area: Area) -> QuerySet[Area]:
    return area_subtree(area).filter(level=AreaLevel.GRID)


def grid_lookup_under(area: Area) -> dict[str, Area | None]:
    """Grids below `area` by code, by "community/grid" name and by bare grid name.

    A name shared by two grids maps to None: the caller must say it is ambiguous rather than
    guess (the grid code, or the community column, tells them apart).
    """
    grids = list(grids_under(area).select_related("parent"))
    lookup: dict[str, Area | None] = {}

    def put(key: str, grid: Area) -> None:
        lookup[key] = None if key in lookup and lookup[key] != grid else grid

    for grid in grids:
        put(f"{grid.parent.name}/{grid.name}", grid)
        put(f"{grid.parent.name}{grid.name}", grid)
        put(grid.name, grid)
    for grid in grids:  # codes are unique and win over any name
        lookup[grid.code] = grid
    return lookup
