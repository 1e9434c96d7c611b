from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from doorstep.areas.selectors import area_ancestors, areas_visible_to
from doorstep.core.ratelimit import REVEAL, SEARCH, spends
from doorstep.core.search import search_text, search_token
from doorstep.core.urlaccess import SCOPED, access

from . import selectors, services
from .forms import HouseholdForm, PersonForm

PAGE_SIZE = 50


@spends(SEARCH)
def household_list_view(request):
    """The roster list. A search is sent by POST (ID numbers and phones never go into a URL)
    and answered with the list at `?s=<token>`, which pages and reloads like any list."""
    user = request.user
    area_code = (request.POST.get("area") or request.GET.get("area") or "")[:32]
    area = areas_visible_to(user).filter(code=area_code).first() if area_code else None
    if request.method == "POST":
        query = request.POST.get("q", "")[:50].strip()
        params = {"area": area.code} if area else {}
        if query:
            params["s"] = search_token(request, query)
        target = reverse("registry:household_list") + (f"?{urlencode(params)}" if params else "")
        if not request.htmx:
            return redirect(target)
        response = _household_list(request, query=query, token=params.get("s", ""), area=area)
        response["HX-Push-Url"] = target
        return response
    token = request.GET.get("s", "")[:16]
    query = search_text(request, token)
    expired = query is None
    return _household_list(request, query=query or "", token="" if expired else token, area=area)


def _household_list(request, *, query: str, token: str, area):
    user = request.user
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
        # A number searched for is shown masked (the page is kept in history and caches) and not
        # put back in the box; any other text is.
        "query": "" if selectors.is_number_query(query) else query,
        "searched": selectors.masked_query(query),
        "search": token,
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
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "household": household}
    return render(request, "registry/household_edit.html", context, status=status)


def _show_errors_in_place(form, error: ValidationError) -> None:
    """A service's field errors next to the fields they are about; the rest above the form."""
    for field, texts in error.message_dict.items():
        form.add_error(field if field in form.fields else None, texts)


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
        # A refused write says so (and counts against the budget of refused writes).
        status=422 if request.method == "POST" else 200,
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
        status=422 if request.method == "POST" else 200,
    )


@spends(REVEAL)
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


@access(SCOPED)
def reconciliations_view(request):
    """Persons recorded with an ID number that a record outside the recorder's jurisdiction
    carries: the list the community admins (and above) work through."""
    if not request.user.manages_roster:
        raise PermissionDenied
    cases = selectors.pending_reconciliations(request.user)
    page = Paginator(cases, PAGE_SIZE, allow_empty_first_page=True).get_page(
        request.GET.get("page")
    )
    return render(request, "registry/reconciliations.html", {"page": page})


@access(SCOPED)
def reconciliation_view(request, case_id: int):
    """One case: the person, the number (masked), who recorded it; the decisions."""
    user = request.user
    # Out of scope (and for anyone who reconciles nothing) it looks exactly like absent.
    case = selectors.access_reconciliation(user, case_id)
    error = ""
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        try:
            if decision == "moved":
                person = services.reconciliation_moved_here(
                    user=user, case_id=case.pk, request=request
                )
            elif decision == "corrected":
                person = services.reconciliation_correct(
                    user=user,
                    case_id=case.pk,
                    id_number=request.POST.get("id_number", "")[:32],
                    request=request,
                )
            elif decision == "confirmed":
                person = services.reconciliation_confirm(
                    user=user, case_id=case.pk, request=request
                )
            else:
                return HttpResponseBadRequest(_("unknown decision"))
        except services.ReconciliationRefused as refused:
            error = refused.message
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
        else:
            messages.success(request, _("Decided: %(name)s.") % {"name": person.name})
            return redirect("registry:reconciliations")
    holder = selectors.reconciliation_holder(user, case)
    context = {
        "case": case,
        "person": case.person,
        "household": case.person.household,
        "holder": holder,
        "number_free": selectors.id_number_free(user, case),
        "error": error,
    }
    return render(request, "registry/reconciliation.html", context, status=422 if error else 200)
