"""Coverage pages through HTTP: the figures equal a raw GROUP BY, children add up to their parent,
every number opens a list of exactly that many rows, exports are masked and audited, and nobody
sees an area outside their jurisdiction."""

import datetime
import io
import re
import zipfile
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.screening.models import HouseholdProgress
from doorstep.screening.services import (
    assignment_create,
    campaign_create,
    campaign_enrol_households,
    self_report_submit,
    self_report_token_for,
    visit_record,
)
from tests.factories import HouseholdFactory, PersonFactory

from .conftest import knock, screened

HOUSEHOLD_STATES = [
    "screened",
    "revisit",
    "refused",
    "self_reported",
    "vacant",
    "escalated",
    "not_started",
]


class CoverageTableParser(HTMLParser):
    """{row id: {column: (number, link)}} from the coverage tables (tr[data-row] td[data-col])."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, dict[str, tuple[float, str | None]]] = {}
        self.drill: dict[str, str] = {}
        self._row = self._col = self._href = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-row" in attrs:
            self._row = attrs["data-row"]
            self.rows[self._row] = {}
        elif tag == "td" and self._row and "data-col" in attrs:
            self._col, self._href, self._text = attrs["data-col"], None, ""
        elif tag == "a" and self._row:
            if self._col:
                self._href = attrs.get("href")
            elif "drill" in (attrs.get("class") or ""):
                self.drill[self._row] = attrs["href"]

    def handle_data(self, data):
        if self._col:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "td" and self._col:
            self.rows[self._row][self._col] = (float(self._text.strip().rstrip("%")), self._href)
            self._col = None
        elif tag == "tr":
            self._row = None


def coverage_of(client, campaign, area_code: str | None = None):
    url = reverse("screening:coverage", args=[campaign.pk])
    response = client.get(url, {"area": area_code} if area_code else {})
    assert response.status_code == 200, response.status_code
    parser = CoverageTableParser()
    parser.feed(response.content.decode())
    return parser


def listed_count(client, url: str) -> int:
    body = client.get(url).content.decode()
    marker = 'data-count="'
    start = body.index(marker) + len(marker)
    return int(body[start : body.index('"', start)])


@pytest.fixture
def sweep(campaign, worker, households, areas, user_for):
    """More households and every kind of outcome, in three communities:

    G1 (worker): 4 households — screened with a fever, nobody home, refused, not started;
    G2 (second worker): 2 — one self-reported (unverified), one screened with a person away;
    G3 (unassigned): 1 vacant; G4 (other street): 1 escalated after three failed knocks.
    """
    extra = {"G1": 3, "G2": 1}
    for key, count in extra.items():
        for _n in range(count):
            household = HouseholdFactory(grid=areas[key])
            PersonFactory(household=household, relation="户主")
            PersonFactory(household=household, relation="子")
    campaign_enrol_households(campaign=campaign)
    command = user_for(Role.COMMAND, "D")
    second = user_for(Role.GRID_WORKER, "G2", full_name="李网格")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment_create(user=admin, campaign=campaign, worker=second, grid=areas["G2"])
    assignment_create(user=admin, campaign=campaign, worker=worker, grid=areas["G1"])

    g1 = list(HouseholdProgress.objects.filter(campaign=campaign, grid=areas["G1"]))
    g1 = [p.household for p in sorted(g1, key=lambda p: p.household_id)]
    visit_record(user=worker, campaign=campaign, visit=screened(g1[0], temperature="38.2"))
    visit_record(user=worker, campaign=campaign, visit=knock(g1[1], "not_home"))
    visit_record(user=worker, campaign=campaign, visit=knock(g1[2], "refused"))
    g2 = [
        p.household
        for p in HouseholdProgress.objects.filter(campaign=campaign, grid=areas["G2"]).order_by(
            "household_id"
        )
    ]
    token = self_report_token_for(campaign=campaign, household_id=g2[0].pk)
    self_report_submit(token=token.token, visit=screened(g2[0]))
    away = screened(g2[1], presence="out_of_town", temperature=None, whereabouts="湖北武汉")
    visit_record(user=second, campaign=campaign, visit=away)
    visit_record(user=command, campaign=campaign, visit=knock(households["G3"], "vacant"))
    for hours in (3, 2, 1):
        when = timezone.now() - datetime.timedelta(hours=hours)
        visit_record(
            user=command, campaign=campaign, visit=knock(households["G4"], "not_home", when)
        )
    return {"campaign": campaign, "worker": worker, "second": second, "g1": g1, "g2": g2}


def raw_rollup(campaign, area) -> dict[str, int]:
    """The same figures straight from the tables: one GROUP BY over progress rows."""
    sql = """
        SELECT p.state, COUNT(*), SUM(p.persons_total), SUM(p.persons_seen),
               SUM(p.persons_elsewhere), SUM(p.persons_flagged)
        FROM screening_householdprogress p JOIN areas_area a ON a.id = p.grid_id
        WHERE p.campaign_id = %s AND a.path LIKE %s
        GROUP BY p.state
    """
    figures = dict.fromkeys(HOUSEHOLD_STATES, 0)
    figures.update(households=0, persons=0, persons_seen=0, persons_elsewhere=0)
    figures["persons_flagged"] = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, area.path + "%"])
        for state, n, persons, seen, elsewhere, flagged in cursor.fetchall():
            figures[state] += n
            figures["households"] += n
            figures["persons"] += persons or 0
            figures["persons_seen"] += seen or 0
            figures["persons_elsewhere"] += elsewhere or 0
            figures["persons_flagged"] += flagged or 0
    return figures


def raw_screened_from_visits(campaign, area) -> int:
    """Households with a counted screening visit, straight from the visits table."""
    sql = """
        SELECT COUNT(DISTINCT v.household_id)
        FROM screening_visit v
        JOIN registry_household h ON h.id = v.household_id
        JOIN areas_area a ON a.id = h.grid_id
        WHERE v.campaign_id = %s AND a.path LIKE %s AND v.outcome = 'screened'
          AND (v.source <> 'self_report' OR v.verified_at IS NOT NULL)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, area.path + "%"])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("code", ["D", "S1", "C1", "G1", "S2"])
