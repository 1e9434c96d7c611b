"""Accounts: bulk creation from a sheet, within the creating admin's jurisdiction; API tokens;
two-factor enrolment and verification (TOTP) for command and admin accounts."""

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import logout
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.areas.models import Area
from doorstep.areas.selectors import areas_visible_to
from doorstep.core.services import audit_write
from doorstep.core.sheets.headers import header_columns
from doorstep.core.sheets.reading import UnreadableFile, open_sheet, small_sheet_limits
from doorstep.core.text import clean_text, compact_text
from doorstep.registry.validation import FieldError, validate_phone

from .managed import new_password, user_password_reset
from .models import AREA_LESS_ROLES, AREA_ROLE_LEVELS, ROSTER_MANAGER_ROLES, Role, User
from .selectors import (
    TOTP_DEVICE_NAME,
    roles_assignable_by,
    totp_device_confirmed,
    totp_device_pending,
    users_managed_by,
)
from .tokens import (  # noqa: F401 (the token services, where callers used to find them)
    TWO_FACTOR_TOKEN_MAX_DAYS,
    ApiTokenRefused,
    api_token_create,
    api_token_user,
)

USER_COLUMNS = {
    "username": ("用户名", "账号", "登录名", "username"),
    "full_name": ("姓名", "full_name", "name"),
    "role": ("角色", "岗位", "role"),
    "area_code": ("区域代码", "辖区代码", "网格编码", "area_code", "area"),
    "phone": ("手机号", "联系电话", "手机", "phone"),
    # "是" on the row of an existing account: a new password for it (a forgotten one).
    "reset": ("重置密码", "reset_password", "reset"),
}
RESET_WORDS = frozenset({"是", "重置", "y", "yes", "1", "true"})
ROLE_WORDS = {
    Role.COMMAND: ("指挥部", "command"),
    Role.STREET_ADMIN: ("街道", "镇", "street_admin"),
    Role.COMMUNITY_ADMIN: ("社区", "村", "书记", "community_admin"),
    Role.GRID_WORKER: ("网格员", "排查员", "grid_worker"),
    Role.CHECKPOINT_OFFICER: ("卡口", "checkpoint_officer"),
    Role.CLINIC_STAFF: ("发热门诊", "医生", "clinic_staff"),
    Role.INSTITUTION_REPORTER: ("单位", "学校", "institution_reporter"),
}


def parse_role(text: str) -> str | None:
    text = text.strip().lower()
    for role, words in ROLE_WORDS.items():
        if text == role.value or any(w in text for w in words):
            return role
    return None


def may_manage_users(user) -> bool:
    return (
        user.is_authenticated
        and user.role in ROSTER_MANAGER_ROLES
        and bool(user.jurisdiction_area_id)
    )


def area_in_reach(visible, area_code: str) -> Area | None:
    """The area of a code among the areas the admin sees (None for no code). A code elsewhere
    is answered as one that does not exist: the answer must not tell them apart."""
    if not area_code:
        return None
    area = visible.filter(code=area_code).first()
    if area is None:
        raise ValidationError(
            _("area code %(c)s does not exist in your jurisdiction") % {"c": area_code}
        )
    return area


def check_jurisdiction_fits(role: str, area: Area | None) -> None:
    level = AREA_ROLE_LEVELS.get(role)
    if level is not None and (area is None or area.level != level):
        raise ValidationError(_("this role needs an area of the matching level"))
    if role in AREA_LESS_ROLES and area is not None:
        # An area would open its roster to a checkpoint, clinic or institution account.
        raise ValidationError(_("this role has no area: leave the area code empty"))


