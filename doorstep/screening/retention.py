"""Retention: a closed campaign is archived, then the personal answers its visits collected are
anonymised, while every figure the coverage pages show stays exactly as it was.

What goes (collected only for the campaign): each person check's whereabouts, expected return,
temperature, symptoms, travel answers, contact answer, notes and the list of rules that fired;
each visit's notes and its body hash (a hash of the answers: with the rest of the row known, a
temperature or a symptom could be guessed back from it); the self-report codes of the notice
slips.

What stays, because a figure depends on it:
- the progress rows (`HouseholdProgress`): state, counters and person figures, which every
  coverage level and the flagged count read;
- what the progress fold reads (`progress.fold_step`, `progress.check_counts_for`), so that
  `recompute_progress` still finds no difference: each visit's outcome, source, time and
  verification, and each check's presence (seen / elsewhere) and `flagged` flag;
- the roster (`Household`, `Person`): it is not the campaign's;
- the workers on visits and progress rows: staff, not residents, and the per-worker coverage
  rows are built from them.

A person check still points at its roster person (the model requires it), so the flagged list
still names who was flagged, without the reason, the temperature or the travel answers.
"""

from dataclasses import asdict, dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import Role, User
from doorstep.core.db import in_values_q, sqlite_writer_turn
from doorstep.core.services import audit_write

from .models import Campaign, HeldVisit, PersonCheck, SelfReportToken, Visit
from .selectors import access_campaign

# A 1,000,000-visit campaign becomes 500 short transactions: other writers are never held up
# for long, and a run that is killed keeps what it committed.
DEFAULT_BATCH_SIZE = 2000

ANONYMOUS_CHECK = {
    "person": None,
    "whereabouts": "",
    "expected_return": None,
    "temperature": None,
    "symptoms": [],
    "travel_from": "",
    "returned_on": None,
    "travel_means": "",
    "contact_with_case": False,
    "notes": "",
    "flags": [],
}
ANONYMOUS_VISIT = {"notes": "", "body_hash": ""}

# Rows that still hold something to anonymise: a rerun touches only these, so it is cheap and
# its counts say what it really changed.
CHECK_HOLDS_DATA = (
    Q(person__isnull=False)
    | ~Q(whereabouts="")
    | Q(expected_return__isnull=False)
    | Q(temperature__isnull=False)
    | ~Q(symptoms=[])
    | ~Q(travel_from="")
    | Q(returned_on__isnull=False)
    | ~Q(travel_means="")
    | Q(contact_with_case=True)
    | ~Q(notes="")
    | ~Q(flags=[])
)
VISIT_HOLDS_DATA = ~Q(notes="") | ~Q(body_hash="")


class RetentionRefused(Exception):
    """The campaign is not in the state this step needs; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class AnonymisedCounts:
    visits: int = 0
    person_checks: int = 0
    self_report_codes: int = 0
    # Visits recorded offline and held for a decision (issue 14): their forms hold answers too.
    held_visits: int = 0

    @property
    def total(self) -> int:
        return self.visits + self.person_checks + self.self_report_codes + self.held_visits


def _access_for_retention(user: User, campaign: Campaign) -> Campaign:
    """The campaign, re-read, if `user` may archive and anonymise it: the command (指挥部) whose
    jurisdiction holds the whole campaign. Out of sight is Http404, in sight but not theirs is
    PermissionDenied."""
    campaign = access_campaign(user, campaign.pk)
    if user.role != Role.COMMAND or not campaign.scope_area.path.startswith(
        user.jurisdiction_area.path
    ):
        raise PermissionDenied
    return campaign


def _is_closed(campaign: Campaign) -> bool:
    return campaign.closed_at is not None and campaign.closed_at <= timezone.now()


def campaign_archive_check(*, user: User, campaign: Campaign) -> Campaign:
    """Everything `campaign_archive` checks, without writing (for a dry run)."""
    campaign = _access_for_retention(user, campaign)
    if not _is_closed(campaign):
        raise RetentionRefused(_("the campaign is still open: close it first"))
    return campaign


@transaction.atomic
def campaign_archive(*, user: User, campaign: Campaign, request=None) -> Campaign:
    """Mark a closed campaign archived: its figures are final and its personal answers may be
    anonymised. Archiving an archived campaign changes nothing."""
    campaign = campaign_archive_check(user=user, campaign=campaign)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.archived_at is None:
        campaign.archived_at = timezone.now()
        campaign.save(update_fields=["archived_at"])
        audit_write(user=user, action="campaign.archive", obj=campaign, request=request)
    return campaign


def campaign_anonymise_check(*, user: User | None, campaign: Campaign) -> Campaign:
    """Everything `campaign_anonymise` checks, without writing. `user` None is the operator at
    the server's shell (the `anonymise_campaign` command run without --user)."""
    if user is not None:
        campaign = _access_for_retention(user, campaign)
    else:
        campaign = Campaign.objects.select_related("scope_area").get(pk=campaign.pk)
    if not _is_closed(campaign):
        raise RetentionRefused(_("the campaign is still open: close and archive it first"))
    if campaign.archived_at is None:
        raise RetentionRefused(_("the campaign is closed but not archived: archive it first"))
    return campaign


