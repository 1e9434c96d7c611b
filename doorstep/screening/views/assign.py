"""Assignment pages (包片分工): admins give grids and buildings to workers, workers claim
unassigned blocks (认领); the per-assignment visit sheet (template download, upload, report)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from doorstep.accounts.models import ROSTER_MANAGER_ROLES, Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.areas.selectors import area_ancestors, areas_visible_to
from doorstep.core.db import prefix_q
from doorstep.core.purpose import purpose_or_answer
from doorstep.core.services import audit_write
from doorstep.core.sheets.reading import UnreadableFile
from doorstep.core.uploads import refuse_cut_off_upload
from doorstep.core.urlaccess import SCOPED, access
from doorstep.registry.selectors import members_by_household

from .. import selectors, services, sheets
from ..forms import AssignForm, ClaimForm, SheetUploadForm
from ..models import HouseholdProgress

ASSIGNABLE_ROLES = (Role.GRID_WORKER, Role.COMMUNITY_ADMIN)
REPORT_SESSION_KEY = "screening_upload_report"
REPORT_ROW_LIMIT = 20000


def _is_manager(user) -> bool:
    return user.role in ROSTER_MANAGER_ROLES and user.jurisdiction_area_id is not None


def _area_for(user, campaign, code: str) -> Area:
    """The area asked for (by code), inside both the jurisdiction and the campaign's scope;
    by default the narrower of the two."""
    if code:
        area = areas_visible_to(user).filter(code=code).first()
        if area is None:
            raise Http404
        return selectors.area_in_scope(user, campaign, area.pk)
    home, scope = user.jurisdiction_area, campaign.scope_area
    if home is None:
        raise Http404
    area = home if home.path.startswith(scope.path) else scope
    return selectors.area_in_scope(user, campaign, area.pk)


def _workers_for(user, grids: list[Area]) -> dict[int, list[User]]:
    """Who may take each grid: active grid workers (and community staff) whose jurisdiction
    contains the grid and lies inside the admin's own jurisdiction."""
    candidates = list(
        User.objects.filter(is_active=True, role__in=ASSIGNABLE_ROLES)
        .filter(prefix_q("jurisdiction_area__path", user.jurisdiction_area.path))
        .select_related("jurisdiction_area")
        .order_by("role", "full_name", "username")
    )
    return {
        grid.pk: [w for w in candidates if grid.path.startswith(w.jurisdiction_area.path)]
        for grid in grids
    }


def _name(row: dict) -> str:
    return row["assigned_to__full_name"] or row["assigned_to__username"]


def _blocks(rows, key: str) -> list[dict]:
    """Households, closed, unassigned and workers per grid (key "grid_id") or per building."""
    stats = {
        r[key]: {**r, "workers": []}
        for r in rows.values(key)
        .annotate(
            households=Count("id"),
            closed_count=Count("id", filter=Q(closed=True)),
            unassigned=Count("id", filter=Q(assigned_to__isnull=True)),
        )
        .order_by(key)
    }
    held = (
        rows.filter(assigned_to__isnull=False)
        .values(key, "assigned_to", "assigned_to__full_name", "assigned_to__username")
        .annotate(n=Count("id"))
        .order_by(key, "assigned_to__username")
    )
    for row in held:
        stats[row[key]]["workers"].append(
            {"id": row["assigned_to"], "name": _name(row), "n": row["n"]}
        )
    for block in stats.values():
        block["percent"] = round(100 * block["closed_count"] / block["households"])
    return list(stats.values())


def _claimable_blocks(user, campaign) -> list[dict]:
    """Blocks in the worker's jurisdiction that nobody holds yet: whole grids and buildings
    whose households are all unassigned. Counts only, no personal data."""
    rows = HouseholdProgress.objects.filter(campaign=campaign).filter(
        prefix_q("grid__path", user.jurisdiction_area.path)
    )
    per_building = (
        rows.values("grid_id", "household__building")
        .annotate(total=Count("id"), free=Count("id", filter=Q(assigned_to__isnull=True)))
        .order_by("grid_id", "household__building")
    )
    grids = {
        g.pk: g for g in Area.objects.filter(pk__in=rows.values("grid_id")).select_related("parent")
    }
    blocks, whole = [], {}
    for row in per_building:
        grid = grids[row["grid_id"]]
        free = row["total"] == row["free"]
        whole.setdefault(grid.pk, [True, 0])
        whole[grid.pk][0] &= free
        whole[grid.pk][1] += row["total"]
        if free and row["household__building"]:
            blocks.append(
                {"grid": grid, "building": row["household__building"], "households": row["total"]}
            )
    for grid_id, (free, total) in whole.items():
        if free:
            blocks.insert(0, {"grid": grids[grid_id], "building": "", "households": total})
    return blocks