@transaction.atomic
def user_update(
    *,
    admin: User,
    user: User,
    full_name: str,
    phone: str,
    role: str,
    area_code: str,
    request: HttpRequest | None = None,
) -> User:
    """Edit a managed account's name, phone, role and jurisdiction. The new role must be one the
    admin may give and the area one inside the admin's jurisdiction, of the role's level; an
    account the admin does not manage raises PermissionDenied and changes nothing. A blank phone
    keeps the one on file. Raises
    ValidationError (field -> message) for what the admin typed."""
    if not users_managed_by(admin).filter(pk=user.pk).exists():
        raise PermissionDenied
    errors: dict[str, str] = {}
    if role not in roles_assignable_by(admin):
        errors["role"] = _("you cannot give this role")
    area = None
    try:
        area = area_in_reach(areas_visible_to(admin), compact_text(area_code))
    except ValidationError as error:
        errors["area_code"] = "; ".join(error.messages)
    if "role" not in errors and "area_code" not in errors:
        try:
            check_jurisdiction_fits(role, area)
        except ValidationError as error:
            errors["area_code"] = "; ".join(error.messages)
    try:
        # Blank keeps the number on file: the form never shows it in full.
        phone = validate_phone(phone) if clean_text(phone) else user.phone
    except FieldError as error:
        errors["phone"] = str(error.message)
    if errors:
        raise ValidationError(errors)
    before = {
        "role": user.role,
        "area": user.jurisdiction_area.code if user.jurisdiction_area else "",
    }
    user.full_name = clean_text(full_name)[:50]
    user.phone = phone
    user.role = role
    user.jurisdiction_area = area
    user.save(update_fields=["full_name", "phone", "role", "jurisdiction_area"])
    after = {"role": role, "area": area.code if area else ""}
    audit_write(
        user=admin,
        action="user.update",
        obj=user,
        request=request,
        detail={"before": before, "after": after} if before != after else {},
    )
    return user


@dataclass
class UserImportResult:
    created: list[tuple[int, str, str]] = field(default_factory=list)  # (row, username, password)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    reset: list[tuple[int, str, str]] = field(default_factory=list)  # (row, username, password)


def users_import(*, admin: User, path: Path, request=None) -> UserImportResult:
    """Create accounts from a sheet (username, name, role, area code, phone). Each new account
    gets a random first password, shown once to the admin; every row is created or rejected."""
    if not may_manage_users(admin):
        raise PermissionDenied
    source = open_sheet(path, limits=small_sheet_limits())
    rows = list(source.rows())
    found = header_columns([row.cells for row in rows], USER_COLUMNS, {"username", "role"})
    if found is None:
        raise UnreadableFile(_("no header row with username and role found"))
    header_index, columns = found
    visible = areas_visible_to(admin)
    result = UserImportResult()
    seen: set[str] = set()
    for row_number, cells, problem in rows[header_index + 1 :]:

        def cell(name, cells=cells):
            i = columns.get(name)
            return cells[i] if i is not None and i < len(cells) else ""

        if problem:  # the sheet reader's reason (a cell too long, not text): nothing is made
            result.rejected.append((row_number, problem))
            continue
        username = compact_text(cell("username"))
        if not any(clean_text(c) for c in cells):
            continue
        if clean_text(cell("reset")).lower() in RESET_WORDS:
            try:
                password = _user_reset_from_row(admin=admin, username=username, request=request)
                result.reset.append((row_number, username, password))
            except ValidationError as error:
                result.rejected.append((row_number, "; ".join(error.messages)))
            continue
        try:
            with transaction.atomic():
                user, password = _user_from_row(
                    username=username,
                    full_name=clean_text(cell("full_name")),
                    role_text=clean_text(cell("role")),
                    area_code=compact_text(cell("area_code")),
                    phone_raw=cell("phone"),
                    visible=visible,
                    seen=seen,
                )
                audit_write(user=admin, action="user.create", obj=user, request=request)
            result.created.append((row_number, username, password))
        except ValidationError as error:
            result.rejected.append((row_number, "; ".join(error.messages)))
    return result


@transaction.atomic
def password_changed_by_owner(*, user: User, request: HttpRequest | None = None) -> None:
    """The owner chose their own password: the account is no longer held at the change page."""
    if user.must_change_password:
        user.must_change_password = False
        user.save(update_fields=["must_change_password"])
    audit_write(user=user, action="user.password_change", obj=user, request=request)


def _user_reset_from_row(*, admin: User, username: str, request=None) -> str:
    """A new password for an existing account the admin manages (its tokens are revoked)."""
    user = users_managed_by(admin).filter(username=username).first()
    if user is None:
        raise ValidationError(_("no account %(u)s in your jurisdiction to reset") % {"u": username})
    return user_password_reset(admin=admin, user=user, request=request)


