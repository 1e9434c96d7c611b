"""Traffic checkpoints (交通卡口): who arrived, in what, from where, bound for which community, and
the handoff that closes when the destination community accepts or reports "not found".

A `VehiclePassage` is one vehicle (or one foot passenger's group) passing a checkpoint, and an
`Arrival` is one person in it: the occupant is the arrival, so there is no third table. Both
carry the client's UUID and a digest of what the client sent (same UUID + other body → 409).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CheckpointKind(models.TextChoices):
    HIGHWAY_EXIT = "highway_exit", _("highway exit")
    RAILWAY_STATION = "railway_station", _("railway station")
    BUS_STATION = "bus_station", _("bus station")
    NEIGHBOUR_ROAD = "neighbour_road", _("road from a neighbouring district")


def default_handoff_hours() -> int:
    return int(settings.DOORSTEP_HANDOFF_HOURS)


class Checkpoint(models.Model):
    district = models.ForeignKey(
        "areas.Area", verbose_name=_("district"), on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=CheckpointKind.choices)
    # The risk rules and the handoff deadline of this checkpoint (the risk-area list itself is
    # the sweep's editable one, screening.RiskArea).
    lookback_days = models.PositiveSmallIntegerField(_("travel look-back days"), default=14)
    fever_threshold = models.DecimalField(
        _("fever from (°C)"), max_digits=3, decimal_places=1, default=Decimal("37.3")
    )
    handoff_hours = models.PositiveSmallIntegerField(
        _("handoff deadline (hours)"), default=default_handoff_hours
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("checkpoint")

    def __str__(self) -> str:
        return self.name


class CheckpointOfficer(models.Model):
    """An officer's post. The checkpoint role holds no area (accounts refuses it): the link to
    the checkpoint lives here, one checkpoint per officer."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkpoint_post"
    )
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="officers")

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.checkpoint_id}"


class VehicleKind(models.TextChoices):
    CAR = "car", _("car")
    BUS = "bus", _("bus / coach")
    TRUCK = "truck", _("truck")
    TRAIN = "train", _("train (passengers on foot)")
    OTHER = "other", _("other")


class VehiclePassage(models.Model):
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="passages")
    client_uuid = models.UUIDField(unique=True)
    body_hash = models.CharField(max_length=64)
    plate = models.CharField(_("plate / train number"), max_length=20, blank=True)
    kind = models.CharField(_("vehicle"), max_length=16, choices=VehicleKind.choices)
    origin = models.CharField(_("origin"), max_length=100, blank=True)
    destination = models.CharField(_("destination"), max_length=200, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["checkpoint", "arrived_at"])]

    def __str__(self) -> str:
        return self.plate or str(self.client_uuid)


class Purpose(models.TextChoices):
    HOME = "home", _("returning home")
    VISIT = "visit", _("visiting family or friends")
    WORK = "work", _("work")
    PASSING = "passing", _("passing through")
    OTHER = "other", _("other")


class Route(models.TextChoices):
    """Where an arrival went after the checkpoint."""

    NONE = "none", _("no handoff needed")
    PASSING = "passing", _("passing through (counted, never handed off)")
    HANDED_OFF = "handed_off", _("handed off to a community")
    UNMATCHED = "unmatched", _("unmatched: command routes it")
    HANDED_OUT = "handed_out", _("handed out to another district")


class MatchStatus(models.TextChoices):
    MATCHED = "matched", _("matched")
    UNCERTAIN = "uncertain", _("uncertain")
    UNMATCHED = "unmatched", _("no match")
    OUTSIDE = "outside", _("outside the district")
    ROUTED = "routed", _("routed by hand")