def test_figures_equal_a_raw_group_by(client_for, sweep, areas, code):
    # given a district commander and a sweep with every kind of outcome
    client = client_for(Role.COMMAND, "D")
    campaign = sweep["campaign"]
    # when they open the coverage of an area
    page = coverage_of(client, campaign, code)
    # then the total row equals a GROUP BY over the progress table, and "screened" equals the
    # households with a counted screening visit
    total = page.rows["total"]
    raw = raw_rollup(campaign, areas[code])
    for column, expected in raw.items():
        assert total[column][0] == expected, column
    assert total["screened"][0] == raw_screened_from_visits(campaign, areas[code])
    assert (
        total["open"][0] == raw["households"] - raw["screened"] - raw["vacant"] - raw["escalated"]
    )
    # and each child row equals the GROUP BY of the child
    for child in areas[code].children.all():
        row = page.rows[f"area-{child.code}"]
        for column, expected in raw_rollup(campaign, child).items():
            assert row[column][0] == expected, (child.code, column)


def test_the_sweep_figures_are_the_expected_ones(client_for, sweep):
    client = client_for(Role.COMMAND, "D")
    total = coverage_of(client, sweep["campaign"]).rows["total"]
    figures = {k: int(v[0]) for k, v in total.items() if k != "closed_percent"}
    assert figures["households"] == 8
    assert [figures[s] for s in HOUSEHOLD_STATES] == [2, 1, 1, 1, 1, 1, 1]
    assert figures["open"] == 4
    assert (figures["persons"], figures["persons_seen"], figures["persons_elsewhere"]) == (16, 3, 1)
    assert figures["persons_unknown"] == 12
    assert figures["persons_flagged"] == 2  # the fever, and the person away in 湖北
    assert total["closed_percent"][0] == 50.0


@pytest.mark.parametrize("code", ["D", "S1", "C1"])
def test_children_add_up_to_the_parent(client_for, sweep, code):
    client = client_for(Role.COMMAND, "D")
    page = coverage_of(client, sweep["campaign"], code)
    children = [row for key, row in page.rows.items() if key.startswith("area-")]
    assert children
    for column, (value, _link) in page.rows["total"].items():
        if column == "closed_percent":
            continue
        assert sum(row[column][0] for row in children) == value, column
    workers = [row for key, row in page.rows.items() if key.startswith("worker-")]
    if code == "C1":
        assert {k for k in page.rows if k.startswith("worker-")} == {
            f"worker-{sweep['worker'].pk}",
            f"worker-{sweep['second'].pk}",
        }
        for column, (value, _link) in page.rows["total"].items():
            if column != "closed_percent":
                assert sum(row[column][0] for row in workers) == value, column


@pytest.mark.parametrize("code", ["D", "C1", "G2"])
def test_every_number_opens_a_list_of_exactly_that_many_rows(client_for, sweep, code):
    client = client_for(Role.COMMAND, "D")
    page = coverage_of(client, sweep["campaign"], code)
    checked = 0
    for row_key, row in page.rows.items():
        for column, (value, link) in row.items():
            if column == "closed_percent":
                continue
            assert link, (row_key, column)
            # person figures open lists of persons, household figures lists of households
            assert ("/coverage/persons/" in link) == (
                column.startswith("persons") and column != "persons_flagged"
            ), (column, link)
            assert listed_count(client, link) == value, (row_key, column, link)
            checked += 1
    assert checked >= 20


