from django.db import migrations

from doorstep.core.db import add_pattern_ops_index


class Migration(migrations.Migration):
    dependencies = [("areas", "0001_initial")]
    # Subtree queries are LIKE 'path%' on PostgreSQL (see core.db.prefix_q).
    operations = [add_pattern_ops_index("areas_area", "path")]
