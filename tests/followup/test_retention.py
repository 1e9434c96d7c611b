"""Retention of follow-up: a retention period after a key person's last monitoring was released,
the health answers, free text, kept forms and self-check links are gone, every figure of the brief
and of the follow-up counts is the same before and after (and verify_brief finds no difference),
an open monitoring or a recent release is untouched, a rerun changes nothing and says 0, a
caller who is not the command is refused with nothing changed, and the command's output and logs
carry no personal data."""

import datetime
import io
import logging
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone, translation

from doorstep.accounts.models import Role
from doorstep.command.brief import brief_sections
from doorstep.command.services import brief_verify
from doorstep.core.models import AuditEvent
from doorstep.followup import counts as followup_counts
from doorstep.followup.models import (
    Check,
    CheckChange,
    CheckSubmission,
    HeldCheck,
    KeyPerson,
    Monitoring,
    MonitoringChange,
    MonitoringStatus,
    Placement,
    Reason,
    Referral,
    SelfCheckToken,
    Source,
)
from doorstep.followup.retention import (
    FollowupCounts,
    followup_anonymise_due,
    followup_retention_pending,
)
from doorstep.followup.services import (
    ReasonInput,
    SourceInput,
    check_record,
    key_person_add,
    monitoring_measure_set,
    monitoring_release,
    referral_open,
    self_check_token_for,
)

from .conftest import check_input, today

AREAS = ("D", "S1", "S2", "C1", "C2")
PHONE = "13912345678"
LATER = datetime.timedelta(days=40)  # past the 30-day period


def _follow(user, person, *, detail: str, reference: str, community=None) -> KeyPerson:
    return key_person_add(
        user=user,
        person=person,
        reasons=[
            ReasonInput(
                kind="other",
                exposure_date=today() - datetime.timedelta(days=2),
                detail=detail,
            )
        ],
        source=SourceInput(kind="manual", reference=reference),
        start_date=today() - datetime.timedelta(days=2),
        community=community,
    )


@pytest.fixture
def follow_up(households, fworker, admin, user_for, clinic):
    """A (G1, community C1): home isolation with its eligibility answers, checks with a fever
    and a cough (one replaced), a self-check link, a referral closed as excluded, a placement,
    a held offline check, released early with a reason. B (G3, community C2): still under
    monitoring, checked, with a link."""
    command = user_for(Role.COMMAND, "D")
    a = _follow(
        fworker,
        households["G1"].persons.order_by("pk").first(),
        detail="自述去过华南市场",
        reference=f"热线来电 {PHONE}",
    )
    monitoring = Monitoring.objects.get(key_person=a)
    monitoring_measure_set(
        user=admin,
        monitoring=monitoring,
        measure="home_isolation",
        eligibility={"own_room": True, "no_vulnerable": True, "supplies": True},
        reason="家里有独立房间",
    )
    first = check_input(temperature="37.9", symptoms=["cough"])
    check_record(user=fworker, key_person=a, data=first)
    again = check_input(temperature="37.6", symptoms=["cough"], when=first.measured_at)
    check_record(user=fworker, key_person=a, data=again)
    self_check_token_for(monitoring=monitoring)
    referral = referral_open(
        user=admin,
        key_person=a,
        temperature=Decimal("38.4"),
        symptoms=["fever", "cough"],
        source=SourceInput(kind="manual", reference=f"家属电话 {PHONE}"),
        facility=clinic,
    )
    now = timezone.now()
    Referral.objects.filter(pk=referral.pk).update(
        status="closed", arrived_at=now, outcome="excluded", outcome_at=now
    )
    Placement.objects.create(
        facility=clinic, key_person=a, monitoring=monitoring, since=now, ended_at=now
    )
    HeldCheck.objects.create(
        key_person=a,
        sender=fworker,
        client_uuid=uuid.uuid4(),
        body_hash="f" * 64,
        measured_at=now,
        form=[["temperature", "38.0"], ["symptoms", "cough"]],
        reason="reassigned",
        state="discarded",
        decision_note="与已录入重复，体温38.0",
    )
    monitoring_release(user=admin, monitoring=monitoring, reason="提前解除：两次核酸阴性")

    b = _follow(
        fworker,
        households["G3"].persons.order_by("pk").first(),
        detail="密接，同车",
        reference="社区摸排",
    )
    check_record(user=fworker, key_person=b, data=check_input(temperature="36.8"))
    self_check_token_for(monitoring=Monitoring.objects.get(key_person=b))
    return {"a": a, "b": b, "command": command, "admin": admin}