def _listed_persons(client, link: str) -> set[int]:
    body = client.get(link).content.decode()
    return {int(pk) for pk in re.findall(r'<tr data-person="(\d+)"', body)}


def test_persons_not_yet_accounted_for_are_named_one_by_one(client_for, sweep):
    client = client_for(Role.COMMAND, "D")
    page = coverage_of(client, sweep["campaign"], "C1")
    unknown = _listed_persons(client, page.rows["total"]["persons_unknown"][1])
    seen = _listed_persons(client, page.rows["total"]["persons_seen"][1])
    elsewhere = _listed_persons(client, page.rows["total"]["persons_elsewhere"][1])
    everybody = _listed_persons(client, page.rows["total"]["persons"][1])
    screened_g1 = {p.pk for p in sweep["g1"][0].persons.all()}
    away_g2 = sweep["g2"][1].persons.order_by("pk").first().pk
    # the G1 household screened with everybody present: all seen, none unknown
    assert screened_g1 <= seen and not screened_g1 & unknown
    assert away_g2 in elsewhere and away_g2 not in unknown
    # the three lists split everybody, with nobody twice
    assert unknown | seen | elsewhere == everybody
    assert len(unknown) + len(seen) + len(elsewhere) == len(everybody)


def test_a_grid_worker_sees_only_the_persons_of_their_own_households(client_for, sweep):
    client = client_for(Role.GRID_WORKER, "G1")
    client.force_login(sweep["worker"])
    url = reverse("screening:coverage_persons", args=[sweep["campaign"].pk])
    listed = _listed_persons(client, url + "?area=G1&which=persons")
    own = {p.pk for h in sweep["g1"] for p in h.persons.all()}
    assert listed and listed <= own
    assert client.get(url + "?area=G2&which=persons").status_code == 404


def test_an_unknown_person_list_is_404(client_for, sweep):
    client = client_for(Role.COMMAND, "D")
    url = reverse("screening:coverage_persons", args=[sweep["campaign"].pk])
    assert client.get(url + "?area=D&which=households").status_code == 404


def test_drilling_down_follows_the_tree(client_for, sweep, areas):
    client = client_for(Role.STREET_ADMIN, "S1")
    street = coverage_of(client, sweep["campaign"])
    assert set(street.drill) == {"area-C1", "area-C2"}
    community = coverage_of(client, sweep["campaign"], "C1")
    assert set(community.drill) == {"area-G1", "area-G2"}
    assert parse_qs(urlsplit(street.drill["area-C1"]).query)["area"] == ["C1"]
    assert "worker-none" not in community.rows  # every C1 household is assigned


