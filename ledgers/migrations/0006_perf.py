"""Performance, round 2 (issue 10).

1. Each rectification item carries its unit's and its lead unit's paths, so that visible_to() is two
   prefix ranges served by one index each (the unit path, then status and deadline) instead of two
   sub-selects tested on every row. The database keeps the copies right by itself: a trigger fills
   them on every insert and on every change of unit or lead unit, and a trigger on the unit table
   rewrites them when a unit's path changes (move_unit rewrites a whole subtree in one UPDATE). No
   code path has to remember anything: services, walk submission, imports, bulk_create, the admin.
2. ChangeStamp rows that the database changes whenever the rows behind the cached choice lists
   change (ledgers/choices.py), in the same transaction.
"""

import importlib

from django.db import migrations, models

# Statements per database vendor, run as in the append-only migration.
_run = importlib.import_module("ledgers.migrations.0002_append_only_journal")._run

ITEM = "ledgers_rectificationitem"

BACKFILL = f"""
    UPDATE {ITEM} SET
        unit_path = (SELECT path FROM ledgers_unit WHERE ledgers_unit.id = {ITEM}.unit_id),
        lead_path = (SELECT path FROM ledgers_unit WHERE ledgers_unit.id = {ITEM}.lead_unit_id)
"""

# The tables the choice lists are read from; users only for the columns the lists show, or every
# sign-in (last_login) would throw the lists away.
CHOICE_TABLES = {
    "ledgers_unit": None,
    "ledgers_user": "username, first_name, last_name, unit_id, is_active",
    "ledgers_user_groups": None,
    "auth_group": None,
    "ledgers_campaign": None,
    "ledgers_serviceitem": None,
    "ledgers_subcategory": None,
}

POSTGRES_INDEXES = [
    # varchar_pattern_ops: a LIKE 'prefix%' range under any collation (production is not always "C").
    # Counts per status and card are read from these alone (index-only): id is included for COUNT(id),
    # unit_path for the part "led from the scope, found outside it".
    f"CREATE INDEX item_unit_path_idx ON {ITEM} (unit_path varchar_pattern_ops, status, deadline) INCLUDE (id)",
    f"CREATE INDEX item_lead_path_idx ON {ITEM} (lead_path varchar_pattern_ops, status, deadline) "
    "INCLUDE (unit_path, id)",
]
SQLITE_INDEXES = [
    f"CREATE INDEX item_unit_path_idx ON {ITEM} (unit_path, status, deadline)",
    f"CREATE INDEX item_lead_path_idx ON {ITEM} (lead_path, status, deadline)",
]
INDEXES_REVERSE = ["DROP INDEX IF EXISTS item_unit_path_idx", "DROP INDEX IF EXISTS item_lead_path_idx"]

_POSTGRES_RANDOM = "floor(random() * 9007199254740991)::bigint"  # 53 random bits

POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION walkflow_item_paths() RETURNS trigger AS $$
    BEGIN
        NEW.unit_path := (SELECT path FROM ledgers_unit WHERE id = NEW.unit_id);
        NEW.lead_path := (SELECT path FROM ledgers_unit WHERE id = NEW.lead_unit_id);
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    # The paths themselves are in the column list: a write of a wrong value is corrected too.
    f"""
    CREATE TRIGGER item_paths BEFORE INSERT OR UPDATE OF unit_id, lead_unit_id, unit_path, lead_path ON {ITEM}
    FOR EACH ROW EXECUTE FUNCTION walkflow_item_paths();
    """,
    f"""
    CREATE OR REPLACE FUNCTION walkflow_unit_path_to_items() RETURNS trigger AS $$
    BEGIN
        UPDATE {ITEM} SET unit_path = NEW.path WHERE unit_id = NEW.id;
        UPDATE {ITEM} SET lead_path = NEW.path WHERE lead_unit_id = NEW.id;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER unit_path_to_items AFTER UPDATE OF path ON ledgers_unit
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION walkflow_unit_path_to_items();
    """,
    # A random stamp, new for every change (even within one transaction or after a rollback) and
    # unlike any other database's: a cache shared by several databases (CI runs, a restored backup)
    # never hands one database a list cached for another.
    f"""
    CREATE OR REPLACE FUNCTION walkflow_stamp_choices() RETURNS trigger AS $$
    BEGIN
        INSERT INTO ledgers_changestamp (name, value) VALUES ('choices', {_POSTGRES_RANDOM})
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
] + [
    f"""
    CREATE TRIGGER {table}_stamp_choices AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE{f" OF {columns}" if columns else ""}
    ON {table} FOR EACH STATEMENT EXECUTE FUNCTION walkflow_stamp_choices();
    """
    for table, columns in CHOICE_TABLES.items()
]

POSTGRES_REVERSE = [
    f"DROP TRIGGER IF EXISTS item_paths ON {ITEM}",
    "DROP TRIGGER IF EXISTS unit_path_to_items ON ledgers_unit",
    *[f"DROP TRIGGER IF EXISTS {table}_stamp_choices ON {table}" for table in CHOICE_TABLES],
    "DROP FUNCTION IF EXISTS walkflow_item_paths()",
    "DROP FUNCTION IF EXISTS walkflow_unit_path_to_items()",
    "DROP FUNCTION IF EXISTS walkflow_stamp_choices()",
]

# SQLite cannot assign NEW in a BEFORE trigger: the row is corrected right after it is written.
# Recursive triggers are off in SQLite, so the UPDATE inside does not fire its own trigger again.
_SQLITE_FILL = f"""
    UPDATE {ITEM} SET unit_path = (SELECT path FROM ledgers_unit WHERE id = NEW.unit_id),
                      lead_path = (SELECT path FROM ledgers_unit WHERE id = NEW.lead_unit_id)
    WHERE id = NEW.id;
