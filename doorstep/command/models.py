"""The command center's own records: the frozen brief of each area and day, and the public
bulletin with its approvals and suppression log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImmutableQuerySet(models.QuerySet["BriefSnapshot"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("a brief snapshot never changes")


class BriefSnapshot(models.Model):
    """The brief of one area on one day as it stood at the day's cut-off (the meeting's
    figures). Written once by `services.brief_freeze`; never updated (queryset and save refuse),
    so the figures read at the meeting can be reproduced."""

    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")
    day = models.DateField(_("day"))
    cut_off_at = models.DateTimeField(_("cut-off"))
    taken_at = models.DateTimeField(_("taken at"), auto_now_add=True)
    sections = models.JSONField(default=list)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        verbose_name = _("brief snapshot")
        constraints = [
            models.UniqueConstraint(fields=["area", "day"], name="one_snapshot_per_area_day"),
        ]
        indexes = [models.Index(fields=["day", "area"])]

    def __str__(self) -> str:
        return f"{self.area_id} {self.day}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("a brief snapshot never changes")
        super().save(*args, **kwargs)


class BulletinStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    APPROVED = "approved", _("approved")
    PUBLISHED = "published", _("published")


class BulletinQuerySet(models.QuerySet["Bulletin"]):
    def update(self, **kwargs: Any) -> int:
        """A published bulletin is immutable: bulk updates pass it by."""
        return models.QuerySet.update(self.exclude(status=BulletinStatus.PUBLISHED), **kwargs)


class Bulletin(models.Model):
    """A public bulletin (信息发布) for one district and day. Drafted from the day's figures and a
    text template, edited by command staff, approved by a second command user, published.
    Published is final: a correction is a new version pointing at the one it corrects."""

    district = models.ForeignKey("areas.Area", on_delete=models.PROTECT, related_name="+")
    day = models.DateField(_("day"))
    version = models.PositiveSmallIntegerField(default=1)
    corrects = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrected_by"
    )
    correction_note = models.TextField(_("what changed"), blank=True)
    status = models.CharField(
        max_length=16, choices=BulletinStatus.choices, default=BulletinStatus.DRAFT
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    k = models.PositiveSmallIntegerField(_("smallest count shown"), default=5)
    # The published table after disclosure control: [{area, name, level, parent, values}]
    table = models.JSONField(default=list)
    # One entry per hidden cell or withheld change: why (primary, complementary, change).
    suppression_log = models.JSONField(default=list)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = BulletinQuerySet.as_manager()

    class Meta:
        verbose_name = _("bulletin")
        ordering = ["-day", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "day", "version"], name="one_bulletin_version"
            ),
            models.CheckConstraint(
                condition=~models.Q(approved_by=models.F("author")),
                name="bulletin_approver_is_not_author",
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(approved_by__isnull=False),
                name="bulletin_approved_before_publication",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and (
            Bulletin.objects.filter(pk=self.pk, status=BulletinStatus.PUBLISHED).exists()
        ):
            raise PermissionError("a published bulletin never changes: make a correction")
        super().save(*args, **kwargs)


class DataElementCode(models.Model):
    """The mapping table of the exports for the level above (DHIS2 dataValueSets, ADX): which
    figure of the brief goes out under which data element code."""

    figure = models.CharField(_("figure"), max_length=64, unique=True)
    code = models.CharField(_("data element code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.figure} → {self.code}"


class OrgUnitCode(models.Model):
    """The mapping table's org units: an area and its code upstream."""

    area = models.OneToOneField("areas.Area", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(_("org unit code"), max_length=64, unique=True)

    def __str__(self) -> str:
        return f"{self.area_id} → {self.code}"
