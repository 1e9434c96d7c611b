"""The dashboard's areas-below table is built by a tag (`area_rows`), not a template loop: its
HTML must stay what the loop gave, escaping and localisation included."""

import pytest
from django.template import Context, Template
from django.utils import translation

from doorstep.command.templatetags.command import area_rows

THE_LOOP = (
    "{% load i18n %}{% url 'registry:household_list' as households_url %}"
    "{% trans 'Name' as name_label %}{% trans 'Code' as code_label %}"
    "{% trans 'Sub-areas' as sub_label %}{% for child in children %}<tr><td data-label="
    '"{{ name_label }}"><a href="{{ households_url }}?area={{ child.code }}">{{ child.name }}'
    '</a></td><td data-label="{{ code_label }}">{{ child.code }}</td><td data-label='
    '"{{ sub_label }}">{{ child.grid_count }}</td></tr>{% endfor %}'
)

CHILDREN = [
    {"pk": 1, "code": "110101001", "name": "东华门街道", "grid_count": 31},
    {"pk": 2, "code": "A&B<1>\"'", "name": "<script>alert('x')</script> & \"Co\"", "grid_count": 0},
    {"pk": 3, "code": "110101003", "name": "Grid's", "grid_count": 1234567},
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_rows_are_the_template_loops(language):
    with translation.override(language):
        expected = Template(THE_LOOP).render(Context({"children": CHILDREN}))
        assert area_rows(CHILDREN) == expected
        assert area_rows([]) == ""


def test_the_dashboard_renders_the_rows_through_the_tag():
    with translation.override("en"):
        page = Template("{% load command %}{% area_rows children %}").render(
            Context({"children": CHILDREN[1:2]})
        )
    assert "&lt;script&gt;" in page and "<script>" not in page
