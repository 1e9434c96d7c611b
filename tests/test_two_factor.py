"""Two-factor login (TOTP) for command and admin accounts: enrol on first login, a code on every
login after that; until then no page, admin page or API call answers; wrong codes are throttled,
locked out and audited; other roles are never asked."""

from base64 import b32encode
from urllib.parse import quote

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent

from .two_factor import confirmed_device, fresh_code, wrong_code

PASSWORD = "test-password-123"  # what tests.factories.UserFactory sets
VERIFY = reverse("accounts:two_factor_verify")
ENROL = reverse("accounts:two_factor_enrol")


def logged_in(user, address="10.0.1.1") -> Client:
    """A client that has typed the right password into the login form, and nothing more."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302, "the password step itself must succeed"
    return client


def verify(client, code, next_url="/"):
    return client.post(VERIFY, {"code": code, "next": next_url})


def assert_sent_to_verify(response, next_url="/"):
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next={quote(next_url, safe='')}"


@pytest.fixture
def commander(user_for):
    return user_for(Role.COMMAND, "D")


@pytest.fixture
def enrolled_commander(commander):
    confirmed_device(commander)
    return commander


# --- who is asked -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, area, flags",
    [
        (Role.COMMAND, "D", {}),
        (Role.COMMUNITY_ADMIN, "C1", {"is_staff": True}),
        (Role.GRID_WORKER, "G1", {"is_superuser": True}),
        ("", None, {"is_staff": True}),
    ],
)
def test_command_and_admin_accounts_are_stopped_until_verified(user_for, role, area, flags):
    user = user_for(role, area, **flags)
    confirmed_device(user)
    client = logged_in(user)
    # every kind of page, the Django admin and the session-authenticated API are held back
    assert_sent_to_verify(client.get("/"))
    assert_sent_to_verify(client.get("/roster/"), "/roster/")
    assert_sent_to_verify(client.get("/admin/"), "/admin/")
    assert_sent_to_verify(client.get(reverse("accounts:users_import")), "/accounts/users/import/")
    api = client.get("/api/me")
    assert api.status_code == 403
    assert "username" not in api.json()
    # an htmx request is told to load the verify page as a whole page
    htmx = client.get("/roster/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204
    assert htmx["HX-Redirect"] == f"{VERIFY}?next=%2Froster%2F"


@pytest.mark.parametrize(
    "role, area",
    [
        (Role.GRID_WORKER, "G1"),
        (Role.COMMUNITY_ADMIN, "C1"),
        (Role.STREET_ADMIN, "S1"),
        (Role.CLINIC_STAFF, None),
    ],
)
def test_other_roles_are_never_asked_for_a_code(user_for, role, area):
    user = user_for(role, area)
    client = logged_in(user)
    assert client.get("/").status_code == 200
    assert client.get("/api/me").status_code == 200
    # the two-factor pages send them straight on, and no device is made for them
    assert client.get(VERIFY)["Location"] == "/"
    assert client.get(ENROL)["Location"] == "/"
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_a_half_logged_in_user_may_still_log_out_and_switch_language(commander):
    client = logged_in(commander)
    assert client.post(reverse("set_language"), {"language": "en", "next": VERIFY})["Location"] == (
        VERIFY
    )
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert SESSION_KEY not in client.session
    assert client.get("/")["Location"].startswith(reverse("accounts:login"))


# --- enrolment ----------------------------------------------------------------------------------


def test_without_a_device_the_commander_is_sent_to_enrol(commander):
    client = logged_in(commander)
    assert_sent_to_verify(client.get("/"))
    response = client.get(VERIFY + "?next=/roster/")
    assert response["Location"] == f"{ENROL}?next=%2Froster%2F"

    page = client.get(ENROL + "?next=/roster/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]  # the secret must not sit in a cache
    device = TOTPDevice.objects.get(user=commander)
    assert not device.confirmed
    body = page.content.decode()
    assert 'src="data:image/svg+xml' in body  # QR code as an image: no script, CSP-clean
    secret = b32encode(device.bin_key).decode()
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in body
    assert "<script>" not in body.split("</head>", 1)[1]
    # reloading shows the same secret (the phone may already hold it)
    client.get(ENROL)
    assert list(TOTPDevice.objects.filter(user=commander)) == [device]
    assert AuditEvent.objects.filter(action="two_factor.enrol_start").count() == 1


def test_enrolment_with_the_right_code_lets_the_commander_in(commander):
    client = logged_in(commander)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=commander)
    response = client.post(ENROL, {"code": fresh_code(device), "next": "/roster/"})
    assert response.status_code == 302 and response["Location"] == "/roster/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.get("/roster/").status_code == 200
    assert client.get("/api/me").json()["username"] == commander.username
    event = AuditEvent.objects.get(action="two_factor.enrol")
    assert (event.user, event.object_id) == (commander, str(device.pk))
    # a confirmed device cannot be replaced from the enrolment page
    assert client.get(ENROL)["Location"] == "/"


def test_enrolment_with_a_wrong_code_confirms_nothing(commander):
    client = logged_in(commander)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=commander)
    code = wrong_code(device)
    response = client.post(ENROL, {"code": code})
    assert response.status_code == 200
    assert response.templates[0].name == "accounts/two_factor_enrol.html"
    assert 'role="alert"' in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert_sent_to_verify(client.get("/"))
    event = AuditEvent.objects.get(action="two_factor.enrol_failure")
    assert event.user == commander and event.detail == {"failures": 1}
    assert_no_secret_in_audit(device, code)


def test_a_password_alone_cannot_add_a_second_device(enrolled_commander):
    client = logged_in(enrolled_commander)
    response = client.get(ENROL)
    assert response["Location"] == f"{VERIFY}?next=%2F"
    response = client.post(ENROL, {"code": "123456"})
    assert response["Location"] == f"{VERIFY}?next=%2F"
    assert TOTPDevice.objects.filter(user=enrolled_commander).count() == 1


# --- verification -------------------------------------------------------------------------------


def test_with_a_device_the_commander_is_asked_for_a_code_and_the_right_one_lets_them_in(
    enrolled_commander,
):
    client = logged_in(enrolled_commander)
    assert_sent_to_verify(client.get("/roster/"), "/roster/")
    page = client.get(VERIFY + "?next=/roster/")
    assert page.status_code == 200
    assert page.templates[0].name == "accounts/two_factor_verify.html"
    device = TOTPDevice.objects.get(user=enrolled_commander)
    half_logged_in_session = client.cookies["sessionid"].value
    response = verify(client, fresh_code(device), "/roster/")
    assert response.status_code == 302 and response["Location"] == "/roster/"
    assert client.cookies["sessionid"].value != half_logged_in_session
    # the session id from before the code is dead: it is not even half logged in any more
    stale = Client()
    stale.cookies["sessionid"] = half_logged_in_session
    assert stale.get("/")["Location"] == f"{reverse('accounts:login')}?next=/"
    assert client.get("/roster/").status_code == 200
    assert client.get("/").status_code == 200
    event = AuditEvent.objects.get(action="two_factor.verify")
    assert (event.user, event.object_id) == (enrolled_commander, str(device.pk))


def test_while_the_code_is_owed_the_page_shows_no_menu(enrolled_commander):
    client = logged_in(enrolled_commander)
    owed = client.get(VERIFY + "?next=/").content.decode()
    for link in ("/roster/", "/campaigns/", reverse("accounts:password_change")):
        assert f'href="{link}"' not in owed
    assert reverse("accounts:logout") in owed  # the way out stays
    device = TOTPDevice.objects.get(user=enrolled_commander)
    verify(client, fresh_code(device))
    home = client.get("/roster/").content.decode()
    assert 'href="/roster/"' in home and reverse("accounts:password_change") in home


def test_a_code_cannot_be_used_twice(enrolled_commander):
    device = TOTPDevice.objects.get(user=enrolled_commander)
    code = fresh_code(device)
    first = logged_in(enrolled_commander)
    assert verify(first, code)["Location"] == "/"
    second = logged_in(enrolled_commander, address="10.0.1.2")
    assert verify(second, code).status_code == 200
    assert_sent_to_verify(second.get("/"))


def test_a_wrong_code_does_not_let_in_and_is_audited(enrolled_commander):
    client = logged_in(enrolled_commander)
    device = TOTPDevice.objects.get(user=enrolled_commander)
    code = wrong_code(device)
    response = verify(client, code)
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert_sent_to_verify(client.get("/"))
    event = AuditEvent.objects.get(action="two_factor.verify_failure")
    assert (event.user, event.object_id, event.ip_address) == (
        enrolled_commander,
        str(device.pk),
        "10.0.1.1",
    )
    assert event.detail == {"failures": 1}
    assert_no_secret_in_audit(device, code)


def test_a_malformed_code_is_refused_without_touching_the_device(enrolled_commander):
    client = logged_in(enrolled_commander)
    response = verify(client, "12ab56")
    assert response.status_code == 200
    device = TOTPDevice.objects.get(user=enrolled_commander)
    assert device.throttling_failure_count == 0
    assert_sent_to_verify(client.get("/"))


def test_spaces_inside_a_code_are_fine(enrolled_commander):
    client = logged_in(enrolled_commander)
    code = fresh_code(TOTPDevice.objects.get(user=enrolled_commander))
    assert verify(client, f"{code[:3]} {code[3:]}")["Location"] == "/"


def test_after_a_wrong_code_even_the_right_one_waits(enrolled_commander, settings):
    # a wide back-off window, so that a slow machine cannot slip past it between two requests
    settings.OTP_TOTP_THROTTLE_FACTOR = 600
    client = logged_in(enrolled_commander)
    device = TOTPDevice.objects.get(user=enrolled_commander)
    verify(client, wrong_code(device))
    response = verify(client, fresh_code(device))
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert_sent_to_verify(client.get("/"))
    assert AuditEvent.objects.filter(action="two_factor.verify_throttled").count() == 1
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # a refused try does not even reach the check
    # once the window has passed, the right code works again
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=device.throttling_failure_timestamp.replace(year=2000)
    )
    assert verify(client, fresh_code(device))["Location"] == "/"


def test_a_next_address_elsewhere_is_not_followed(enrolled_commander):
    client = logged_in(enrolled_commander)
    device = TOTPDevice.objects.get(user=enrolled_commander)
    response = verify(client, fresh_code(device), "https://evil.example/")
    assert response["Location"] == "/"


def assert_no_secret_in_audit(device, code):
    secret = b32encode(device.bin_key).decode()
    for event in AuditEvent.objects.all():
        text = f"{event.action} {event.object_id} {event.purpose} {event.detail}"
        assert code not in text and secret not in text and device.key not in text
