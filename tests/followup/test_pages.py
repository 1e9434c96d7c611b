import datetime
import io
import uuid

from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.core.masking import mask_id_number
from doorstep.core.models import AuditEvent
from doorstep.followup import field_reads, schedule, selectors
from doorstep.followup.models import (
    Check,
    ClinicStaffing,
    KeyPerson,
    Monitoring,
    Placement,
    ReasonLength,
    Referral,
)
from doorstep.followup.services import (
    SourceInput,
    check_record,
    referral_open,
    self_check_token_for,
)
from doorstep.screening.services import visit_record

from ..screening.conftest import campaign, screened  # noqa: F401
from .conftest import add_key_person, check_input


def worker_client(client_for_user, user):
    client_for_user.force_login(user)
    return client_for_user


def test_today_page_lists_due_overdue_ending_and_new(key_person, fworker, client):
    client.force_login(fworker)
    page = client.get(reverse("followup:today"))
    assert page.status_code == 200
    assert key_person.person.name in page.content.decode()
    # the rows come made by the view: name, link and the row's HTML
    check_url = reverse("followup:check", args=[key_person.pk])
    monitoring = key_person.monitorings.get()
    [due] = page.context["due"]
    assert (due["name"], due["url"]) == (key_person.person.name, check_url)
    assert due["html"].startswith(f'<li><a class="row" href="{check_url}">')
    assert f"{monitoring.get_measure_display()} · 至 {monitoring.end_date:%m-%d}" in due["html"]
    assert due["html"] in page.content.decode()
    new_url = reverse("followup:key_person", args=[key_person.pk])
    assert [(r["name"], r["url"]) for r in page.context["new"]] == [
        (key_person.person.name, new_url)
    ]


HOUR = datetime.timedelta(hours=1)


def _overdue_by_orm(user, now) -> list:
    return list(
        selectors.referrals_overdue(user, now)
        .order_by("opened_at", "pk")
        .values_list("key_person_id", "key_person__person__name", "opened_at")
    )


def test_today_page_lists_the_referrals_not_arrived_in_time_of_its_users_scope(
    key_person, fworker, households, clinic, areas, client_for
):
    """The today page's hand-written read of the overdue referrals finds what
    referrals_overdue finds, in its order (the oldest first), for every kind of user: the
    worker, the community's admin, the clinic's staff, the admin of the community a key person
    is transferred to; nobody else."""
    earlier = add_key_person(fworker, households["G1"].persons.order_by("pk")[1])
    for who, opened in ((key_person, timezone.now()), (earlier, timezone.now() - HOUR)):
        with freeze_time(opened):
            referral_open(
                user=fworker,
                key_person=who,
                temperature=None,
                symptoms=["cough"],
                source=SourceInput(kind="manual"),
                facility=clinic,
            )
    clients = {
        "worker": client_for(Role.GRID_WORKER, "G1"),
        "other worker": client_for(Role.GRID_WORKER, "G2"),
        "admin": client_for(Role.COMMUNITY_ADMIN, "C1"),
        "other admin": client_for(Role.COMMUNITY_ADMIN, "C2"),
        "clinic": client_for(Role.CLINIC_STAFF, None),
    }
    ClinicStaffing.objects.create(user=clients["clinic"].user, facility=clinic)
    KeyPerson.objects.filter(pk__in=[key_person.pk, earlier.pk]).update(
        worker=clients["worker"].user
    )
    link = reverse("followup:key_person", args=[key_person.pk])
    name = key_person.person.name

    def shown(who: str) -> bool:
        page = clients[who].get(reverse("followup:today")).content.decode()
        return 'id="overdue-referrals"' in page and f'<a href="{link}">{name}</a>' in page

    assert not shown("worker")  # not late yet
    with freeze_time(timezone.now() + datetime.timedelta(hours=3)):
        now = timezone.now()
        for who in clients:
            user = clients[who].user
            expected = _overdue_by_orm(user, now)
            assert field_reads.today_lists(user, now).overdue_referrals == expected, who
            if who in ("worker", "admin", "clinic"):
                assert [pk for pk, _name, _at in expected] == [earlier.pk, key_person.pk], who
            else:
                assert expected == [], who
            assert shown(who) is bool(expected), who
        # transferred to C2: its admin sees it too, until accepted
        KeyPerson.objects.filter(pk=key_person.pk).update(transfer_to=areas["C2"])
        other_admin = clients["other admin"].user
        expected = _overdue_by_orm(other_admin, now)
        assert [pk for pk, _name, _at in expected] == [key_person.pk]
        assert field_reads.today_lists(other_admin, now).overdue_referrals == expected
        assert shown("other admin")


