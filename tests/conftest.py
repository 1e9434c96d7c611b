import shutil

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import settings as hypothesis_settings

from doorstep.accounts.models import Role
from doorstep.accounts.selectors import two_factor_required

from .factories import HouseholdFactory, PersonFactory, UserFactory, area_tree
from .two_factor import verify_session

# Every response, export and log line of the run is read for full ID and mobile numbers.
pytest_plugins = ["tests.plugins.leak_check"]

# No per-example deadline: it is a timing assertion, and on a loaded 2-core machine a 300 ms
# example failed a run (the property, not the speed, is what these tests check).
hypothesis_settings.register_profile("doorstep", deadline=None)
hypothesis_settings.load_profile("doorstep")

ROLE_AREA = {
    Role.COMMAND: "D",
    Role.STREET_ADMIN: "S1",
    Role.COMMUNITY_ADMIN: "C1",
    Role.GRID_WORKER: "G1",
}


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgresql` are left out of a SQLite run, tests marked `replica` out of a
    run without a read replica (`make test-replica` runs them); the summary counts both."""
    sqlite = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    left_out = {"postgresql": [], "replica": []}
    kept = []
    for item in items:
        if sqlite and item.get_closest_marker("postgresql") is not None:
            left_out["postgresql"].append(item)
        elif "replica" not in settings.DATABASES and item.get_closest_marker("replica"):
            left_out["replica"].append(item)
        else:
            kept.append(item)
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for group in left_out.values() for i in group])
        config._doorstep_left_out = {k: len(v) for k, v in left_out.items() if v}
        items[:] = kept


LEFT_OUT_NOTES = {
    "postgresql": "PostgreSQL-only tests left out of this SQLite run (make test's PostgreSQL run "
    "has them)",
    "replica": "read-replica tests left out of this run without a replica (make test-replica "
    "runs them)",
}


def pytest_terminal_summary(terminalreporter, config):
    for marker, count in getattr(config, "_doorstep_left_out", {}).items():
        terminalreporter.write_line(f"{count} {LEFT_OUT_NOTES[marker]}")


@pytest.fixture(autouse=True)
def _isolated_import_dir(tmp_path, settings):
    settings.IMPORT_FILE_DIR = tmp_path / "imports"
    yield
    shutil.rmtree(tmp_path / "imports", ignore_errors=True)


@pytest.fixture
def areas(db):
    return area_tree()


@pytest.fixture
def households(areas):
    """One household with two members in each grid: G1, G2 (community C1), G3 (C2), G4 (S2)."""
    result = {}
    for key in ("G1", "G2", "G3", "G4"):
        household = HouseholdFactory(grid=areas[key], household_number=f"HN-{key}")
        PersonFactory(household=household, name=f"户主{key}", relation="户主")
        PersonFactory(household=household, name=f"配偶{key}", relation="配偶")
        result[key] = household
    return result


@pytest.fixture
def user_for(areas):
    def make(role: Role = Role.COMMUNITY_ADMIN, area: str | None = "default", **kwargs):
        if area == "default":
            area = ROLE_AREA.get(role)
        return UserFactory(role=role, jurisdiction_area=areas[area] if area else None, **kwargs)

    return make


@pytest.fixture
def client_for(user_for):
    def make(role: Role = Role.COMMUNITY_ADMIN, area: str | None = "default", **kwargs):
        user = user_for(role, area, **kwargs)
        client = Client()
        client.force_login(user)
        if two_factor_required(user):
            # Command and admin accounts log in with password and code; start where both are done.
            verify_session(client, user)
        client.user = user
        return client

    return make


@pytest.fixture
def media_dir():
    return settings.IMPORT_FILE_DIR
