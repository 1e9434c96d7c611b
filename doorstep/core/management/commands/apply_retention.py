from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from doorstep.core.retention import DEFAULT_BATCH_SIZE, RetentionStep, run_steps, steps


class Command(BaseCommand):
    help = (
        "Anonymise what follow-up and checkpoints collected about people once their case has "
        "been closed for the retention period (FOLLOWUP_RETENTION_DAYS, "
        "DOORSTEP_CHECKPOINT_RETENTION_DAYS), keeping every figure of the brief and the counts. "
        "Without --user the run is the operator's (the whole database); with --user, a command "
        "(指挥部) account, only its jurisdiction, named in the audit trail. Works in batches and "
        "may be run again (daily, from cron): a rerun finishes an interrupted run and changes "
        "nothing after a complete one. --dry-run prints what would be anonymised. Closed sweep "
        "campaigns have their own step: anonymise_campaign. Exit 0 when done, 1 when the user "
        "may not anonymise, 2 when the user or a step does not exist or the options do not fit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--user", help="username to act as (a command account)")
        parser.add_argument(
            "--only", action="append", default=[], help="run only this step (repeatable)"
        )
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        username, batch_size, only = options["user"], options["batch_size"], options["only"]
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username).first()
            if actor is None:
                raise CommandError(
                    _("user %(name)s does not exist") % {"name": username}, returncode=2
                )
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1"), returncode=2)
        known = {step.key for step in steps()}
        unknown = sorted(set(only) - known)
        if unknown:
            raise CommandError(
                _("no retention step %(key)s (known: %(known)s)")
                % {"key": ", ".join(unknown), "known": ", ".join(sorted(known))},
                returncode=2,
            )
        try:
            done = run_steps(
                user=actor, dry_run=options["dry_run"], only=only, batch_size=batch_size
            )
        except PermissionDenied:
            raise CommandError(
                _("user %(name)s may not anonymise: only a command account may")
                % {"name": username},
                returncode=1,
            ) from None
        for step, counts in done:
            line = (
                _("%(step)s, would anonymise: %(what)s")
                if options["dry_run"]
                else _("%(step)s, anonymised: %(what)s")
            )
            self.stdout.write(line % {"step": step.label, "what": self._describe(step, counts)})

    def _describe(self, step: RetentionStep, counts: Any) -> str:
        return ", ".join(
            str(label) % {"n": getattr(counts, key)} for key, label in step.labels.items()
        )
