"""Login hardening on every way in: the accounts login page, the Django admin's login page and
the two-factor step. An unknown username is answered exactly like a wrong password (status,
template, message), before and after the lockout; repeated failures lock the account even for
the right password; a session older than SESSION_COOKIE_AGE is refused; a deactivated account
loses its session at once."""

import datetime
import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.accounts.models import Role, User
from doorstep.core.models import AuditEvent

from .two_factor import confirmed_device, fresh_code, wrong_code

PASSWORD = "test-password-123"  # what tests.factories.UserFactory sets
LOGIN = reverse("accounts:login")
ADMIN_LOGIN = reverse("admin:login")
VERIFY = reverse("accounts:two_factor_verify")
FAILURE_LIMIT = settings.AXES_FAILURE_LIMIT
# Per-response values that differ between any two answers: CSRF tokens and CSP nonces.
# Per-response tokens, and the logged-in caller's own id (the offline script keeps each user's
# records apart): neither says anything about the username typed.
PER_RESPONSE = re.compile(
    r'(csrfmiddlewaretoken" value="|"X-CSRFToken": "|nonce="|data-user=")[^"]*'
)


def page_template(response) -> str:
    """The page the visitor got: the view's own, unless django-axes rendered its lockout page
    over it (last)."""
    names = [t.name for t in response.templates]
    return settings.AXES_LOCKOUT_TEMPLATE if settings.AXES_LOCKOUT_TEMPLATE in names else names[0]


def answer(response, *usernames) -> tuple:
    """What a visitor can tell from a response: status, template and the page itself, with the
    typed username (echoed back into the form) and per-response tokens blanked."""
    body = PER_RESPONSE.sub(r"\1-", response.content.decode())
    for username in usernames:
        body = body.replace(username, "<typed username>")
    return response.status_code, page_template(response), body


def logged_in_user_id(client):
    return client.session.get(SESSION_KEY)


@pytest.fixture
def staff(user_for):
    return user_for(Role.COMMAND, "D", is_staff=True, username="district-admin")


# --- the accounts login page --------------------------------------------------------------------


def test_login_page_answers_an_unknown_username_like_a_wrong_password(user_for):
    user = user_for(Role.COMMUNITY_ADMIN, "C1", username="community-one")
    wrong = Client(REMOTE_ADDR="10.0.2.1").post(
        LOGIN, {"username": user.username, "password": "wrong-password-1"}
    )
    unknown_client = Client(REMOTE_ADDR="10.0.2.2")
    unknown = unknown_client.post(LOGIN, {"username": "nobody-here", "password": "whatever-1"})
    assert answer(wrong, user.username) == answer(unknown, "nobody-here")
    assert wrong.status_code == 200 and 'role="alert"' in wrong.content.decode()
    assert logged_in_user_id(unknown_client) is None


def test_login_page_locks_out_after_repeated_failures_alike_for_unknown_and_known(user_for):
    user = user_for(Role.COMMUNITY_ADMIN, "C1", username="community-one")
    known, unknown = Client(REMOTE_ADDR="10.0.2.3"), Client(REMOTE_ADDR="10.0.2.4")
    for attempt in range(1, FAILURE_LIMIT + 1):
        wrong = known.post(LOGIN, {"username": user.username, "password": f"wrong-{attempt}"})
        missing = unknown.post(LOGIN, {"username": "nobody-here", "password": f"wrong-{attempt}"})
        assert answer(wrong, user.username) == answer(missing, "nobody-here"), attempt
    assert wrong.status_code == 429
    assert page_template(wrong) == "accounts/locked_out.html"
    # then even the right password is refused, with the very same answer as for nobody
    right = known.post(LOGIN, {"username": user.username, "password": PASSWORD})
    missing = unknown.post(LOGIN, {"username": "nobody-here", "password": PASSWORD})
    assert answer(right, user.username) == answer(missing, "nobody-here")
    assert right.status_code == 429
    assert logged_in_user_id(known) is None
    assert known.get("/").status_code == 302


# --- the Django admin's login page --------------------------------------------------------------


def test_admin_login_page_is_no_way_around_the_login_page(staff):
    client = Client(REMOTE_ADDR="10.0.2.5")
    for method in ("get", "post"):
        response = getattr(client, method)(
            ADMIN_LOGIN, {"username": staff.username, "password": PASSWORD}
        )
        assert response.status_code == 302
        assert response["Location"].startswith(f"{LOGIN}?next=")
    assert logged_in_user_id(client) is None
    assert not AccessAttempt.objects.exists()  # no password was even checked


