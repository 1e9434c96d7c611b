"""A car of three entered at a checkpoint from the keyboard alone; the keystrokes are counted
(printed with the time it took) and the community then accepts the handoff in its inbox."""

import datetime
import time

import pytest
from stdnum.cn import ric

from doorstep.accounts.models import Role
from doorstep.checkpoints.matching import forget_indexes
from doorstep.checkpoints.models import Arrival, Checkpoint, CheckpointOfficer, Handoff
from doorstep.screening.models import RiskArea

from ..factories import HouseholdFactory, UserFactory
from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _id_number(n: int) -> str:
    body = f"50010919850505{n:03d}"
    return body + ric.calc_check_digit(body + "0")


class Keys:
    """The keyboard, counting every key pressed: a character typed is one key, a chord such as
    Alt+N is two (the modifier and the letter)."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.count += len(text)

    def press(self, key: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.keyboard.press(key)
            self.count += len(key.split("+"))


@pytest.fixture
def checkpoint(areas):
    RiskArea.objects.create(name="湖北")
    HouseholdFactory(
        grid=areas["G1"], road="天生路", house_number="12号", building="3", unit="2", room="501"
    )
    forget_indexes()
    return Checkpoint.objects.create(
        district=areas["D"], code="K1", name="北碚收费站", kind="highway_exit"
    )


def test_a_car_of_three_from_the_keyboard_alone(
    new_page, live_server, login, checkpoint, user_for, shot
):
    officer = UserFactory(role=Role.CHECKPOINT_OFFICER)
    CheckpointOfficer.objects.create(user=officer, checkpoint=checkpoint)
    page = new_page()
    login(page, officer)
    page.goto(f"{live_server.url}/checkpoints/{checkpoint.pk}/entry/")
    expect(page.locator("#plate")).to_be_focused()
    shot(page, "empty")
    keys = Keys(page)
    started = time.monotonic()
    keys.type("渝A12345")
    keys.press("Tab", 2)  # past the vehicle kind (a car is the default)
    keys.type("湖北武汉")
    keys.press("Tab")
    keys.type("天生路12号3栋2单元501")
    keys.press("Tab", 2)  # past the time (empty: now) to the first occupant's name
    occupants = [("张伟", _id_number(11), "13912345678"), ("李娜", _id_number(12), "13912345679")]
    occupants.append(("王小明", "", ""))  # a child without ID number or phone: kept, flagged
    for i, (name, number, phone) in enumerate(occupants):
        if i:
            keys.press("Alt+n")  # the next occupant, origin and destination already copied
        else:
            keys.press("Alt+c")  # copy the vehicle's origin and destination to the first one
        keys.type(name)
        keys.press("Tab")
        keys.type(number)
        keys.press("Tab")
        keys.type(phone)
        keys.press("Tab", 4)  # origin, destination (copied), purpose (home) → temperature
        keys.type("38.2" if i == 2 else "36.5")
    shot(page, "filled")
    keys.press("Alt+s")
    expect(page.locator("#saved tbody tr")).to_have_count(3)
    elapsed = time.monotonic() - started
    print(
        f"\ncheckpoint entry, a car of 3 from the keyboard: {keys.count} keystrokes, "
        f"{elapsed:.1f} s"
    )
    shot(page, "saved")
    arrivals = {a.name: a for a in Arrival.objects.all()}
    assert set(arrivals) == {"张伟", "李娜", "王小明"}
    assert all(a.destination == "天生路12号3栋2单元501" for a in arrivals.values())
    assert all(a.origin == "湖北武汉" for a in arrivals.values())
    assert arrivals["王小明"].needs_completion and "fever" in arrivals["王小明"].risk_flags
    assert arrivals["王小明"].referral is not None  # the fever opened a referral at once
    assert Handoff.objects.count() == 3
    expect(page.locator("#plate")).to_be_focused()  # the next vehicle starts at once
    assert keys.count < 200

    # the community accepts one of them in its inbox
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    inbox = new_page()
    login(inbox, admin)
    inbox.goto(f"{live_server.url}/checkpoints/handoffs/")
    expect(inbox.locator("#inbox tbody tr")).to_have_count(3)
    shot(inbox, "inbox")
    inbox.locator("#inbox a", has_text="张伟").click()
    inbox.locator("#accept").click()
    expect(inbox.locator("#inbox tbody tr")).to_have_count(2)
    handoff = Handoff.objects.get(arrivals__name="张伟")
    assert handoff.status == "accepted" and handoff.key_person is not None
    shot(inbox, "accepted")
    assert datetime.timedelta(0) < handoff.deadline - handoff.received_at
