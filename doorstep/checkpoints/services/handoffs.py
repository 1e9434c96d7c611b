"""The handoff loop: a risk arrival sent to its community (or joining the pending handoff of
the same person there), accept, not found, re-route, and the command's routing by hand of an
unmatched arrival."""

import datetime

from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import prefix_q, sqlite_writer_turn
from doorstep.core.ratelimit import write_refused
from doorstep.core.services import audit_write
from doorstep.followup.services import FollowupRefused
from doorstep.registry.models import Person, PersonStatus

from .. import followup_link, selectors
from ..models import (
    Arrival,
    Handoff,
    HandoffAction,
    HandoffEvent,
    HandoffStatus,
    MatchStatus,
    NotFoundReason,
    Route,
)
from .errors import HandoffClosed, HandoffRejected
from .referrals import _fever_referral


def person_key(arrival: Arrival) -> str:
    """Who a handoff is about: the ID number, else name and phone, else this arrival alone."""
    if arrival.id_number:
        return f"id:{arrival.id_number}"
    if arrival.phone:
        return f"np:{arrival.name}:{arrival.phone}"
    return f"arrival:{arrival.client_uuid}"


def _handoff_send(*, user: User, arrival: Arrival, community_id: int) -> Handoff:
    """A new handoff to the community, or the pending one of the same person to the same
    community, which this arrival joins (one pending handoff per person and community, held by
    a unique constraint). The person is found by the key (ID number, else name and phone), else
    by name at the matched household (`_pending_at_household`). A pending handoff of the person
    to another community is not joined: that community would never get this arrival, and would
    read the address given for this one."""
    key = person_key(arrival)
    now = timezone.now()
    for _attempt in range(3):
        pending = (
            Handoff.objects.select_for_update()
            .filter(person_key=key, community_id=community_id, status=HandoffStatus.PENDING)
            .first()
        ) or _pending_at_household(arrival, community_id)
        if pending is not None:
            Arrival.objects.filter(pk=arrival.pk).update(handoff=pending)
            arrival.handoff = pending
            HandoffEvent.objects.create(
                handoff=pending, action=HandoffAction.JOINED, user=user, arrival=arrival
            )
            return pending
        try:
            with transaction.atomic():
                handoff = Handoff.objects.create(
                    district=arrival.checkpoint.district,
                    community_id=community_id,
                    person_key=key,
                    received_at=now,
                    deadline=now + datetime.timedelta(hours=arrival.checkpoint.handoff_hours),
                    created_by=user,
                )
        except IntegrityError:
            continue  # another arrival of the same person made it a moment ago: join that one
        Arrival.objects.filter(pk=arrival.pk).update(handoff=handoff)
        arrival.handoff = handoff
        HandoffEvent.objects.create(
            handoff=handoff,
            action=HandoffAction.SENT,
            user=user,
            to_community_id=community_id,
            arrival=arrival,
        )
        return handoff
    raise RuntimeError("handoff: no pending handoff and none could be made")


def _pending_at_household(arrival: Arrival, community_id: int) -> Handoff | None:
    """The pending handoff of the same person found by name and door, for an arrival that its
    own key (ID number, or name and phone) finds none for: an occupant who gave neither ID
    number nor phone, or the person of a handoff opened without them coming again with one.

    Only where the destination pinned a household, to this community, and only one pending
    handoff there has an arrival of the same name at the same household. Never two people
    made one: not when the handoff holds another ID number, another roster person, or a
    phone of its own while this arrival carries another; not when the household's roster has
    two living persons of that name. A name alone never joins across households."""
    if arrival.household_id is None:
        return None
    name = arrival.name
    handoff_ids = set(
        Arrival.objects.filter(
            household_id=arrival.household_id,
            name=name,
            handoff__community_id=community_id,
            handoff__status=HandoffStatus.PENDING,
        )
        .exclude(pk=arrival.pk)
        .values_list("handoff_id", flat=True)
    )
    if len(handoff_ids) != 1:
        return None
    namesakes = Person.objects.filter(
        household_id=arrival.household_id, name=name, status=PersonStatus.ACTIVE
    ).count()
    if namesakes > 1:
        return None
    (handoff_id,) = handoff_ids
    others = Arrival.objects.filter(handoff_id=handoff_id).exclude(pk=arrival.pk)
    for other in others.only("id_number", "phone", "person_id"):
        if arrival.id_number and other.id_number and other.id_number != arrival.id_number:
            return None
        if arrival.person_id and other.person_id and other.person_id != arrival.person_id:
            return None
        if (
            not arrival.id_number
            and not other.id_number
            and arrival.phone
            and other.phone
            and other.phone != arrival.phone
        ):
            return None
    return (
        Handoff.objects.select_for_update()
        .filter(pk=handoff_id, community_id=community_id, status=HandoffStatus.PENDING)
        .first()
    )


