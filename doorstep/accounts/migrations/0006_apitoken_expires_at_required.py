"""Every token has an expiry (0005 gave one to those without); in its own migration, so that on
PostgreSQL the ALTER TABLE does not meet 0005's pending deferred checks."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_apitoken_lifetime"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
    ]