def test_a_campaign_page_shows_the_coverage_of_the_users_own_area(client_for, sweep):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    response = client.get(reverse("screening:campaign_detail", args=[sweep["campaign"].pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-row="area-G1"' in body and 'data-row="area-G3"' not in body
    assert 'id="countdown"' in body


@pytest.mark.parametrize(
    "name", ["coverage", "coverage_list", "flagged", "coverage_export", "flagged_export"]
)
@pytest.mark.parametrize("code", ["C2", "S1", "D", "G4", "NOPE"])
def test_an_area_outside_the_jurisdiction_is_404(client_for, sweep, name, code):
    # given a community admin of C1
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    url = reverse(f"screening:{name}", args=[sweep["campaign"].pk])
    # when they ask for another community, their street, the district or an unknown code
    response = client.get(url, {"area": code, "state": "open"})
    # then it is not found, and an export attempt records nothing
    assert response.status_code == 404
    assert client.post(url + f"?area={code}", {"purpose": "x"}).status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


def test_a_campaign_of_another_street_is_404(client_for, households, user_for, areas):
    street = user_for(Role.STREET_ADMIN, "S2")
    other = campaign_create(
        user=street,
        name="朝阳街道摸排",
        scope_area=areas["S2"],
        deadline=timezone.now() + datetime.timedelta(days=1),
    )
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert client.get(reverse("screening:coverage", args=[other.pk])).status_code == 404
    assert client.get(reverse("screening:campaign_detail", args=[other.pk])).status_code == 404


def test_an_unknown_list_state_is_404(client_for, sweep):
    client = client_for(Role.COMMAND, "D")
    url = reverse("screening:coverage_list", args=[sweep["campaign"].pk])
    assert client.get(url, {"state": "closed_or_whatever"}).status_code == 404


def test_a_grid_worker_sees_only_their_own_row_and_households(client_for, sweep, areas):
    # given the worker of G1 (logged in as that user)
    client = Client()
    client.force_login(sweep["worker"])
    campaign = sweep["campaign"]
    # when they open the coverage page
    page = coverage_of(client, campaign)
    # then they see their own row only: no area table, no colleague
    assert set(page.rows) == {f"worker-{sweep['worker'].pk}"}
    assert page.rows[f"worker-{sweep['worker'].pk}"]["households"][0] == 4
    # and a list shows their households only, even when asked for another worker's
    url = reverse("screening:coverage_list", args=[campaign.pk])
    assert listed_count(client, url + f"?area=G1&worker={sweep['second'].pk}") == 0
    assert listed_count(client, url + "?area=G1") == 4
    # and another grid is not found
    assert client.get(url, {"area": "G2"}).status_code == 404
    response = client.get(reverse("screening:coverage", args=[campaign.pk]), {"area": "C1"})
    assert response.status_code == 404


def test_the_flagged_list_names_the_flags_and_masks_identifiers(client_for, sweep):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    response = client.get(
        reverse("screening:flagged", args=[sweep["campaign"].pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    body = response.content.decode()
    assert listed_count(client, response.request["PATH_INFO"]) == 2
    fever = sweep["g1"][0].persons.order_by("pk").first()
    assert f'data-person="{fever.pk}"' in body
    assert "fever" in body and "from a risk area" in body
    for person in [*sweep["g1"][0].persons.all(), *sweep["g2"][1].persons.all()]:
        assert person.id_number not in body
        assert person.phone not in body
    assert fever.id_number[:6] + "********" in body


def test_the_list_is_paginated_by_fifty(client_for, campaign, areas):
    for n in range(55):
        HouseholdFactory(grid=areas["G2"], room=f"{n + 100}")
    campaign_enrol_households(campaign=campaign)
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    url = reverse("screening:coverage_list", args=[campaign.pk])
    first = client.get(url, {"area": "G2", "state": "not_started"}).content.decode()
    second = client.get(url, {"area": "G2", "state": "not_started", "page": 2}).content.decode()
    assert first.count("<tr data-household=") == 50
    assert second.count("<tr data-household=") == 6  # 55 new plus HN-G2
    assert listed_count(client, url + "?area=G2&state=not_started") == 56


def xlsx_text(content: bytes) -> str:
    """Every XML part of the workbook as text, to search for values that must not be there."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "".join(archive.read(name).decode() for name in archive.namelist())


def download(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize(
    "name, query, action",
    [
        ("flagged_export", "area=C1", "export.flagged"),
        ("coverage_list_export", "area=C1&state=", "export.households"),
        ("coverage_list_export", "area=G1&state=open", "export.households"),
        ("coverage_export", "area=S1", "export.coverage"),
    ],
)
def test_exports_ask_a_purpose_mask_and_audit(client_for, sweep, name, query, action):
    client = client_for(Role.STREET_ADMIN, "S1")
    url = reverse(f"screening:{name}", args=[sweep["campaign"].pk]) + "?" + query
    # given the purpose form: showing it records nothing
    form = client.get(url)
    assert form.status_code == 200 and b'name="purpose"' in form.content
    page = form.content.decode()
    # the one purpose form of every export, posting back to this very URL
    assert 'id="purpose-form"' in page and 'method="post"' in page
    assert f'action="{url.replace("&", "&amp;")}"' in page
    # a purpose in a link does not export: the file comes only from the form's POST
    assert client.get(url + "&purpose=x").status_code == 400
    assert not AuditEvent.objects.filter(action=action).exists()
    # an export without a purpose is refused and records nothing
    assert client.post(url, {"purpose": "  "}).status_code == 400
    assert not AuditEvent.objects.filter(action=action).exists()
    # when a purpose is given
    response = client.post(url, {"purpose": "针对性摸排跟进"})
    # then an XLSX comes back with identifiers masked, and the purpose is on record
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    content = download(response)
    text = xlsx_text(content)
    persons = [p for h in [*sweep["g1"], *sweep["g2"]] for p in h.persons.all()]
    for person in persons:
        assert person.id_number not in text
        assert person.phone not in text
    event = AuditEvent.objects.get(action=action)
    assert event.purpose == "针对性摸排跟进"
    assert event.user == client.user
    assert event.object_id == str(sweep["campaign"].pk)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    # the coverage file opens with its campaign, area and time (3 lines and a blank row)
    above_header = 4 if action == "export.coverage" else 0
    assert event.detail["rows"] == len(rows) - 1 - above_header


def test_the_flagged_export_holds_the_masked_values(client_for, sweep):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    url = reverse("screening:flagged_export", args=[sweep["campaign"].pk]) + "?area=C1"
    content = download(client.post(url, {"purpose": "跟进"}))
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    assert len(rows) == 3  # header and the two flagged persons
    fever = sweep["g1"][0].persons.order_by("pk").first()
    line = next(r for r in rows if fever.name in r)
    assert fever.id_number[:6] + "********" + fever.id_number[-4:] in line
    assert fever.phone[:3] + "****" + fever.phone[-4:] in line
