"""Targeted follow-up (有针对性的摸排): key persons, their monitoring, daily checks, fever-clinic
referrals and isolation facilities.

The figures of point 4 (due, missed, lost) are derived from the checks and the schedule
(`schedule.py`) at read time. `Monitoring.last_check_at`, `checked_on` and `checked_mask` are a
tally of the checks kept in the check's own transaction, so the district's counts read one row
per monitoring instead of its checks; `recompute_followup` rebuilds them from the checks and
reports every difference.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from doorstep.screening.rules import TEMPERATURE_RANGE


class ReasonKind(models.TextChoices):
    RISK_AREA_ARRIVAL = "risk_area_arrival", _("arrival from a risk area")
    CLOSE_CONTACT = "close_contact", _("close contact of a case")
    FEVER_SYMPTOMS = "fever_symptoms", _("fever or symptoms")
    OTHER = "other", _("other")


class SourceKind(models.TextChoices):
    SWEEP = "sweep", _("sweep")
    MANUAL = "manual", _("by hand")
    CLINIC = "clinic", _("fever clinic")
    CHECKPOINT = "checkpoint", _("checkpoint")


class Measure(models.TextChoices):
    HOME_ISOLATION = "home_isolation", _("home isolation")
    CENTRALISED_ISOLATION = "centralised_isolation", _("centralised isolation")
    HEALTH_MONITORING = "health_monitoring", _("health monitoring")


class MonitoringStatus(models.TextChoices):
    ACTIVE = "active", _("under monitoring")
    RELEASED = "released", _("released")
    ADMITTED = "admitted", _("admitted to hospital")
    MERGED = "merged", _("merged into another record")


class ReasonLength(models.Model):
    """How many days a reason keeps a person under monitoring after its exposure day (day 0).
    Set by command staff; a kind without a row counts FOLLOWUP_DEFAULT_DAYS (14)."""

    kind = models.CharField(_("reason"), max_length=24, choices=ReasonKind.choices, unique=True)
    days = models.PositiveSmallIntegerField(_("days"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("monitoring length")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(days__gte=1, days__lte=60), name="reason_length_1_to_60_days"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.days}"


class KeyPerson(models.Model):
    """One record per person (重点人员), whatever the sources."""

    person = models.OneToOneField(
        "registry.Person", on_delete=models.PROTECT, related_name="key_person"
    )
    # The responsible community (its path scopes every read) and worker.
    community = models.ForeignKey(
        "areas.Area", on_delete=models.PROTECT, related_name="key_persons"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="key_persons",
        db_index=False,  # a partial index (Meta): the key persons given to a worker
    )
    # A transfer to the community where the person lives: until that community accepts it, both
    # see the record and it counts as the sender's.
    transfer_to = models.ForeignKey(
        "areas.Area",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # a partial index (Meta): the few key persons being transferred
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        # One record per person: the OneToOneField's unique index is the rule (two callers at
        # once: one insert wins, the other's IntegrityError finds the winner's record).
        verbose_name = _("key person")
        indexes = [
            # Only the key persons being transferred (nearly every transfer_to is NULL). SQLite's
            # ANALYZE counts the NULLs as one value: on a full index it noted ~every key person
            # per transfer_to value, so an admin's scope (community IN ... OR transfer_to IN
            # ...) looked like a scan of every key person and the due list walked every active
            # monitoring instead (44 ms against 0.7 at 50,000). The partial index holds no NULL.
            models.Index(
                fields=["transfer_to"],
                name="keyperson_transfer_to_set",
                condition=models.Q(transfer_to__isnull=False),
            ),
            # The same for the worker: while few key persons have one (those a community has
            # not yet given out have none), ANALYZE on a full index counted the NULLs as one
            # value and SQLite judged a worker's `worker_id = %s` to match half the table, so a
            # worker's due count walked every active monitoring (~42,000 at 1M persons, 30 ms)
            # for their 156 key persons. `worker_id = %s` implies IS NOT NULL: the partial
            # index serves it (and the user's PROTECT check on delete).
            models.Index(
                fields=["worker"],
                name="keyperson_worker_set",
                condition=models.Q(worker__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"key person {self.pk}"


class Reason(models.Model):
    key_person = models.ForeignKey(KeyPerson, on_delete=models.CASCADE, related_name="reasons")
    kind = models.CharField(_("reason"), max_length=24, choices=ReasonKind.choices)
    exposure_date = models.DateField(_("exposure date"))
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    arrival_date = models.DateField(_("arrival date"), null=True, blank=True)
    contact_of = models.ForeignKey(
        KeyPerson, on_delete=models.PROTECT, null=True, blank=True, related_name="contacts"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.kind} {self.exposure_date}"


class Source(models.Model):
    key_person = models.ForeignKey(KeyPerson, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(_("source"), max_length=16, choices=SourceKind.choices)
    reference = models.CharField(max_length=100, blank=True)
    visit = models.ForeignKey(
        "screening.Visit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    person_check = models.ForeignKey(
        "screening.PersonCheck", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"


class Monitoring(models.Model):
    """A measure (管控措施) over a span of days. At most one open per key person."""

    key_person = models.ForeignKey(KeyPerson, on_delete=models.CASCADE, related_name="monitorings")
    measure = models.CharField(_("measure"), max_length=24, choices=Measure.choices)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=MonitoringStatus.choices,
        default=MonitoringStatus.ACTIVE,
        db_index=True,
    )
    started_at = models.DateTimeField()
    start_date = models.DateField(_("start date"))
    # The last day (inclusive) of the monitoring: the latest exposure of the active reasons plus
    # that reason's length, plus any extension. Monitoring ends at the end of this day.
    end_date = models.DateField(_("end date"), db_index=True)
    extension_days = models.PositiveSmallIntegerField(default=0)
    # Home isolation's eligibility answers: {"own_room": bool, "no_vulnerable": bool,
    # "supplies": bool}; empty for other measures.
    eligibility = models.JSONField(default=dict, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    release_reason = models.CharField(max_length=200, blank=True)
    # An early release asked for (with its reason) and waiting for the community admin.
    early_release_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    early_release_reason = models.CharField(max_length=200, blank=True)
    # The tally of the checks (see the module's docstring).
    last_check_at = models.DateTimeField(null=True, blank=True)
    checked_on = models.DateField(null=True, blank=True)
    checked_mask = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("monitoring")
        constraints = [
            models.UniqueConstraint(
                fields=["key_person"],
                condition=models.Q(status="active"),
                name="one_active_monitoring_per_key_person",
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="monitoring_ends_after_it_starts",
            ),
        ]
        indexes = [models.Index(fields=["status", "end_date"], name="monitoring_status_end")]

    def __str__(self) -> str:
        return f"monitoring {self.pk} {self.measure} {self.start_date}–{self.end_date}"


class ChangeKind(models.TextChoices):
    STARTED = "started", _("started")
    END_MOVED = "end_moved", _("end date moved")
    EXTENDED = "extended", _("extended")
    MEASURE = "measure", _("measure changed")
    REASSIGNED = "reassigned", _("reassigned")
    TRANSFER_ASKED = "transfer_asked", _("transfer asked")
    TRANSFER_ACCEPTED = "transfer_accepted", _("transfer accepted")
    EARLY_RELEASE_ASKED = "early_release_asked", _("early release asked")
    RELEASED = "released", _("released")
    PLACED = "placed", _("placed at a facility")
    REFERRAL = "referral", _("referral outcome")
    MERGED = "merged", _("merged")


class MonitoringChange(models.Model):
    """Every change of a monitoring: what, who, when, why; values as they were and became."""

    monitoring = models.ForeignKey(Monitoring, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=24, choices=ChangeKind.choices)
    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class CheckOutcome(models.TextChoices):
    MEASURED = "measured", _("measured")
    UNREACHABLE = "unreachable", _("could not be reached")


class CheckMethod(models.TextChoices):
    VISIT = "visit", _("at the door")
    PHONE = "phone", _("by phone")
    SELF = "self", _("self-reported")
    PAPER = "paper", _("paper sheet")


class Check(models.Model):
    """One check of one slot of one day: a second one for the slot replaces this one's values
    (the old ones go to CheckChange), never a second row."""

    monitoring = models.ForeignKey(Monitoring, on_delete=models.CASCADE, related_name="checks")
    slot_date = models.DateField()
    slot = models.PositiveSmallIntegerField()  # index into FOLLOWUP_SLOTS
    outcome = models.CharField(max_length=16, choices=CheckOutcome.choices)
    method = models.CharField(max_length=16, choices=CheckMethod.choices)
    temperature = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    # [] with outcome "measured" is the answer "no symptoms", kept as one.
    symptoms = models.JSONField(default=list, blank=True)
    measured_at = models.DateTimeField()
    entered_at = models.DateTimeField()
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    # Entered after its slot had ended (paper typed in the evening): accepted, and marked.
    late = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["monitoring", "slot_date", "slot"], name="one_check_per_slot"
            ),
            models.CheckConstraint(
                condition=models.Q(temperature__isnull=True)
                | models.Q(
                    temperature__gte=TEMPERATURE_RANGE[0], temperature__lte=TEMPERATURE_RANGE[1]
                ),
                name="check_temperature_in_range",
            ),
        ]
        indexes = [models.Index(fields=["slot_date", "monitoring"], name="check_day_monitoring")]

    def __str__(self) -> str:
        return f"check {self.monitoring_id} {self.slot_date} #{self.slot}"


class CheckChange(models.Model):
    """A check replaced by a later one for the same slot: the values it had."""

    check_row = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    previous = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"change of check {self.check_row_id}"


class CheckSubmission(models.Model):
    """A client's submission of a check, by its client UUID: a retry finds its first answer,
    the same UUID with another body is a conflict (409)."""

    client_uuid = models.UUIDField(unique=True)
    body_hash = models.CharField(max_length=64)
    check_row = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="submissions")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.client_uuid)


class FacilityKind(models.TextChoices):
    FEVER_CLINIC = "fever_clinic", _("fever clinic")
    ISOLATION_SITE = "isolation_site", _("isolation site")
    HOSPITAL = "hospital", _("designated hospital")


class Facility(models.Model):
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=FacilityKind.choices)
    # The area it serves (a district or street): visible to users whose jurisdiction is inside
    # it or above it.
    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="facilities")
    capacity = models.PositiveIntegerField(_("capacity (rooms or beds)"), default=0)
    address = models.CharField(_("address"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")

    def __str__(self) -> str:
        return self.name


class ClinicStaffing(models.Model):
    """The facility a clinic staff account works for: it sees that facility's referrals only."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clinic_staffing"
    )
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="staff")

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.facility_id}"


