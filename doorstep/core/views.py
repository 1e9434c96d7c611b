from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render

from doorstep.registry.selectors import households_visible_to, persons_visible_to

from .middleware import public_view


@public_view
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def home(request):
    user = request.user
    area = user.jurisdiction_area
    context = {"area": area, "household_count": 0, "person_count": 0, "children": []}
    if area is not None:
        context["household_count"] = households_visible_to(user).count()
        context["person_count"] = persons_visible_to(user).count()
        context["children"] = area.children.order_by("code").annotate(grid_count=Count("children"))[
            :50
        ]
    return render(request, "core/home.html", context)
