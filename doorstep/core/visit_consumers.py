"""What other domains do with a saved sweep visit, without the sweep importing them (DESIGN.md §7:
screening ← followup, never the reverse). Two kinds of provider, each listed by dotted path in
settings, the way `command/sections.py` lists the brief's sections:

- `DOORSTEP_VISIT_CONSUMERS`: callables `consumer(visit_ids: Sequence[int]) -> None`, told which
  visits were saved. Follow-up's (`followup.sweep_link.visits_recorded`) makes a person with a
  fever or a listed symptom a key person and opens their referral at once.
- `DOORSTEP_FLAG_OUTCOME_PROVIDERS`: callables
  `provider(*, user, person_check_ids: Sequence[int]) -> Mapping[int, str]`, asked what they did
  for these flagged person checks (the worker's feedback after a save names it per person).

When. Screening's visit service calls `visits_saved(ids)` after the visit is written, and the
consumers run on commit of the visit's transaction, never inside it:
- the visit stands whatever a consumer does: a consumer that fails is logged (its path, the
  exception's kind and where it was raised, the count of visits: nothing personal) and the
  flagged person stays on follow-up's "from the sweep's flags" list, one click away as before;
- the SQLite write lock is held for the visit's own inserts only (ARCHITECTURE rule 10);
- a visit recorded inside a larger transaction (a held visit accepted, which then gives the visit
  to the worker who made it) is seen by the consumers as it was committed;
- a batch (the API's, the outbox's, a sheet of thousands of rows) is one call with all its visit
  ids: `with visits_batch():` around the loop collects them.
A crash between the commit and the consumer leaves the person on that list too; a replay of the
visit (same client UUID) is told to the consumers again, and they are idempotent, so the replay
repairs it and never opens anything twice.
"""

from __future__ import annotations

import contextvars
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger("doorstep.visit_consumers")

VisitConsumer = Callable[[Sequence[int]], None]
FlagOutcomeProvider = Callable[..., Mapping[int, str]]

_batch: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "visit_consumers_batch", default=None
)


@cache
def _load(paths: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(import_string(path) for path in paths)


def consumers() -> tuple[tuple[str, VisitConsumer], ...]:
    paths = tuple(getattr(settings, "DOORSTEP_VISIT_CONSUMERS", ()))
    return tuple(zip(paths, _load(paths), strict=True))


def flag_outcome_providers() -> tuple[tuple[str, FlagOutcomeProvider], ...]:
    paths = tuple(getattr(settings, "DOORSTEP_FLAG_OUTCOME_PROVIDERS", ()))
    return tuple(zip(paths, _load(paths), strict=True))


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def _dispatch(visit_ids: list[int]) -> None:
    for path, consumer in consumers():
        try:
            consumer(visit_ids)
        except Exception as error:
            # The exception's text may carry a name or a number: only its kind and place.
            logger.error(
                "visit consumer %s failed for %d visits: %s at %s",
                path,
                len(visit_ids),
                type(error).__name__,
                _where(error),
            )


def visits_saved(visit_ids: Sequence[int]) -> None:
    """Tell the consumers these visits were saved (or replayed): inside `visits_batch()` the ids
    join the batch's one call; otherwise the call runs on commit of the current transaction (at
    once when there is none)."""
    ids = [int(pk) for pk in visit_ids]
    if not ids:
        return
    pending = _batch.get()
    if pending is not None:
        pending.extend(ids)
        return
    transaction.on_commit(lambda: _dispatch(ids))


@contextmanager
def visits_batch() -> Iterator[None]:
    """Collect the visits saved inside the block into one call to each consumer, made on commit
    when the block ends (also when it ends with an exception: the visits written are saved).
    Nested blocks join the outermost one."""
    if _batch.get() is not None:
        yield
        return
    pending: list[int] = []
    token = _batch.set(pending)
    try:
        yield
    finally:
        _batch.reset(token)
        if pending:
            ids = list(dict.fromkeys(pending))
            transaction.on_commit(lambda: _dispatch(ids))


def flag_outcomes(*, user: Any, person_check_ids: Sequence[int]) -> dict[int, list[str]]:
    """What the providers did for these person checks, in the user's scope: person check id →
    sentences. Empty when no provider is listed (the caller then says what happens in general
    words); a provider that fails is logged like a consumer and adds nothing."""
    answers: dict[int, list[str]] = {}
    ids = list(person_check_ids)
    if not ids:
        return answers
    for path, provider in flag_outcome_providers():
        try:
            said = provider(user=user, person_check_ids=ids)
        except Exception as error:
            logger.error(
                "flag outcome provider %s failed: %s at %s",
                path,
                type(error).__name__,
                _where(error),
            )
            continue
        for pk, text in said.items():
            if text:
                answers.setdefault(pk, []).append(str(text))
    return answers