class Placement(models.Model):
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="placements")
    key_person = models.ForeignKey(KeyPerson, on_delete=models.PROTECT, related_name="placements")
    monitoring = models.ForeignKey(
        Monitoring, on_delete=models.PROTECT, null=True, related_name="placements"
    )
    since = models.DateTimeField()
    until = models.DateField(null=True, blank=True)  # planned
    ended_at = models.DateTimeField(null=True, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key_person"],
                condition=models.Q(ended_at__isnull=True),
                name="one_current_placement_per_key_person",
            )
        ]

    def __str__(self) -> str:
        return f"placement {self.key_person_id} @ {self.facility_id}"


class Transport(models.TextChoices):
    AMBULANCE = "ambulance", _("120 ambulance")
    COMMUNITY = "community", _("community vehicle")
    OWN = "own", _("on their own")


class ReferralStatus(models.TextChoices):
    OPEN = "open", _("on the way")
    ARRIVED = "arrived", _("arrived")
    CLOSED = "closed", _("outcome recorded")


class ReferralOutcome(models.TextChoices):
    EXCLUDED = "excluded", _("excluded")
    SUSPECTED = "suspected", _("suspected")
    CONFIRMED = "confirmed", _("confirmed")
    ADMITTED = "admitted", _("admitted")


class Referral(models.Model):
    key_person = models.ForeignKey(KeyPerson, on_delete=models.PROTECT, related_name="referrals")
    monitoring = models.ForeignKey(
        Monitoring, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    facility = models.ForeignKey(
        Facility, on_delete=models.PROTECT, null=True, blank=True, related_name="referrals"
    )
    temperature = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    symptoms = models.JSONField(default=list, blank=True)
    source_kind = models.CharField(max_length=16, choices=SourceKind.choices)
    source_reference = models.CharField(max_length=100, blank=True)
    transport = models.CharField(max_length=16, choices=Transport.choices, blank=True)
    transport_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.OPEN, db_index=True
    )
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    arrived_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=ReferralOutcome.choices, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    outcome_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="closed", outcome__gt="")
                | (~models.Q(status="closed") & models.Q(outcome="")),
                name="referral_outcome_iff_closed",
            )
        ]

    def __str__(self) -> str:
        return f"referral {self.pk} {self.status}"


