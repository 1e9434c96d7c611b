"""django-ninja names an OpenAPI component after its class: two routers with a `BatchIn` each
share one component, and the schema then describes one operation's body with the other's (the
fuzzer sent a checkpoint's `passages` to the visits batch). Every schema class of the API has a
name of its own."""

from collections import defaultdict

from ninja import Schema

from doorstep.api import api


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found


def test_every_api_schema_class_has_a_name_of_its_own():
    api.get_openapi_schema()  # imports every router
    by_name: dict[str, set[str]] = defaultdict(set)
    for cls in _subclasses(Schema):
        if cls.__module__.startswith("doorstep."):
            by_name[cls.__name__].add(cls.__module__)
    shared = {name: modules for name, modules in by_name.items() if len(modules) > 1}
    assert shared == {}


def test_the_visit_batch_body_is_the_visits_batch():
    schema = api.get_openapi_schema()
    body = schema["paths"]["/api/campaigns/{campaign_id}/visits/batch"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rpartition("/")[2]
    assert "visits" in schema["components"]["schemas"][ref]["properties"]
