"""The area tree: district → street/town → community/village → grid.

Each area stores its materialised path of codes ("/500109/500109001/…/"), so a subtree is one
range scan on an ordinary B-tree index on SQLite and PostgreSQL alike (see `path_prefix_q`).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AreaLevel(models.IntegerChoices):
    DISTRICT = 1, _("district")
    STREET = 2, _("street / town")
    COMMUNITY = 3, _("community / village")
    GRID = 4, _("grid")


class Area(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), choices=AreaLevel.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    path = models.CharField(max_length=255, unique=True, editable=False)

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level=AreaLevel.DISTRICT) | models.Q(parent__isnull=False),
                name="area_parent_required_below_district",
            ),
        ]
        indexes = [models.Index(fields=["level", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """Grids are named 第1网格 in every community: say which community."""
        if self.level == AreaLevel.GRID and self.parent_id:
            return f"{self.parent.name} {self.name}"
        return self.name

    @staticmethod
    def path_for(*, parent: "Area | None", code: str) -> str:
        return f"{parent.path if parent else '/'}{code}/"

    def is_within(self, other: "Area") -> bool:
        return self.path.startswith(other.path)
