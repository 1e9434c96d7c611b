"""Limits keyed on a client address use the real one (core/clientip.py): behind the configured
count of reverse proxies, the address the nearest proxy saw; without one, the peer, whatever
X-Forwarded-For says. The lockout holds a username and address together (5 failures), and the
username alone only after many failures from many addresses (30): distributed guessing stops,
and one address cannot lock an account for everybody. Both with and without a proxy."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.core.clientip import client_ip_address
from doorstep.core.models import AuditEvent
from doorstep.screening.services import self_report_token_for
from doorstep.screening.views import selfreport

from .screening.conftest import campaign  # noqa: F401 (fixture)

PASSWORD = "test-password-123"
LOGIN = reverse("accounts:login")
PROXY = "10.0.0.2"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def behind_proxy(settings):
    settings.DOORSTEP_PROXY_COUNT = 1


def through_proxy(client_address: str, forged: str = "") -> Client:
    """A browser behind the reverse proxy: the app sees the proxy; the proxy appended the
    address it saw to whatever the browser sent in X-Forwarded-For."""
    header = f"{forged}, {client_address}" if forged else client_address
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=header)


def fail(client, username: str, times: int) -> None:
    for n in range(times):
        client.post(LOGIN, {"username": username, "password": f"wrong-password-{n}"})


def logs_in(client, username: str) -> bool:
    response = client.post(LOGIN, {"username": username, "password": PASSWORD})
    return response.status_code == 302


class _Request:
    def __init__(self, **meta):
        self.META = meta


@pytest.mark.parametrize(
    ("proxies", "meta", "expected"),
    [
        (0, {"REMOTE_ADDR": "203.0.113.5"}, "203.0.113.5"),
        (0, {"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "203.0.113.5"),
        (1, {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.7"}, "198.51.100.7"),
        (
            1,
            {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7"},
            "198.51.100.7",
        ),
        (1, {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "junk, 198.51.100.7"}, "198.51.100.7"),
        (1, {"REMOTE_ADDR": PROXY}, PROXY),  # reached without the proxy's header
        (
            2,
            {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "9.9.9.9, 198.51.100.7, 10.0.0.2"},
            "198.51.100.7",
        ),
        (1, {"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "2001:db8::5"}, "2001:db8::5"),
    ],
)
def test_the_real_client_address(settings, proxies, meta, expected):
    settings.DOORSTEP_PROXY_COUNT = proxies
    assert client_ip_address(_Request(**meta)) == expected


def test_axes_asks_the_same_function():
    assert settings.AXES_CLIENT_IP_CALLABLE == "doorstep.core.clientip.client_ip_address"


# -- lockout, without a proxy -----------------------------------------------------------------
def test_failures_lock_the_username_from_that_address_only(user_for):
    user = user_for(Role.COMMAND, "D", username="commander")
    attacker, owner = Client(REMOTE_ADDR="203.0.113.66"), Client(REMOTE_ADDR="203.0.113.10")
    fail(attacker, user.username, 5)
    assert not logs_in(attacker, user.username)  # locked, right password or not
    assert logs_in(owner, user.username)  # the owner, elsewhere, is not locked out
    assert owner.get("/healthz").status_code == 200


def test_one_address_alone_cannot_lock_an_account_for_everybody(user_for):
    user = user_for(Role.COMMUNITY_ADMIN, "C1", username="secretary")
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    fail(attacker, user.username, 60)
    assert logs_in(Client(REMOTE_ADDR="203.0.113.10"), user.username)


def test_guesses_from_many_addresses_lock_the_username(user_for):
    """Distributed guessing: 5 failures from each of 6 addresses lock the username, even for
    the right password from an address never seen."""
    user = user_for(Role.COMMUNITY_ADMIN, "C1", username="secretary")
    limit = settings.DOORSTEP_USERNAME_FAILURE_LIMIT // settings.AXES_FAILURE_LIMIT
    for n in range(limit - 1):
        fail(Client(REMOTE_ADDR=f"198.51.100.{n + 1}"), user.username, 5)
    owner = Client(REMOTE_ADDR="203.0.113.10")
    assert logs_in(owner, user.username)  # 25 failures: not yet
    owner.post(reverse("accounts:logout"))
    # the owner's login did not wipe the others' failures: 5 more make 30
    fail(Client(REMOTE_ADDR="198.51.100.200"), user.username, 5)
    assert not logs_in(Client(REMOTE_ADDR="203.0.113.11"), user.username)
    assert not logs_in(owner, user.username)


def test_the_owners_login_does_not_lift_a_guessers_lock(user_for):
    user = user_for(Role.COMMAND, "D", username="commander")
    attacker, owner = Client(REMOTE_ADDR="203.0.113.66"), Client(REMOTE_ADDR="203.0.113.10")
    fail(attacker, user.username, 5)
    assert logs_in(owner, user.username)
    assert not logs_in(attacker, user.username)


def test_a_forged_forwarded_header_without_a_proxy_is_ignored(user_for):
    """Without a configured proxy, X-Forwarded-For is the client's own text: rotating it buys
    no new address, the guesses all count on the peer's."""
    user = user_for(Role.COMMUNITY_ADMIN, "C1", username="secretary")
    for n in range(6):
        Client(REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}").post(
            LOGIN, {"username": user.username, "password": "wrong-password-x"}
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.66"}
    assert not logs_in(Client(REMOTE_ADDR="203.0.113.66"), user.username)