class Arrival(models.Model):
    """One person arriving (an occupant of a passage), with the risk rules' verdict, the match
    of the typed destination, and the handoff it belongs to."""

    passage = models.ForeignKey(VehiclePassage, on_delete=models.PROTECT, related_name="arrivals")
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="arrivals")
    client_uuid = models.UUIDField(unique=True)
    body_hash = models.CharField(max_length=64)
    name = models.CharField(_("name"), max_length=50)
    id_type = models.CharField(_("ID type"), max_length=20, default="resident_id")
    id_number = models.CharField(  # noqa: DJ001 - NULL means "not given" (flagged)
        _("ID number"), max_length=32, null=True, blank=True, db_index=True
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    origin = models.CharField(_("origin"), max_length=100, blank=True)
    destination = models.CharField(_("destination address"), max_length=200, blank=True)
    purpose = models.CharField(
        _("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.HOME
    )
    temperature = models.DecimalField(
        _("temperature"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    symptoms = models.JSONField(_("symptoms"), default=list, blank=True)
    # The day the person left the origin, when it is not the day of arrival (look-back rule).
    left_origin_on = models.DateField(_("left origin on"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"))
    # Missing ID number or phone: kept, and listed for completion.
    needs_completion = models.BooleanField(_("to complete"), default=False)
    risk_flags = models.JSONField(default=list, blank=True)  # fever, symptoms, risk_area
    is_risk = models.BooleanField(_("risk"), default=False)
    risk_area = models.CharField(max_length=50, blank=True)  # the list entry the origin matched
    route = models.CharField(max_length=16, choices=Route.choices, default=Route.NONE)
    match_status = models.CharField(max_length=16, choices=MatchStatus.choices, blank=True)
    match_method = models.CharField(max_length=32, blank=True)
    match_confidence = models.FloatField(null=True, blank=True)
    # Uncertain matches: [{"community": id, "name": …, "score": …}], best first.
    match_candidates = models.JSONField(default=list, blank=True)
    community = models.ForeignKey(
        "areas.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    household = models.ForeignKey(
        "registry.Household", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    person = models.ForeignKey(
        "registry.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handoff = models.ForeignKey(
        "Handoff", on_delete=models.PROTECT, null=True, blank=True, related_name="arrivals"
    )
    # A fever opens a referral at once: the key person it was opened for, and the referral.
    key_person = models.ForeignKey(
        "followup.KeyPerson", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    referral = models.ForeignKey(
        "followup.Referral", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["checkpoint", "arrived_at"]),
            models.Index(fields=["route", "checkpoint"]),
        ]

    def __str__(self) -> str:
        return self.name


class HandoffStatus(models.TextChoices):
    PENDING = "pending", _("waiting for the community")
    ACCEPTED = "accepted", _("accepted")
    NOT_FOUND = "not_found", _("not found")


class NotFoundReason(models.TextChoices):
    WRONG_ADDRESS = "wrong_address", _("wrong address")
    LEFT_DISTRICT = "left_district", _("left the district")
    NEVER_ARRIVED = "never_arrived", _("never arrived")
    OTHER = "other", _("other")


class Handoff(models.Model):
    """A risk arrival sent to the community where the person stays. Pending until that
    community accepts or reports not found; a re-route hands it to another community of the
    district, which must accept in turn. Overdue is read from `deadline`, never stored."""

    district = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")
    # Who the handoff is about: the ID number, else name + phone. One pending handoff per
    # person and community: a second risk arrival of the same person bound for the same
    # community joins it; bound for another community, it opens that community's own handoff
    # (constraint below), so no community reads an address given for another.
    person_key = models.CharField(max_length=120)
    status = models.CharField(
        max_length=16, choices=HandoffStatus.choices, default=HandoffStatus.PENDING
    )
    received_at = models.DateTimeField()  # by the current community
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # An accept or a report after the deadline is taken, and how late it was is kept.
    late_seconds = models.PositiveIntegerField(null=True, blank=True)
    not_found_reason = models.CharField(max_length=16, choices=NotFoundReason.choices, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    reroutes = models.PositiveSmallIntegerField(default=0)
    # The key person the accept made (followup.key_person_add), monitored from the arrival date.
    key_person = models.ForeignKey(
        "followup.KeyPerson", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["community", "status", "deadline"]),
            models.Index(fields=["district", "status", "deadline"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person_key", "community"],
                condition=models.Q(status="pending"),
                name="one_pending_handoff_per_person_and_community",
            )
        ]

    def __str__(self) -> str:
        return f"handoff {self.pk} → {self.community_id} ({self.status})"


class HandoffAction(models.TextChoices):
    SENT = "sent", _("sent")
    JOINED = "joined", _("another arrival joined")
    ACCEPTED = "accepted", _("accepted")
    NOT_FOUND = "not_found", _("not found")
    REROUTED = "rerouted", _("re-routed")


class HandoffEvent(models.Model):
    """The handoff's history: the checkpoint reads every outcome from here, reasons included."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=HandoffAction.choices)
    at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_community = models.ForeignKey(
        "areas.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_community = models.ForeignKey(
        "areas.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=16, blank=True)
    note = models.CharField(max_length=300, blank=True)
    arrival = models.ForeignKey(
        Arrival, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.handoff_id} {self.action}"
