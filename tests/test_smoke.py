from doorstep.registry.models import Person


def test_fixtures_build_a_tree_with_households(households, areas):
    assert Person.objects.count() == 8
    assert areas["G1"].path.startswith(areas["C1"].path)