# -- lockout, behind the proxy ------------------------------------------------------------------
def test_behind_the_proxy_each_client_is_locked_on_its_own_address(user_for, behind_proxy):
    """Every client shares the proxy's address: keyed on it, one guesser locked any account
    (command included) for everybody for 30 minutes."""
    user = user_for(Role.COMMAND, "D", username="commander")
    fail(through_proxy("198.51.100.66"), user.username, 5)
    assert not logs_in(through_proxy("198.51.100.66"), user.username)
    assert logs_in(through_proxy("198.51.100.10"), user.username)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.66"}


def test_behind_the_proxy_a_forged_prefix_buys_no_new_address(user_for, behind_proxy):
    user = user_for(Role.COMMUNITY_ADMIN, "C1", username="secretary")
    for n in range(5):
        through_proxy("198.51.100.66", forged=f"1.1.1.{n}").post(
            LOGIN, {"username": user.username, "password": "wrong-password-x"}
        )
    assert not logs_in(through_proxy("198.51.100.66", forged="8.8.8.8"), user.username)


def test_the_audit_records_the_real_address(client_for, households, behind_proxy):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    person = households["G1"].persons.first()
    client.post(
        reverse("registry:person_reveal", args=[person.pk, "phone"]),
        {"purpose": "回访"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7",
    )
    event = AuditEvent.objects.get(action="person.reveal.phone")
    assert event.ip_address == "198.51.100.7"


# -- the self-report budget -----------------------------------------------------------------------
@pytest.fixture
def links(campaign, households):
    return [
        reverse(
            "screening:self_report",
            args=[self_report_token_for(campaign=campaign, household_id=h.pk).token],
        )
        for h in households.values()
    ]


def test_behind_the_proxy_the_self_report_budget_is_per_real_address(
    links, monkeypatch, behind_proxy
):
    """Keyed on the proxy's address, one visitor used up the whole district's share."""
    monkeypatch.setattr(selfreport, "RATE_PER_IP", 3)
    for url in links[:3]:
        assert through_proxy("198.51.100.66").post(url, {}).status_code == 400
    assert through_proxy("198.51.100.66").post(links[3], {}).status_code == 429
    # a forged prefix does not make a new visitor of the same one
    assert through_proxy("198.51.100.66", forged="7.7.7.7").post(links[3], {}).status_code == 429
    # another resident behind the same proxy still has their share
    assert through_proxy("198.51.100.10").post(links[3], {}).status_code == 400


def test_without_a_proxy_a_forged_header_does_not_reset_the_self_report_budget(links, monkeypatch):
    monkeypatch.setattr(selfreport, "RATE_PER_IP", 3)
    for n, url in enumerate(links[:3]):
        Client(REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}").post(url, {})
    response = Client(REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR="9.9.9.9").post(links[3], {})
    assert response.status_code == 429
    assert Client(REMOTE_ADDR="203.0.113.66").get("/healthz").status_code == 200