def test_admin_login_form_answers_alike_and_locks_out(client_for, staff):
    """A logged-in user without admin rights is shown the admin's own login form; it checks
    passwords through the same django-axes backend."""
    worker = client_for(Role.GRID_WORKER, "G1")
    worker.defaults["REMOTE_ADDR"] = "10.0.2.6"
    other = client_for(Role.GRID_WORKER, "G1", username=worker.user.username + "-b")
    other.defaults["REMOTE_ADDR"] = "10.0.2.7"
    for attempt in range(1, FAILURE_LIMIT + 1):
        wrong = worker.post(ADMIN_LOGIN, {"username": staff.username, "password": f"x-{attempt}"})
        missing = other.post(ADMIN_LOGIN, {"username": "nobody-here", "password": f"x-{attempt}"})
        wrong_answer = answer(wrong, staff.username, worker.user.username)
        assert wrong_answer == answer(missing, "nobody-here", other.user.username), attempt
        if attempt == 1:
            assert wrong.status_code == 200
            assert page_template(wrong) == "admin/login.html"
    assert wrong.status_code == 429
    assert page_template(wrong) == "accounts/locked_out.html"
    right = worker.post(ADMIN_LOGIN, {"username": staff.username, "password": PASSWORD})
    assert right.status_code == 429
    assert logged_in_user_id(worker) == str(worker.user.pk)  # still the worker, not the admin


def test_admin_login_form_success_still_needs_the_code(client_for, staff):
    confirmed_device(staff)
    worker = client_for(Role.GRID_WORKER, "G1")
    response = worker.post(
        ADMIN_LOGIN, {"username": staff.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302
    assert logged_in_user_id(worker) == str(staff.pk)
    assert worker.get("/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
    verify = worker.post(VERIFY, {"code": fresh_code(TOTPDevice.objects.get(user=staff))})
    assert verify["Location"] == "/"
    assert worker.get("/admin/").status_code == 200


# --- the two-factor step ------------------------------------------------------------------------


def test_repeated_wrong_codes_lock_the_account_like_wrong_passwords(user_for, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the device's back-off is tested in test_two_factor
    commander = user_for(Role.COMMAND, "D", username="commander-one")
    device = confirmed_device(commander)
    client = Client(REMOTE_ADDR="10.0.2.8")
    client.post(LOGIN, {"username": commander.username, "password": PASSWORD})
    for attempt in range(1, FAILURE_LIMIT + 1):
        response = client.post(VERIFY, {"code": wrong_code(device)})
        if attempt < FAILURE_LIMIT:
            assert response.status_code == 200, attempt
    # the fifth wrong code ends the session with the password form's lockout answer
    nobody = Client(REMOTE_ADDR="10.0.2.9")
    for _attempt in range(FAILURE_LIMIT):
        locked_nobody = nobody.post(LOGIN, {"username": "nobody-here", "password": "x-x-x-x"})
    status, template, body = answer(response, commander.username)
    # the same page, but for the language switch's way back to the address it was served at
    body = body.replace(f'value="{VERIFY}"', f'value="{LOGIN}"')
    assert (status, template, body) == answer(locked_nobody, "nobody-here")
    assert logged_in_user_id(client) is None
    assert AuditEvent.objects.filter(action="two_factor.verify_failure").count() == FAILURE_LIMIT
    assert AuditEvent.objects.filter(action="two_factor.verify_locked_out").count() == 1
    # and the password alone does not open a new session from there
    again = client.post(LOGIN, {"username": commander.username, "password": PASSWORD})
    assert again.status_code == 429
    assert logged_in_user_id(client) is None


# --- sessions -----------------------------------------------------------------------------------


def test_a_session_lasts_session_cookie_age_and_no_longer(user_for):
    user = user_for(Role.COMMUNITY_ADMIN, "C1")
    client = Client(REMOTE_ADDR="10.0.2.10")
    before = timezone.now()
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    after = timezone.now()
    age = datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    session = Session.objects.get(pk=client.session.session_key)
    assert before + age <= session.expire_date <= after + age
    assert client.get("/").status_code == 200
    # as if SESSION_COOKIE_AGE had gone by since the login
    Session.objects.filter(pk=session.pk).update(expire_date=F("expire_date") - age)
    response = client.get("/roster/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/roster/"


def test_an_expired_verified_session_goes_back_to_the_password(client_for):
    client = client_for(Role.COMMAND, "D")
    assert client.get("/").status_code == 200
    session = client.session
    session.set_expiry(-1)  # expired a second ago
    session.save()
    assert client.get("/")["Location"] == f"{LOGIN}?next=/"
    assert client.get("/api/me").status_code == 401


def test_a_deactivated_verified_commander_loses_access_at_once(client_for):
    client = client_for(Role.COMMAND, "D")
    assert client.get("/").status_code == 200
    assert client.get("/api/me").status_code == 200
    User.objects.filter(pk=client.user.pk).update(is_active=False)
    assert client.get("/")["Location"] == f"{LOGIN}?next=/"
    assert client.get("/api/me").status_code == 401
    assert client.get("/admin/").status_code == 302