def anonymisation_pending(
    *, user: User | None, campaign: Campaign, archiving_first: bool = False
) -> AnonymisedCounts:
    """What `campaign_anonymise` would anonymise now (the dry run). `archiving_first`: the run
    would archive the campaign before anonymising, so check what archiving checks instead."""
    if archiving_first and campaign.archived_at is None:
        campaign = campaign_archive_check(user=user, campaign=campaign)
    else:
        campaign = campaign_anonymise_check(user=user, campaign=campaign)
    return AnonymisedCounts(
        visits=Visit.objects.filter(campaign=campaign).filter(VISIT_HOLDS_DATA).count(),
        person_checks=PersonCheck.objects.filter(visit__campaign=campaign)
        .filter(CHECK_HOLDS_DATA)
        .count(),
        self_report_codes=SelfReportToken.objects.filter(campaign=campaign).count(),
        held_visits=HeldVisit.objects.filter(campaign=campaign).exclude(form=[]).count(),
    )


def campaign_anonymise(
    *,
    user: User | None,
    campaign: Campaign,
    batch_size: int = DEFAULT_BATCH_SIZE,
    request=None,
) -> AnonymisedCounts:
    """Blank the personal answers of an archived campaign (see the module docstring), keeping
    every coverage and flagged figure. Returns what this run anonymised.

    Deliberately not one transaction: visits go in batches of `batch_size`, each committed with
    its person checks. A run that stops half-way leaves committed batches anonymised and the
    campaign not marked; running again finishes the job. The campaign is marked anonymised and
    the audit event (counts only) written by the run that completes; a run that finds nothing
    left on a campaign already marked writes nothing at all.
    """
    campaign = campaign_anonymise_check(user=user, campaign=campaign)
    counts = AnonymisedCounts()
    last_pk = 0
    while True:
        # Read outside the write transaction, so the SQLite write lock covers only the updates.
        visit_ids = list(
            Visit.objects.filter(campaign=campaign, pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not visit_ids:
            break
        last_pk = visit_ids[-1]
        with sqlite_writer_turn(), transaction.atomic():
            counts.person_checks += (
                PersonCheck.objects.filter(in_values_q("visit_id", visit_ids))
                .filter(CHECK_HOLDS_DATA)
                .update(**ANONYMOUS_CHECK)
            )
            counts.visits += (
                Visit.objects.filter(in_values_q("id", visit_ids))
                .filter(VISIT_HOLDS_DATA)
                .update(**ANONYMOUS_VISIT)
            )
    with sqlite_writer_turn(), transaction.atomic():
        # The codes only ever opened this campaign's form, which closed with the campaign.
        counts.self_report_codes, _deleted = SelfReportToken.objects.filter(
            campaign=campaign
        ).delete()
        counts.held_visits = (
            HeldVisit.objects.filter(campaign=campaign).exclude(form=[]).update(form=[])
        )
        if counts.total or campaign.anonymised_at is None:
            campaign.anonymised_at = timezone.now()
            Campaign.objects.filter(pk=campaign.pk).update(anonymised_at=campaign.anonymised_at)
            audit_write(
                user=user,
                action="campaign.anonymise",
                obj=campaign,
                request=request,
                detail=asdict(counts),
            )
    return counts
