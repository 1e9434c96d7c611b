"""Handing work to the background worker, also when the queue's Redis does not answer.

Production queues tasks in Redis (django-tasks-rq, worker: `manage.py rqworker`). A Redis that
is down must not lose the request that asked for the work: the task then goes to the database
queue (`TASKS["database"]`, django-tasks-db, worker: `manage.py db_worker --backend database`),
which the production worker runs beside the RQ one. Profiles with a single backend (the
database queue by default, the immediate one in tests) enqueue as before.
"""

import logging

from django.db import transaction
from django_tasks import task, task_backends
from django_tasks.base import Task

from .cache import UNREACHABLE

logger = logging.getLogger("doorstep.tasks")
FALLBACK_BACKEND = "database"


def enqueue(task: Task, *args, **kwargs):
    try:
        return task.enqueue(*args, **kwargs)
    except UNREACHABLE as error:
        if task.backend == FALLBACK_BACKEND or FALLBACK_BACKEND not in task_backends.settings:
            raise
        logger.warning(
            "task queue unreachable (%s): %s queued in the database instead",
            type(error).__name__,
            task.name,
            extra={"event": "task_queue_fallback", "task": task.name},
        )
        return task.using(backend=FALLBACK_BACKEND).enqueue(*args, **kwargs)


def enqueue_on_commit(task: Task, *args, **kwargs) -> None:
    """Enqueue once the caller's transaction has committed (the worker must see its rows)."""
    transaction.on_commit(lambda: enqueue(task, *args, **kwargs))


@task()
def apply_retention_due() -> int:
    """The daily retention run (`apply_retention`, as the operator): rows anonymised."""
    from .retention import run_steps

    return sum(counts.total for _step, counts in run_steps(user=None))