def _late_seconds(handoff: Handoff, now: datetime.datetime) -> int | None:
    late = (now - handoff.deadline).total_seconds()
    return int(late) if late > 0 else None


def _close(
    *,
    user: User,
    handoff: Handoff,
    status: str,
    reason: str = "",
    note: str = "",
    request: HttpRequest | None,
) -> Handoff:
    """Pending → accepted / not found in one conditional UPDATE: of two workers answering at
    once, one closes it and the other is told it is closed (HandoffClosed)."""
    now = timezone.now()
    with sqlite_writer_turn(), transaction.atomic():
        changed = Handoff.objects.filter(
            pk=handoff.pk, status=HandoffStatus.PENDING, community_id=handoff.community_id
        ).update(
            status=status,
            closed_at=now,
            closed_by=user,
            late_seconds=_late_seconds(handoff, now),
            not_found_reason=reason,
            note=note[:300],
        )
        handoff.refresh_from_db()
        if not changed:
            raise HandoffClosed(handoff)
        HandoffEvent.objects.create(
            handoff=handoff,
            action=HandoffAction.ACCEPTED if status == HandoffStatus.ACCEPTED else status,
            user=user,
            from_community_id=handoff.community_id,
            reason=reason,
            note=note[:300],
        )
        audit_write(
            user=user,
            action=f"handoff.{status}",
            obj=handoff,
            request=request,
            detail={"late_seconds": handoff.late_seconds, "reason": reason},
        )
        if status == HandoffStatus.ACCEPTED:
            followup_link.handoff_accepted(user=user, handoff=handoff)
    return handoff


def _refusing(request: HttpRequest | None, error: Exception) -> None:
    write_refused(request, reason=type(error).__name__)


def handoff_accept(*, user: User, handoff_id: int, request: HttpRequest | None = None) -> Handoff:
    """The person was found: a key person of the community, monitored from the arrival date
    (follow-up). After the deadline it is still accepted; the lateness is kept. A refusal of
    follow-up leaves the handoff pending (HandoffRejected names the field)."""
    try:
        handoff = selectors.access_handoff_to_act(user, handoff_id)
        try:
            return _close(
                user=user, handoff=handoff, status=HandoffStatus.ACCEPTED, request=request
            )
        except FollowupRefused as refused:
            raise HandoffRejected(refused.message, refused.field) from None
    except (Http404, HandoffClosed, HandoffRejected) as error:
        _refusing(request, error)
        raise


def handoff_not_found(
    *,
    user: User,
    handoff_id: int,
    reason: str,
    note: str = "",
    request: HttpRequest | None = None,
) -> Handoff:
    """Wrong address, left the district, never arrived, other: with a note the checkpoint reads."""
    try:
        handoff = selectors.access_handoff_to_act(user, handoff_id)
        if reason not in NotFoundReason.values:
            raise HandoffRejected(_("choose why the person was not found"), "reason")
        if reason == NotFoundReason.OTHER and not note.strip():
            raise HandoffRejected(_("say what happened in the note"), "note")
        return _close(
            user=user,
            handoff=handoff,
            status=HandoffStatus.NOT_FOUND,
            reason=reason,
            note=note.strip(),
            request=request,
        )
    except (Http404, HandoffClosed, HandoffRejected) as error:
        _refusing(request, error)
        raise


