from django.db import migrations

from doorstep.core.db import add_pattern_ops_index


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    # Name search is a prefix match: LIKE 'name%' on PostgreSQL (see core.db.prefix_q).
    operations = [add_pattern_ops_index("registry_person", "name")]
