import datetime

import pytest
from django.http import Http404
from django.utils import timezone
from freezegun import freeze_time

from doorstep.accounts.models import Role
from doorstep.followup import schedule, selectors
from doorstep.followup.models import (
    ChangeKind,
    ClinicStaffing,
    Facility,
    FacilityKind,
    KeyPerson,
    Measure,
    MonitoringStatus,
    Placement,
    PossibleDuplicate,
    Referral,
    ReferralStatus,
)
from doorstep.followup.services import (
    FacilityFull,
    FollowupRefused,
    SourceInput,
    check_record,
    duplicate_decide,
    key_person_reassign,
    monitoring_extend,
    monitoring_measure_set,
    monitoring_release,
    person_for_follow_up,
    placement_create,
    referral_arrive,
    referral_open,
    referral_outcome_record,
    transfer_accept,
    transfer_ask,
    with_occupancy,
)

from .conftest import add_key_person, check_input


def refer(user, key_person, clinic):
    return referral_open(
        user=user,
        key_person=key_person,
        temperature=None,
        symptoms=["cough"],
        source=SourceInput(kind="manual"),
        facility=clinic,
    )


def test_release_needs_a_recent_check_and_no_open_referral(key_person, fworker, admin, clinic):
    monitoring = key_person.monitorings.get()
    end = schedule.local_moment(monitoring.end_date, datetime.time(15))
    with freeze_time(end):
        with pytest.raises(FollowupRefused) as refused:
            monitoring_release(user=admin, monitoring=monitoring)
        assert "最后一次检测" in refused.value.message  # the last check is too old
        check_record(user=fworker, key_person=key_person, data=check_input())
        referral = refer(fworker, key_person, clinic)
        with pytest.raises(FollowupRefused) as refused:
            monitoring_release(user=admin, monitoring=monitoring)
        assert "转诊" in refused.value.message  # a referral is open
        monitoring.refresh_from_db()
        assert monitoring.status == MonitoringStatus.ACTIVE
        Referral.objects.filter(pk=referral.pk).update(status="closed", outcome="excluded")
        monitoring_release(user=admin, monitoring=monitoring)
    monitoring.refresh_from_db()
    assert monitoring.status == MonitoringStatus.RELEASED
    assert monitoring.changes.filter(kind=ChangeKind.RELEASED).exists()


def test_an_early_release_needs_a_reason_and_the_admins_approval(key_person, fworker, admin):
    monitoring = key_person.monitorings.get()
    check_record(user=fworker, key_person=key_person, data=check_input())
    with pytest.raises(FollowupRefused):
        monitoring_release(user=fworker, monitoring=monitoring)
    asked = monitoring_release(user=fworker, monitoring=monitoring, reason="核酸两次阴性")
    assert asked.status == MonitoringStatus.ACTIVE and asked.early_release_requested_by == fworker
    approved = monitoring_release(user=admin, monitoring=monitoring)
    assert approved.status == MonitoringStatus.RELEASED
    assert approved.release_reason == "核酸两次阴性"
    kinds = list(monitoring.changes.values_list("kind", flat=True))
    assert kinds[-2:] == [ChangeKind.EARLY_RELEASE_ASKED, ChangeKind.RELEASED]


def test_extension_needs_a_reason_and_moves_the_end(key_person, admin):
    monitoring = key_person.monitorings.get()
    end = monitoring.end_date
    with pytest.raises(FollowupRefused):
        monitoring_extend(user=admin, monitoring=monitoring, days=3, reason=" ")
    monitoring_extend(user=admin, monitoring=monitoring, days=3, reason="家人确诊")
    monitoring.refresh_from_db()
    assert monitoring.end_date == end + datetime.timedelta(days=3)


def test_home_isolation_asks_eligibility_and_a_no_proposes_centralised(key_person, admin):
    monitoring = key_person.monitorings.get()
    with pytest.raises(FollowupRefused) as refused:
        monitoring_measure_set(
            user=admin,
            monitoring=monitoring,
            measure=Measure.HOME_ISOLATION,
            eligibility={"own_room": True, "no_vulnerable": False, "supplies": True},
        )
    assert "建议集中隔离" in refused.value.message  # centralised isolation proposed
    monitoring_measure_set(
        user=admin,
        monitoring=monitoring,
        measure=Measure.HOME_ISOLATION,
        eligibility={"own_room": True, "no_vulnerable": True, "supplies": True},
    )
    assert monitoring.changes.filter(kind=ChangeKind.MEASURE).count() == 1


