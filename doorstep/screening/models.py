"""The dragnet sweep (拉网式摸排): campaigns, assignments, visits and household progress."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RiskArea(models.Model):
    """A place whose recent visitors are flagged (e.g. 湖北省); edited as the epidemic moves."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("risk area")

    def __str__(self) -> str:
        return self.name


class CampaignKind(models.TextChoices):
    SWEEP = "sweep", _("dragnet sweep (拉网式摸排)")
    TARGETED = "targeted", _("targeted screening (针对性摸排)")


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=16, choices=CampaignKind.choices, default=CampaignKind.SWEEP
    )
    scope_area = models.ForeignKey(
        "areas.Area", verbose_name=_("scope"), on_delete=models.PROTECT, related_name="+"
    )
    starts_at = models.DateTimeField(_("starts"), default=timezone.now)
    deadline = models.DateTimeField(_("deadline"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Retention: a closed campaign is archived (its figures are final), then its personal
    # answers are anonymised by `anonymise_campaign`; see screening/retention.py.
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    anonymised_at = models.DateTimeField(_("anonymised"), null=True, blank=True)
    # A household leaves the open set after this many failed attempts (escalated).
    max_attempts = models.PositiveSmallIntegerField(_("attempts before escalation"), default=3)
    lookback_days = models.PositiveSmallIntegerField(_("travel look-back days"), default=14)
    fever_threshold = models.DecimalField(
        _("fever from (°C)"), max_digits=3, decimal_places=1, default=Decimal("37.3")
    )
    # Which optional questions this campaign asks (data minimisation: ask only what is needed).
    questions = models.JSONField(_("questions"), default=list, blank=True)
    self_report_enabled = models.BooleanField(_("self-report by QR code"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("campaign")

    def __str__(self) -> str:
        return self.name

    def is_open_at(self, at) -> bool:
        if self.closed_at is not None and at >= self.closed_at:
            return False
        return self.starts_at - timezone.timedelta(days=1) <= at <= self.deadline

    @property
    def is_open(self) -> bool:
        return self.is_open_at(timezone.now())


class Assignment(models.Model):
    """A worker's share of a campaign (包片): a grid, a building of a grid, or a list."""

    class Kind(models.TextChoices):
        GRID = "grid", _("grid")
        BUILDING = "building", _("building")
        LIST = "list", _("household list")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    grid = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")
    building = models.CharField(max_length=30, blank=True)
    claimed = models.BooleanField(default=False)  # taken by the worker (认领), not handed out
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["grid__path", "building"]

    def __str__(self) -> str:
        return f"{self.grid} {self.building}".strip()


class ProgressState(models.TextChoices):
    NOT_STARTED = "not_started", _("not started")
    REVISIT = "revisit", _("nobody home, revisit")
    REFUSED = "refused", _("refused")
    SELF_REPORTED = "self_reported", _("self-reported, to verify")
    SCREENED = "screened", _("screened")
    VACANT = "vacant", _("confirmed vacant")
    ESCALATED = "escalated", _("escalated")


CLOSED_STATES = {ProgressState.SCREENED, ProgressState.VACANT, ProgressState.ESCALATED}


class HouseholdProgress(models.Model):
    """The household's state in a campaign, moved in the same transaction as each visit, so that
    coverage at any level is a cheap read. `recompute_progress` rebuilds it from the visits."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="progress")
    household = models.ForeignKey(
        "registry.Household", on_delete=models.CASCADE, related_name="progress"
    )
    grid = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(
        max_length=16, choices=ProgressState.choices, default=ProgressState.NOT_STARTED
    )
    closed = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Nobody-home and refused knocks so far: escalation counts these.
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    last_outcome = models.CharField(max_length=16, blank=True)
    last_visit_at = models.DateTimeField(null=True, blank=True)
    revisit_due_at = models.DateTimeField(null=True, blank=True)
    persons_total = models.PositiveSmallIntegerField(default=0)
    persons_seen = models.PositiveSmallIntegerField(default=0)
    persons_elsewhere = models.PositiveSmallIntegerField(default=0)
    persons_flagged = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "household"], name="one_progress_per_hh"),
        ]
        indexes = [
            # Covering: the coverage rollup (GROUP BY grid, state with the person sums) reads
            # this index alone, never the table.
            models.Index(
                fields=[
                    "campaign",
                    "grid",
                    "state",
                    "persons_total",
                    "persons_seen",
                    "persons_elsewhere",
                    "persons_flagged",
                ],
                name="progress_rollup_cover",
            ),
            # A worker's list, already in grid order.
            models.Index(fields=["campaign", "assigned_to", "grid"], name="progress_worker_list"),
            # The dashboards' overdue revisits (selectors.revisits_overdue): a range per
            # grid, or over the campaign's open revisits, never the campaign's every row.
            models.Index(
                fields=["campaign", "state", "grid", "revisit_due_at"], name="progress_revisit_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.household_id} {self.state}"


class TallyFigures(models.Model):
    """The figures a tally row keeps for the households of one state: a grid's (GridTally) or
    the sum of the grids under one area (ParentTally), moved together by `tally.py`."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=ProgressState.choices)
    households = models.IntegerField(default=0)
    persons = models.IntegerField(default=0)
    seen = models.IntegerField(default=0)
    elsewhere = models.IntegerField(default=0)
    flagged = models.IntegerField(default=0)

    class Meta:
        abstract = True


class GridTally(TallyFigures):
    """Households of one grid in one state, with their person sums: the coverage rollup reads
    these few thousand rows instead of grouping a third of a million progress rows. Moved by
    `tally.py` in the same transaction as the progress row; `recompute_progress` checks it
    against a GROUP BY over the progress rows (and `--fix` rebuilds it)."""

    grid = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "grid", "state"], name="one_tally_per_grid_state"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.grid_id}:{self.state} {self.households}"


class ParentTally(TallyFigures):
    """The grid tallies of the grids under one area (their parent: a community, mostly) summed
    per state: a district's or a street's roll-up reads a few hundred of these instead of every
    grid's row (10,000 grids make ~25,000 grid tallies). Moved with the grid tally by
    `tally.py` in the same transaction (a community's visits contend on its rows, never the
    district's); `recompute_progress` checks them against the progress rows."""

    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "area", "state"], name="one_parent_tally_per_area_state"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.area_id}:{self.state} {self.households}"


