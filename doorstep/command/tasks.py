"""Background work: the evening freeze (run by the worker on a schedule, or `freeze_brief`)."""

from django_tasks import task

from .services import brief_freeze_due


@task()
def freeze_due_briefs() -> int:
    return brief_freeze_due()
