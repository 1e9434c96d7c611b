"""The home page tells each role what it must do today, from the domains' scoped selectors: a
grid worker the follow-up checks due, a community admin the arrivals handed to the community, a
clinic the referrals waiting, an officer the checkpoint's entry. On the demo district, as a new
user sees it after `make run`."""

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from doorstep.accounts.models import User


def _todo(client: Client, url: str) -> int | None:
    """The count of the to-do linking to `url` on the home page (None: no such to-do)."""
    text = client.get("/").content.decode()
    found = re.search(rf'<a href="{re.escape(url)}"><span>[^<]*</span><b>([\d,]+)</b>', text)
    return int(found.group(1).replace(",", "")) if found else None


@pytest.fixture
def demo(db):
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def test_the_worker_sees_the_follow_up_checks_due(demo):
    assert (_todo(_client("worker"), reverse("followup:today")) or 0) > 0


def test_the_clinic_sees_its_referrals_waiting_and_the_officer_the_entry(demo):
    assert (_todo(_client("clinic"), reverse("followup:referrals")) or 0) > 0
    officer = User.objects.get(username="checkpoint")
    entry = reverse("checkpoints:entry", args=[officer.checkpoint_post.checkpoint_id])
    assert _todo(_client("checkpoint"), entry) is not None


def test_a_community_admin_sees_the_arrivals_handed_to_the_community(demo):
    from doorstep.checkpoints.models import Handoff, HandoffStatus

    admin = User.objects.get(username="community")
    pending = Handoff.objects.filter(status=HandoffStatus.PENDING)
    mine = pending.filter(community=admin.jurisdiction_area).count()
    assert mine > 0  # the demo leaves the demo community some to accept
    assert pending.exclude(community=admin.jurisdiction_area).exists()  # and others elsewhere
    assert _todo(_client("community"), reverse("checkpoints:inbox")) == mine