@access(SCOPED)
def assign_view(request, campaign_id: int):
    user = request.user
    campaign = selectors.access_campaign(user, campaign_id)
    if request.method == "POST":
        return _assign_post(request, campaign)
    if user.role == Role.GRID_WORKER:
        return render(
            request,
            "screening/assign/worker.html",
            {
                "campaign": campaign,
                "assignments": selectors.assignments_visible_to(user, campaign),
                "claimable": _claimable_blocks(user, campaign) if campaign.is_open else [],
            },
        )
    if not _is_manager(user):
        raise PermissionDenied
    area = _area_for(user, campaign, request.GET.get("area", ""))
    rows = selectors.progress_visible_to(user, campaign).filter(prefix_q("grid__path", area.path))
    context = {
        "campaign": campaign,
        "area": area,
        "ancestors": [
            a for a in area_ancestors(area) if a.path.startswith(user.jurisdiction_area.path)
        ],
        "assignments": selectors.assignments_visible_to(user, campaign).filter(
            prefix_q("grid__path", area.path)
        ),
    }
    if area.level == AreaLevel.GRID:
        blocks = _blocks(rows, "household__building")
        for block in blocks:
            block["building"] = block["household__building"]
        context.update(grid=area, buildings=blocks, workers=_workers_for(user, [area])[area.pk])
    else:
        blocks = _blocks(rows, "grid_id")
        grids = {
            g.pk: g
            for g in Area.objects.filter(pk__in=[b["grid_id"] for b in blocks]).select_related(
                "parent"
            )
        }
        workers = _workers_for(user, list(grids.values()))
        for block in blocks:
            block["grid"] = grids[block["grid_id"]]
            block["choices"] = workers[block["grid_id"]]
        blocks.sort(key=lambda b: b["grid"].path)
        context["grids"] = blocks
    return render(request, "screening/assign/admin.html", context)