class DuplicateStatus(models.TextChoices):
    PENDING = "pending", _("to decide")
    MERGED = "merged", _("merged")
    KEPT_APART = "kept_apart", _("kept apart")


class PossibleDuplicate(models.Model):
    """Two key persons that may be one (same name, no certain match): a person decides."""

    key_person = models.ForeignKey(KeyPerson, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(KeyPerson, on_delete=models.CASCADE, related_name="+")
    why = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=DuplicateStatus.choices, default=DuplicateStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key_person", "other"], name="one_duplicate_case"),
        ]

    def __str__(self) -> str:
        return f"{self.key_person_id} ~ {self.other_id}"


class SelfCheckToken(models.Model):
    """A no-login link (and its QR) for one person's own checks, valid during one monitoring."""

    token = models.CharField(max_length=64, unique=True)
    monitoring = models.OneToOneField(
        Monitoring, on_delete=models.CASCADE, related_name="self_check_token"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"self-check token {self.monitoring_id}"


class HeldCheckReason(models.TextChoices):
    REASSIGNED = "reassigned", _("the key person was given to another worker")
    TRANSFERRED = "transferred", _("the key person was transferred to another community")


class HeldCheckState(models.TextChoices):
    HELD = "held", _("waiting for a decision")
    ACCEPTED = "accepted", _("accepted")
    DISCARDED = "discarded", _("discarded")


class HeldCheck(models.Model):
    """A check recorded offline for a key person whose responsible worker changed before it
    reached the server (issue 14, point 7): never dropped, kept for the admins of the key
    person's community (holding.py). `form` is the check form as the phone posted it; the
    sender and the time saved on the phone stay the check's when it is accepted."""

    key_person = models.ForeignKey(KeyPerson, on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    client_uuid = models.UUIDField(unique=True)
    body_hash = models.CharField(max_length=64)
    measured_at = models.DateTimeField(_("measured at"))
    form = models.JSONField(default=list)
    reason = models.CharField(_("reason"), max_length=20, choices=HeldCheckReason.choices)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=10, choices=HeldCheckState.choices, default=HeldCheckState.HELD
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("reason for discarding"), max_length=200, blank=True)
    check_row = models.ForeignKey(
        Check, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["received_at", "pk"]
        indexes = [models.Index(fields=["state", "key_person"], name="held_check_state_kp")]

    def __str__(self) -> str:
        return f"held check {self.key_person_id} {self.reason} {self.state}"
