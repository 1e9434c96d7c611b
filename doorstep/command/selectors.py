"""Reads of the command center, always scoped to the user: which areas' briefs they may read."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.http import Http404

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area
from doorstep.areas.selectors import areas_visible_to
from doorstep.core.db import prefix_q

from .models import BriefSnapshot, Bulletin, BulletinStatus

# Who reads briefs: the leading group and the admins of streets and communities, each for their
# own area and below.
BRIEF_ROLES = {Role.COMMAND, Role.STREET_ADMIN, Role.COMMUNITY_ADMIN}


def may_read_briefs(user: User) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and user.role in BRIEF_ROLES
        and user.jurisdiction_area_id is not None
    )


def access_brief_area(user: User, code: str | None) -> Area:
    """The area named by `code` (or the user's own) if its brief is the user's to read; 404 for
    anything else, exactly like an area that does not exist."""
    if not may_read_briefs(user):
        raise Http404
    if not code:
        assert user.jurisdiction_area is not None
        return user.jurisdiction_area
    area = areas_visible_to(user).filter(code=str(code)[:32]).first()
    if area is None:
        raise Http404
    return area


def snapshots_of(user: User, area: Area, until: datetime.date) -> list[BriefSnapshot]:
    """The area's snapshots up to `until` (the trend), for a user who may read the area."""
    access_brief_area(user, area.code)
    return list(BriefSnapshot.objects.filter(area=area, day__lte=until).order_by("day"))


def is_command(user: User) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and user.role == Role.COMMAND
        and user.jurisdiction_area_id is not None
    )


def bulletins_visible_to(user: User) -> QuerySet[Bulletin]:
    if not is_command(user):
        return Bulletin.objects.none()
    assert user.jurisdiction_area is not None
    # an index range on the area path (a LIKE on SQLite walked every area: 1.5 ms per dashboard)
    return Bulletin.objects.filter(prefix_q("district__path", user.jurisdiction_area.path))


def access_bulletin(user: User, bulletin_id: str | int) -> Bulletin:
    try:
        bulletin: Bulletin = bulletins_visible_to(user).get(pk=bulletin_id)
        return bulletin
    except (Bulletin.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def published_bulletins() -> QuerySet[Bulletin]:
    return Bulletin.objects.filter(status=BulletinStatus.PUBLISHED).select_related("district")


def access_published_bulletin(bulletin_id: str | int) -> Bulletin:
    try:
        bulletin: Bulletin = published_bulletins().get(pk=bulletin_id)
        return bulletin
    except (Bulletin.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
