"""The sweep's visits, as follow-up acts on them (issue 10 point 5; DESIGN.md §7: followup reads
screening, screening never imports followup). Two providers, listed in settings and called by
screening through `doorstep.core.visit_consumers`:

- `visits_recorded(visit_ids)`: a person check of these visits that is flagged and has a fever
  (the deciding reading at or above the threshold follow-up's checks use,
  `FOLLOWUP_FEVER_THRESHOLD`) or a listed symptom makes the person a key person at once (source
  "sweep" with the visit and the person check; reasons from the check's flags, the visit's day as
  exposure day; a person already followed gets the source added, never a second record) and
  opens a referral to the fever clinic (one open at a time). Travel and contact alone stay on
  the "from the sweep's flags" list, one click away. The user on the records is the visit's
  worker (who recorded it; the verifier of a resident's self-report). The responsible worker
  of a new key person is that user if they are a grid worker, else the household's grid worker
  (`household_worker`: the campaign's assignment, else the grid's one worker account), so a
  visit typed by an admin lands on the grid worker's today page.
- `flag_outcomes(user=, person_check_ids=)`: what follow-up did for these person checks, in
  words, for the worker's feedback after a save (only persons of the user's jurisdiction).

Idempotent: a person check that already has a sweep source (made here or by a click on the
list) is left alone, so a visit replayed with its client UUID opens nothing twice; a replay after
a failure here makes up for it. Each person is one transaction: one that fails (logged without
personal data) leaves the others done and that person on the list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Min
from django.utils import formats
from django.utils.translation import gettext as _

from doorstep.accounts.models import Role, User
from doorstep.accounts.selectors import grid_workers
from doorstep.core.db import sqlite_writer_turn
from doorstep.registry.selectors import households_visible_to
from doorstep.screening.models import HouseholdProgress, PersonCheck
from doorstep.screening.rules import deciding_reading

from . import schedule
from .models import (
    KeyPerson,
    Monitoring,
    MonitoringStatus,
    Referral,
    ReferralStatus,
    Source,
    SourceKind,
)
from .services import ReasonInput, SourceInput, key_person_add, referral_open
from .services.checks import needs_referral
from .services.keypersons import worker_fits

logger = logging.getLogger("doorstep.followup.sweep_link")

CHUNK = 500  # visit ids per query (SQLite's bound parameters; a sheet may hold thousands)


def reasons_of(check: PersonCheck) -> list[ReasonInput]:
    """The reasons a flagged person check gives (the visit's day as exposure day; a return from a
    risk area on its own day)."""
    visited = schedule.local_date(check.visit.visited_at)
    reasons = []
    if {"fever", "symptoms"} & set(check.flags):
        reading = deciding_reading(check.temperature, check.temperature_recheck)
        said = (f"{reading} °C" if reading is not None else "", ",".join(check.symptoms))
        detail = " ".join(x for x in said if x)
        reasons.append(
            ReasonInput(kind="fever_symptoms", exposure_date=visited, detail=detail[:200])
        )
    if "risk_area" in check.flags:
        reasons.append(
            ReasonInput(
                kind="risk_area_arrival",
                exposure_date=min(check.returned_on or visited, visited),
                detail=check.travel_from,
                arrival_date=check.returned_on,
            )
        )
    if "contact" in check.flags:
        reasons.append(ReasonInput(kind="close_contact", exposure_date=visited))
    return reasons or [
        ReasonInput(kind="other", exposure_date=visited, detail=",".join(check.flags) or "sweep")
    ]


def sweep_source(check: PersonCheck) -> SourceInput:
    return SourceInput(
        kind=SourceKind.SWEEP,
        reference=visit_reference(check),
        visit=check.visit,
        person_check=check,
    )


def visit_reference(check: PersonCheck) -> str:
    return f"visit:{check.visit.client_uuid}"


def _reading(check: PersonCheck) -> Decimal | None:
    return deciding_reading(check.temperature, check.temperature_recheck)


def opens_referral(check: PersonCheck) -> bool:
    """A fever at follow-up's threshold, or a listed symptom (the rule of a check)."""
    return needs_referral(_reading(check), check.symptoms or [])


def visits_recorded(visit_ids: Sequence[int]) -> None:
    """The visit consumer (see the module): one call per visit or per batch of visits."""
    ids = list(dict.fromkeys(visit_ids))
    for start in range(0, len(ids), CHUNK):
        _chunk(ids[start : start + CHUNK])


def _chunk(visit_ids: list[int]) -> None:
    flagged = [
        check
        for check in PersonCheck.objects.filter(
            visit_id__in=visit_ids, flagged=True, person__isnull=False
        )
        .select_related(
            "visit__worker", "visit__verified_by", "visit__household__grid", "person__household"
        )
        .order_by("pk")
        if opens_referral(check)
    ]
    if not flagged:
        return
    done = set(
        Source.objects.filter(
            kind=SourceKind.SWEEP, person_check_id__in=[c.pk for c in flagged]
        ).values_list("person_check_id", flat=True)
    )
    for check in flagged:
        if check.pk in done:
            continue
        user = check.visit.worker or check.visit.verified_by
        if user is None:
            continue  # a resident's self-report not yet verified: the verification tells us
        try:
            _follow_up(check, user)
        except Exception as error:
            # The refusal's text may name the person: only its kind and the row's number.
            logger.error(
                "sweep follow-up not opened for person check %d: %s",
                check.pk,
                type(error).__name__,
            )


