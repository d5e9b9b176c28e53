"""Calendar overrides renew the "choices" stamp too (migration 0006), so each process keeps the
overrides in memory under that stamp (ledgers/workdays.py) instead of reading the table on every
page that shows a card: the stamp is read for the page's choice lists anyway (ledgers/stamps.py)."""

import importlib

from django.db import migrations

_run = importlib.import_module("ledgers.migrations.0002_append_only_journal")._run

TABLE = "ledgers_calendaroverride"
POSTGRES = [f"""
    CREATE TRIGGER {TABLE}_stamp_choices AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE
    ON {TABLE} FOR EACH STATEMENT EXECUTE FUNCTION walkflow_stamp_choices();
"""]
POSTGRES_REVERSE = [f"DROP TRIGGER IF EXISTS {TABLE}_stamp_choices ON {TABLE}"]
_SQLITE_STAMP = """
    INSERT INTO ledgers_changestamp (name, value) VALUES ('choices', random())
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
"""
SQLITE = [f"CREATE TRIGGER {TABLE}_stamp_choices_{event.lower()} AFTER {event} ON {TABLE} BEGIN {_SQLITE_STAMP} END"
          for event in ("INSERT", "UPDATE", "DELETE")]
SQLITE_REVERSE = [f"DROP TRIGGER IF EXISTS {TABLE}_stamp_choices_{event}" for event in ("insert", "update", "delete")]


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0012_dashboard_stamp")]

    operations = [
        migrations.RunPython(_run({"postgresql": POSTGRES, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE})),
    ]
