from django import template

from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.middleware import next_target

register = template.Library()


@register.filter
def masked_id(value):
    return mask_id_number(value)


@register.filter
def masked_phone(value):
    return mask_phone(value)


@register.filter
def return_path(request):
    """The page to come back to (the language switch's `next`): without a query that carries
    a long number, which the redirect would write into the next access log line."""
    return next_target(request)
