"""Issue 14 point 6: small things a new user hit, each with its test."""

import re

from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.screening.models import Assignment, RiskArea


def test_the_campaign_form_says_name_and_kind_of_a_campaign_and_keeps_checkboxes_labelled(
    client_for, households
):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    body = client.get(reverse("screening:campaign_create"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = body.content.decode()
    assert '<label for="id_name">名称</label>' in text
    assert '<label for="id_kind">类型</label>' in text
    assert "姓名" not in text and "户类型" not in text
    # each checkbox sits inside its own label, and the label does not wrap away from it
    for box in re.findall(r'<input type="checkbox" name="questions"[^>]*>', text):
        assert re.search(r"<label[^>]*>\s*" + re.escape(box), text), box
    assert "white-space:nowrap" in text


def test_creating_a_campaign_says_when_the_risk_area_list_is_empty(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    url = reverse("screening:campaign_create")
    text = client.get(url).content.decode()
    assert 'id="no-risk-areas"' in text and reverse("screening:risk_areas") in text
    RiskArea.objects.create(name="湖北")
    assert 'id="no-risk-areas"' not in client.get(url).content.decode()


def test_the_assignment_form_does_not_default_to_the_person_assigning(
    client_for, campaign, households, user_for
):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    user_for(Role.GRID_WORKER, "G2")
    url = reverse("screening:assign", args=[campaign.pk]) + "?area=C1"
    text = client.get(url).content.decode()
    selects = re.findall(r'<select name="worker"[^>]*>.*?</select>', text, re.S)
    assert selects
    for select in selects:
        first = re.search(r"<option[^>]*>", select).group(0)
        assert 'value=""' in first and "selected" in first
        assert "required" in select
    # a form sent without a worker asks again and assigns nobody
    response = client.post(
        reverse("screening:assign", args=[campaign.pk]), {"grid": "G2", "worker": ""}
    )
    assert response.status_code == 302
    assert not Assignment.objects.filter(grid__code="G2").exists()
    # the message was made in the language of the request that sent the form (zh-hans)
    assert "请选择要分配给哪位排查员" in client.get(response["Location"]).content.decode()


def test_my_household_list_is_shown_only_to_those_who_hold_one(
    client_for, campaign, households, worker
):
    url = reverse("screening:coverage", args=[campaign.pk])
    mine = reverse("screening:field_list", args=[campaign.pk])
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert mine not in admin.get(url).content.decode()
    worker_client = client_for(Role.GRID_WORKER, "G1")
    worker_client.force_login(worker)
    assert mine in worker_client.get(url).content.decode()


def test_checkpoint_clinic_and_institution_users_are_told_what_their_role_does(client_for):
    """Checkpoint officers and clinic staff are sent to their pages (they exist now); an
    institution reporter's pages are still to come and the page says so."""
    pages = {
        Role.CHECKPOINT_OFFICER: reverse("checkpoints:home"),
        Role.CLINIC_STAFF: reverse("followup:referrals"),
    }
    for role in (Role.CHECKPOINT_OFFICER, Role.CLINIC_STAFF, Role.INSTITUTION_REPORTER):
        client = client_for(role, None)
        text = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'id="role-intro"' in text, role
        assert "Ask your administrator" not in text
        if role in pages:
            assert f'href="{pages[role]}"' in text, role
            assert 'id="role-coming"' not in text, role
        else:
            assert 'id="role-coming"' in text and "coming" in text


def test_the_coverage_xlsx_names_campaign_area_and_time_and_writes_rates_as_percentages(
    client_for, campaign, households, worker
):
    import io
    import zipfile

    from python_calamine import CalamineWorkbook

    from doorstep.screening.services import visit_record

    from .conftest import screened

    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    url = reverse("screening:coverage_export", args=[campaign.pk]) + "?area=C1"
    response = client.post(url, {"purpose": "每日研判"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    assert campaign.name in rows[0][0]
    assert rows[1][0].startswith("Area: ") and len(rows[1][0]) > len("Area: ")
    assert rows[2][0].startswith("Made at")
    header = rows[4]
    assert header[-1] == "Households closed"
    rates = [row[-1] for row in rows[5:] if row and row[-1] != ""]
    assert rates and all(0 <= rate <= 1 for rate in rates)
    assert 0.5 in rates  # the community: one of its two households screened
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert 'formatCode="0.0%"' in archive.read("xl/styles.xml").decode()