def _assign_post(request, campaign):
    user = request.user
    if not _is_manager(user):
        raise PermissionDenied
    form = AssignForm(request.POST)
    if not form.is_valid():
        if "worker" in form.errors and "grid" not in form.errors:
            # Nobody is chosen for the person assigning: the form asks instead of guessing.
            messages.error(request, _("Choose the worker to give it to."))
            back = request.POST.get("back", "")[:32] or form.cleaned_data.get("grid", "")
            return redirect(
                reverse("screening:assign", args=[campaign.pk]) + "?" + urlencode({"area": back})
            )
        return HttpResponse(_("incomplete form"), status=400)
    grid = (
        areas_visible_to(user).filter(code=form.cleaned_data["grid"], level=AreaLevel.GRID).first()
    )
    if grid is None:
        raise Http404
    grid = selectors.area_in_scope(user, campaign, grid.pk)
    building = form.cleaned_data["building"].strip()
    worker = next(
        (w for w in _workers_for(user, [grid])[grid.pk] if w.pk == form.cleaned_data["worker"]),
        None,
    )
    back_code = request.POST.get("back", "")[:32] or grid.code
    back = reverse("screening:assign", args=[campaign.pk]) + "?" + urlencode({"area": back_code})
    if worker is None:
        messages.error(request, _("This person cannot take this grid."))
        return redirect(back)
    try:
        services.assignment_create(
            user=user,
            campaign=campaign,
            worker=worker,
            grid=grid,
            building=building,
            request=request,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(back)
    block = f"{grid.display_name} {building}栋" if building else grid.display_name
    messages.success(
        request, _("%(block)s is now assigned to %(worker)s.") % {"block": block, "worker": worker}
    )
    return redirect(back)


@access(SCOPED)
@require_POST
def claim_view(request, campaign_id: int):
    user = request.user
    campaign = selectors.access_campaign(user, campaign_id)
    if user.role != Role.GRID_WORKER or user.jurisdiction_area is None:
        raise PermissionDenied
    form = ClaimForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("incomplete form"), status=400)
    grid = (
        areas_visible_to(user).filter(code=form.cleaned_data["grid"], level=AreaLevel.GRID).first()
    )
    if grid is None:
        raise Http404
    grid = selectors.area_in_scope(user, campaign, grid.pk)
    try:
        services.assignment_claim(
            worker=user,
            campaign=campaign,
            grid=grid,
            building=form.cleaned_data["building"].strip(),
            request=request,
        )
        messages.success(request, _("Claimed. The households are now on your list."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("screening:assign", campaign_id=campaign.pk)


# -- the visit sheet of an assignment ---------------------------------------------------------
def _assignment(user, campaign, assignment_id):
    assignment = selectors.assignments_visible_to(user, campaign).filter(pk=assignment_id).first()
    if assignment is None:
        raise Http404
    rows = selectors.progress_visible_to(user, campaign).filter(
        grid=assignment.grid, assigned_to=assignment.worker
    )
    if assignment.building:
        rows = rows.filter(household__building=assignment.building)
    rows = rows.select_related("household").order_by(*selectors.WALK_ORDER)
    return assignment, rows


@access(SCOPED)
def assignment_template_view(request, campaign_id: int, assignment_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    assignment, rows = _assignment(request.user, campaign, assignment_id)
    purpose, answer = purpose_or_answer(
        request, title=_("Download the visit sheet"), note=str(assignment)
    )
    if answer is not None:
        return answer
    rows = list(rows)
    members = members_by_household(request.user, [p.household_id for p in rows])
    data = sheets.assignment_rows(assignment, rows, members)
    audit_write(
        user=request.user,
        action="assignment.template",
        obj=assignment,
        request=request,
        purpose=purpose,
        detail={"rows": len(data)},
    )
    response = HttpResponse(
        sheets.template_workbook(assignment, data),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    filename = f"visits-{campaign.pk}-{assignment.pk}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@access(SCOPED)
def assignment_upload_view(request, campaign_id: int, assignment_id: int):
    user = request.user
    campaign = selectors.access_campaign(user, campaign_id)
    assignment, rows = _assignment(user, campaign, assignment_id)
    form = SheetUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    context = {"campaign": campaign, "assignment": assignment, "form": form}
    if request.method == "POST" and refuse_cut_off_upload(request, form):
        return render(request, "screening/assign/upload.html", context, status=413)
    if request.method == "POST" and form.is_valid():
        path = sheets.save_upload(form.cleaned_data["file"])
        try:
            sheet_rows = sheets.read_sheet_rows(path)
        except UnreadableFile as error:
            form.add_error("file", str(error))
            return render(request, "screening/assign/upload.html", context, status=422)
        finally:
            path.unlink(missing_ok=True)
        households = {
            p.household.household_number: {"id": p.household_id, "members": set()} for p in rows
        }
        by_id = {h["id"]: h for h in households.values()}
        everyone = members_by_household(user, list(by_id), active_only=False)
        for household_id, people in everyone.items():
            by_id[household_id]["members"].update(p.pk for p in people)
        groups = sheets.visits_from_rows(
            campaign, sheet_rows, households, worker_id=assignment.worker_id
        )
        visits = [g.visit for g in groups if g.visit is not None and not g.error]
        results = services.visit_batch_record(
            user=user, campaign=campaign, visits=visits, request=request
        )
        reports = [vars(r) for r in sheets.row_reports(groups, results)]
        if len(reports) > REPORT_ROW_LIMIT:
            # The downloadable report must list every row: say so rather than cut it short.
            messages.warning(
                request,
                _("the report lists the first %(n)d rows; split sheets longer than that")
                % {"n": REPORT_ROW_LIMIT},
            )
        request.session[REPORT_SESSION_KEY] = {
            "assignment": assignment.pk,
            "rows": reports[:REPORT_ROW_LIMIT],
        }
        counts = {s: sum(1 for r in reports if r["status"] == s) for s in sheets.STATUS_LABELS}
        shown = [{**r, "label": sheets.STATUS_LABELS[r["status"]]} for r in reports]
        context.update(reports=shown, counts=counts, form=SheetUploadForm())
    return render(request, "screening/assign/upload.html", context)


@access(SCOPED)
def assignment_upload_report_view(request, campaign_id: int, assignment_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    assignment, _rows = _assignment(request.user, campaign, assignment_id)
    stored = request.session.get(REPORT_SESSION_KEY)
    if not stored or stored.get("assignment") != assignment.pk:
        raise Http404
    purpose, answer = purpose_or_answer(
        request, title=_("Download the upload report"), note=str(assignment)
    )
    if answer is not None:
        return answer
    audit_write(
        user=request.user,
        action="assignment.upload_report",
        obj=assignment,
        request=request,
        purpose=purpose,
        detail={"rows": len(stored["rows"])},
    )
    response = HttpResponse(
        sheets.report_workbook(stored["rows"]),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="upload-report-{assignment.pk}-{sheets.now_stamp()}.xlsx"'
    )
    return response
