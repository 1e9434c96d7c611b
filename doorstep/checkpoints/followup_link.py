"""The one place where checkpoints call follow-up (DESIGN.md §7: checkpoints → followup, never
the reverse). Two moments:

- an accepted handoff: the person (the roster person the destination matched, or one found or
  made by follow-up's `person_for_checkpoint_arrival`) becomes a key person of the receiving
  community through `key_person_add`: reasons from the arrival's risk flags (risk_area_arrival
  from the day the person left the origin, or the arrival day), source kind "checkpoint" with the
  reference "arrival:<uuid>", monitoring from the arrival date; the Handoff keeps the key person;
- a fever (or symptoms with a temperature at the threshold): `referral_open` at once, for the
  key person of the community the destination matched. Without a community (an unmatched or
  outside destination) there is nobody to follow up yet: the referral opens when command staff
  route the arrival, or the neighbouring district takes it (handed out). A traveller passing
  through belongs to no community: the fever is recorded and flagged at the checkpoint, which
  takes the person to the fever clinic itself; no key person, no referral here.

Follow-up's refusals (FollowupRefused) are not caught here: an accept that follow-up refuses
is not an accept (the transaction rolls back and the community is told why).
"""

from django.utils import timezone

from doorstep.accounts.models import User
from doorstep.areas.models import Area
from doorstep.followup.models import KeyPerson, Referral
from doorstep.followup.services import (
    ReasonInput,
    SourceInput,
    key_person_add,
    referral_open,
)
from doorstep.followup.services.keypersons import person_for_checkpoint_arrival
from doorstep.registry.models import Person, PersonStatus

from .models import Arrival, Handoff, Route


def _reasons(arrival: Arrival) -> list[ReasonInput]:
    arrived_on = timezone.localdate(arrival.arrived_at)
    reasons = []
    if "risk_area" in arrival.risk_flags:
        reasons.append(
            ReasonInput(
                kind="risk_area_arrival",
                exposure_date=arrival.left_origin_on or arrived_on,
                detail=arrival.origin[:200],
                arrival_date=arrived_on,
            )
        )
    if {"fever", "symptoms"} & set(arrival.risk_flags):
        symptoms = ", ".join(arrival.symptoms)
        temperature = f"{arrival.temperature} °C" if arrival.temperature else ""
        reasons.append(
            ReasonInput(
                kind="fever_symptoms",
                exposure_date=arrived_on,
                detail=" ".join(x for x in (temperature, symptoms) if x)[:200],
                arrival_date=arrived_on,
            )
        )
    return reasons


def _source(arrival: Arrival) -> SourceInput:
    return SourceInput(kind="checkpoint", reference=f"arrival:{arrival.client_uuid}")


def _person(user: User, arrival: Arrival, community: Area) -> Person:
    roster = arrival.person
    household_of_roster = roster.household if roster is not None else None
    if (
        roster is not None
        and roster.status == PersonStatus.ACTIVE
        and household_of_roster is not None
        and household_of_roster.grid.path.startswith(community.path)
    ):
        return roster
    # The officer has no jurisdiction: follow-up's system lookup for the checkpoint flow
    # searches the destination community (a resident coming home is not made twice).
    return person_for_checkpoint_arrival(
        user=user,
        community=community,
        name=arrival.name,
        id_number=arrival.id_number or "",
        phone=arrival.phone,
        address=arrival.destination,
        household=arrival.household,
    )


def _key_person(
    user: User, arrival: Arrival, community: Area, known: Person | None = None
) -> KeyPerson:
    """`known`: the person the handoff's other arrivals are already followed as. An arrival
    without an ID number of its own (it joined by name and phone, or by name and door) is that
    person; follow-up's lookup would make a second, bare one of the same name."""
    if arrival.key_person is not None:
        person = arrival.key_person.person
    elif known is not None and not arrival.id_number:
        person = known
    else:
        person = _person(user, arrival, community)
    return key_person_add(
        user=user,
        person=person,
        reasons=_reasons(arrival),
        source=_source(arrival),
        start_date=timezone.localdate(arrival.arrived_at),
        community=community,
    )


def handoff_accepted(*, user: User, handoff: Handoff) -> KeyPerson:
    """Called inside the accept's transaction: every arrival of the handoff becomes a reason and
    a source of the one key person; the handoff keeps it."""
    key_person = None
    arrivals = handoff.arrivals.select_related(
        "person__household__grid", "household__grid", "key_person__person"
    ).order_by("pk")
    # who the person is comes from the arrivals that say it (already followed, an ID number,
    # the roster's person at the door); the others are that person
    ordered = sorted(
        arrivals,
        key=lambda a: (a.key_person_id is None, not a.id_number and a.person_id is None, a.pk),
    )
    for arrival in ordered:
        known = key_person.person if key_person is not None else None
        key_person = _key_person(user, arrival, handoff.community, known)
        Arrival.objects.filter(pk=arrival.pk, key_person__isnull=True).update(key_person=key_person)
    assert key_person is not None, "a handoff has at least one arrival"
    Handoff.objects.filter(pk=handoff.pk).update(key_person=key_person)
    handoff.key_person = key_person
    return key_person


def _handoff_person(arrival: Arrival) -> Person | None:
    """The person the arrival's handoff is already about: its key person, else the roster
    person another of its arrivals was matched to."""
    handoff = arrival.handoff
    if handoff is None or handoff.community_id != arrival.community_id:
        return None
    if handoff.key_person is not None:
        return handoff.key_person.person
    other = (
        Arrival.objects.filter(handoff=handoff, person__status=PersonStatus.ACTIVE)
        .exclude(pk=arrival.pk)
        .select_related("person")
        .order_by("pk")
        .first()
    )
    return other.person if other is not None else None


def fever_referral(*, user: User, arrival_id: int) -> Referral | None:
    """Called right after an arrival with a fever is saved (and when command staff route one):
    a referral to the fever clinic at once, for the key person of the matched community."""
    arrival = Arrival.objects.select_related(
        "community",
        "person__household__grid",
        "household__grid",
        "key_person__person",
        "handoff__key_person__person",
    ).get(pk=arrival_id)
    if (
        "fever" not in arrival.risk_flags
        or arrival.community is None
        or arrival.route == Route.PASSING  # in no community (arrivals saved before this rule)
    ):
        return None
    if arrival.referral_id is not None:
        return arrival.referral
    known = _handoff_person(arrival)
    key_person = _key_person(user, arrival, arrival.community, known)
    referral = referral_open(
        user=user,
        key_person=key_person,
        temperature=arrival.temperature,
        symptoms=list(arrival.symptoms),
        source=_source(arrival),
    )
    Arrival.objects.filter(pk=arrival.pk).update(key_person=key_person, referral=referral)
    if arrival.handoff_id is not None:
        Handoff.objects.filter(pk=arrival.handoff_id, key_person__isnull=True).update(
            key_person=key_person
        )
    return referral