def test_today_page_of_an_admin_whose_jurisdiction_holds_no_community_is_empty(
    key_person, clinic, client_for
):
    """An admin account on a grid has no community under it: its scope is "none of no
    communities", which the ORM answers with no rows without asking the database; the page's
    hand-written statement must say the same (not fail)."""
    referral_open(
        user=key_person.worker,
        key_person=key_person,
        temperature=None,
        symptoms=["cough"],
        source=SourceInput(kind="manual"),
        facility=clinic,
    )
    client = client_for(Role.COMMUNITY_ADMIN, "G1")
    with freeze_time(timezone.now() + 3 * HOUR):
        now = timezone.now()
        lists = field_reads.today_lists(client.user, now)
        assert (lists.due, lists.missed, lists.new, lists.overdue_referrals) == ([], [], [], [])
        assert _overdue_by_orm(client.user, now) == []
        page = client.get(reverse("followup:today"))
    assert page.status_code == 200
    assert key_person.person.name not in page.content.decode()


def test_today_page_lists_new_key_persons_without_an_active_monitoring(
    key_person, fworker, households, client
):
    """The new key persons come from the same read as the monitorings (a LEFT JOIN): one given
    to the worker today whose monitoring already ended is still new, and not due; one given
    before the last day is not new."""
    ended = add_key_person(fworker, households["G1"].persons.order_by("pk")[1])
    Monitoring.objects.filter(key_person=ended).update(status="released")
    KeyPerson.objects.filter(pk=key_person.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=2)
    )
    client.force_login(fworker)
    page = client.get(reverse("followup:today"))
    assert [r["name"] for r in page.context["new"]] == [ended.person.name]
    assert [r["name"] for r in page.context["due"]] == [key_person.person.name]


def test_today_page_escapes_names(key_person, fworker, client):
    person = key_person.person
    person.name = "<b>甲</b>"
    person.save(update_fields=["name"])
    client.force_login(fworker)
    page = client.get(reverse("followup:today")).content.decode()
    assert "&lt;b&gt;甲&lt;/b&gt;" in page and "<b>甲</b>" not in page


def test_the_phone_check_form_records_and_refuses_clearly(key_person, fworker, client):
    client.force_login(fworker)
    url = reverse("followup:check", args=[key_person.pk])
    slot = schedule.slot_of(timezone.now())
    form = {"client_uuid": str(uuid.uuid4()), "slot": f"{slot.day.isoformat()}/{slot.index}"}
    bad = client.post(url, {**form, "temperature": "365", "outcome": "measured"})
    assert bad.status_code == 422 and "36.5" in bad.content.decode()
    assert not Check.objects.exists()
    good = client.post(url, {**form, "temperature": "36.6", "outcome": "measured"})
    assert good.status_code == 302
    assert Check.objects.get().symptoms == []
    not_reached = client.post(
        url, {"client_uuid": str(uuid.uuid4()), "slot": form["slot"], "outcome": "unreachable"}
    )
    assert not_reached.status_code == 302
    assert Check.objects.get().outcome == "unreachable"


