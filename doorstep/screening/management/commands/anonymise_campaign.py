from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.http import Http404
from django.utils.translation import gettext as _

from doorstep.screening.models import Campaign
from doorstep.screening.retention import (
    DEFAULT_BATCH_SIZE,
    AnonymisedCounts,
    RetentionRefused,
    anonymisation_pending,
    campaign_anonymise,
    campaign_archive,
)


class Command(BaseCommand):
    help = (
        "Anonymise the personal answers of a closed, archived campaign (temperatures, symptoms, "
        "travel and whereabouts answers, notes, self-report codes), keeping every coverage and "
        "flagged figure. --archive archives a closed campaign first; it needs --user, a command "
        "(指挥部) account the audit trail names. Without --user the run is the operator's. "
        "Works in batches and may be run again: a rerun finishes an interrupted run and changes "
        "nothing after a complete one. --dry-run prints what would be anonymised and changes "
        "nothing. Exit 0 when done (or nothing was left), 1 when the campaign is open, not "
        "archived or not the user's, 2 when the campaign or user does not exist or the options "
        "do not fit."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--archive", action="store_true", help="archive a closed campaign")
        parser.add_argument("--user", help="username to act as (required with --archive)")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)

    def handle(self, *args, campaign_id, dry_run, archive, user, batch_size, **options):
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(
                _("campaign %(id)d does not exist") % {"id": campaign_id}, returncode=2
            )
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(_("user %(name)s does not exist") % {"name": user}, returncode=2)
        elif archive:
            raise CommandError(_("--archive needs --user"), returncode=2)
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1"), returncode=2)
        label = f"{campaign.pk} “{campaign.name}”"
        try:
            if dry_run:
                counts = anonymisation_pending(
                    user=actor, campaign=campaign, archiving_first=archive
                )
                if archive and campaign.archived_at is None:
                    self.stdout.write(_("would archive campaign %(c)s") % {"c": label})
                self.stdout.write(
                    _("campaign %(c)s, would anonymise: %(what)s")
                    % {"c": label, "what": self._describe(counts)}
                )
                return
            if archive and campaign.archived_at is None:
                campaign = campaign_archive(user=actor, campaign=campaign)
                self.stdout.write(_("archived campaign %(c)s") % {"c": label})
            counts = campaign_anonymise(user=actor, campaign=campaign, batch_size=batch_size)
        except RetentionRefused as refused:
            raise CommandError(f"{label}: {refused.message}", returncode=1) from None
        except (PermissionDenied, Http404):
            raise CommandError(
                _("campaign %(c)s: user %(name)s may not archive or anonymise it")
                % {"c": label, "name": user},
                returncode=1,
            ) from None
        self.stdout.write(
            _("campaign %(c)s, anonymised: %(what)s") % {"c": label, "what": self._describe(counts)}
        )

    def _describe(self, counts: AnonymisedCounts) -> str:
        return _("%(visits)d visits, %(checks)d person checks, %(codes)d self-report codes") % {
            "visits": counts.visits,
            "checks": counts.person_checks,
            "codes": counts.self_report_codes,
        }
