"""Demo data for follow-up (issue 10), so that the first login shows it alive: a fever clinic
staffed by the demo clinic account, an isolation hotel with a guest, and key persons of the demo
worker in every state — a check due now, an overdue one, one ending today, one referred to the
clinic, one released — and a check the worker saved offline after the person was taken off
their list, held for the secretary's decision (issue 14)."""

import datetime
import uuid

from django.utils import timezone

from doorstep.accounts.models import User
from doorstep.areas.models import Area
from doorstep.core.db import prefix_q
from doorstep.followup import schedule
from doorstep.followup import services as followup
from doorstep.followup.models import ClinicStaffing, Facility, FacilityKind, KeyPerson, Monitoring
from doorstep.followup.outbox import OutboxCheck, outbox_check_record
from doorstep.registry.models import Person

CLINIC_NAME = "区人民医院发热门诊"


def _moved_back(key_person: KeyPerson, days: int) -> Monitoring:
    """The monitoring as if it had started `days` days ago (demo only: the services start at
    the moment they are called)."""
    monitoring = key_person.monitorings.get(status="active")
    start = schedule.local_date(timezone.now()) - datetime.timedelta(days=days)
    Monitoring.objects.filter(pk=monitoring.pk).update(
        start_date=start, started_at=schedule.local_moment(start, datetime.time(8))
    )
    monitoring.refresh_from_db()
    return monitoring


def demo_followup_create(*, district: Area) -> None:
    """Idempotent: loading the demo again adds nothing."""
    worker = User.objects.filter(username="worker").select_related("jurisdiction_area").first()
    secretary = User.objects.filter(username="community").first()
    if worker is None or secretary is None or worker.jurisdiction_area is None:
        return
    if Facility.objects.filter(name=CLINIC_NAME).exists():
        # Loaded before. (The worker's key persons are no mark: the sweep demo's fever is
        # already one, made by the visit itself.)
        return
    clinic = Facility.objects.create(
        name=CLINIC_NAME, kind=FacilityKind.FEVER_CLINIC, area=district, capacity=30
    )
    hotel = Facility.objects.create(
        name="北碚宾馆集中隔离点", kind=FacilityKind.ISOLATION_SITE, area=district, capacity=40
    )
    Facility.objects.create(
        name="区委党校隔离点", kind=FacilityKind.ISOLATION_SITE, area=district, capacity=60
    )
    clinic_user = User.objects.filter(username="clinic").first()
    if clinic_user is not None:
        ClinicStaffing.objects.get_or_create(user=clinic_user, defaults={"facility": clinic})
    # Persons nobody follows yet: a fever in the sweep demos made its own key persons already.
    persons = list(
        Person.objects.filter(
            prefix_q("household__grid__path", worker.jurisdiction_area.path),
            key_person__isnull=True,
        ).order_by("pk")[:6]
    )
    if len(persons) < 5:
        return
    today = schedule.local_date(timezone.now())

    def add(person: Person, *, kind: str, days_ago: int, detail: str = "") -> KeyPerson:
        return followup.key_person_add(
            user=worker,
            person=person,
            reasons=[
                followup.ReasonInput(
                    kind=kind,
                    exposure_date=today - datetime.timedelta(days=days_ago),
                    detail=detail,
                )
            ],
            source=followup.SourceInput(kind="manual", reference="演示：热线来电"),
        )

    def check(key_person: KeyPerson, when: datetime.datetime, temperature: str) -> None:
        followup.check_record(
            user=worker,
            key_person=key_person,
            data=followup.CheckInput(
                client_uuid=uuid.uuid4(), measured_at=when, temperature=temperature
            ),
        )

    # Due now: arrived yesterday from a risk area, checked this morning... or not yet.
    due = add(persons[0], kind="risk_area_arrival", days_ago=1, detail="湖北武汉")
    _moved_back(due, 1)
    # Overdue: three days in, nothing since yesterday morning.
    overdue = add(persons[1], kind="close_contact", days_ago=3)
    _moved_back(overdue, 3)
    check(overdue, timezone.now() - datetime.timedelta(days=1, hours=4), "36.4")
    # Ending today: day 14, checked today.
    ending = add(persons[2], kind="risk_area_arrival", days_ago=14, detail="湖北孝感")
    _moved_back(ending, 14)
    check(ending, timezone.now() - datetime.timedelta(minutes=30), "36.5")
    # Referred: a fever this morning opened a referral to the clinic, on the way.
    referred = add(persons[3], kind="fever_symptoms", days_ago=0)
    # Twenty minutes ago, unless that falls in the slot before this one (just after noon or
    # midnight): the monitoring started now, and owes no check of an earlier slot.
    now = timezone.now()
    fever_at = max(now - datetime.timedelta(minutes=20), schedule.slot_of(now).starts_at)
    result = followup.check_record(
        user=worker,
        key_person=referred,
        data=followup.CheckInput(
            client_uuid=uuid.uuid4(),
            measured_at=fever_at,
            temperature="38.4",
            symptoms=["cough"],
        ),
    )
    if result.referral is not None:
        followup.referral_dispatch(
            user=worker, referral=result.referral, facility=clinic, transport="ambulance"
        )
    # Released: two negative tests, released early with the community's approval; placed at the
    # hotel before that.
    released = add(persons[4], kind="close_contact", days_ago=10)
    _moved_back(released, 10)
    followup.placement_create(user=secretary, key_person=released, facility=hotel)
    check(released, timezone.now() - datetime.timedelta(minutes=10), "36.6")
    followup.monitoring_release(
        user=secretary,
        monitoring=released.monitorings.get(status="active"),
        reason="两次核酸阴性，经社区批准提前解除",
    )
    if len(persons) > 5:
        _held_check(add(persons[5], kind="close_contact", days_ago=2), worker, secretary)


def _held_check(key_person: KeyPerson, worker: User, secretary: User) -> None:
    """The holding list of checks is not empty: the secretary took this person off the worker's
    list (to give to another worker) while the worker's phone, without signal on the stairs,
    kept a check of them; the check arrived after and waits for the secretary."""
    _moved_back(key_person, 2)
    followup.key_person_reassign(user=secretary, key_person=key_person, worker=None)
    form = [("slot", ""), ("temperature", "36.9"), ("method", "visit"), ("outcome", "measured")]
    outbox_check_record(
        user=worker,
        record=OutboxCheck(
            client_uuid=uuid.uuid5(uuid.NAMESPACE_URL, f"doorstep-demo:held-check:{key_person.pk}"),
            key_person_id=key_person.pk,
            measured_at=timezone.now() - datetime.timedelta(minutes=40),
            form=form,
        ),
    )
