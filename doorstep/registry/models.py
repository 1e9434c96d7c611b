"""The roster (住户名单): households and the persons living in them."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class HouseholdKind(models.TextChoices):
    REGISTERED = "registered", _("registered (户籍)")
    RENTED = "rented", _("rented (租住)")
    COLLECTIVE = "collective", _("collective (集体户)")


class HouseholdStatus(models.TextChoices):
    OCCUPIED = "occupied", _("occupied")
    VACANT = "vacant", _("vacant")
    GONE = "gone", _("gone")


class Household(models.Model):
    grid = models.ForeignKey(
        "areas.Area", verbose_name=_("grid"), on_delete=models.PROTECT, related_name="households"
    )
    # 户号: the key a roster row is matched on. Unique across the district.
    household_number = models.CharField(_("household number"), max_length=40, unique=True)
    road = models.CharField(_("road"), max_length=100, blank=True)
    house_number = models.CharField(_("house number"), max_length=30, blank=True)
    building = models.CharField(_("building"), max_length=30, blank=True)
    unit = models.CharField(_("unit"), max_length=30, blank=True)
    room = models.CharField(_("room"), max_length=30, blank=True)
    # The address as written on the source list, kept when it could not be split into parts.
    address = models.CharField(_("address"), max_length=200, blank=True)
    # Floor from the room number (501 → 5), for walking order on the stairs.
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)
    kind = models.CharField(
        _("kind"), max_length=16, choices=HouseholdKind.choices, default=HouseholdKind.REGISTERED
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=HouseholdStatus.choices,
        default=HouseholdStatus.OCCUPIED,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The time of the roster import run that last matched this row unchanged (imports/conflicts.py).
    import_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        indexes = [
            models.Index(
                fields=["grid", "building", "unit", "floor", "room"], name="hh_walk_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_number} {self.address_display}"

    @property
    def address_display(self) -> str:
        parts = [self.road, self.house_number]
        if self.building:
            parts.append(f"{self.building}栋")
        if self.unit:
            parts.append(f"{self.unit}单元")
        if self.room:
            parts.append(self.room)
        text = "".join(p for p in parts if p)
        return text or self.address


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("resident ID card")
    PASSPORT = "passport", _("passport")
    HK_MACAU = "hk_macau", _("Hong Kong/Macau permit")
    TAIWAN = "taiwan", _("Taiwan permit")
    FOREIGN_RESIDENT = "foreign_resident", _("foreign permanent residence")
    NONE = "none", _("none (infant / not issued)")


class Sex(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")
    UNKNOWN = "", _("unknown")


class Residency(models.TextChoices):
    PERMANENT = "permanent", _("permanent (常住)")
    TEMPORARY = "temporary", _("temporary (暂住)")
    FLOATING = "floating", _("floating (流动)")


class PersonStatus(models.TextChoices):
    ACTIVE = "active", _("living here")
    MOVED_OUT = "moved_out", _("moved out")
    DECEASED = "deceased", _("deceased")


class Person(models.Model):
    # NULL: a bare person (a visitor, someone not on any roster) followed up by a community
    # (followup.KeyPerson.community says which); such a person is flagged `is_new`.
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        on_delete=models.PROTECT,
        related_name="persons",
        null=True,
        blank=True,
    )
    name = models.CharField(_("name"), max_length=50, db_index=True)
    id_type = models.CharField(
        _("ID type"), max_length=20, choices=IdType.choices, default=IdType.RESIDENT_ID
    )
    # Unique across the district when present: a second household claiming it is a conflict.
    # NULL, not "", for "no number", so that the partial unique constraint ignores infants.
    id_number = models.CharField(  # noqa: DJ001
        _("ID number"), max_length=32, null=True, blank=True
    )
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    relation = models.CharField(_("relation to head"), max_length=20, blank=True)
    residency = models.CharField(
        _("residency"), max_length=16, choices=Residency.choices, default=Residency.PERMANENT
    )
    status = models.CharField(
        _("status"), max_length=16, choices=PersonStatus.choices, default=PersonStatus.ACTIVE
    )
    # A number given for this person (at the door, in a form) that a record outside the giver's
    # jurisdiction already carries: kept here, out of the unique column, and shown (masked) like
    # any number, until the reconciliation case (IdReconciliation) decides. The giver is not
    # told: an answer never depends on records outside the caller's jurisdiction.
    id_number_held = models.CharField(  # noqa: DJ001
        _("ID number to reconcile"), max_length=32, null=True, blank=True, db_index=True
    )
    # Found at the door but not on the roster: added by a worker, to be confirmed.
    is_new = models.BooleanField(_("new (not on roster)"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    import_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        constraints = [
            models.UniqueConstraint(
                fields=["id_number"],
                condition=models.Q(id_number__isnull=False),
                name="person_id_number_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_id_number(self) -> str | None:
        """The number as the person's record shows it (masked, in every list): the confirmed
        one, or one waiting for reconciliation, which looks no different."""
        return self.id_number or self.id_number_held


class RosterCount(models.Model):
    """The households and persons on the roster of one grid (every status: the dashboards'
    header counts them all; a person without a household is on no grid's roster). Moved by
    every writer of the roster in its own transaction (`counts.py`), so the dashboards sum a
    row per grid instead of counting the roster; `recount_roster` compares them with a COUNT
    over the roster and `--fix` rebuilds them."""

    grid = models.OneToOneField(
        "areas.Area", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    households = models.IntegerField(default=0)
    persons = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.grid_id}: {self.households} households, {self.persons} persons"


class RosterParentCount(models.Model):
    """The roster counts of the grids under one area (their parent: a community, mostly)
    summed, moved with the grids' rows: a district's or a street's header sums a few hundred of
    these instead of every grid's row."""

    area = models.OneToOneField(
        "areas.Area", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    households = models.IntegerField(default=0)
    persons = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.area_id}: {self.households} households, {self.persons} persons"


class ReconciliationStatus(models.TextChoices):
    PENDING = "pending", _("to reconcile")
    MOVED = "moved", _("same person, moved here")
    CORRECTED = "corrected", _("number corrected")
    CONFIRMED = "confirmed", _("number confirmed")


class IdReconciliation(models.Model):
    """A person recorded with an ID number that another record, outside the recorder's
    jurisdiction, already carries: moved house, or a wrong number? The community admins (and
    above) of the person's household decide on the reconciliation list; the recorder was told
    nothing. The number stays in this row after the case is closed, as the record of what was
    claimed."""

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="reconciliations", verbose_name=_("person")
    )
    id_type = models.CharField(_("ID type"), max_length=20, choices=IdType.choices)
    id_number = models.CharField(_("ID number"), max_length=32)
    # The record that carried the number when the case was opened (it may have changed since).
    holder = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Where the case belongs when its person has no household (a person followed up by a
    # community before they are on its roster): that community's admins decide it.
    area = models.ForeignKey(
        "areas.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=32)  # visit source (field, evening, sheet…) or "form"
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reported_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ReconciliationStatus.choices,
        default=ReconciliationStatus.PENDING,
        db_index=True,
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ID number reconciliation")
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=models.Q(status="pending"),
                name="one_pending_reconciliation_per_person",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.status}"


class RecordChange(models.Model):
    """One edit of a household or person: who, when, which fields, old → new (masked)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="changes")
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, null=True, blank=True, related_name="changes"
    )
    source = models.CharField(max_length=64, default="edit")  # edit | import:<job id> | visit
    changes = models.JSONField(default=dict)  # {field: [old, new]}, personal values masked

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.source} {sorted(self.changes)}"
