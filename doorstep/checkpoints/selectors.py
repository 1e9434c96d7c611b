"""Reads of checkpoints, arrivals and handoffs, always scoped to the user.

- a checkpoint officer: their checkpoint, its arrivals and what became of each;
- the command: every checkpoint of its district, every arrival there or bound there, every
  handoff to a community of the district, the unmatched queue;
- a street admin: the handoffs to its communities (it chases the overdue ones);
- a community admin: the handoffs to its community, and the arrivals in them.
Everyone else sees nothing. Out of scope is Http404, exactly like absent.
"""

import datetime
from collections.abc import Collection
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import prefix_q

from .models import (
    Arrival,
    Checkpoint,
    CheckpointOfficer,
    Handoff,
    HandoffEvent,
    HandoffStatus,
    Route,
)

HANDOFF_READERS = {Role.COMMAND, Role.STREET_ADMIN, Role.COMMUNITY_ADMIN}


def _active(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _area_path(user: User, roles: Collection[str]) -> str | None:
    if not _active(user) or user.role not in roles or user.jurisdiction_area is None:
        return None
    return user.jurisdiction_area.path


def officer_checkpoint(user: User) -> Checkpoint | None:
    """The checkpoint of an officer's post (None for anyone else)."""
    if not _active(user) or user.role != Role.CHECKPOINT_OFFICER:
        return None
    post = CheckpointOfficer.objects.select_related("checkpoint").filter(user=user).first()
    return post.checkpoint if post is not None and post.checkpoint.active else None


def checkpoints_visible_to(user: User) -> QuerySet[Checkpoint]:
    own = officer_checkpoint(user)
    if own is not None:
        return Checkpoint.objects.filter(pk=own.pk)
    path = _area_path(user, {Role.COMMAND})
    if path is None:
        return Checkpoint.objects.none()
    return Checkpoint.objects.filter(prefix_q("district__path", path))


def access_checkpoint(user: User, checkpoint_id: int | str) -> Checkpoint:
    try:
        return checkpoints_visible_to(user).get(pk=checkpoint_id)
    except (Checkpoint.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_checkpoint_for_entry(user: User, checkpoint_id: int | str) -> Checkpoint:
    """Only the checkpoint's own officers enter its arrivals."""
    own = officer_checkpoint(user)
    if own is None or str(own.pk) != str(checkpoint_id):
        raise Http404
    return own


def arrivals_visible_to(user: User) -> QuerySet[Arrival]:
    own = officer_checkpoint(user)
    if own is not None:
        return Arrival.objects.filter(checkpoint=own)
    path = _area_path(user, {Role.COMMAND})
    if path is not None:
        at_own = prefix_q("checkpoint__district__path", path)
        return Arrival.objects.filter(at_own | prefix_q("handoff__community__path", path))
    path = _area_path(user, {Role.STREET_ADMIN, Role.COMMUNITY_ADMIN})
    if path is None:
        return Arrival.objects.none()
    return Arrival.objects.filter(prefix_q("handoff__community__path", path))


def access_arrival(user: User, arrival_id: int | str) -> Arrival:
    try:
        return (
            arrivals_visible_to(user)
            .select_related("checkpoint", "passage", "handoff__community", "community")
            .get(pk=arrival_id)
        )
    except (Arrival.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def handoff_events_visible_to(user: User, handoff: Handoff) -> QuerySet[HandoffEvent]:
    """The history of a handoff the user reached (through an arrival or the inbox). An officer
    reads every outcome (accepted, not found and why, re-routed) but of the arrivals in it only
    those of their own checkpoint: another checkpoint's arrival of the same person, its time
    and who entered it, is not theirs to read."""
    rows = HandoffEvent.objects.filter(handoff=handoff)
    if not _active(user):
        return rows.none()
    if user.role == Role.CHECKPOINT_OFFICER:
        own = officer_checkpoint(user)
        if own is None:
            return rows.none()
        return rows.filter(Q(arrival__isnull=True) | Q(arrival__checkpoint=own))
    return rows


MATCH_READERS = {Role.COMMAND, Role.COMMUNITY_ADMIN}


def may_read_match(user: User) -> bool:
    """How the typed destination was matched (method, confidence, candidates) is internal:
    for the command routing the unmatched queue and community admins reconciling a handoff,
    not for the officer at the checkpoint."""
    return _active(user) and user.role in MATCH_READERS


def handoff_arrivals() -> "Prefetch[str, QuerySet[Arrival], str]":
    """A list of handoffs reads each one's arrivals (names, checkpoint, time) with one query
    for the whole page, oldest arrival first."""
    return Prefetch(
        "arrivals", queryset=Arrival.objects.select_related("checkpoint").order_by("pk")
    )


def handoffs_visible_to(user: User) -> QuerySet[Handoff]:
    path = _area_path(user, HANDOFF_READERS)
    if path is None:
        return Handoff.objects.none()
    return Handoff.objects.filter(prefix_q("community__path", path))


def access_handoff(user: User, handoff_id: int | str) -> Handoff:
    try:
        return handoffs_visible_to(user).select_related("community").get(pk=handoff_id)
    except (Handoff.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def may_act_on(user: User, handoff: Handoff) -> bool:
    """Accept, not found and re-route: the receiving community's admins."""
    return (
        _active(user)
        and user.role == Role.COMMUNITY_ADMIN
        and user.jurisdiction_area_id == handoff.community_id
    )


def access_handoff_to_act(user: User, handoff_id: int | str) -> Handoff:
    handoff = access_handoff(user, handoff_id)
    if not may_act_on(user, handoff):
        raise Http404
    return handoff


def communities_for_reroute(user: User, handoff: Handoff) -> QuerySet[Area]:
    """The communities of the handoff's district (a re-route stays inside it)."""
    return Area.objects.filter(
        prefix_q("path", handoff.district.path), level=AreaLevel.COMMUNITY
    ).exclude(pk=handoff.community_id)


def unmatched_queue(user: User) -> QuerySet[Arrival]:
    """Risk arrivals whose destination matched nothing (or too loosely): command routes them."""
    path = _area_path(user, {Role.COMMAND})
    if path is None:
        return Arrival.objects.none()
    return Arrival.objects.filter(
        prefix_q("checkpoint__district__path", path), route=Route.UNMATCHED
    )


def access_unmatched(user: User, arrival_id: int | str) -> Arrival:
    try:
        return unmatched_queue(user).select_related("checkpoint__district").get(pk=arrival_id)
    except (Arrival.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


# -- overdue, counts and the lists behind them --------------------------------------------------
def overdue_q(now: datetime.datetime, prefix: str = "") -> Q:
    return Q(**{f"{prefix}status": HandoffStatus.PENDING, f"{prefix}deadline__lt": now})


def overdue_for(user: User, now: datetime.datetime | None = None) -> QuerySet[Handoff]:
    """Overdue handoffs as the user's level sees them: the street and the community at the
    deadline, the command DOORSTEP_HANDOFF_COMMAND_AFTER_HOURS later."""
    now = now or timezone.now()
    rows = handoffs_visible_to(user)
    if user.role == Role.COMMAND:
        hours = settings.DOORSTEP_HANDOFF_COMMAND_AFTER_HOURS
        return rows.filter(overdue_q(now - datetime.timedelta(hours=hours)))
    return rows.filter(overdue_q(now))


LIST_FILTERS = (
    "all",
    "risk",
    "handed_off",
    "accepted",
    "not_found",
    "overdue",
    "passing",
    "unmatched",
    "handed_out",
    "to_complete",
)


def arrivals_filtered(
    rows: QuerySet[Arrival], kind: str, now: datetime.datetime
) -> QuerySet[Arrival]:
    """The list behind each count."""
    conditions = {
        "risk": Q(is_risk=True),
        "handed_off": Q(handoff__isnull=False),
        "accepted": Q(handoff__status=HandoffStatus.ACCEPTED),
        "not_found": Q(handoff__status=HandoffStatus.NOT_FOUND),
        "overdue": overdue_q(now, "handoff__"),
        "passing": Q(route=Route.PASSING),
        "unmatched": Q(route=Route.UNMATCHED),
        "handed_out": Q(route=Route.HANDED_OUT),
        "to_complete": Q(needs_completion=True),
    }
    return rows.filter(conditions[kind]) if kind in conditions else rows


COUNTED = ("all", "risk", "handed_off", "accepted", "not_found", "overdue")


def _count_aggregates(now: datetime.datetime) -> dict[str, Count]:
    return {
        "all": Count("pk"),
        "risk": Count("pk", filter=Q(is_risk=True)),
        "handed_off": Count("pk", filter=Q(handoff__isnull=False)),
        "accepted": Count("pk", filter=Q(handoff__status=HandoffStatus.ACCEPTED)),
        "not_found": Count("pk", filter=Q(handoff__status=HandoffStatus.NOT_FOUND)),
        "overdue": Count("pk", filter=overdue_q(now, "handoff__")),
    }


@dataclass
class CountRow:
    key: int
    label: str
    figures: dict[str, int] = field(default_factory=dict)


def counts_by_checkpoint(user: User, now: datetime.datetime) -> list[CountRow]:
    names = dict(checkpoints_visible_to(user).values_list("pk", "name"))
    rows = (
        arrivals_visible_to(user)
        .filter(checkpoint__in=list(names))
        .values("checkpoint")
        .annotate(**_count_aggregates(now))
    )
    found: dict[int, dict[str, int]] = {
        int(r["checkpoint"]): {k: int(r[k]) for k in COUNTED}  # type: ignore[literal-required]
        for r in rows
    }
    empty = dict.fromkeys(COUNTED, 0)
    return [CountRow(pk, name, found.get(pk, empty)) for pk, name in names.items()]


def counts_by_community(user: User, now: datetime.datetime) -> list[CountRow]:
    """Per destination community: arrivals matched or handed to it."""
    rows = (
        arrivals_visible_to(user)
        .exclude(community__isnull=True)
        .values("community", "community__name")
        .annotate(**_count_aggregates(now))
        .order_by("community__name")
    )
    return [
        CountRow(
            int(r["community"]),
            str(r["community__name"]),
            {k: int(r[k]) for k in COUNTED},  # type: ignore[literal-required]
        )
        for r in rows
    ]
