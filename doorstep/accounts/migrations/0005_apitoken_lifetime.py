"""Every token expires: those made before the rule without an expiry get 30 days from now (the
devices keep working while their users renew or replace them). Tokens record where they were last
used, why they were revoked, and the authenticator a two-factor token was made with."""

import datetime

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def expire_tokens_without_expiry(apps, schema_editor):
    ApiToken = apps.get_model("accounts", "ApiToken")
    ApiToken.objects.filter(expires_at__isnull=True).update(
        expires_at=timezone.now() + datetime.timedelta(days=30)
    )


def link_second_factor_tokens(apps, schema_editor):
    """A two-factor token made before this migration stands on the user's confirmed device."""
    ApiToken = apps.get_model("accounts", "ApiToken")
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    for token in ApiToken.objects.filter(made_with_second_factor=True, made_with_device=None):
        device = (
            TOTPDevice.objects.filter(user_id=token.user_id, confirmed=True).order_by("pk").first()
        )
        if device is not None:
            token.made_with_device_id = device.pk
            token.save(update_fields=["made_with_device"])


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_apitoken_made_with_second_factor"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="last_used_ip",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="revoked_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("owner", "revoked by its owner"),
                    ("admin", "revoked by an administrator"),
                    ("password", "password changed"),
                    ("deactivated", "account deactivated"),
                    ("authenticator", "authenticator reset"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="made_with_device",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="otp_totp.totpdevice",
            ),
        ),
        migrations.RunPython(expire_tokens_without_expiry, migrations.RunPython.noop),
        migrations.RunPython(link_second_factor_tokens, migrations.RunPython.noop),
    ]
