"""Demo data for the trust pages, so that the first login shows them alive: an ID number waiting
for reconciliation in the demo community (a newcomer recorded with the number of a resident of
another street), and an API token for the demo worker's phone."""

from doorstep.accounts.models import ApiToken, User
from doorstep.accounts.tokens import api_token_create
from doorstep.areas.models import Area
from doorstep.core.db import prefix_q
from doorstep.registry.models import Household, IdReconciliation, Person
from doorstep.registry.services import person_create


def demo_trust_create(*, district: Area) -> None:
    """Idempotent: loading the demo again adds nothing."""
    secretary = User.objects.filter(username="community").select_related("jurisdiction_area")
    secretary = secretary.first()
    worker = User.objects.filter(username="worker").first()
    if worker is not None and not ApiToken.objects.filter(user=worker).exists():
        api_token_create(user=worker, name="演示手机（入户）")
    if secretary is None or secretary.jurisdiction_area is None:
        return
    community = secretary.jurisdiction_area
    if IdReconciliation.objects.filter(prefix_q("person__household__grid__path", community.path)):
        return
    street_path = community.parent.path if community.parent else community.path
    elsewhere = (
        Person.objects.exclude(prefix_q("household__grid__path", street_path))
        .filter(prefix_q("household__grid__path", district.path), id_number__isnull=False)
        .order_by("pk")
        .first()
    )
    household = (
        Household.objects.filter(prefix_q("grid__path", community.path)).order_by("pk").first()
    )
    if elsewhere is None or household is None:
        return
    person_create(
        user=secretary,
        household_id=household.pk,
        data={
            "name": "王新来",
            "id_type": "resident_id",
            "id_number": elsewhere.id_number,
            "relation": "租客",
            "residency": "temporary",
            "status": "active",
        },
    )