def household_worker(check: PersonCheck) -> User | None:
    """The grid worker responsible for the visited household, for a visit typed by someone else
    (a community admin's evening entry or sheet upload, an admin verifying a self-report): the
    worker the campaign assigned the household to (包片), if they still work its grid; else the
    grid's one active grid-worker account; else nobody (an admin assigns one)."""
    household = check.visit.household
    grid = household.grid
    progress = (
        HouseholdProgress.objects.filter(
            campaign_id=check.visit.campaign_id, household_id=household.pk
        )
        .select_related("assigned_to__jurisdiction_area")
        .first()
    )
    assigned = progress.assigned_to if progress is not None else None
    if assigned is not None and worker_fits(assigned, grid):
        return assigned
    accounts = list(grid_workers(grid.pk).select_related("jurisdiction_area")[:2])
    return accounts[0] if len(accounts) == 1 else None


def _follow_up(check: PersonCheck, user: User) -> None:
    person = check.person
    assert person is not None
    with sqlite_writer_turn(), transaction.atomic():
        # Two replays of one visit at once: the second waits here and then finds the source.
        PersonCheck.objects.select_for_update().filter(pk=check.pk).values_list("pk").first()
        if Source.objects.filter(kind=SourceKind.SWEEP, person_check_id=check.pk).exists():
            return
        key_person = key_person_add(
            user=user,
            person=person,
            reasons=reasons_of(check),
            source=sweep_source(check),
            worker=None if user.role == Role.GRID_WORKER else household_worker(check),
        )
        referral_open(
            user=user,
            key_person=key_person,
            temperature=_reading(check),
            symptoms=list(check.symptoms or []),
            source=SourceInput(kind=SourceKind.SWEEP, reference=visit_reference(check)),
        )


def flag_outcomes(*, user: User, person_check_ids: Sequence[int]) -> Mapping[int, str]:
    """The outcome provider (see the module): person check id → what follow-up did, in words.
    Persons outside the user's jurisdiction are not answered about."""
    checks = list(
        PersonCheck.objects.filter(
            pk__in=list(person_check_ids)[:200],
            person__isnull=False,
            person__household__in=households_visible_to(user),
        ).select_related("visit")
    )
    if not checks:
        return {}
    person_ids = [c.person_id for c in checks if c.person_id is not None]
    key_persons = {kp.person_id: kp for kp in KeyPerson.objects.filter(person_id__in=person_ids)}
    kp_ids = [kp.pk for kp in key_persons.values()]
    first_source = dict(
        Source.objects.filter(key_person_id__in=kp_ids)
        .values("key_person_id")
        .annotate(first=Min("pk"))
        .values_list("key_person_id", "first")
    )
    this_source = dict(
        Source.objects.filter(
            kind=SourceKind.SWEEP, person_check_id__in=[c.pk for c in checks]
        ).values_list("person_check_id", "pk")
    )
    monitorings = {
        m.key_person_id: m
        for m in Monitoring.objects.filter(key_person_id__in=kp_ids, status=MonitoringStatus.ACTIVE)
    }
    referrals = {
        r.key_person_id: r
        for r in Referral.objects.filter(
            key_person_id__in=kp_ids, status__in=[ReferralStatus.OPEN, ReferralStatus.ARRIVED]
        ).select_related("facility")
    }
    answers: dict[int, str] = {}
    for check in checks:
        answers[check.pk] = _outcome(
            check,
            key_persons.get(check.person_id) if check.person_id is not None else None,
            first_source=first_source,
            this_source=this_source,
            monitorings=monitorings,
            referrals=referrals,
        )
    return answers


def _outcome(
    check: PersonCheck,
    key_person: KeyPerson | None,
    *,
    first_source: dict[int, int],
    this_source: dict[int, int],
    monitorings: dict[int, Monitoring],
    referrals: dict[int, Referral],
) -> str:
    if key_person is None:
        return _("to be listed as a key person by the community (“from the sweep's flags”)")
    monitoring = monitorings.get(key_person.pk)
    if monitoring is not None:
        measure = _("%(measure)s until %(end)s") % {
            "measure": monitoring.get_measure_display(),
            "end": formats.date_format(monitoring.end_date, "MONTH_DAY_FORMAT"),
        }
    else:
        measure = _("monitoring ended")
    source = this_source.get(check.pk)
    if source is not None and first_source.get(key_person.pk) == source:
        said = _("listed as a key person (%(measure)s)") % {"measure": measure}
    else:
        said = _("already a key person (%(measure)s)") % {"measure": measure}
    referral = referrals.get(key_person.pk)
    if referral is not None:
        if referral.source_reference == visit_reference(check):
            said += _(", referral to the fever clinic opened")
        else:
            said += _(", a referral to the fever clinic is already open")
        if referral.facility is not None:
            said += f" ({referral.facility.name})"
    return said
