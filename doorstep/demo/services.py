"""Load the demo district: area tree, one login per role, and a roster through the real import."""

from pathlib import Path

from django.conf import settings
from django.db import transaction

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.imports.services import roster_import_create, roster_import_run, roster_import_start

from .checkpoints import demo_checkpoints_create
from .command import demo_command_create, demo_command_freeze
from .followup import demo_followup_create
from .generator import DISTRICT, plan_areas, write_roster_csv
from .sweep import demo_sweep_create
from .trust import demo_trust_create

DEMO_PASSWORD = "doorstep-demo-2026"  # noqa: S105 - printed for the demo on purpose


@transaction.atomic
def demo_areas_create(*, persons: int) -> Area:
    """The district, its 17 streets/towns, and communities and grids sized for `persons`."""
    existing = set(Area.objects.values_list("code", flat=True))
    district = Area.objects.filter(code=DISTRICT[0]).first()
    if district is None:
        district = Area.objects.create(
            code=DISTRICT[0],
            name=DISTRICT[1],
            level=AreaLevel.DISTRICT,
            path=Area.path_for(parent=None, code=DISTRICT[0]),
        )
        existing.add(district.code)
    by_code = {a.code: a for a in Area.objects.all()}
    for grid in plan_areas(persons):
        for code, name, level, parent_code in (
            (grid.street_code, grid.street_name, AreaLevel.STREET, DISTRICT[0]),
            (grid.community_code, grid.community_name, AreaLevel.COMMUNITY, grid.street_code),
            (grid.code, grid.name, AreaLevel.GRID, grid.community_code),
        ):
            if code in existing:
                continue
            parent = by_code[parent_code]
            by_code[code] = Area.objects.create(
                code=code,
                name=name,
                level=level,
                parent=parent,
                path=Area.path_for(parent=parent, code=code),
            )
            existing.add(code)
    return district


def demo_users_create(*, district: Area) -> list[tuple[str, str, str]]:
    """One login per role, each with a jurisdiction in the demo district's first street."""
    street = district.children.order_by("code").first()
    community = street.children.order_by("code").first()
    grid = community.children.order_by("code").first()
    plan = [
        ("command", Role.COMMAND, district, "指挥部值班员"),
        ("street", Role.STREET_ADMIN, street, f"{street.name}管理员"),
        ("community", Role.COMMUNITY_ADMIN, community, f"{community.name}书记"),
        ("worker", Role.GRID_WORKER, grid, f"{community.name}{grid.name}网格员"),
        ("checkpoint", Role.CHECKPOINT_OFFICER, None, "卡口执勤员"),
        ("clinic", Role.CLINIC_STAFF, None, "发热门诊医生"),
        ("institution", Role.INSTITUTION_REPORTER, None, "单位填报员"),
    ]
    logins = []
    for username, role, area, full_name in plan:
        user, _created = User.objects.get_or_create(username=username)
        user.role, user.jurisdiction_area, user.full_name = role, area, full_name
        user.set_password(DEMO_PASSWORD)
        user.save()
        logins.append((username, role.label, area.name if area else "-"))
    admin, _created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    admin.role, admin.jurisdiction_area, admin.full_name = Role.COMMAND, district, "系统管理员"
    admin.is_staff = admin.is_superuser = True
    admin.set_password(DEMO_PASSWORD)
    admin.save()
    logins.append(("admin", "system admin (/admin/)", district.name))
    return logins


def demo_load(*, persons: int, seed: int, on_progress=None):
    """Areas, users and a roster of `persons` people; loading twice changes nothing."""
    district = demo_areas_create(persons=persons)
    logins = demo_users_create(district=district)
    path = Path(settings.VAR_DIR) / "demo" / f"roster-{persons}-{seed}.csv"
    write_roster_csv(path, persons=persons, seed=seed)
    with open(path, "rb") as stream:
        job = roster_import_create(user=None, area=district, stream=stream, original_name=path.name)
    roster_import_start(user=None, job=job, enqueue=False)
    job = roster_import_run(job_id=job.pk, on_progress=on_progress)
    demo_trust_create(district=district)
    demo_checkpoints_create(district=district, password=DEMO_PASSWORD)
    demo_command_create(district=district)  # issue 12: a sweep over the last days
    # issue 14: the demo worker's grid in every state (in the command demo's campaign)
    demo_sweep_create(district=district)
    demo_followup_create(district=district)
    # last, when every domain's records exist: the snapshots of the past days, a bulletin
    demo_command_freeze(district=district)
    return district, logins, job