@pytest.fixture(autouse=True)
def english():
    """The command's lines in English, whatever the default language (counts are read)."""
    with translation.override("en"):
        yield


# -- what is compared --------------------------------------------------------------------------
def brief_figures(areas) -> dict:
    """Every area's follow-up section on every day of the follow-up, and today's counts."""
    found = {}
    for key in AREAS:
        for back in range(4):
            day = today() - datetime.timedelta(days=back)
            sections = {s.key: s for s in brief_sections(areas[key], day)}
            section = sections.get("followup")
            found[(key, back)] = dict(section.figures) if section else None
    return found


def count_figures(user, areas) -> dict:
    now = timezone.now()
    found = {}
    for key in ("D", "S1", "C1", "C2"):
        total, rows = followup_counts.counts_by_child_area(user, areas[key], now)
        found[key] = [total.figures, *(row.figures for row in rows)]
    return found


def kept(key_person) -> tuple:
    """What the figures read, which must survive anonymisation."""
    return (
        list(KeyPerson.objects.filter(pk=key_person.pk).values()),
        list(
            Monitoring.objects.filter(key_person=key_person)
            .order_by("pk")
            .values_list(
                "measure",
                "status",
                "started_at",
                "start_date",
                "end_date",
                "released_at",
                "last_check_at",
                "checked_on",
                "checked_mask",
            )
        ),
        list(
            Check.objects.filter(monitoring__key_person=key_person)
            .order_by("pk")
            .values_list("slot_date", "slot", "outcome", "method", "measured_at", "entered_at")
        ),
        list(
            Reason.objects.filter(key_person=key_person)
            .order_by("pk")
            .values_list("kind", "exposure_date", "arrival_date", "active")
        ),
        list(
            Referral.objects.filter(key_person=key_person)
            .order_by("pk")
            .values_list("status", "opened_at", "arrived_at", "outcome", "outcome_at")
        ),
        list(Placement.objects.filter(key_person=key_person).order_by("pk").values()),
    )


def everything(key_person) -> tuple:
    """Every row of the key person's follow-up, for "nothing changed"."""
    kp = key_person.pk
    return (
        list(KeyPerson.objects.filter(pk=kp).values()),
        list(Monitoring.objects.filter(key_person=kp).order_by("pk").values()),
        list(MonitoringChange.objects.filter(monitoring__key_person=kp).order_by("pk").values()),
        list(Check.objects.filter(monitoring__key_person=kp).order_by("pk").values()),
        list(
            CheckChange.objects.filter(check_row__monitoring__key_person=kp).order_by("pk").values()
        ),
        list(
            CheckSubmission.objects.filter(check_row__monitoring__key_person=kp)
            .order_by("pk")
            .values()
        ),
        list(Reason.objects.filter(key_person=kp).order_by("pk").values()),
        list(Source.objects.filter(key_person=kp).order_by("pk").values()),
        list(Referral.objects.filter(key_person=kp).order_by("pk").values()),
        list(SelfCheckToken.objects.filter(monitoring__key_person=kp).order_by("pk").values()),
        list(HeldCheck.objects.filter(key_person=kp).order_by("pk").values()),
    )


def audit_trail() -> list:
    return list(
        AuditEvent.objects.exclude(action="write.refused").order_by("pk").values_list("action")
    )