def test_keyboard_entry_of_a_paper_sheet_saves_and_names_refused_lines(
    key_person, fworker, households, client
):
    second = add_key_person(fworker, households["G1"].persons.order_by("pk").last(), days_ago=1)
    day = schedule.local_date(timezone.now()) - datetime.timedelta(days=1)
    Monitoring.objects.filter(key_person=second).update(
        start_date=day, started_at=schedule.local_moment(day, datetime.time(0))
    )
    client.force_login(fworker)
    url = reverse("followup:paper") + f"?day={day.isoformat()}"
    page = client.get(url)
    rows = page.context["rows"]
    assert len(rows) == 2
    data = {"day": day.isoformat()}
    for row in rows:
        for cell in row["cells"]:
            data[cell["uuid_key"]] = str(cell["uuid"])
    data[f"t-{key_person.pk}-0"] = "36.5"
    data[f"t-{key_person.pk}-1"] = "x"
    data[f"t-{second.pk}-0"] = "3.65"
    data[f"t-{second.pk}-1"] = "36.7"
    answer = client.post(url, data)
    assert answer.status_code == 422
    text = answer.content.decode()
    assert "36.5" in text  # the refused box says what was probably meant
    assert Check.objects.count() == 3
    assert set(Check.objects.values_list("late", flat=True)) == {True}
    again = client.post(url, data)  # the same sheet sent twice: nothing doubles
    assert again.status_code == 422 and Check.objects.count() == 3


def test_list_filters_detail_and_export(key_person, households, user_for, client_for):
    admin_client = client_for(Role.COMMUNITY_ADMIN, "C1")
    add_key_person(admin_client.user, households["G2"].persons.first(), kind="fever_symptoms")
    listed = admin_client.get(reverse("followup:key_persons"), {"reason": "fever_symptoms"})
    assert [kp.person.name for kp in listed.context["page"]] == ["户主G2"]
    everyone = admin_client.get(reverse("followup:key_persons"), {"area": "G1"})
    assert everyone.status_code == 200
    detail = admin_client.get(reverse("followup:key_person", args=[key_person.pk]))
    assert detail.status_code == 200 and key_person.person.name in detail.content.decode()
    export = admin_client.post(reverse("followup:key_persons_export"), {"purpose": "核对"})
    assert export.status_code == 200
    book = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(export.streaming_content)))
    cells = [str(c) for row in book.get_sheet_by_index(0).to_python() for c in row]
    assert mask_id_number(key_person.person.id_number) in cells
    assert key_person.person.id_number not in cells
    assert AuditEvent.objects.filter(action="export.key_persons", purpose="核对").count() == 1
    asked = admin_client.get(reverse("followup:key_persons_export"))
    assert asked.status_code == 200 and b"purpose" in asked.content


def test_manual_creation_and_actions(households, client_for, areas, clinic, hotel):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    created = client.post(
        reverse("followup:key_person_create"),
        {
            "community": "C1",
            "name": "访客李",
            "phone": "13800001111",
            "reason": "risk_area_arrival",
            "exposure_date": str(schedule.local_date(timezone.now())),
            "detail": "武汉",
        },
    )
    assert created.status_code == 302
    kp = KeyPerson.objects.get()
    assert kp.person.household_id is None and kp.person.is_new
    action = reverse("followup:key_person_action", args=[kp.pk])
    client.post(action, {"action": "place", "facility": hotel.pk})
    assert Placement.objects.filter(facility=hotel, ended_at__isnull=True).count() == 1
    client.post(action, {"action": "refer", "facility": clinic.pk, "transport": "ambulance"})
    assert Referral.objects.get().transport == "ambulance"
    refused = client.post(action, {"action": "release", "reason": "提前"}, follow=True)
    assert "转诊" in refused.content.decode()  # a referral is still open
    facilities = client.get(reverse("followup:facilities"))
    assert {f.name: f.occupied for f in facilities.context["rows"]}["天生宾馆"] == 1