def test_a_transfer_is_complete_only_when_the_receiver_accepts(key_person, admin, user_for, areas):
    receiver = user_for(Role.COMMUNITY_ADMIN, "C2")
    with pytest.raises(Http404):
        selectors.access_key_person(receiver, key_person.pk)
    transfer_ask(user=admin, key_person=key_person, to=areas["C2"])
    assert selectors.access_key_person(receiver, key_person.pk)  # both see it
    assert selectors.access_key_person(admin, key_person.pk)
    with pytest.raises(FollowupRefused):
        transfer_accept(user=admin, key_person=key_person)  # the sender cannot accept
    transfer_accept(user=receiver, key_person=key_person)
    with pytest.raises(Http404):
        selectors.access_key_person(admin, key_person.pk)
    assert KeyPerson.objects.get().community == areas["C2"]


def test_reassignment_keeps_history(key_person, admin, user_for):
    other = user_for(Role.GRID_WORKER, "G2")
    key_person_reassign(user=admin, key_person=key_person, worker=other)
    change = key_person.monitorings.get().changes.get(kind=ChangeKind.REASSIGNED)
    assert change.detail["to"] == other.pk
    with pytest.raises(FollowupRefused):
        key_person_reassign(
            user=admin, key_person=key_person, worker=user_for(Role.GRID_WORKER, "G4")
        )


def test_a_full_site_refuses_and_names_the_sites_with_room(
    key_person, admin, hotel, areas, households
):
    from .conftest import add_key_person

    placement_create(user=admin, key_person=key_person, facility=hotel)
    roomy = Facility.objects.create(
        name="培训中心", kind=FacilityKind.ISOLATION_SITE, area=areas["D"], capacity=5
    )
    other = add_key_person(admin, households["G2"].persons.first())
    with pytest.raises(FacilityFull) as refused:
        placement_create(user=admin, key_person=other, facility=hotel)
    assert "培训中心" in refused.value.message and refused.value.with_room == [roomy]
    assert Placement.objects.filter(facility=hotel).count() == 1


def _clinic_user(user_for, facility):
    user = user_for(Role.CLINIC_STAFF, None)
    ClinicStaffing.objects.create(user=user, facility=facility)
    return user


def test_clinic_staff_see_and_answer_their_own_facilitys_referrals_only(
    key_person, fworker, clinic, areas, user_for
):
    referral = refer(fworker, key_person, clinic)
    other_clinic = Facility.objects.create(
        name="中医院发热门诊", kind=FacilityKind.FEVER_CLINIC, area=areas["D"]
    )
    stranger = _clinic_user(user_for, other_clinic)
    for action in (
        lambda: referral_arrive(user=stranger, referral_id=referral.pk),
        lambda: referral_outcome_record(user=stranger, referral_id=referral.pk, outcome="excluded"),
    ):
        with pytest.raises(Http404):
            action()
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.OPEN
    staff = _clinic_user(user_for, clinic)
    assert list(selectors.referrals_visible_to(staff)) == [referral]
    with pytest.raises(Http404):
        selectors.access_key_person(staff, key_person.pk)
    referral_arrive(user=staff, referral_id=referral.pk)
    referral_outcome_record(user=staff, referral_id=referral.pk, outcome="excluded")
    assert key_person.monitorings.get().status == MonitoringStatus.ACTIVE


@pytest.mark.parametrize(
    ("outcome", "status", "measure"),
    [
        ("excluded", MonitoringStatus.ACTIVE, Measure.HOME_ISOLATION),
        ("suspected", MonitoringStatus.ACTIVE, Measure.CENTRALISED_ISOLATION),
        ("confirmed", MonitoringStatus.ACTIVE, Measure.CENTRALISED_ISOLATION),
        ("admitted", MonitoringStatus.ADMITTED, Measure.HOME_ISOLATION),
    ],
)
def test_the_outcome_acts_on_the_monitoring(
    key_person, fworker, admin, clinic, user_for, outcome, status, measure
):
    referral = refer(fworker, key_person, clinic)
    referral_outcome_record(
        user=_clinic_user(user_for, clinic), referral_id=referral.pk, outcome=outcome
    )
    monitoring = key_person.monitorings.get()
    assert (monitoring.status, monitoring.measure) == (status, measure)
    proposed = selectors.close_contacts_proposed(admin, key_person)
    if outcome == "confirmed":
        assert [p.name for p in proposed] == ["配偶G1"]
    else:
        assert proposed == []