# -- the figures and the blanks ----------------------------------------------------------------
def test_anonymising_keeps_every_figure_and_blanks_the_answers(follow_up, areas):
    # given a released key person with every kind of answer and one still under monitoring
    a, b, command = follow_up["a"], follow_up["b"], follow_up["command"]
    before_brief = brief_figures(areas)
    before_counts = count_figures(command, areas)
    before_kept = kept(a)
    before_b = everything(b)
    assert before_brief[("D", 0)]["under_monitoring"] == 1
    assert before_brief[("D", 0)]["ref_excluded"] == 1
    assert Check.objects.filter(monitoring__key_person=a, temperature=Decimal("37.6")).exists()
    assert CheckChange.objects.filter(check_row__monitoring__key_person=a).count() == 1
    assert MonitoringChange.objects.filter(
        monitoring__key_person=a, detail__has_key="eligibility"
    ).exists()
    later = timezone.now() + LATER
    pending = followup_retention_pending(user=command, now=later)

    # when its follow-up is anonymised 40 days later, in batches of one key person
    counts = followup_anonymise_due(user=command, now=later, batch_size=1)

    # then every figure of the brief (every area, every day) and of the counts is the same
    assert brief_figures(areas) == before_brief
    assert count_figures(command, areas) == before_counts
    for key in AREAS:
        for back in range(4):
            assert brief_verify(areas[key], today() - datetime.timedelta(days=back)) == []
    out = io.StringIO()
    call_command("recompute_followup", stdout=out)
    assert "0 differences" in out.getvalue()
    # and what the figures read is untouched
    assert kept(a) == before_kept
    # and the answers, free text, kept forms and links are gone
    checks = Check.objects.filter(monitoring__key_person=a)
    assert list(checks.values_list("temperature", "symptoms")) == [(None, [])] * checks.count()
    changes = CheckChange.objects.filter(check_row__monitoring__key_person=a)
    assert list(changes.values_list("previous", flat=True)) == [{}]
    assert set(
        CheckSubmission.objects.filter(check_row__monitoring__key_person=a).values_list(
            "body_hash", flat=True
        )
    ) == {""}
    monitoring = Monitoring.objects.get(key_person=a)
    assert (monitoring.eligibility, monitoring.release_reason, monitoring.early_release_reason) == (
        {},
        "",
        "",
    )
    for change in MonitoringChange.objects.filter(monitoring__key_person=a):
        assert change.reason == "" and "eligibility" not in change.detail
    assert list(Reason.objects.filter(key_person=a).values_list("detail", "contact_of")) == [
        ("", None)
    ]
    assert list(Source.objects.filter(key_person=a).values_list("reference", flat=True)) == [""]
    referral = Referral.objects.get(key_person=a)
    assert (referral.temperature, referral.symptoms, referral.source_reference) == (None, [], "")
    assert not SelfCheckToken.objects.filter(monitoring__key_person=a).exists()
    held = HeldCheck.objects.get(key_person=a)
    assert (held.form, held.body_hash, held.decision_note) == ([], "", "")
    # and the key person still under monitoring is untouched
    assert everything(b) == before_b
    # and the counts are what the dry run announced, audited as counts only
    assert counts == pending
    assert counts == FollowupCounts(
        key_persons=1,
        checks=1,
        check_changes=1,
        check_submissions=2,
        monitorings=1,
        monitoring_changes=counts.monitoring_changes,
        reasons=1,
        sources=1,
        referrals=1,
        self_check_links=1,
        held_checks=1,
    )
    assert counts.monitoring_changes >= 2  # the measure change and the release
    event = AuditEvent.objects.get(action="followup.anonymise")
    assert event.user == command
    assert event.detail["checks"] == 1 and event.detail["days"] == 30
    assert PHONE not in str(event.detail) and "37.6" not in str(event.detail)


