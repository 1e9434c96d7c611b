"""The issue's follow-up and checkpoint volumes for bench/command.py (`--followup`), written
straight into the tables after the sweep's roster and campaign, as bench/followup.py `build()`
and bench/sweep.py `_make_visits` write theirs.

- 50,000 key persons: persons of the roster (every ~20th, in every community of the district),
  responsible community = the community of their household's grid; 2 % being transferred to
  another community; the sweep's grid worker holds those of their community. One to two reasons
  each (arrival from a risk area, close contact, fever, other), one source each.
- One monitoring each (home isolation / health monitoring / centralised isolation): 81 % active
  on day 15 of 14 + 0–3 extension days, 15 % released on one of the last days after 17 days,
  4 % started in the last days; two checks a day (00:00 and 12:00 slots) in every ended slot
  and in today's current one for half of them, 2.5 % of slots missed, 2 % of the active ones
  lost (nothing for their last 3 days), 1 % unreachable, 0.2 % fevers (37.8 °C), 3 % typed late.
  The monitoring's tally (last_check_at, checked_on, checked_mask) is written from the same plan
  (`recompute_followup` then reports 0 differences).
- A referral for the first fever of each key person (to one of three fever clinics: most
  closed with an outcome, the recent ones on the way or arrived); an isolation site per street
  (three of them full) holding the centralised isolations (placements ended at release).
- 4 checkpoints of the district; 100,000 arrivals (two per vehicle passage) spread over the
  campaign's days up to a few minutes ago: 5 % passing through, 10 % risk (arrival from a risk
  area, a few with a fever), 2 % of destinations unmatched; each risk arrival with a matched
  community has its handoff (sent; accepted, not found, or still pending — overdue once its
  24 hours have passed), with the handoff's events.

Nothing here is stored as a count beside the rows: the brief and the dashboards read the rows
(and the monitoring's tally), so no other rebuild is needed.
"""

from __future__ import annotations

import datetime
import random
import time
import uuid
from decimal import Decimal

from _common import log

KEY_PERSONS = 50_000
ARRIVALS = 100_000
CHECK_COLUMNS = [
    "monitoring_id",
    "slot_date",
    "slot",
    "outcome",
    "method",
    "temperature",
    "symptoms",
    "measured_at",
    "entered_at",
    "entered_by_id",
    "late",
]


