from django.db import migrations, models


def analyze_progress(apps, schema_editor):
    """The planner's statistics for the new index (as 0009 did for the visits' index)."""
    HouseholdProgress = apps.get_model("screening", "HouseholdProgress")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{HouseholdProgress._meta.db_table}"')


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0009_visit_campaign_entered"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="householdprogress",
            index=models.Index(
                fields=["campaign", "state", "grid", "revisit_due_at"], name="progress_revisit_due"
            ),
        ),
        migrations.RunPython(analyze_progress, migrations.RunPython.noop),
    ]