def handoff_reroute(
    *,
    user: User,
    handoff_id: int,
    community_code: str,
    note: str = "",
    request: HttpRequest | None = None,
) -> Handoff:
    """Hand it on to the right community of the same district, which must accept in turn; its
    deadline starts again. A community outside the district is refused.

    If the target already has a pending handoff of this person (one per person and community),
    this handoff's arrivals and history join that one (a re-route event and one "joined" event
    per arrival; the target's deadline stands) and this emptied handoff is removed, closed as
    re-routed. The caller is answered alike either way (this handoff, waiting at the target
    from now, with its own arrivals): whether the target has records of the person is not the
    caller's to learn."""
    try:
        handoff = selectors.access_handoff_to_act(user, handoff_id)
        target = (
            Area.objects.filter(
                prefix_q("path", handoff.district.path),
                level=AreaLevel.COMMUNITY,
                code=community_code.strip(),
            )
            .exclude(pk=handoff.community_id)
            .first()
        )
        if target is None:
            raise HandoffRejected(
                _("re-route only to another community of this district"), "community"
            )
        now = timezone.now()
        deadline = now + datetime.timedelta(hours=_handoff_hours(handoff))
        origin_id = handoff.community_id
        with sqlite_writer_turn(), transaction.atomic():
            current = (
                Handoff.objects.select_for_update()
                .filter(pk=handoff.pk, status=HandoffStatus.PENDING, community_id=origin_id)
                .first()
            )
            if current is None:
                handoff.refresh_from_db()
                raise HandoffClosed(handoff)
            # the answer's arrivals, read before they may move
            prefetch_related_objects([handoff], "arrivals")
            waiting = _pending_handoff_of(current.person_key, target)
            if waiting is None:
                try:
                    with transaction.atomic():
                        Handoff.objects.filter(pk=current.pk).update(
                            community=target,
                            received_at=now,
                            deadline=deadline,
                            reroutes=current.reroutes + 1,
                        )
                except IntegrityError:  # the target's handoff of the person made a moment ago
                    waiting = _pending_handoff_of(current.person_key, target)
                    if waiting is None:
                        raise
            event = {
                "action": HandoffAction.REROUTED,
                "user": user,
                "from_community_id": origin_id,
                "to_community": target,
                "note": note.strip()[:300],
            }
            if waiting is None:
                Arrival.objects.filter(handoff=current).update(community=target)
                HandoffEvent.objects.create(handoff=current, **event)
                audit_write(user=user, action="handoff.rerouted", obj=current, request=request)
            else:
                _handoff_join(user=user, handoff=current, into=waiting, event=event)
                audit_write(
                    user=user,
                    action="handoff.rerouted",
                    obj=current,
                    request=request,
                    detail={"joined": waiting.pk},
                )
                Handoff.objects.filter(pk=current.pk).delete()
        # the same answer either way: waiting at the target from now, with its own arrivals
        handoff.community, handoff.community_id = target, target.pk
        handoff.received_at, handoff.deadline = now, deadline
        handoff.reroutes = current.reroutes + 1
        return handoff
    except (Http404, HandoffClosed, HandoffRejected) as error:
        _refusing(request, error)
        raise


def _pending_handoff_of(person_key: str, community: Area) -> Handoff | None:
    return (
        Handoff.objects.select_for_update()
        .filter(person_key=person_key, community=community, status=HandoffStatus.PENDING)
        .first()
    )


def _handoff_join(*, user: User, handoff: Handoff, into: Handoff, event: dict[str, object]) -> None:
    """A re-routed handoff joins the target's pending handoff of the same person: its
    arrivals and history move there, with the re-route and one "joined" event per arrival."""
    arrivals = list(Arrival.objects.filter(handoff=handoff).order_by("pk"))
    Arrival.objects.filter(handoff=handoff).update(handoff=into, community=into.community)
    HandoffEvent.objects.filter(handoff=handoff).update(handoff=into)
    HandoffEvent.objects.create(handoff=into, **event)
    HandoffEvent.objects.bulk_create(
        HandoffEvent(handoff=into, action=HandoffAction.JOINED, user=user, arrival=arrival)
        for arrival in arrivals
    )
    if into.key_person_id is None and handoff.key_person_id is not None:
        Handoff.objects.filter(pk=into.pk, key_person__isnull=True).update(
            key_person_id=handoff.key_person_id
        )


def _handoff_hours(handoff: Handoff) -> int:
    first = handoff.arrivals.select_related("checkpoint").order_by("pk").first()
    return first.checkpoint.handoff_hours if first is not None else 24


def unmatched_route(
    *,
    user: User,
    arrival_id: int,
    community_code: str,
    request: HttpRequest | None = None,
) -> Arrival:
    """Command staff route an unmatched arrival by hand to a community of the district."""
    try:
        arrival = selectors.access_unmatched(user, arrival_id)
        district = arrival.checkpoint.district
        target = Area.objects.filter(
            prefix_q("path", district.path), level=AreaLevel.COMMUNITY, code=community_code.strip()
        ).first()
        if target is None:
            raise HandoffRejected(_("choose a community of this district"), "community")
        with sqlite_writer_turn(), transaction.atomic():
            changed = Arrival.objects.filter(pk=arrival.pk, route=Route.UNMATCHED).update(
                route=Route.HANDED_OFF, match_status=MatchStatus.ROUTED, community=target
            )
            if not changed:
                raise Http404
            arrival.refresh_from_db()
            _handoff_send(user=user, arrival=arrival, community_id=target.pk)
            audit_write(user=user, action="arrival.routed", obj=arrival, request=request)
        if "fever" in arrival.risk_flags:
            _fever_referral(user, arrival.pk, request)
            arrival.refresh_from_db()
        return arrival
    except (Http404, HandoffRejected) as error:
        _refusing(request, error)
        raise