def test_a_rerun_changes_nothing_and_says_0(follow_up):
    # given a follow-up anonymised once
    command, a = follow_up["command"], follow_up["a"]
    later = timezone.now() + LATER
    followup_anonymise_due(user=command, now=later)
    before, before_audit = everything(a), audit_trail()
    # when it runs again
    counts = followup_anonymise_due(user=command, now=later)
    # then it changed nothing, says 0, and wrote no audit event
    assert counts.total == 0 and counts.key_persons == 1
    assert followup_retention_pending(user=command, now=later).total == 0
    assert everything(a) == before
    assert audit_trail() == before_audit


def test_a_check_still_waiting_for_a_decision_is_closed_with_its_form(follow_up):
    # given a check recorded offline for A, still waiting in the holding list when A's
    # retention period ends (it could not be accepted after the release anyway)
    command, a = follow_up["command"], follow_up["a"]
    waiting = HeldCheck.objects.create(
        key_person=a,
        sender=follow_up["admin"],
        client_uuid=uuid.uuid4(),
        body_hash="e" * 64,
        measured_at=timezone.now(),
        form=[["temperature", "37.9"]],
        reason="reassigned",
    )
    later = timezone.now() + LATER
    # when retention runs
    counts = followup_anonymise_due(user=command, now=later)
    # then the waiting check is closed as discarded, its form gone, and a rerun says 0
    waiting.refresh_from_db()
    assert (waiting.state, waiting.form, waiting.body_hash) == ("discarded", [], "")
    assert waiting.decided_at is not None and waiting.decided_by_id is None
    assert counts.held_checks == 2
    assert followup_anonymise_due(user=command, now=later).total == 0


def test_a_recent_release_and_an_open_monitoring_are_untouched(follow_up):
    # given a key person released just now and one still under monitoring
    command = follow_up["command"]
    before = everything(follow_up["a"]), everything(follow_up["b"])
    # when retention runs now (the release is inside the 30-day period)
    counts = followup_anonymise_due(user=command)
    # then nothing changed
    assert counts == FollowupCounts()
    assert (everything(follow_up["a"]), everything(follow_up["b"])) == before
    assert not AuditEvent.objects.filter(action="followup.anonymise").exists()


def test_a_command_account_anonymises_only_its_jurisdiction(follow_up, user_for):
    # given a command account of street S2 (the released key person lives in S1)
    other = user_for(Role.COMMAND, "S2")
    before = everything(follow_up["a"])
    # when it runs retention, then it reaches nothing of S1
    counts = followup_anonymise_due(user=other, now=timezone.now() + LATER)
    assert counts.total == 0
    assert everything(follow_up["a"]) == before


@pytest.mark.parametrize(
    "role", [Role.COMMUNITY_ADMIN, Role.STREET_ADMIN, Role.GRID_WORKER, Role.CHECKPOINT_OFFICER]
)
def test_a_caller_who_is_not_the_command_is_refused_with_nothing_changed(follow_up, user_for, role):
    # given a user of another role
    user = user_for(role)
    before, before_audit = everything(follow_up["a"]), audit_trail()
    later = timezone.now() + LATER
    # when they anonymise or ask what would be, then both are refused
    with pytest.raises(PermissionDenied):
        followup_anonymise_due(user=user, now=later)
    with pytest.raises(PermissionDenied):
        followup_retention_pending(user=user, now=later)
    # and nothing changed
    assert everything(follow_up["a"]) == before
    assert audit_trail() == before_audit


def test_an_inactive_command_account_is_refused(follow_up, user_for):
    user = user_for(Role.COMMAND, "D", is_active=False)
    with pytest.raises(PermissionDenied):
        followup_anonymise_due(user=user, now=timezone.now() + LATER)


# -- the command -------------------------------------------------------------------------------
def test_the_command_refuses_a_non_command_user_with_nothing_changed(follow_up, settings):
    settings.FOLLOWUP_RETENTION_DAYS = 0
    before = everything(follow_up["a"])
    with pytest.raises(CommandError) as refused:
        call_command("apply_retention", "--user", follow_up["admin"].username, stdout=io.StringIO())
    assert refused.value.returncode == 1
    assert everything(follow_up["a"]) == before


