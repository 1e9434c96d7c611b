"""Reads of the roster. Every function takes the user and scopes to their jurisdiction: this module
is the access layer for households and persons. Out of scope looks exactly like absent (404)."""

import re

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from doorstep.accounts.models import ROSTER_MANAGER_ROLES
from doorstep.areas.models import Area
from doorstep.core.db import prefix_q
from doorstep.core.masking import mask_id_number, mask_phone

from .counts import roster_totals
from .models import Household, IdReconciliation, Person, PersonStatus, ReconciliationStatus

_ID_LIKE = re.compile(r"[0-9]{15}|[0-9]{17}[0-9Xx]")
_PHONE_LIKE = re.compile(r"1[0-9]{10}")


def _jurisdiction_path(user) -> str | None:
    if not user.is_authenticated or not user.is_active:
        return None
    area = user.jurisdiction_area
    return area.path if area is not None else None


def households_visible_to(user) -> QuerySet[Household]:
    path = _jurisdiction_path(user)
    if path is None:
        return Household.objects.none()
    return Household.objects.filter(prefix_q("grid__path", path))


def persons_visible_to(user) -> QuerySet[Person]:
    path = _jurisdiction_path(user)
    if path is None:
        return Person.objects.none()
    return Person.objects.filter(prefix_q("household__grid__path", path))


def roster_totals_visible_to(user) -> tuple[int, int]:
    """(households, persons) of the user's jurisdiction: the same figures as
    `households_visible_to(user).count()` and `persons_visible_to(user).count()`, read from the
    grids' roster counts (counts.py) instead of counting the roster on every page view."""
    if _jurisdiction_path(user) is None:
        return 0, 0
    return roster_totals(user.jurisdiction_area)