def _user_from_row(*, username, full_name, role_text, area_code, phone_raw, visible, seen):
    if not username:
        raise ValidationError(_("username is empty"))
    if username in seen or User.objects.filter(username=username).exists():
        raise ValidationError(_("username %(u)s already exists") % {"u": username})
    role = parse_role(role_text)
    if role is None:
        raise ValidationError(_("unknown role “%(r)s”") % {"r": role_text})
    area = area_in_reach(visible, area_code)
    check_jurisdiction_fits(role, area)
    try:
        phone = validate_phone(phone_raw)
    except FieldError as error:
        raise ValidationError(error.message) from None
    password = new_password()
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        jurisdiction_area=area,
        phone=phone,
        must_change_password=True,
    )
    validate_password(password, user)
    user.set_password(password)
    user.save()
    seen.add(username)
    return user, password


class TwoFactorOutcome(StrEnum):
    VERIFIED = "verified"
    WRONG_CODE = "wrong_code"
    THROTTLED = "throttled"  # the device's back-off: too soon after a wrong code
    LOCKED_OUT = "locked_out"  # django-axes: too many failures for this username and address


@transaction.atomic
def totp_device_start_enrolment(*, user: User, request: HttpRequest | None = None) -> TOTPDevice:
    """The unconfirmed authenticator whose secret the enrolment page shows. Created once, so that
    reloading the page shows the same secret the phone may already have scanned."""
    if totp_device_confirmed(user) is not None:
        # A second device would let someone holding only the password add their own phone.
        raise PermissionDenied
    device = totp_device_pending(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
        audit_write(user=user, action="two_factor.enrol_start", obj=device, request=request)
    return device


@transaction.atomic
def two_factor_enrol_confirm(*, request: HttpRequest, user: User, code: str) -> TwoFactorOutcome:
    """Confirm the pending authenticator with a code it shows; success also verifies this
    session."""
    device = totp_device_pending(user)
    if device is None or totp_device_confirmed(user) is not None:
        raise PermissionDenied
    return _two_factor_check(request=request, user=user, device=device, code=code, enrol=True)


@transaction.atomic
def two_factor_verify(*, request: HttpRequest, user: User, code: str) -> TwoFactorOutcome:
    """Check a code from the user's confirmed authenticator and mark this session verified."""
    device = totp_device_confirmed(user)
    if device is None:
        raise PermissionDenied
    return _two_factor_check(request=request, user=user, device=device, code=code, enrol=False)


def _two_factor_check(
    *, request: HttpRequest, user: User, device: TOTPDevice, code: str, enrol: bool
) -> TwoFactorOutcome:
    """Every wrong code counts twice: on the device (django-otp's exponential back-off, kept
    across sessions and logins) and in django-axes as a failed login for this username from this
    address, so five failures of either kind lock the account as a wrong password does. The
    audit rows name the device, never the code or the secret."""
    action = "two_factor.enrol" if enrol else "two_factor.verify"
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        return _two_factor_lock_out(request=request, user=user, device=device, action=action)
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    allowed, _reason = device.verify_is_allowed()
    if not allowed:
        audit_write(user=user, action=f"{action}_throttled", obj=device, request=request)
        return TwoFactorOutcome.THROTTLED
    if device.verify_token(code):
        if enrol:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
        otp_login(request, device)
        # More rights from here on: a session id seen before the code must not carry them.
        request.session.cycle_key()
        # As a right password does (AXES_RESET_ON_SUCCESS): for this username and address only.
        AxesProxyHandler.reset_attempts(
            username=user.get_username(), ip_address=request.axes_ip_address
        )
        audit_write(user=user, action=action, obj=device, request=request)
        return TwoFactorOutcome.VERIFIED
    audit_write(
        user=user,
        action=f"{action}_failure",
        obj=device,
        request=request,
        detail={"failures": device.throttling_failure_count},
    )
    AxesProxyHandler.user_login_failed(
        sender=_two_factor_check, credentials=credentials, request=request
    )
    if getattr(request, "axes_locked_out", False):
        return _two_factor_lock_out(request=request, user=user, device=device, action=action)
    return TwoFactorOutcome.WRONG_CODE


def _two_factor_lock_out(
    *, request: HttpRequest, user: User, device: TOTPDevice, action: str
) -> TwoFactorOutcome:
    # Ending the session sends the next attempt back to the password form, which django-axes
    # refuses for the rest of the cool-off.
    audit_write(user=user, action=f"{action}_locked_out", obj=device, request=request)
    logout(request)
    return TwoFactorOutcome.LOCKED_OUT
