from django_tasks import task


@task()
def run_import_job(job_id: str) -> str:
    from .services import roster_import_run

    job = roster_import_run(job_id=job_id)
    return job.status
