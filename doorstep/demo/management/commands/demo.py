import sys
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand
from tqdm import tqdm

from doorstep.demo.generator import write_roster_csv
from doorstep.demo.services import demo_areas_create, demo_load


class Command(BaseCommand):
    help = "Build a synthetic Beibei-like district (deterministic for a seed) and its demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--persons", type=int, default=20000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--csv-only",
            type=Path,
            metavar="FILE",
            help="create the area tree and write the roster CSV to FILE without importing it",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        persons, seed = options["persons"], options["seed"]
        if options["csv_only"]:
            demo_areas_create(persons=persons)
            count = write_roster_csv(options["csv_only"], persons=persons, seed=seed)
            self.stdout.write(f"wrote {count} persons to {options['csv_only']}")
            return
        bar = None if options["no_progress"] else tqdm(unit="row", file=sys.stderr)

        def progress(job):
            if bar is not None:
                bar.total, bar.n = job.rows_total or None, job.rows_done
                bar.refresh()

        district, _logins, job = demo_load(persons=persons, seed=seed, on_progress=progress)
        if bar is not None:
            bar.close()
        self.stdout.write(f"demo district {district.name}: {job.summary_line()}")
        # One list of logins, with the two-factor note, whether the demo was just built or not.
        call_command("demo_logins", stdout=self.stdout)