def test_a_referral_not_arrived_in_time_escalates(key_person, fworker, admin, clinic):
    refer(fworker, key_person, clinic)
    assert not selectors.referrals_overdue(admin).exists()
    with freeze_time(timezone.now() + datetime.timedelta(hours=3)):
        assert selectors.referrals_overdue(admin).count() == 1


def _free_rooms(facility):
    row = with_occupancy(Facility.objects.filter(pk=facility.pk)).get()
    return row.capacity - row.occupied


@pytest.mark.parametrize("closing", ["release", "admitted", "transfer"])
def test_a_sites_room_comes_free_when_the_case_closes_or_leaves(
    closing, key_person, fworker, admin, hotel, clinic, households, user_for, areas
):
    # given the site's only room taken by the key person
    placement_create(user=admin, key_person=key_person, facility=hotel)
    assert _free_rooms(hotel) == 0
    monitoring = key_person.monitorings.get()
    # when the monitoring is released, the person admitted to hospital, or the record handed over
    if closing == "release":
        check_record(user=fworker, key_person=key_person, data=check_input())
        monitoring_release(user=admin, monitoring=monitoring, reason="核酸阴性")
    elif closing == "admitted":
        referral = refer(fworker, key_person, clinic)
        referral_outcome_record(
            user=_clinic_user(user_for, clinic), referral_id=referral.pk, outcome="admitted"
        )
    else:
        transfer_ask(user=admin, key_person=key_person, to=areas["C2"])
        transfer_accept(user=user_for(Role.COMMUNITY_ADMIN, "C2"), key_person=key_person)
    # then the placement has ended and the room takes the next person
    assert Placement.objects.get(key_person=key_person).ended_at is not None
    assert _free_rooms(hotel) == 1
    other = add_key_person(admin, households["G2"].persons.first())
    placement_create(user=admin, key_person=other, facility=hotel)
    assert _free_rooms(hotel) == 0


def test_an_early_release_only_asked_keeps_the_room(key_person, fworker, hotel, admin):
    placement_create(user=admin, key_person=key_person, facility=hotel)
    check_record(user=fworker, key_person=key_person, data=check_input())
    monitoring_release(user=fworker, monitoring=key_person.monitorings.get(), reason="想回家")
    assert _free_rooms(hotel) == 0
    assert Placement.objects.get().ended_at is None


def _duplicate_pair(households, areas, admin):
    head = households["G1"].persons.order_by("pk").first()
    first = add_key_person(admin, head)
    newcomer = person_for_follow_up(
        user=admin, community=areas["C1"], name=head.name, phone="13900000009"
    )
    second = add_key_person(admin, newcomer, community=areas["C1"])
    return first, second, PossibleDuplicate.objects.get()


def test_a_merged_records_placement_goes_to_the_record_kept(households, areas, admin, hotel):
    first, second, case = _duplicate_pair(households, areas, admin)
    placement_create(user=admin, key_person=second, facility=hotel)
    duplicate_decide(user=admin, case=case, merge=True)
    current = Placement.objects.get(ended_at__isnull=True)
    assert current.key_person_id == first.pk
    assert current.monitoring == first.monitorings.get()
    assert _free_rooms(hotel) == 0  # the person is still there


def test_a_merged_records_second_placement_ends(households, areas, admin, hotel):
    first, second, case = _duplicate_pair(households, areas, admin)
    roomy = Facility.objects.create(
        name="培训中心", kind=FacilityKind.ISOLATION_SITE, area=areas["D"], capacity=5
    )
    placement_create(user=admin, key_person=first, facility=roomy)
    placement_create(user=admin, key_person=second, facility=hotel)
    duplicate_decide(user=admin, case=case, merge=True)
    assert _free_rooms(hotel) == 1
    assert Placement.objects.get(ended_at__isnull=True).key_person_id == first.pk
