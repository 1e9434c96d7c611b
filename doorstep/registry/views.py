from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.views.decorators.http import require_POST

from doorstep.areas.selectors import area_ancestors, areas_visible_to

from . import selectors, services
from .forms import HouseholdForm, PersonForm

PAGE_SIZE = 50


def household_list_view(request):
    user = request.user
    query = request.GET.get("q", "")[:50]
    area = None
    if area_code := request.GET.get("area"):
        area = areas_visible_to(user).filter(code=area_code).first()
    households = selectors.household_search(user, query=query, area=area)
    page = Paginator(households, PAGE_SIZE, allow_empty_first_page=True).get_page(
        request.GET.get("page")
    )
    rows = list(
        selectors.household_list_rows(
            households.model.objects.filter(pk__in=[h.pk for h in page.object_list])
        )
        .select_related("grid", "grid__parent")
        .order_by("grid__path", "building", "unit", "floor", "room", "id")
    )
    heads = selectors.household_head_names([h.pk for h in rows])
    for household in rows:
        household.head_name = heads.get(household.pk, "")
    context = {
        "page": page,
        "rows": rows,
        "query": query,
        "area": area,
        "has_jurisdiction": user.jurisdiction_area_id is not None,
    }
    template = "registry/_household_rows.html" if request.htmx else "registry/household_list.html"
    return render(request, template, context)


def household_detail_view(request, household_id: int):
    household = selectors.access_household(request.user, household_id)
    members = selectors.household_members(request.user, household)
    services.record_read(user=request.user, obj=household, via="roster", request=request)
    changes = household.changes.select_related("user", "person")[:30]
    return render(
        request,
        "registry/household_detail.html",
        {
            "household": household,
            "members": members,
            "changes": changes,
            "ancestors": area_ancestors(household.grid),
            "can_reveal_id": request.user.may_reveal("id_number"),
            "can_reveal_phone": request.user.may_reveal("phone"),
        },
    )


def household_edit_view(request, household_id: int):
    household = selectors.access_household(request.user, household_id)
    if not request.user.manages_roster:
        raise PermissionDenied
    form = HouseholdForm(request.POST or None, instance=household)
    if request.method == "POST" and form.is_valid():
        services.household_update(
            user=request.user, household_id=household.pk, data=form.cleaned_data, request=request
        )
        return redirect("registry:household_detail", household_id=household.pk)
    return render(request, "registry/household_edit.html", {"form": form, "household": household})


def _show_errors_in_place(form, error: ValidationError) -> None:
    """A service's field errors next to the fields they are about; the rest above the form."""
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


def person_edit_view(request, person_id: int):
    person = selectors.access_person(request.user, person_id)
    if not request.user.manages_roster:
        raise PermissionDenied
    form = PersonForm.for_person(person, data=request.POST or None)
    if request.method != "POST":
        services.record_read(user=request.user, obj=person, via="person_edit", request=request)
    if request.method == "POST" and form.is_valid():
        try:
            services.person_update(
                user=request.user, person_id=person.pk, data=form.cleaned_data, request=request
            )
            return redirect("registry:household_detail", household_id=person.household_id)
        except ValidationError as error:
            _show_errors_in_place(form, error)
    return render(
        request,
        "registry/person_edit.html",
        {
            "form": form,
            "person": person,
            "household": person.household,
        },
    )


def person_create_view(request, household_id: int):
    household = selectors.access_household(request.user, household_id)
    if not request.user.manages_roster:
        raise PermissionDenied
    form = PersonForm.for_person(None, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.person_create(
                user=request.user,
                household_id=household.pk,
                data=form.cleaned_data,
                request=request,
            )
            return redirect("registry:household_detail", household_id=household.pk)
        except ValidationError as error:
            _show_errors_in_place(form, error)
    return render(
        request,
        "registry/person_edit.html",
        {
            "form": form,
            "person": None,
            "household": household,
        },
    )


@require_POST
def person_reveal_view(request, person_id: int, field: str):
    """htmx: swap a masked value for the full one; the service audits the reveal."""
    if field not in ("id_number", "phone"):
        raise PermissionDenied
    # Out of scope looks like absent (404) for everyone, before "you may not reveal" (403).
    selectors.access_person(request.user, person_id)
    value = services.person_reveal(
        user=request.user,
        person_id=person_id,
        field=field,
        request=request,
        purpose=request.POST.get("purpose", "")[:200],
    )
    return HttpResponse(f'<span class="revealed">{escape(value)}</span>')