def test_from_the_sweeps_flags_one_or_all(campaign, households, user_for, client_for, areas):  # noqa: F811
    worker = user_for(Role.GRID_WORKER, "G1")
    from doorstep.screening.services import assignment_create

    assignment_create(
        user=user_for(Role.COMMUNITY_ADMIN, "C1"),
        campaign=campaign,
        worker=worker,
        grid=areas["G1"],
    )
    visit_record(
        user=worker, campaign=campaign, visit=screened(households["G1"], temperature="38.5")
    )
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    page = client.get(reverse("followup:from_flags"))
    assert page.context["page"].paginator.count == 1
    client.post(reverse("followup:from_flags"), {"all": "1", "area": "C1"})
    kp = KeyPerson.objects.get()
    assert kp.sources.get().visit is not None
    assert kp.reasons.get().kind == "fever_symptoms"
    assert client.get(reverse("followup:from_flags")).context["page"].paginator.count == 0


def test_counts_match_their_lists_and_export(key_person, fworker, households, client_for):
    other = add_key_person(fworker, households["G3"].persons.first(), days_ago=1)
    check_record(user=fworker, key_person=key_person, data=check_input())
    client = client_for(Role.STREET_ADMIN, "S1")
    page = client.get(reverse("followup:counts"))
    total = page.context["total"]["row"].figures
    assert total["under"] == 2 and total["checked"] == 1
    for figure, expected in total.items():
        listed = client.get(reverse("followup:count_list"), {"area": "S1", "figure": figure})
        assert listed.context["page"].paginator.count == expected, figure
    rows = {r["row"].label: r["row"].figures for r in page.context["children"]}
    assert rows["状元社区"]["checked"] == 1 and rows["碚峡社区"]["under"] == 1
    export = client.post(
        reverse("followup:count_export") + "?area=S1&figure=under", {"purpose": "日报"}
    )
    assert export.status_code == 200
    book = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(export.streaming_content)))
    assert len(book.get_sheet_by_index(0).to_python()) == 1 + total["under"]
    assert other.pk


def test_missed_and_lost_figures_follow_the_schedule(key_person, fworker, client_for):
    day = schedule.local_date(timezone.now())
    with freeze_time(schedule.local_moment(day, datetime.time(13))):
        # Logged in at the frozen 13:00: a login at the real time (say 00:30) would be past the
        # session's age by then.
        client = client_for(Role.COMMUNITY_ADMIN, "C1")
        figures = client.get(reverse("followup:counts")).context["total"]["row"].figures
        assert figures["missed"] == 1  # the morning slot ended without a check
        assert figures["lost"] == 1  # started two days ago, never reached
        check_record(
            user=fworker,
            key_person=key_person,
            data=check_input(when=schedule.local_moment(day, datetime.time(9))),
        )
        figures = client.get(reverse("followup:counts")).context["total"]["row"].figures
        assert (figures["missed"], figures["lost"], figures["checked"]) == (0, 0, 1)


def test_clinic_page_and_its_actions(key_person, fworker, clinic, user_for, client):
    from doorstep.followup.services import SourceInput, referral_open

    referral = referral_open(
        user=fworker,
        key_person=key_person,
        temperature=None,
        symptoms=["cough"],
        source=SourceInput(kind="manual"),
        facility=clinic,
    )
    staff = user_for(Role.CLINIC_STAFF, None)
    ClinicStaffing.objects.create(user=staff, facility=clinic)
    client.force_login(staff)
    page = client.get(reverse("followup:referrals"))
    assert key_person.person.name in page.content.decode()
    client.post(
        reverse("followup:referral_action", args=[referral.pk]),
        {"action": "outcome", "outcome": "excluded"},
    )
    assert Referral.objects.get().outcome == "excluded"
    assert client.get(reverse("followup:key_person", args=[key_person.pk])).status_code == 404


def test_self_check_link_only_for_its_person_during_monitoring(key_person, fworker, client, admin):
    token = self_check_token_for(monitoring=key_person.monitorings.get())
    url = reverse("followup:self_check", args=[token.token])
    page = client.get(url)
    assert page.status_code == 200 and key_person.person.name not in page.content.decode()
    done = client.post(url, {"client_uuid": str(uuid.uuid4()), "temperature": "36.4"})
    assert done.status_code == 200 and Check.objects.get().method == "self"
    assert client.get(reverse("followup:self_check", args=["made-up"])).status_code == 404
    from doorstep.followup.services import monitoring_release

    monitoring_release(user=admin, monitoring=key_person.monitorings.get(), reason="阴性")
    assert (
        client.post(url, {"client_uuid": str(uuid.uuid4()), "temperature": "36.4"}).status_code
        == 404
    )
    assert Check.objects.count() == 1
    slip = worker_client(client, admin).post(
        reverse("followup:release_slip", args=[key_person.pk]), {"purpose": "告知"}
    )
    assert slip.status_code == 200 and key_person.person.name in slip.content.decode()


