"""The command center in Chromium: the brief with its ECharts trend (our own static file), the A4
printout printed to PDF (page count, no table cut across pages), and a grid worker's dashboard on
a 360 px phone."""

import datetime
import io
import random

import pytest
from pypdf import PdfReader

from doorstep.accounts.models import Role
from doorstep.areas.models import AreaLevel
from doorstep.command.services import brief_freeze
from doorstep.screening.services import assignment_create
from tests.command.conftest import random_visit
from tests.factories import AreaFactory, HouseholdFactory, PersonFactory

from .helpers import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def command_world(areas, households, user_for):
    """The sweep fixture of tests/command plus 24 more communities in 天生街道 (long tables),
    visits over three days and yesterday frozen."""
    from django.utils import timezone

    from doorstep.screening.services import campaign_create

    for n in range(24):
        community = AreaFactory(
            code=f"CX{n:02d}", name=f"Comm{n:02d}", level=AreaLevel.COMMUNITY, parent=areas["S1"]
        )
        grid = AreaFactory(code=f"GX{n:02d}", name="Grid1", level=AreaLevel.GRID, parent=community)
        home = HouseholdFactory(grid=grid, household_number=f"HX{n:02d}")
        PersonFactory(household=home, name=f"住户X{n}", relation="户主")
    commander = user_for(Role.COMMAND, "D")
    start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
    campaign = campaign_create(
        user=commander,
        name="全区拉网式摸排",
        scope_area=areas["D"],
        starts_at=start - datetime.timedelta(days=3),
        deadline=start + datetime.timedelta(days=3),
    )
    worker = user_for(Role.GRID_WORKER, "G1")
    assignment_create(user=commander, campaign=campaign, worker=worker, grid=areas["G1"])
    sweep = {"campaign": campaign, "commander": commander, "workers": {"G1": worker}}
    rng = random.Random(1)
    from doorstep.registry.models import Household

    homes = list(Household.objects.select_related("grid"))
    now = timezone.now()
    for back in (2, 1, 0):
        day = timezone.localdate() - datetime.timedelta(days=back)
        for _ in range(12):
            visited = timezone.make_aware(
                datetime.datetime.combine(day, datetime.time(rng.randint(8, 17)))
            )
            visited = min(visited, now - datetime.timedelta(minutes=5))
            random_visit(rng, sweep, rng.choice(homes), visited_at=visited, entered_at=visited)
        if back:
            brief_freeze(day=day)
    return {"commander": commander, "worker": worker, "campaign": campaign}


def test_brief_trend_chart_and_a4_printout(new_page, live_server, login, command_world, shot):
    page = new_page()
    login(page, command_world["commander"])
    page.goto(f"{live_server.url}/command/brief/")
    chart = page.locator("#trend-chart")
    expect(chart).to_have_attribute("data-chart-ready", "1")
    expect(chart.locator("svg")).to_have_count(1)
    scripts = page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
    assert all(s.startswith(live_server.url) for s in scripts), scripts
    shot(page, "brief")
    page.goto(f"{live_server.url}/command/brief/print/")
    tables = page.eval_on_selector_all(
        "table",
        "els => els.map(t => Array.from(t.querySelectorAll('tbody tr td:first-child'))"
        ".map(td => td.textContent.trim()))",
    )
    assert len(tables) >= 4 and max(len(t) for t in tables) >= 25
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4", print_background=True)))
    pages = [p.extract_text() for p in pdf.pages]
    assert 2 <= len(pages) <= 5, len(pages)
    for rows in tables:
        holding = [i for i, text in enumerate(pages) if all(r in text for r in rows if r)]
        assert holding, f"a table is cut across pages: {rows[:3]}…"
    shot(page, "print")


def test_grid_worker_dashboard_fits_a_phone(new_page, live_server, login, command_world, shot):
    page = new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    login(page, command_world["worker"])
    expect(page.locator("#todo")).to_be_visible()
    expect(page.locator("#todo")).to_contain_text("全区拉网式摸排")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    shot(page, "worker-dashboard")
