"""Campaign pages: the list with deadline countdowns and coverage, creating a campaign, the
campaign page (its coverage), and the risk areas."""

import datetime

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from doorstep.accounts.models import Role
from doorstep.areas.models import AreaLevel
from doorstep.areas.selectors import areas_visible_to
from doorstep.core.urlaccess import AUTHENTICATED, SCOPED, access

from .. import selectors, services
from ..models import CampaignKind, RiskArea
from ..rules import QUESTIONS
from .coverage import countdown, coverage_view

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class CampaignForm(forms.Form):
    # "Name" and "Kind" alone translate as a person's 姓名 and a household's 户类型.
    name = forms.CharField(label=pgettext_lazy("campaign", "Name"), max_length=100)
    kind = forms.ChoiceField(label=pgettext_lazy("campaign", "Kind"), choices=CampaignKind.choices)
    scope_area = forms.ModelChoiceField(
        label=gettext_lazy("Scope"), queryset=None, to_field_name="code"
    )
    starts_at = forms.DateTimeField(label=gettext_lazy("Starts"), widget=DATETIME_WIDGET)
    deadline = forms.DateTimeField(label=gettext_lazy("Deadline"), widget=DATETIME_WIDGET)
    max_attempts = forms.IntegerField(
        label=gettext_lazy("Failed attempts before escalation"),
        min_value=1,
        max_value=10,
        initial=3,
    )
    lookback_days = forms.IntegerField(
        label=gettext_lazy("Travel look-back days"), min_value=1, max_value=60, initial=14
    )
    questions = forms.MultipleChoiceField(
        label=gettext_lazy("Questions to ask"),
        choices=[(key, label) for key, label in QUESTIONS.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=["temperature", "symptoms"],
        help_text=gettext_lazy(
            "Ask only what the purpose of this campaign needs: every extra question is personal "
            "data collected from every household."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope_area"].queryset = (
            areas_visible_to(user).filter(level__lte=AreaLevel.COMMUNITY).order_by("path")
        )
        self.fields["scope_area"].label_from_instance = lambda a: "\u3000" * (a.level - 1) + a.name
        if not self.is_bound:
            now = timezone.localtime().replace(second=0, microsecond=0)
            self.initial.setdefault("scope_area", user.jurisdiction_area)
            self.initial.setdefault("starts_at", now)
            self.initial.setdefault("deadline", now + datetime.timedelta(days=3))

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("deadline") and data["deadline"] <= data["starts_at"]:
            self.add_error("deadline", _("the deadline must be after the start"))
        return data


def _household_coverage(user, campaign) -> dict:
    figures = selectors.progress_visible_to(user, campaign).aggregate(
        total=Count("id"), closed=Count("id", filter=Q(closed=True))
    )
    total, closed = figures["total"], figures["closed"]
    figures["percent"] = round(closed * 100 / total, 1) if total else 0.0
    return figures


@access(SCOPED)
def campaign_list_view(request):
    user = request.user
    now = timezone.now()
    campaigns = list(selectors.campaigns_visible_to(user).order_by("-starts_at", "-pk")[:100])
    for campaign in campaigns:
        campaign.countdown = countdown(campaign, now)
        campaign.figures = _household_coverage(user, campaign)
    context = {
        "campaigns": campaigns,
        "can_create": user.manages_roster,
        "has_jurisdiction": user.jurisdiction_area_id is not None,
    }
    return render(request, "screening/campaigns/list.html", context)


@access(SCOPED)
def campaign_create_view(request):
    user = request.user
    if not user.manages_roster:
        raise PermissionDenied
    form = CampaignForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(
                user=user,
                name=data["name"],
                kind=data["kind"],
                scope_area=data["scope_area"],
                starts_at=data["starts_at"],
                deadline=data["deadline"],
                max_attempts=data["max_attempts"],
                lookback_days=data["lookback_days"],
                questions=data["questions"],
                request=request,
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return redirect("screening:campaign_detail", campaign_id=campaign.pk)
    context = {
        "form": form,
        # A sweep flags travel from risk areas: an empty list flags nobody, and says so.
        "no_risk_areas": not RiskArea.objects.filter(active=True).exists(),
    }
    return render(request, "screening/campaigns/create.html", context)


@access(SCOPED)
def campaign_detail_view(request, campaign_id: int):
    """A campaign's page is its coverage, at the user's own level."""
    return coverage_view(request, campaign_id)


@access(AUTHENTICATED)
def risk_areas_view(request):
    """Everyone reads the risk areas the rules flag; only the command changes them."""
    can_edit = request.user.role == Role.COMMAND
    saved = False
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        names = request.POST.get("names", "").replace("，", "\n").replace(",", "\n")
        services.risk_areas_set(
            user=request.user, names=[n[:50] for n in names.splitlines()], request=request
        )
        saved = True
    areas = list(RiskArea.objects.filter(active=True))
    context = {
        "areas": areas,
        "can_edit": can_edit,
        "saved": saved,
        "names": "\n".join(a.name for a in areas),
    }
    return render(request, "screening/campaigns/risk_areas.html", context)