class VisitOutcome(models.TextChoices):
    SCREENED = "screened", _("screened")
    NOT_HOME = "not_home", _("nobody home")
    REFUSED = "refused", _("refused")
    VACANT = "vacant", _("vacant")
    MOVED = "moved", _("moved out")


class VisitSource(models.TextChoices):
    FIELD = "field", _("field (phone)")
    EVENING = "evening", _("evening entry")
    SELF_REPORT = "self_report", _("self-report")
    PHONE = "phone", _("phone call")
    SHEET = "sheet", _("sheet upload")


class Visit(models.Model):
    """One knock on one door."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="visits")
    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="visits"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visits",
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=VisitOutcome.choices)
    source = models.CharField(
        _("source"), max_length=16, choices=VisitSource.choices, default=VisitSource.FIELD
    )
    visited_at = models.DateTimeField(_("visited at"))
    entered_at = models.DateTimeField(_("entered at"), default=timezone.now)
    client_uuid = models.UUIDField(unique=True, default=uuid.uuid4)
    # sha256 of the submitted body: same UUID with another body is a conflict, not a retry.
    body_hash = models.CharField(max_length=64, blank=True)
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    # Self-reports count only once a worker verifies them.
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-visited_at"]
        indexes = [
            models.Index(fields=["campaign", "household", "visited_at"]),
            # the brief's records typed on a day, per worker and per area (entered_at ranges)
            models.Index(fields=["campaign", "entered_at"], name="visit_campaign_entered"),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.outcome} {self.visited_at:%Y-%m-%d %H:%M}"

    @property
    def counts(self) -> bool:
        return self.source != VisitSource.SELF_REPORT or self.verified_at is not None


class Presence(models.TextChoices):
    PRESENT = "present", _("present")
    IN_DISTRICT = "in_district", _("elsewhere in the district")
    OUT_OF_TOWN = "out_of_town", _("out of town")
    MOVED_OUT = "moved_out", _("moved out")
    UNKNOWN = "unknown", _("unknown")


class PersonCheck(models.Model):
    """One person in one visit: where they are and the health and travel answers."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="checks")
    # Empty only once the campaign is anonymised (retention.py): the answers' link to a named
    # person is cut, the presence and flag stay for the figures.
    person = models.ForeignKey(
        "registry.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="checks"
    )
    presence = models.CharField(
        _("presence"), max_length=16, choices=Presence.choices, default=Presence.PRESENT
    )
    whereabouts = models.CharField(_("where"), max_length=100, blank=True)
    expected_return = models.DateField(_("expected return"), null=True, blank=True)
    temperature = models.DecimalField(
        _("temperature"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    # A present person's temperature was not taken: why (see rules.NOT_MEASURED_REASONS).
    temperature_not_measured = models.CharField(
        _("not measured, because"), max_length=100, blank=True
    )
    # The second reading asked for when the first is at or above the fever threshold.
    temperature_recheck = models.DecimalField(
        _("second reading"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    symptoms = models.JSONField(_("symptoms"), default=list, blank=True)
    travel_from = models.CharField(_("came from"), max_length=50, blank=True)
    returned_on = models.DateField(_("returned on"), null=True, blank=True)
    travel_means = models.CharField(_("means of travel"), max_length=50, blank=True)
    contact_with_case = models.BooleanField(_("contact with a case"), default=False)
    notes = models.CharField(_("notes"), max_length=300, blank=True)
    flags = models.JSONField(default=list, blank=True)  # e.g. ["fever", "risk_area"]
    flagged = models.BooleanField(default=False, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["visit", "person"], name="one_check_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.presence}"


class SelfReportToken(models.Model):
    """The code on a notice slip: lets that one household answer, for that campaign only."""

    token = models.CharField(max_length=32, unique=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "household"], name="one_token_per_hh"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.household_id}"


class HeldReason(models.TextChoices):
    REASSIGNED = "reassigned", _("the household was assigned to someone else meanwhile")
    SCREENED_BY_OTHER = "screened_by_other", _("someone else screened the household meanwhile")


class HeldState(models.TextChoices):
    HELD = "held", _("waiting for a decision")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("rejected")


class HeldVisit(models.Model):
    """A visit recorded offline that could not simply be recorded when it reached the server
    (issue 14): the household was moved to another worker, or someone else screened it in the
    meantime. Never dropped: the community admin accepts it (it becomes the original worker's
    visit) or rejects it with a reason. `form` is the visit form as the phone posted it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey("registry.Household", on_delete=models.PROTECT, related_name="+")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    client_uuid = models.UUIDField(unique=True)
    body_hash = models.CharField(max_length=64)
    visited_at = models.DateTimeField(_("visited at"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=VisitOutcome.choices)
    form = models.JSONField(default=list)
    reason = models.CharField(_("reason"), max_length=20, choices=HeldReason.choices)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=10, choices=HeldState.choices, default=HeldState.HELD
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("reason for rejecting"), max_length=200, blank=True)
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["received_at", "pk"]
        indexes = [models.Index(fields=["campaign", "state"])]

    def __str__(self) -> str:
        return f"{self.household_id} {self.reason} {self.state}"