def access_household(user, household_id: int) -> Household:
    try:
        return (
            households_visible_to(user).select_related("grid", "grid__parent").get(pk=household_id)
        )
    except (Household.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_person(user, person_id: int) -> Person:
    try:
        return persons_visible_to(user).select_related("household").get(pk=person_id)
    except (Person.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def is_number_query(query: str) -> bool:
    """Whether a search text is an ID number or a phone (matched whole, shown masked)."""
    compact = query.replace(" ", "").upper()
    return bool(_ID_LIKE.fullmatch(compact) or _PHONE_LIKE.fullmatch(compact))


def masked_query(query: str) -> str:
    compact = query.replace(" ", "").upper()
    if _ID_LIKE.fullmatch(compact):
        return mask_id_number(compact)
    if _PHONE_LIKE.fullmatch(compact):
        return mask_phone(compact)
    return query


def household_search(user, *, query: str = "", area: Area | None = None) -> QuerySet[Household]:
    """Households matching a search box, newest structure first in walking order.

    ID numbers and phones match exactly and only whole (no prefix search on them, so a search box
    cannot be used to guess a number digit by digit); names match by prefix; household numbers
    exactly.
    """
    households = households_visible_to(user)
    if area is not None:
        households = households.filter(prefix_q("grid__path", area.path))
    query = query.strip()
    if query:
        compact = query.replace(" ", "").upper()
        if _ID_LIKE.fullmatch(compact):
            # Household numbers are often as long as ID numbers: either may be meant.
            # A number held for reconciliation is found like any other (in scope only).
            persons = Person.objects.filter(Q(id_number=compact) | Q(id_number_held=compact))
            households = households.filter(
                pk__in=_household_ids_union(
                    Household.objects.filter(household_number=compact), persons
                )
            )
        elif _PHONE_LIKE.fullmatch(compact):
            persons = Person.objects.filter(phone=compact)
            households = households.filter(pk__in=persons.values("household_id"))
        else:
            persons = Person.objects.filter(prefix_q("name", query))
            households = households.filter(
                pk__in=_household_ids_union(
                    Household.objects.filter(household_number=query), persons
                )
            )
    return households.select_related("grid").order_by(
        "grid__path", "building", "unit", "floor", "room", "id"
    )


def _household_ids_union(households: QuerySet, persons: QuerySet):
    """ids of these households UNION the households of these persons. An OR of the two
    conditions makes PostgreSQL scan every household; the UNION is two index lookups."""
    return households.values("pk").union(persons.values("household_id"))


def household_list_rows(households: QuerySet[Household]) -> QuerySet[Household]:
    """Annotate a page of households with member counts for list display."""
    return households.annotate(
        member_count=Count("persons", filter=Q(persons__status=PersonStatus.ACTIVE))
    )


def household_members(user, household: Household) -> QuerySet[Person]:
    access_household(user, household.pk)
    return household.persons.order_by("status", "id")


def members_by_household(
    user, household_ids, *, active_only: bool = True
) -> dict[int, list[Person]]:
    """The members of these households that the user may see, by household id, in roster
    order (every household id asked for is a key, with an empty list if need be)."""
    ids = list(household_ids)
    members: dict[int, list[Person]] = {pk: [] for pk in ids}
    persons = persons_visible_to(user).filter(household_id__in=ids)
    if active_only:
        persons = persons.filter(status=PersonStatus.ACTIVE)
    for person in persons.order_by("household_id", "id"):
        members[person.household_id].append(person)
    return members


def household_head_names(household_ids: list[int]) -> dict[int, str]:
    """The first-listed active member (the head, where the roster says so) of each household."""
    heads: dict[int, str] = {}
    rows = (
        Person.objects.filter(household_id__in=household_ids, status=PersonStatus.ACTIVE)
        .order_by("household_id", "id")
        .values_list("household_id", "name", "relation")
    )
    for household_id, name, relation in rows:
        if relation == "户主" or household_id not in heads:
            heads[household_id] = name
    return heads


def reconciliations_visible_to(user) -> QuerySet[IdReconciliation]:
    """Cases about persons of the user's jurisdiction, for those who manage the roster (the
    recorder's community admins and above). Grid workers see none: they were told nothing."""
    path = _jurisdiction_path(user)
    if path is None or user.role not in ROSTER_MANAGER_ROLES:
        return IdReconciliation.objects.none()
    return IdReconciliation.objects.filter(
        prefix_q("person__household__grid__path", path)
        | (Q(person__household__isnull=True) & prefix_q("area__path", path))
    )


def pending_reconciliations(user) -> QuerySet[IdReconciliation]:
    return (
        reconciliations_visible_to(user)
        .filter(status=ReconciliationStatus.PENDING)
        .select_related(
            "person", "person__household", "person__household__grid", "reported_by", "area"
        )
        .order_by("reported_at", "pk")
    )


def access_reconciliation(user, case_id) -> IdReconciliation:
    try:
        return reconciliations_visible_to(user).select_related("person").get(pk=case_id)
    except (IdReconciliation.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def reconciliation_holder(user, case: IdReconciliation) -> Person | None:
    """The record that carries the case's number now, if the user may see it (else None:
    outside the jurisdiction is all they learn, which the case itself already says)."""
    return (
        persons_visible_to(user)
        .select_related("household", "household__grid")
        .filter(id_number=case.id_number)
        .first()
    )


def covers_every_record(user) -> bool:
    """Whether the user's jurisdiction holds every record of the system (the one top-level area):
    only then may an answer say whether a number is carried anywhere."""
    path = _jurisdiction_path(user)
    if path is None or user.jurisdiction_area.parent_id is not None:
        return False
    tops = Area.objects.filter(parent__isnull=True)
    return not tops.exclude(pk=user.jurisdiction_area_id).exists()


def id_number_free(user, case: IdReconciliation) -> bool | None:
    """Whether no record carries the case's number any more (the other record was corrected), so
    the case can give it to its person. None for a user whose jurisdiction does not hold every
    record: when a record elsewhere gives the number up is not theirs to learn, and the case is
    decided by the command, whose jurisdiction holds both records."""
    if not covers_every_record(user):
        return None
    return not Person.objects.filter(id_number=case.id_number).exists()
