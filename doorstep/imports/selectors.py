from django.db.models import QuerySet
from django.http import Http404

from doorstep.core.db import prefix_q

from .models import ImportJob


def import_jobs_visible_to(user) -> QuerySet[ImportJob]:
    """Jobs into areas within the user's jurisdiction, for the roles that manage the roster."""
    if not user.is_authenticated or not user.is_active or not user.manages_roster:
        return ImportJob.objects.none()
    return ImportJob.objects.filter(prefix_q("area__path", user.jurisdiction_area.path))


def access_import_job(user, job_id) -> ImportJob:
    try:
        return (
            import_jobs_visible_to(user)
            .select_related("area", "area__parent", "created_by")
            .get(pk=job_id)
        )
    except (ImportJob.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
