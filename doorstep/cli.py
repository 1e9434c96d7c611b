"""`doorstep COMMAND ...`: the management commands under names a shell user types.

`doorstep import-roster FILE --area CODE` is `manage.py import_roster FILE --area CODE`.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "doorstep.settings.dev")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    execute_from_command_line(["doorstep", *argv[1:]])


if __name__ == "__main__":
    main()