def test_the_command_says_counts_only_and_logs_nothing_personal(
    follow_up, households, settings, caplog
):
    # given a retention period of 0 days (the release is past it at once)
    settings.FOLLOWUP_RETENTION_DAYS = 0
    person = follow_up["a"].person
    caplog.set_level(logging.DEBUG)
    # when the dry run and the run are made as the operator
    before_dry = everything(follow_up["b"])
    dry = io.StringIO()
    call_command("apply_retention", "--dry-run", "--only", "followup", stdout=dry)
    assert everything(follow_up["b"]) == before_dry
    out = io.StringIO()
    call_command("apply_retention", "--only", "followup", "--batch-size", "1", stdout=out)
    rerun = io.StringIO()
    call_command("apply_retention", "--only", "followup", stdout=rerun)
    # then the lines give counts, the rerun's all 0
    assert "1 checks" in dry.getvalue() and "1 checks" in out.getvalue()
    assert "0 checks" in rerun.getvalue() and "0 held checks" in rerun.getvalue()
    assert all(word.isdigit() for word in rerun.getvalue().split() if word[:1].isdigit())
    assert " 1 " not in rerun.getvalue().replace(",", " ")
    # and nothing the person told or is named by is in them or in the logs
    said = dry.getvalue() + out.getvalue() + rerun.getvalue() + caplog.text
    for secret in (PHONE, "37.6", "37.9", "38.4", "华南市场", "独立房间", "核酸", person.name):
        assert secret not in said, secret
    assert person.id_number and person.id_number not in said
    # and the key person still under monitoring was left alone
    assert everything(follow_up["b"]) == before_dry
    assert Monitoring.objects.get(key_person=follow_up["b"]).status == MonitoringStatus.ACTIVE


def test_the_daily_task_runs_every_step_as_the_operator(follow_up, settings):
    # given a retention period of 0 days
    settings.FOLLOWUP_RETENTION_DAYS = 0
    from doorstep.core.tasks import apply_retention_due

    # when the scheduled task runs (immediately in tests), then it anonymised A's follow-up
    result = apply_retention_due.enqueue()
    assert result.return_value > 0
    assert not SelfCheckToken.objects.filter(monitoring__key_person=follow_up["a"]).exists()
    assert SelfCheckToken.objects.filter(monitoring__key_person=follow_up["b"]).exists()
    # and again: nothing left
    assert apply_retention_due.enqueue().return_value == 0


def test_an_open_referral_or_a_waiting_transfer_holds_the_follow_up_back(follow_up, areas):
    # given the released key person with a referral arrived and no outcome yet
    a, command = follow_up["a"], follow_up["command"]
    Referral.objects.filter(key_person=a).update(status="arrived", outcome="", outcome_at=None)
    before = everything(a)
    later = timezone.now() + LATER
    # when retention runs 40 days later, then nothing of it changed
    assert followup_anonymise_due(user=command, now=later).total == 0
    assert everything(a) == before
    # and the same while a transfer waits
    Referral.objects.filter(key_person=a).update(status="closed", outcome="excluded")
    KeyPerson.objects.filter(pk=a.pk).update(transfer_to=areas["C2"])
    before = everything(a)
    assert followup_anonymise_due(user=command, now=later).total == 0
    assert everything(a) == before


