"""The self-report page behind a notice slip's QR code (public, no login).

The token is the only key: it opens one household for one campaign. The page shows the address and
the members' names masked (张*), and nothing else: no internal ids (members are answered by their
place in the list, and the signed form stamp carries a keyed digest of the list, so a list that
changed since the form was shown is asked again). It asks only the campaign's questions, and
stores a visit that counts once a worker verifies it. Unknown, expired and closed tokens all
answer 404. Submissions are rate-limited per token and per real client address (behind the
configured proxies, core/clientip.py); a refused submission writes nothing.
"""

import datetime
import hashlib
import time
import uuid

from django.core import signing
from django.core.cache import cache
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from doorstep.core.services import client_ip
from doorstep.core.urlaccess import PUBLIC, access
from doorstep.registry.models import Person

from .. import services
from ..models import Presence, VisitOutcome
from ..rules import SYMPTOMS, PersonCheckInput
from ..selectors import self_report_members

RATE_WINDOW_SECONDS = 3600
RATE_PER_TOKEN = 10
RATE_PER_IP = 60
FORM_MAX_AGE_SECONDS = 2 * 86400
SIGNING_SALT = "doorstep.screening.selfreport"
PRESENCE_CHOICES = [Presence.PRESENT, Presence.IN_DISTRICT, Presence.OUT_OF_TOWN]


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳明 → 欧**: enough for a family to recognise its own members."""
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else "*"


def _over_limit(kind: str, key: str, limit: int) -> bool:
    """Count one attempt in the current window; True when the limit is passed."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    bucket = int(time.time() // RATE_WINDOW_SECONDS)
    name = f"doorstep:selfreport:{kind}:{digest}:{bucket}"
    cache.add(name, 0, RATE_WINDOW_SECONDS + 60)
    try:
        count = cache.incr(name)
    except ValueError:  # evicted between add and incr
        cache.set(name, 1, RATE_WINDOW_SECONDS + 60)
        count = 1
    return count > limit


def _members_digest(members: list[Person]) -> str:
    """Which members the form was shown for, without saying who they are (the stamp is signed,
    not encrypted: anyone holding it can read it)."""
    ids = ",".join(str(p.pk) for p in members)
    return salted_hmac(SIGNING_SALT + ".members", ids).hexdigest()[:16]


def _form_stamp(members: list[Person]) -> str:
    """A fresh client UUID, the time the form was shown and the members it was shown for,
    signed: a double submit of the same form is the same visit (idempotent), not a second
    one."""
    data = {"u": str(uuid.uuid4()), "t": timezone.now().isoformat(), "m": _members_digest(members)}
    return signing.dumps(data, salt=SIGNING_SALT)


def _read_stamp(value: str) -> tuple[uuid.UUID, datetime.datetime, str]:
    data = signing.loads(value, salt=SIGNING_SALT, max_age=FORM_MAX_AGE_SECONDS)
    return uuid.UUID(data["u"]), datetime.datetime.fromisoformat(data["t"]), data["m"]


class FormError(ValueError):
    pass


def _answers(post, members: list[Person], questions: set[str]) -> list[PersonCheckInput]:
    checks = []
    for index, person in enumerate(members):
        prefix = f"m{index}_"
        presence = post.get(prefix + "presence", "")
        if presence not in PRESENCE_CHOICES:
            raise FormError(_("Please say for every member whether they are at home."))
        check = PersonCheckInput(person_id=person.pk, presence=presence)
        if "temperature" in questions and presence == Presence.PRESENT:
            check.temperature = post.get(prefix + "temperature", "").strip()[:10] or None
        if "symptoms" in questions and presence == Presence.PRESENT:
            check.symptoms = [s for s in post.getlist(prefix + "symptoms") if s in SYMPTOMS]
        if "travel" in questions:
            check.travel_from = post.get(prefix + "travel_from", "").strip()[:50]
            returned = post.get(prefix + "returned_on", "").strip()
            if returned:
                try:
                    check.returned_on = datetime.date.fromisoformat(returned)
                except ValueError:
                    raise FormError(_("The date of return is not a date.")) from None
            if presence != Presence.PRESENT:
                check.whereabouts = post.get(prefix + "whereabouts", "").strip()[:100]
        if "contact" in questions:
            check.contact_with_case = post.get(prefix + "contact") == "yes"
        checks.append(check)
    return checks


def _render_form(request, row, members, *, error: str = "", status: int = 200):
    questions = set(row.campaign.questions)
    people = [
        {
            "key": f"m{index}",
            "masked_name": mask_name(p.name),
            "relation": p.relation,
            "presence": request.POST.get(f"m{index}_presence", Presence.PRESENT),
        }
        for index, p in enumerate(members)
    ]
    context = {
        "campaign": row.campaign,
        "address": row.household.address_display,
        "people": people,
        "ask": questions,
        "symptoms": list(SYMPTOMS.items()),
        "presence_choices": [(p, Presence(p).label) for p in PRESENCE_CHOICES],
        "stamp": request.POST.get("stamp") or _form_stamp(members),
        "error": error,
        "today": timezone.localdate().isoformat(),
    }
    return render(request, "screening/selfreport/form.html", context, status=status)


def _too_many(request):
    return render(request, "screening/selfreport/too_many.html", status=429)


@access(PUBLIC)
def self_report_view(request, token: str):
    token = token[:64]
    if request.method != "POST":
        row = services.self_report_lookup(token)
        return _render_form(request, row, self_report_members(row))
    ip = client_ip(request) or "unknown"
    over_ip = _over_limit("ip", ip, RATE_PER_IP)
    over_token = _over_limit("token", token, RATE_PER_TOKEN)
    if over_ip or over_token:
        return _too_many(request)
    row = services.self_report_lookup(token)
    members = self_report_members(row)
    try:
        client_uuid, shown_at, shown_for = _read_stamp(request.POST.get("stamp", ""))
    except (signing.BadSignature, KeyError, ValueError, TypeError):
        shown_for, error = "", _("The form has expired: please fill it in again.")
    else:
        error = ""
        if shown_for != _members_digest(members):
            error = _("The list of your household changed meanwhile: please fill it in again.")
    if error:
        request.POST = request.POST.copy()
        request.POST["stamp"] = _form_stamp(members)
        return _render_form(request, row, members, error=error, status=400)
    try:
        checks = _answers(request.POST, members, set(row.campaign.questions))
        visit = services.VisitInput(
            household_id=row.household_id,
            outcome=VisitOutcome.SCREENED,
            visited_at=shown_at,
            client_uuid=client_uuid,
            person_checks=checks,
            source="self_report",
        )
        services.self_report_submit(token=token, visit=visit)
    except FormError as error:
        return _render_form(request, row, members, error=str(error), status=400)
    except services.VisitRejected as rejected:
        return _render_form(request, row, members, error=rejected.message, status=400)
    except (services.VisitConflict, services.VisitTaken):
        return render(request, "screening/selfreport/done.html", {"conflict": True}, status=409)
    return render(request, "screening/selfreport/done.html", {"conflict": False})
