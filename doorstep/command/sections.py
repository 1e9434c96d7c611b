"""The one list of the brief's section providers (DESIGN.md §7).

Each domain keeps its section in its own `brief.py`; a new domain (institutions, supplies) adds
one line here and touches nothing else. The order is the brief's order.
"""

from functools import cache

from django.utils.module_loading import import_string

from doorstep.core.brief import SectionProvider

PROVIDERS: list[str] = [
    "doorstep.screening.brief.SweepProvider",
    "doorstep.followup.brief.FollowupProvider",
    "doorstep.checkpoints.brief.CheckpointsProvider",
]


@cache
def providers() -> tuple[SectionProvider, ...]:
    return tuple(import_string(path)() for path in PROVIDERS)


def provider_for(section_key: str) -> SectionProvider | None:
    prefix = section_key.split(".", 1)[0]
    return next((p for p in providers() if p.key == prefix), None)