def test_settings_by_command_staff(client_for):
    command = client_for(Role.COMMAND, "D")
    command.post(reverse("followup:settings"), {"close_contact": "21"})
    assert ReasonLength.objects.get(kind="close_contact").days == 21
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert admin.post(reverse("followup:settings"), {"close_contact": "7"}).status_code == 422
    assert ReasonLength.objects.get(kind="close_contact").days == 21


def test_check_sheet_printout_asks_the_purpose(key_person, fworker, client):
    client.force_login(fworker)
    assert b"purpose" in client.get(reverse("followup:check_sheet")).content
    printed = client.post(reverse("followup:check_sheet"), {"purpose": "明日入户"})
    assert key_person.person.name in printed.content.decode()


def test_paper_values_for_persons_no_longer_on_the_sheet_are_refused_with_a_reason(
    key_person, fworker, households, user_for, client
):
    # given a worker's sheet with two persons, opened before changes elsewhere
    second = add_key_person(fworker, households["G1"].persons.order_by("pk").last())
    client.force_login(fworker)
    day = schedule.local_date(timezone.now())
    url = reverse("followup:paper") + f"?day={day.isoformat()}"
    rows = client.get(url).context["rows"]
    data = {"day": day.isoformat()}
    for row in rows:
        for cell in row["cells"]:
            data[cell["uuid_key"]] = str(cell["uuid"])
    data[f"t-{key_person.pk}-0"] = "36.5"
    data[f"t-{key_person.pk}-9"] = "36.6"  # a slot the day does not have
    data[f"t-{second.pk}-0"] = "36.7"
    # when the second person is handed to another worker before the sheet is saved
    KeyPerson.objects.filter(pk=second.pk).update(worker=user_for(Role.GRID_WORKER, "G1"))
    answer = client.post(url, data)
    # then the listed value is saved and each other one is refused with its reason
    assert answer.status_code == 422
    problems = answer.context["problems"]
    assert len(problems) == 2
    assert any("已不在您" in p and second.person.name not in p for p in problems)  # not theirs
    assert any("36.6" in p for p in problems)
    assert list(Check.objects.values_list("monitoring__key_person", flat=True)) == [key_person.pk]


def test_paper_values_for_a_closed_monitoring_name_the_person(key_person, fworker, client):
    client.force_login(fworker)
    day = schedule.local_date(timezone.now())
    url = reverse("followup:paper") + f"?day={day.isoformat()}"
    data = {"day": day.isoformat(), f"t-{key_person.pk}-0": "36.5"}
    Monitoring.objects.filter(key_person=key_person).update(status="released")
    answer = client.post(url, data)
    assert answer.status_code == 422
    assert key_person.person.name in answer.context["problems"][0]
    assert not Check.objects.exists()


def test_a_damaged_check_form_is_refused_not_moved_to_the_current_slot(key_person, fworker, client):
    client.force_login(fworker)
    url = reverse("followup:check", args=[key_person.pk])
    slot = schedule.slot_of(timezone.now() - datetime.timedelta(days=1))
    good_slot = f"{slot.day.isoformat()}/{slot.index}"
    for form in (
        {"client_uuid": "not-a-uuid", "slot": good_slot},
        {"client_uuid": str(uuid.uuid4()), "slot": "2026-13-40/0"},
    ):
        answer = client.post(url, {**form, "temperature": "36.6", "outcome": "measured"})
        assert answer.status_code == 400
        assert answer.context["error"]
    assert not Check.objects.exists()
