"""Each rectification item carries a copy of its problem's category (issue 10), kept right by the
database as the unit paths are (migration 0006): filled on insert and on a change of problem,
rewritten when a problem's category changes, so no code path has anything to call.

The ledger's most common filters are unit, status and category together. With the category on the
problem, PostgreSQL read every item of the unit and status and looked up each one's problem to test
the category: a city's items in progress at 1,000,000 problems are 16,000 problem lookups for the
2,300 that match. With the category in the unit-path index the index itself answers all three, and
only the matching items are read.
"""

import importlib

from django.db import migrations, models

_run = importlib.import_module("ledgers.migrations.0002_append_only_journal")._run

ITEM = "ledgers_rectificationitem"
BACKFILL = {
    # The rows' deferred stamp triggers (migration 0012) are fired here, not at commit: PostgreSQL
    # refuses to build an index on a table with trigger events pending.
    "postgresql": [f"UPDATE {ITEM} SET category = p.category FROM ledgers_problem p WHERE p.id = {ITEM}.problem_id",
                   "SET CONSTRAINTS ALL IMMEDIATE"],
    "sqlite": [f"UPDATE {ITEM} SET category = (SELECT category FROM ledgers_problem WHERE id = {ITEM}.problem_id)"],
}

POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION walkflow_item_category() RETURNS trigger AS $$
    BEGIN
        NEW.category := (SELECT category FROM ledgers_problem WHERE id = NEW.problem_id);
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    # The category itself is in the column list: a write of a wrong value is corrected too.
    f"""
    CREATE TRIGGER item_category BEFORE INSERT OR UPDATE OF problem_id, category ON {ITEM}
    FOR EACH ROW EXECUTE FUNCTION walkflow_item_category();
    """,
    f"""
    CREATE OR REPLACE FUNCTION walkflow_problem_category_to_items() RETURNS trigger AS $$
    BEGIN
        UPDATE {ITEM} SET category = NEW.category WHERE problem_id = NEW.id;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER problem_category_to_items AFTER UPDATE OF category ON ledgers_problem
    FOR EACH ROW WHEN (OLD.category IS DISTINCT FROM NEW.category)
    EXECUTE FUNCTION walkflow_problem_category_to_items();
    """,
    # Unit path, status, category as keys: the ledger's usual filter is answered inside the index;
    # status and deadline stay keys for the counts per status and card read from the index alone.
    "DROP INDEX IF EXISTS item_unit_path_idx",
    f"CREATE INDEX item_unit_path_idx ON {ITEM} (unit_path varchar_pattern_ops, status, category, deadline) "
    "INCLUDE (id)",
    "DROP INDEX IF EXISTS item_lead_path_idx",
    f"CREATE INDEX item_lead_path_idx ON {ITEM} (lead_path varchar_pattern_ops, status, category, deadline) "
    "INCLUDE (unit_path, id)",
]
POSTGRES_REVERSE = [
    f"DROP TRIGGER IF EXISTS item_category ON {ITEM}",
    "DROP TRIGGER IF EXISTS problem_category_to_items ON ledgers_problem",
    "DROP FUNCTION IF EXISTS walkflow_item_category()",
    "DROP FUNCTION IF EXISTS walkflow_problem_category_to_items()",
    "DROP INDEX IF EXISTS item_unit_path_idx",
    f"CREATE INDEX item_unit_path_idx ON {ITEM} (unit_path varchar_pattern_ops, status, deadline) INCLUDE (id)",
    "DROP INDEX IF EXISTS item_lead_path_idx",
    f"CREATE INDEX item_lead_path_idx ON {ITEM} (lead_path varchar_pattern_ops, status, deadline) "
    "INCLUDE (unit_path, id)",
]

# SQLite cannot assign NEW in a BEFORE trigger: the row is corrected right after it is written
# (recursive triggers are off, so the UPDATE inside does not fire these triggers again).
_SQLITE_FILL = f"""
    UPDATE {ITEM} SET category = (SELECT category FROM ledgers_problem WHERE id = NEW.problem_id)
    WHERE id = NEW.id;
"""
SQLITE = [
    f"CREATE TRIGGER item_category_insert AFTER INSERT ON {ITEM} BEGIN {_SQLITE_FILL} END",
    f"CREATE TRIGGER item_category_update AFTER UPDATE OF problem_id, category ON {ITEM} BEGIN {_SQLITE_FILL} END",
    f"""CREATE TRIGGER problem_category_to_items AFTER UPDATE OF category ON ledgers_problem
        WHEN OLD.category IS NOT NEW.category
        BEGIN UPDATE {ITEM} SET category = NEW.category WHERE problem_id = NEW.id; END""",
    "DROP INDEX IF EXISTS item_unit_path_idx",
    f"CREATE INDEX item_unit_path_idx ON {ITEM} (unit_path, status, category, deadline)",
    "DROP INDEX IF EXISTS item_lead_path_idx",
    f"CREATE INDEX item_lead_path_idx ON {ITEM} (lead_path, status, category, deadline)",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS item_category_insert",
    "DROP TRIGGER IF EXISTS item_category_update",
    "DROP TRIGGER IF EXISTS problem_category_to_items",
    "DROP INDEX IF EXISTS item_unit_path_idx",
    f"CREATE INDEX item_unit_path_idx ON {ITEM} (unit_path, status, deadline)",
    "DROP INDEX IF EXISTS item_lead_path_idx",
    f"CREATE INDEX item_lead_path_idx ON {ITEM} (lead_path, status, deadline)",
]


# The column is added by hand: for a NOT NULL column Django's SQLite editor rebuilds the table,
# which would drop the table's triggers (migrations 0006 and 0012); ADD COLUMN keeps them.
ADD_COLUMN = [f"ALTER TABLE {ITEM} ADD COLUMN category varchar(20) NOT NULL DEFAULT ''"]
DROP_COLUMN = [f"ALTER TABLE {ITEM} DROP COLUMN category"]


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0013_calendar_stamp")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField(
                model_name="rectificationitem",
                name="category",
                field=models.CharField(default="", editable=False, max_length=20, verbose_name="问题类别"),
            )],
            database_operations=[migrations.RunPython(
                _run({"postgresql": ADD_COLUMN, "sqlite": ADD_COLUMN}),
                _run({"postgresql": DROP_COLUMN, "sqlite": DROP_COLUMN}))],
        ),
        migrations.RunPython(_run(BACKFILL), migrations.RunPython.noop),
        migrations.RunPython(_run({"postgresql": POSTGRES, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE})),
    ]
