"""Accounts: bulk creation from a sheet, within the creating admin's jurisdiction."""

import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area
from doorstep.areas.selectors import areas_visible_to
from doorstep.core.services import audit_write
from doorstep.core.text import clean_text, compact_text
from doorstep.imports.columns import normalize_header
from doorstep.imports.readers import UnreadableFile, open_sheet
from doorstep.registry.validation import FieldError, validate_phone

from .models import AREA_ROLE_LEVELS, ROSTER_MANAGER_ROLES, ApiToken, Role, User

USER_COLUMNS = {
    "username": ("用户名", "账号", "登录名", "username"),
    "full_name": ("姓名", "full_name", "name"),
    "role": ("角色", "岗位", "role"),
    "area_code": ("区域代码", "辖区代码", "网格编码", "area_code", "area"),
    "phone": ("手机号", "联系电话", "手机", "phone"),
}
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


def check_jurisdiction_fits(role: str, area: Area | None) -> None:
    level = AREA_ROLE_LEVELS.get(role)
    if level is not None and (area is None or area.level != level):
        raise ValidationError(_("this role needs an area of the matching level"))


@dataclass
class UserImportResult:
    created: list[tuple[int, str, str]] = field(default_factory=list)  # (row, username, password)
    rejected: list[tuple[int, str]] = field(default_factory=list)


def users_import(*, admin: User, path: Path, request=None) -> UserImportResult:
    """Create accounts from a sheet (username, name, role, area code, phone). Each new account
    gets a random first password, shown once to the admin; every row is created or rejected."""
    if not may_manage_users(admin):
        raise PermissionDenied
    source = open_sheet(path)
    rows = list(source.rows())
    header_index, columns = _user_header(rows)
    visible = areas_visible_to(admin)
    result = UserImportResult()
    seen: set[str] = set()
    for row_number, cells in enumerate(rows[header_index + 1 :], start=header_index + 2):

        def cell(name, cells=cells):
            i = columns.get(name)
            return cells[i] if i is not None and i < len(cells) else ""

        username = compact_text(cell("username"))
        if not any(clean_text(c) for c in cells):
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


def _user_from_row(*, username, full_name, role_text, area_code, phone_raw, visible, seen):
    if not username:
        raise ValidationError(_("username is empty"))
    if username in seen or User.objects.filter(username=username).exists():
        raise ValidationError(_("username %(u)s already exists") % {"u": username})
    role = parse_role(role_text)
    if role is None:
        raise ValidationError(_("unknown role “%(r)s”") % {"r": role_text})
    area = None
    if area_code:
        area = visible.filter(code=area_code).first()
        if area is None:
            raise ValidationError(
                _("area code %(c)s does not exist in your jurisdiction") % {"c": area_code}
            )
    check_jurisdiction_fits(role, area)
    try:
        phone = validate_phone(phone_raw)
    except FieldError as error:
        raise ValidationError(error.message) from None
    password = secrets.token_urlsafe(9)
    user = User(
        username=username, full_name=full_name, role=role, jurisdiction_area=area, phone=phone
    )
    validate_password(password, user)
    user.set_password(password)
    user.save()
    seen.add(username)
    return user, password


def _user_header(rows):
    for index, row in enumerate(rows[:10]):
        columns = {}
        for i, value in enumerate(row):
            header = normalize_header(value)
            for name, variants in USER_COLUMNS.items():
                if header in variants and name not in columns:
                    columns[name] = i
        if {"username", "role"} <= set(columns):
            return index, columns
    raise UnreadableFile(_("no header row with username and role found"))


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the plain key is returned once and never stored."""
    key = "dst_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        key_hash=hashlib.sha256(key.encode()).hexdigest(),
        prefix=key[:10],
    )
    audit_write(user=user, action="api_token.create", obj=token)
    return token, key


def api_token_user(key: str) -> User | None:
    """The active user behind a bearer key, or None (unknown, revoked, or user deactivated)."""
    token = (
        ApiToken.objects.select_related("user", "user__jurisdiction_area")
        .filter(key_hash=hashlib.sha256(key.encode()).hexdigest(), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 300:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