"""
_SQLITE_STAMP = """
    INSERT INTO ledgers_changestamp (name, value) VALUES ('choices', random())
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
"""
SQLITE = [
    f"CREATE TRIGGER item_paths_insert AFTER INSERT ON {ITEM} BEGIN {_SQLITE_FILL} END",
    f"""CREATE TRIGGER item_paths_update AFTER UPDATE OF unit_id, lead_unit_id, unit_path, lead_path ON {ITEM}
        BEGIN {_SQLITE_FILL} END""",
    f"""CREATE TRIGGER unit_path_to_items AFTER UPDATE OF path ON ledgers_unit WHEN OLD.path IS NOT NEW.path
        BEGIN
            UPDATE {ITEM} SET unit_path = NEW.path WHERE unit_id = NEW.id;
            UPDATE {ITEM} SET lead_path = NEW.path WHERE lead_unit_id = NEW.id;
        END""",
] + [
    f"""CREATE TRIGGER {table}_stamp_choices_{event.split()[0].lower()} AFTER {event} ON {table}
        BEGIN {_SQLITE_STAMP} END"""
    for table, columns in CHOICE_TABLES.items()
    for event in ("INSERT", "DELETE", f"UPDATE OF {columns}" if columns else "UPDATE")
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS item_paths_insert",
    "DROP TRIGGER IF EXISTS item_paths_update",
    "DROP TRIGGER IF EXISTS unit_path_to_items",
    *[f"DROP TRIGGER IF EXISTS {table}_stamp_choices_{event}" for table in CHOICE_TABLES
      for event in ("insert", "delete", "update")],
]


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0004_ledger_export")]

    operations = [
        migrations.CreateModel(
            name="ChangeStamp",
            fields=[
                ("name", models.CharField(max_length=40, primary_key=True, serialize=False, verbose_name="名称")),
                ("value", models.BigIntegerField(default=0, verbose_name="标记")),
            ],
            options={"verbose_name": "缓存版本", "verbose_name_plural": "缓存版本"},
        ),
        migrations.AddField(
            model_name="rectificationitem",
            name="unit_path",
            field=models.CharField(default="", editable=False, max_length=255, verbose_name="所属单位路径"),
        ),
        migrations.AddField(
            model_name="rectificationitem",
            name="lead_path",
            field=models.CharField(default="", editable=False, max_length=255, verbose_name="牵头部门路径"),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        # A first stamp: lists cached before any change are keyed by this database's own value.
        migrations.RunPython(_run({
            "postgresql": [f"INSERT INTO ledgers_changestamp (name, value) VALUES ('choices', {_POSTGRES_RANDOM})"],
            "sqlite": ["INSERT INTO ledgers_changestamp (name, value) VALUES ('choices', random())"],
        }), migrations.RunPython.noop),
        migrations.RunPython(_run({"postgresql": POSTGRES_INDEXES, "sqlite": SQLITE_INDEXES}),
                             _run({"postgresql": INDEXES_REVERSE, "sqlite": INDEXES_REVERSE})),
        migrations.RunPython(_run({"postgresql": POSTGRES, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE})),
    ]
