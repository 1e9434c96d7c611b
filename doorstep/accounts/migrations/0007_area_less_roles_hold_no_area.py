"""Checkpoint, clinic and institution accounts hold no area: an area (given, say, by a bulk
account sheet) opened its roster to them. Those that hold one lose it, then the database refuses
it for good."""

from django.db import migrations, models

AREA_LESS_ROLES = ["checkpoint_officer", "clinic_staff", "institution_reporter"]


def drop_areas_of_area_less_roles(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.filter(role__in=AREA_LESS_ROLES, jurisdiction_area__isnull=False).update(
        jurisdiction_area=None
    )


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0006_apitoken_expires_at_required"),
        ("areas", "0002_path_prefix_index"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(drop_areas_of_area_less_roles, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(("jurisdiction_area__isnull", True))
                | ~models.Q(("role__in", AREA_LESS_ROLES)),
                name="area_less_roles_hold_no_area",
                violation_error_message=(
                    "checkpoint, clinic and institution accounts have no area jurisdiction"
                ),
            ),
        ),
    ]