def test_an_interrupted_run_keeps_its_batches_and_a_rerun_finishes(
    follow_up, households, fworker, admin, monkeypatch
):
    # given two released key persons past the period
    from doorstep.followup import retention

    c = _follow(
        fworker,
        households["G2"].persons.order_by("pk").first(),
        detail="同事确诊",
        reference="单位通知",
    )
    check_record(user=fworker, key_person=c, data=check_input(temperature="37.1"))
    monitoring_release(
        user=admin, monitoring=Monitoring.objects.get(key_person=c), reason="提前解除"
    )
    command, later = follow_up["command"], timezone.now() + LATER
    # when a run dies in its second batch
    real, calls = retention._anonymise, []

    def dying(rows, counts):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        real(rows, counts)

    monkeypatch.setattr(retention, "_anonymise", dying)
    with pytest.raises(RuntimeError):
        followup_anonymise_due(user=command, now=later, batch_size=1)
    monkeypatch.setattr(retention, "_anonymise", real)
    # then the first key person's batch is committed, the second untouched
    first, second = sorted([follow_up["a"].pk, c.pk])
    assert not Check.objects.filter(monitoring__key_person=first, temperature__isnull=False)
    assert Check.objects.filter(monitoring__key_person=second, temperature__isnull=False)
    # and the next run finishes the job, the one after finds nothing
    finished = followup_anonymise_due(user=command, now=later, batch_size=1)
    assert finished.checks == 1 and finished.key_persons == 2
    assert not Check.objects.filter(temperature__isnull=False).exclude(
        monitoring__key_person=follow_up["b"]
    )
    assert followup_anonymise_due(user=command, now=later).total == 0


def test_pages_of_an_anonymised_follow_up_still_render(follow_up, client_for):
    # given an anonymised follow-up and the self-check link it had
    a = follow_up["a"]
    token = SelfCheckToken.objects.get(monitoring__key_person=a).token
    page = client_for(Role.COMMUNITY_ADMIN, "C1").get(reverse("followup:key_person", args=[a.pk]))
    assert "华南市场" in page.content.decode()  # (the record showed the answer before)
    followup_anonymise_due(user=follow_up["command"], now=timezone.now() + LATER)
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    command = client_for(Role.COMMAND, "D")
    # when the record, the lists, the counts and the held checks are opened, then each renders
    for client, url, query in (
        (admin, reverse("followup:key_person", args=[a.pk]), {}),
        (admin, reverse("followup:key_persons"), {}),
        (admin, reverse("followup:held_checks"), {}),
        (command, reverse("followup:key_person", args=[a.pk]), {}),
        (command, reverse("followup:counts"), {}),
        (command, reverse("followup:count_list"), {"figure": "released"}),
    ):
        response = client.get(url, query)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "华南市场" not in body and "独立房间" not in body and "37.6" not in body
    # and the old self-check link opens nothing
    assert (
        client_for(Role.COMMAND, "D").get(reverse("followup:self_check", args=[token])).status_code
        == 404
    )


def test_a_merged_duplicate_follows_the_record_it_was_merged_into(
    follow_up, households, areas, fworker, admin
):
    # given a record merged into another (its monitoring closed as merged, its check kept)
    from doorstep.followup.models import PossibleDuplicate
    from doorstep.followup.services import duplicate_decide, person_for_follow_up

    head = households["G2"].persons.order_by("pk").first()
    keep = _follow(fworker, head, detail="同楼栋", reference="楼长")
    newcomer = person_for_follow_up(
        user=admin, community=areas["C1"], name=head.name, phone="13900000001"
    )
    drop = _follow(fworker, newcomer, detail="自报发热", reference="自报", community=areas["C1"])
    check_record(user=fworker, key_person=drop, data=check_input(temperature="37.1"))
    duplicate_decide(user=admin, case=PossibleDuplicate.objects.get(), merge=True)
    assert Monitoring.objects.get(key_person=drop).status == MonitoringStatus.MERGED
    command, later = follow_up["command"], timezone.now() + LATER
    before = everything(drop)
    # when retention runs while the record kept is under monitoring, then the duplicate stays
    followup_anonymise_due(user=command, now=later)
    assert everything(drop) == before
    # and once the record kept is released (and past the period), the duplicate goes with it
    check_record(user=fworker, key_person=keep, data=check_input(temperature="36.6"))
    monitoring_release(
        user=admin, monitoring=Monitoring.objects.get(key_person=keep), reason="提前解除"
    )
    counts = followup_anonymise_due(user=command, now=later)
    assert counts.key_persons == 3  # A (again, nothing left), the kept record, the duplicate
    assert not Check.objects.filter(
        monitoring__key_person__in=[keep, drop], temperature__isnull=False
    ).exists()