def fill(*, key_persons: int = KEY_PERSONS, arrivals: int = ARRIVALS) -> dict:
    """Write the follow-up and checkpoint data once (a database holding key persons already is
    left as it is); returns the counts of what the database holds."""
    from django.db import connection, transaction

    from doorstep.checkpoints.models import Arrival
    from doorstep.followup.models import KeyPerson

    if not KeyPerson.objects.exists():
        t0 = time.perf_counter()
        with transaction.atomic():  # all or nothing: a half-written run is written again
            fill_followup(key_persons)
        log(f"follow-up written in {time.perf_counter() - t0:.1f} s")
    if not Arrival.objects.exists():
        t0 = time.perf_counter()
        with transaction.atomic():
            fill_checkpoints(arrivals)
        log(f"checkpoints written in {time.perf_counter() - t0:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return counts()


def counts() -> dict:
    from doorstep.checkpoints.models import Arrival, Handoff, HandoffEvent, VehiclePassage
    from doorstep.followup.models import (
        Check,
        Facility,
        KeyPerson,
        Monitoring,
        Placement,
        Reason,
        Referral,
    )

    return {
        "key_persons": KeyPerson.objects.count(),
        "key_persons_transferring": KeyPerson.objects.filter(transfer_to__isnull=False).count(),
        "reasons": Reason.objects.count(),
        "monitorings": Monitoring.objects.count(),
        "monitorings_released": Monitoring.objects.filter(status="released").count(),
        "checks": Check.objects.count(),
        "referrals": Referral.objects.count(),
        "facilities": Facility.objects.count(),
        "placements": Placement.objects.count(),
        "passages": VehiclePassage.objects.count(),
        "arrivals": Arrival.objects.count(),
        "risk_arrivals": Arrival.objects.filter(is_risk=True).count(),
        "handoffs": Handoff.objects.count(),
        "handoffs_pending": Handoff.objects.filter(status="pending").count(),
        "handoff_events": HandoffEvent.objects.count(),
    }


def _user(username: str, role: str, area=None):
    from doorstep.accounts.models import User

    user, _ = User.objects.update_or_create(
        username=username, defaults={"role": role, "jurisdiction_area": area, "is_active": True}
    )
    return user


def fill_followup(total: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from doorstep.accounts.models import Role, User
    from doorstep.areas.models import Area, AreaLevel
    from doorstep.core.bulk import insert_rows
    from doorstep.followup import schedule
    from doorstep.followup.models import (
        Check,
        Facility,
        KeyPerson,
        Monitoring,
        Placement,
        Reason,
        Referral,
        Source,
    )
    from doorstep.registry.models import Person

    rng = random.Random(20261201)
    now = timezone.now()
    today = schedule.local_date(now)
    district = Area.objects.get(level=AreaLevel.DISTRICT)
    worker = User.objects.filter(username="bench_worker").first()
    clinic_user = _user("bench_clinic", Role.CLINIC_STAFF)
    streets = dict(
        Area.objects.filter(level=AreaLevel.STREET).order_by("code").values_list("pk", "code")
    )
    community_street = dict(
        Area.objects.filter(level=AreaLevel.COMMUNITY).values_list("pk", "parent_id")
    )
    communities = sorted(community_street)
    # every ~n-th active person of the roster, with the community of their household's grid
    step = max(1, Person.objects.filter(status="active").count() // total)
    chosen: list[tuple[int, int]] = []
    for n, (person_id, community_id) in enumerate(
        Person.objects.filter(status="active")
        .order_by("pk")
        .values_list("pk", "household__grid__parent_id")
        .iterator(chunk_size=50000)
    ):
        if n % step == 0 and len(chosen) < total and community_id in community_street:
            chosen.append((person_id, community_id))
    log(f"{len(chosen):,} key persons over {len(set(c for _p, c in chosen))} communities")

    worker_community = worker.jurisdiction_area_id if worker is not None else None
    kp_rows = []
    plans = []
    for person_id, community_id in chosen:
        group = rng.random()
        if group < 0.15:  # released on one of the last days, after 17 days
            kind = "released"
            start = today - datetime.timedelta(days=19)
            end = today - datetime.timedelta(days=3)
            extension = 2
        elif group < 0.19:  # began in the last days
            kind = "new"
            start = today - datetime.timedelta(days=rng.randrange(4))
            end = start + datetime.timedelta(days=14)
            extension = 0
        else:  # day 15 of 14 + 0-3 extension days
            kind = "active"
            start = today - datetime.timedelta(days=14)
            extension = rng.randrange(4)
            end = today + datetime.timedelta(days=extension) if extension else today
        hour = rng.choice([7, 8, 9, 10, 13, 14, 15, 16, 17, 19])
        started_at = schedule.local_moment(start, datetime.time(hour, rng.randrange(60)))
        if started_at > now - datetime.timedelta(minutes=30):
            started_at = now - datetime.timedelta(minutes=30 + rng.randrange(120))
            start = schedule.local_date(started_at)
        released_at = None
        if kind == "released":
            released_at = schedule.local_moment(
                today - datetime.timedelta(days=rng.choice([1, 2])),
                datetime.time(rng.randrange(9, 17), rng.randrange(60)),
            )
        r = rng.random()
        measure = (
            "home_isolation"
            if r < 0.6
            else "health_monitoring"
            if r < 0.9
            else "centralised_isolation"
        )
        transfer = (
            communities[(communities.index(community_id) + 1) % len(communities)]
            if rng.random() < 0.02
            else None
        )
        kp_rows.append(
            (
                person_id,
                community_id,
                worker.pk if worker is not None and community_id == worker_community else None,
                transfer,
                started_at,
            )
        )
        plans.append(
            {
                "kind": kind,
                "start": start,
                "end": end,
                "extension": extension,
                "started_at": started_at,
                "released_at": released_at,
                "measure": measure,
                "lost": kind == "active" and rng.random() < 0.02,
                "community": community_id,
            }
        )
    with transaction.atomic():
        insert_rows(
            KeyPerson,
            ["person_id", "community_id", "worker_id", "transfer_to_id", "created_at"],
            kp_rows,
        )
    kp_of_person = dict(KeyPerson.objects.values_list("person_id", "pk"))
    kp_ids = [kp_of_person[person_id] for person_id, _c in chosen]

    reason_rows, source_rows = [], []
    for kp, plan in zip(kp_ids, plans, strict=True):
        r = rng.random()
        kinds = [
            "risk_area_arrival"
            if r < 0.5
            else "close_contact"
            if r < 0.8
            else "fever_symptoms"
            if r < 0.9
            else "other"
        ]
        if rng.random() < 0.1 and kinds[0] != "close_contact":
            kinds.append("close_contact")
        exposure = plan["start"] - datetime.timedelta(days=rng.randrange(3))
        for kind in kinds:
            reason_rows.append(
                (
                    kp,
                    kind,
                    exposure,
                    "湖北" if kind == "risk_area_arrival" else "",
                    exposure if kind == "risk_area_arrival" else None,
                    True,
                    plan["started_at"],
                )
            )
        source = {"risk_area_arrival": "checkpoint", "fever_symptoms": "clinic"}.get(
            kinds[0], "sweep" if rng.random() < 0.7 else "manual"
        )
        source_rows.append((kp, source, "", plan["started_at"]))
    m_rows = []
    for kp, plan in zip(kp_ids, plans, strict=True):
        released = plan["released_at"] is not None
        m_rows.append(
            (
                kp,
                plan["measure"],
                "released" if released else "active",
                plan["started_at"],
                plan["start"],
                plan["end"],
                plan["extension"],
                {"own_room": True, "no_vulnerable": True, "supplies": True}
                if plan["measure"] == "home_isolation"
                else {},
                plan["released_at"],
                "monitoring period over" if released else "",
                "",
                0,
            )
        )
    with transaction.atomic():
        insert_rows(
            Reason,
            [
                "key_person_id",
                "kind",
                "exposure_date",
                "detail",
                "arrival_date",
                "active",
                "created_at",
            ],
            reason_rows,
        )
        insert_rows(Source, ["key_person_id", "kind", "reference", "created_at"], source_rows)
        insert_rows(
            Monitoring,
            [
                "key_person_id",
                "measure",
                "status",
                "started_at",
                "start_date",
                "end_date",
                "extension_days",
                "eligibility",
                "released_at",
                "release_reason",
                "early_release_reason",
                "checked_mask",
            ],
            m_rows,
        )
    monitoring_of = dict(Monitoring.objects.values_list("key_person_id", "pk"))
    log(f"{len(reason_rows):,} reasons, {len(m_rows):,} monitorings; writing the checks")

    # the checks, and the tally each monitoring keeps of them
    current = schedule.slot_of(now)
    tallies: list[tuple] = []
    fevers: list[tuple[int, int, datetime.datetime]] = []  # (kp, monitoring, measured_at)
    batch: list[tuple] = []
    written = 0
    t0 = time.perf_counter()
    for kp, plan in zip(kp_ids, plans, strict=True):
        m_id = monitoring_of[kp]
        until = plan["released_at"] or now
        lost_from = today - datetime.timedelta(days=2) if plan["lost"] else None
        last_measured = None
        last_day = None
        mask = 0
        method = rng.choice(["visit", "phone", "phone", "self"])
        fevered = False
        for slot in schedule.monitoring_slots(
            started_at=plan["started_at"], end_date=plan["end"], until=until
        ):
            if lost_from is not None and slot.day >= lost_from:
                break
            ends = slot.ends_at
            if slot == current or ends > until:
                # the slot still running (today's, or the release's): half checked in it
                if rng.random() < 0.5:
                    continue
            elif rng.random() < 0.025:
                continue  # missed
            low = max(slot.starts_at + datetime.timedelta(hours=7), plan["started_at"])
            high = min(ends - datetime.timedelta(minutes=20), until, now)
            if high <= low:
                low = max(slot.starts_at, plan["started_at"])
                if high <= low:
                    continue
            measured = low + (high - low) * rng.random()
            entered, late = measured, False
            if rng.random() < 0.03 and ends + datetime.timedelta(hours=3) < now:
                entered, late = ends + datetime.timedelta(hours=2), True
            r = rng.random()
            if r < 0.01:
                outcome, temperature, symptoms = "unreachable", None, []
            elif r < 0.012:
                outcome, temperature, symptoms = "measured", Decimal("37.8"), ["fever"]
                if not fevered:
                    fevers.append((kp, m_id, measured))
                    fevered = True
            else:
                outcome = "measured"
                temperature = Decimal(f"36.{rng.randrange(2, 9)}")
                symptoms = []
            batch.append(
                (
                    m_id,
                    slot.day,
                    slot.index,
                    outcome,
                    method,
                    temperature,
                    symptoms,
                    measured,
                    entered,
                    worker.pk
                    if worker is not None and plan["community"] == worker_community
                    else None,
                    late,
                )
            )
            if outcome == "measured" and (last_measured is None or measured > last_measured):
                last_measured = measured
            if last_day is None or slot.day > last_day:
                last_day, mask = slot.day, 0
            if slot.day == last_day:
                mask |= 1 << slot.index
        tallies.append((last_measured, last_day, mask, m_id))
        if len(batch) >= 50000:
            with transaction.atomic():
                insert_rows(Check, CHECK_COLUMNS, batch)
            written += len(batch)
            batch = []
            if written % 250000 < 50000:
                log(f"  checks {written:,} ({time.perf_counter() - t0:.0f} s)")
    with transaction.atomic():
        insert_rows(Check, CHECK_COLUMNS, batch)
    written += len(batch)
    log(f"{written:,} checks in {time.perf_counter() - t0:.0f} s; the monitorings' tallies")
    from django.db import connection

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE followup_monitoring SET last_check_at = %s, checked_on = %s, "
            "checked_mask = %s WHERE id = %s",
            [
                (
                    Monitoring._meta.get_field("last_check_at").get_db_prep_save(
                        last, connection=connection
                    ),
                    day,
                    mask,
                    m_id,
                )
                for last, day, mask, m_id in tallies
            ],
        )

    # facilities: three fever clinics and a hospital for the district, an isolation site per
    # street (sized to its centralised isolations, three of them exactly full)
    facility_rows = [
        (f"发热门诊 {n + 1}", "fever_clinic", district.pk, 40, f"演示路 {n + 1} 号")
        for n in range(3)
    ]
    facility_rows.append(("定点医院", "hospital", district.pk, 300, "演示路 9 号"))
    centralised: dict[int, list[int]] = {}
    for n, plan in enumerate(plans):
        if plan["measure"] == "centralised_isolation":
            centralised.setdefault(community_street[plan["community"]], []).append(n)
    for i, (street_id, code) in enumerate(streets.items()):
        held = sum(1 for n in centralised.get(street_id, []) if plans[n]["released_at"] is None)
        capacity = held if i < 3 else held + 10 + held // 5
        facility_rows.append((f"隔离点 {code}", "isolation_site", street_id, capacity, ""))
    insert_rows(Facility, ["name", "kind", "area_id", "capacity", "address"], facility_rows)
    site_of = dict(Facility.objects.filter(kind="isolation_site").values_list("area_id", "pk"))
    clinics = list(
        Facility.objects.filter(kind="fever_clinic").order_by("pk").values_list("pk", flat=True)
    )
    placement_rows = []
    for street_id, members in centralised.items():
        for n in members:
            plan = plans[n]
            placement_rows.append(
                (
                    site_of[street_id],
                    kp_ids[n],
                    monitoring_of[kp_ids[n]],
                    min(plan["started_at"] + datetime.timedelta(hours=3), now),
                    plan["end"],
                    plan["released_at"],
                )
            )
    insert_rows(
        Placement,
        ["facility_id", "key_person_id", "monitoring_id", "since", "until", "ended_at"],
        placement_rows,
    )
    referral_rows = []
    for kp, m_id, measured in fevers:
        opened = measured + datetime.timedelta(minutes=15)
        if opened >= now:
            continue
        arrived = opened + datetime.timedelta(minutes=rng.randrange(20, 90))
        outcome_at = arrived + datetime.timedelta(hours=rng.randrange(2, 8))
        status, outcome = "closed", ""
        if arrived >= now:
            status, arrived, outcome_at = "open", None, None
        elif outcome_at >= now:
            status, outcome_at = "arrived", None
        if status == "closed":
            r = rng.random()
            outcome = (
                "excluded"
                if r < 0.9
                else "suspected"
                if r < 0.96
                else "confirmed"
                if r < 0.98
                else "admitted"
            )
        referral_rows.append(
            (
                kp,
                m_id,
                rng.choice(clinics),
                Decimal("37.8"),
                ["fever"],
                "manual",
                "",
                rng.choice(["ambulance", "community", "own"]),
                opened,
                status,
                opened,
                arrived,
                outcome,
                outcome_at,
                clinic_user.pk if outcome_at else None,
            )
        )
    insert_rows(
        Referral,
        [
            "key_person_id",
            "monitoring_id",
            "facility_id",
            "temperature",
            "symptoms",
            "source_kind",
            "source_reference",
            "transport",
            "transport_at",
            "status",
            "opened_at",
            "arrived_at",
            "outcome",
            "outcome_at",
            "outcome_by_id",
        ],
        referral_rows,
    )
    log(
        f"{len(facility_rows)} facilities, {len(placement_rows):,} placements, "
        f"{len(referral_rows):,} referrals"
    )


def fill_checkpoints(total: int) -> None:
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from doorstep.accounts.models import Role, User
    from doorstep.areas.models import Area, AreaLevel
    from doorstep.checkpoints.models import (
        Arrival,
        Checkpoint,
        CheckpointOfficer,
        Handoff,
        HandoffEvent,
        VehiclePassage,
    )
    from doorstep.core.bulk import insert_rows
    from doorstep.screening.models import Campaign

    rng = random.Random(20261202)
    now = timezone.now()
    district = Area.objects.get(level=AreaLevel.DISTRICT)
    officer = _user("bench_officer", Role.CHECKPOINT_OFFICER)
    closer = User.objects.get(username="bench_command")
    kinds = ["highway_exit", "railway_station", "bus_station", "neighbour_road"]
    for n, kind in enumerate(kinds):
        Checkpoint.objects.get_or_create(
            code=f"BENCH-CP{n + 1}",
            defaults={"district": district, "name": f"卡口 {n + 1}", "kind": kind},
        )
    checkpoints = list(Checkpoint.objects.filter(code__startswith="BENCH-CP").order_by("code"))
    CheckpointOfficer.objects.get_or_create(user=officer, defaults={"checkpoint": checkpoints[0]})
    communities = list(
        Area.objects.filter(level=AreaLevel.COMMUNITY).order_by("code").values_list("pk", "name")
    )
    start = Campaign.objects.get(name="bench sweep").starts_at
    span = (now - datetime.timedelta(minutes=10)) - start
    hours = datetime.timedelta(hours=settings.DOORSTEP_HANDOFF_HOURS)

    passages, arrivals = [], []
    for i in range(total):
        at = start + span * (i / total)
        checkpoint = checkpoints[(i // 2) % len(checkpoints)]
        if i % 2 == 0:
            passage_uuid = uuid.uuid4()
            passages.append(
                (
                    checkpoint.pk,
                    passage_uuid,
                    "",
                    f"渝A{i:05d}"[:20],
                    rng.choice(["car", "car", "car", "bus", "truck", "train"]),
                    "",
                    "",
                    at,
                    officer.pk,
                    at + datetime.timedelta(minutes=1),
                )
            )
        passing = rng.random() < 0.05
        risk = not passing and rng.random() < 0.105
        fever = risk and rng.random() < 0.03
        matched = not passing and rng.random() < 0.98
        community = communities[rng.randrange(len(communities))] if matched else None
        if passing:
            route = "passing"
        elif risk:
            route = "handed_off" if community else "unmatched"
        else:
            route = "none"
        complete = rng.random() > 0.025
        arrivals.append(
            {
                "passage_uuid": passage_uuid,
                "checkpoint": checkpoint.pk,
                "uuid": uuid.uuid4(),
                "name": f"到达{i}",
                "id_number": f"B{i:017d}" if complete else None,
                "phone": f"139{i:08d}",
                "origin": "湖北省武汉市" if risk else "四川省成都市",
                "destination": f"{community[1]} 演示路 {i % 300} 号" if community else "",
                "purpose": "passing" if passing else rng.choice(["home", "home", "visit", "work"]),
                "temperature": Decimal("37.9") if fever else Decimal(f"36.{rng.randrange(2, 9)}"),
                "symptoms": ["fever"] if fever else [],
                "arrived_at": at,
                "needs_completion": not complete,
                "risk_flags": (["fever"] if fever else []) + (["risk_area"] if risk else []),
                "is_risk": risk,
                "risk_area": "湖北" if risk else "",
                "route": route,
                "match_status": "" if passing else "matched" if community else "unmatched",
                "match_method": "address" if community else "",
                "match_confidence": 0.95 if community else None,
                "community": community[0] if community else None,
            }
        )
    with transaction.atomic():
        insert_rows(
            VehiclePassage,
            [
                "checkpoint_id",
                "client_uuid",
                "body_hash",
                "plate",
                "kind",
                "origin",
                "destination",
                "arrived_at",
                "entered_by_id",
                "created_at",
            ],
            passages,
        )
    passage_of = dict(VehiclePassage.objects.values_list("client_uuid", "pk"))

    # handoffs of the risk arrivals bound for a community, and how each ended (or not yet)
    handoff_rows, handoff_plan = [], {}
    for a in arrivals:
        if a["route"] != "handed_off":
            continue
        key = a["id_number"] or f"{a['name']}|{a['phone']}"
        sent = a["arrived_at"] + datetime.timedelta(minutes=2)
        deadline = sent + hours
        r = rng.random()
        closed_at, action, reason = None, None, ""
        if deadline < now:  # its day over: most answered, some left pending (overdue)
            if r < 0.8:
                action = "accepted"
            elif r < 0.88:
                action, reason = "not_found", rng.choice(["wrong_address", "left_district"])
        elif r < 0.55:
            action = "accepted"
        if action:
            closed_at = sent + datetime.timedelta(hours=rng.uniform(0.5, 30))
            if closed_at >= now:
                closed_at, action, reason = None, None, ""
        late = (
            int((closed_at - deadline).total_seconds())
            if closed_at and closed_at > deadline
            else None
        )
        handoff_plan[key] = (a, sent, action, closed_at, reason)
        handoff_rows.append(
            (
                district.pk,
                a["community"],
                key,
                action or "pending",
                sent,
                deadline,
                sent,
                officer.pk,
                closed_at,
                closer.pk if closed_at else None,
                late,
                reason,
                "",
                0,
            )
        )
    with transaction.atomic():
        insert_rows(
            Handoff,
            [
                "district_id",
                "community_id",
                "person_key",
                "status",
                "received_at",
                "deadline",
                "created_at",
                "created_by_id",
                "closed_at",
                "closed_by_id",
                "late_seconds",
                "not_found_reason",
                "note",
                "reroutes",
            ],
            handoff_rows,
        )
    handoff_of = dict(Handoff.objects.values_list("person_key", "pk"))
    arrival_rows = []
    for a in arrivals:
        key = a["id_number"] or f"{a['name']}|{a['phone']}"
        arrival_rows.append(
            (
                passage_of[a["passage_uuid"]],
                a["checkpoint"],
                a["uuid"],
                "",
                a["name"],
                "resident_id",
                a["id_number"],
                a["phone"],
                a["origin"],
                a["destination"],
                a["purpose"],
                a["temperature"],
                a["symptoms"],
                a["arrived_at"],
                a["needs_completion"],
                a["risk_flags"],
                a["is_risk"],
                a["risk_area"],
                a["route"],
                a["match_status"],
                a["match_method"],
                a["match_confidence"],
                [],
                a["community"],
                handoff_of.get(key) if a["route"] == "handed_off" else None,
                officer.pk,
                a["arrived_at"] + datetime.timedelta(minutes=1),
            )
        )
    with transaction.atomic():
        for chunk in range(0, len(arrival_rows), 50000):
            insert_rows(
                Arrival,
                [
                    "passage_id",
                    "checkpoint_id",
                    "client_uuid",
                    "body_hash",
                    "name",
                    "id_type",
                    "id_number",
                    "phone",
                    "origin",
                    "destination",
                    "purpose",
                    "temperature",
                    "symptoms",
                    "arrived_at",
                    "needs_completion",
                    "risk_flags",
                    "is_risk",
                    "risk_area",
                    "route",
                    "match_status",
                    "match_method",
                    "match_confidence",
                    "match_candidates",
                    "community_id",
                    "handoff_id",
                    "entered_by_id",
                    "created_at",
                ],
                arrival_rows[chunk : chunk + 50000],
            )
    arrival_of = dict(Arrival.objects.filter(handoff__isnull=False).values_list("handoff_id", "pk"))
    event_rows = []
    for key, (a, sent, action, closed_at, reason) in handoff_plan.items():
        handoff_id = handoff_of[key]
        event_rows.append(
            (
                handoff_id,
                "sent",
                sent,
                officer.pk,
                None,
                a["community"],
                "",
                "",
                arrival_of.get(handoff_id),
            )
        )
        if action:
            event_rows.append(
                (handoff_id, action, closed_at, closer.pk, None, None, reason, "", None)
            )
    with transaction.atomic():
        insert_rows(
            HandoffEvent,
            [
                "handoff_id",
                "action",
                "at",
                "user_id",
                "from_community_id",
                "to_community_id",
                "reason",
                "note",
                "arrival_id",
            ],
            event_rows,
        )
    log(
        f"{len(passages):,} passages, {len(arrival_rows):,} arrivals, "
        f"{len(handoff_rows):,} handoffs, {len(event_rows):,} handoff events"
    )
