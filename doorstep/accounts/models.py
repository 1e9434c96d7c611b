from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COMMAND = "command", _("command (指挥部)")
    STREET_ADMIN = "street_admin", _("street admin (街道)")
    COMMUNITY_ADMIN = "community_admin", _("community admin (社区)")
    GRID_WORKER = "grid_worker", _("grid worker (网格员)")
    CHECKPOINT_OFFICER = "checkpoint_officer", _("checkpoint officer (卡口)")
    CLINIC_STAFF = "clinic_staff", _("clinic staff (发热门诊)")
    INSTITUTION_REPORTER = "institution_reporter", _("institution reporter (单位)")


# Roles whose jurisdiction is a piece of the area tree, and the area level each one must hold.
AREA_ROLE_LEVELS = {
    Role.COMMAND: 1,
    Role.STREET_ADMIN: 2,
    Role.COMMUNITY_ADMIN: 3,
    Role.GRID_WORKER: 4,
}
# Roles with no place in the area tree: a checkpoint, a clinic, an institution. They never hold
# an area (the database refuses it): an area would open its roster to them.
AREA_LESS_ROLES = (Role.CHECKPOINT_OFFICER, Role.CLINIC_STAFF, Role.INSTITUTION_REPORTER)
# Who may manage the roster (edit, import) inside their jurisdiction.
ROSTER_MANAGER_ROLES = {Role.COMMAND, Role.STREET_ADMIN, Role.COMMUNITY_ADMIN}
# Who may ask to see a full ID number or phone (each reveal is audited).
REVEAL_ID_ROLES = {Role.COMMAND, Role.STREET_ADMIN, Role.COMMUNITY_ADMIN}
REVEAL_PHONE_ROLES = REVEAL_ID_ROLES | {Role.GRID_WORKER}


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, blank=True)
    jurisdiction_area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("jurisdiction"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # A password someone else chose (a first one, an admin's reset) was seen by that someone:
    # the account reaches only the password change until its owner picks their own.
    must_change_password = models.BooleanField(_("must change password"), default=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(jurisdiction_area__isnull=True)
                | ~models.Q(role__in=[r.value for r in AREA_LESS_ROLES]),
                name="area_less_roles_hold_no_area",
                violation_error_message=_(
                    "checkpoint, clinic and institution accounts have no area jurisdiction"
                ),
            )
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    @property
    def manages_roster(self) -> bool:
        return self.role in ROSTER_MANAGER_ROLES and self.jurisdiction_area_id is not None

    def may_reveal(self, field: str) -> bool:
        allowed = REVEAL_ID_ROLES if field == "id_number" else REVEAL_PHONE_ROLES
        return self.role in allowed and self.jurisdiction_area_id is not None


class RevokeReason(models.TextChoices):
    OWNER = "owner", _("revoked by its owner")
    ADMIN = "admin", _("revoked by an administrator")
    PASSWORD = "password", _("password changed")
    DEACTIVATED = "deactivated", _("account deactivated")
    AUTHENTICATOR = "authenticator", _("authenticator reset")


class ApiToken(models.Model):
    """A bearer token for field devices and integrations. Only its SHA-256 is stored; the rules
    it lives by are in accounts/tokens.py."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)  # shown in lists to tell tokens apart
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=16, choices=RevokeReason.choices, blank=True)
    expires_at = models.DateTimeField()
    # Made against a code from the user's authenticator (at most TWO_FACTOR_TOKEN_MAX_DAYS long):
    # only such a token works for a user who must log in with two factors, and only while that
    # authenticator stands (a reset deletes the device and nulls the link).
    made_with_second_factor = models.BooleanField(default=False)
    made_with_device = models.ForeignKey(
        "otp_totp.TOTPDevice", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}"
