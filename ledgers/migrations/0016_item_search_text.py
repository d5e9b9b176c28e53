"""Each rectification item carries its search text (issue 10): its problem's description and its
own measure, upper-cased, with a unit separator (U+001F) between them; kept right by the database
as the category is (migration 0014): written on insert and on a change of problem or measure,
rewritten when the problem's description changes, so no code path has anything to call.

The ledger's search word was tested as UPPER(description) LIKE … on the problem and UPPER(measure)
LIKE … on the item. A word of two Chinese characters (窗口, 材料) is shorter than a trigram, so no
index answers it and every item of the user's scope is read: each with a lookup of its problem,
spread by PostgreSQL over parallel workers, and two UPPER() per row. A city's 9,400 items cost
85 ms of CPU per search; on this column, one LIKE on the items alone, 18. Longer words are served
by a trigram index on the column (when pg_trgm is there: migration 0003), which replaces the one on
the measure alone.
"""

import importlib

from django.db import migrations, models

_run = importlib.import_module("ledgers.migrations.0002_append_only_journal")._run

ITEM = "ledgers_rectificationitem"
# The same expression in both databases' SQL (PostgreSQL's UPPER folds what its ctype knows;
# SQLite's ASCII only, as its LIKE does).
_TEXT = "UPPER({description}) || char(31) || UPPER({measure})"
_PG_TEXT = "UPPER({description}) || chr(31) || UPPER({measure})"

BACKFILL = {
    # The rows' deferred stamp triggers (migration 0012) are fired here: PostgreSQL refuses to build
    # an index on a table with trigger events pending.
    "postgresql": [f"UPDATE {ITEM} SET search_text = "
                   + _PG_TEXT.format(description="p.description", measure=f"{ITEM}.measure")
                   + f" FROM ledgers_problem p WHERE p.id = {ITEM}.problem_id",
                   "SET CONSTRAINTS ALL IMMEDIATE"],
    "sqlite": [f"UPDATE {ITEM} SET search_text = "
               + _TEXT.format(description=f"(SELECT description FROM ledgers_problem WHERE id = {ITEM}.problem_id)",
                              measure="measure")],
}

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION walkflow_item_search_text() RETURNS trigger AS $$
    BEGIN
        NEW.search_text := """ + _PG_TEXT.format(
        description="(SELECT description FROM ledgers_problem WHERE id = NEW.problem_id)", measure="NEW.measure") + """;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    # The column itself is in the list: a write of a wrong value is corrected too.
    f"""
    CREATE TRIGGER item_search_text BEFORE INSERT OR UPDATE OF problem_id, measure, search_text
    ON {ITEM} FOR EACH ROW EXECUTE FUNCTION walkflow_item_search_text();
    """,
    f"""
    CREATE OR REPLACE FUNCTION walkflow_problem_search_text_to_items() RETURNS trigger AS $$
    BEGIN
        UPDATE {ITEM} SET search_text = """ + _PG_TEXT.format(description="NEW.description", measure="measure") + """
        WHERE problem_id = NEW.id;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER problem_search_text_to_items AFTER UPDATE OF description ON ledgers_problem
    FOR EACH ROW WHEN (OLD.description IS DISTINCT FROM NEW.description)
    EXECUTE FUNCTION walkflow_problem_search_text_to_items();
    """,
]
POSTGRES_REVERSE = [
    f"DROP TRIGGER IF EXISTS item_search_text ON {ITEM}",
    "DROP TRIGGER IF EXISTS problem_search_text_to_items ON ledgers_problem",
    "DROP FUNCTION IF EXISTS walkflow_item_search_text()",
    "DROP FUNCTION IF EXISTS walkflow_problem_search_text_to_items()",
]


def _trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:  # migration 0003 warned then: the search reads every row
            return
    schema_editor.execute("DROP INDEX IF EXISTS item_measure_trgm", params=None)
    schema_editor.execute(f"CREATE INDEX item_search_trgm ON {ITEM} USING gin (search_text gin_trgm_ops)",
                          params=None)


def _trigram_index_reverse(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS item_search_trgm", params=None)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is not None:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS item_measure_trgm ON {ITEM} "
                                  "USING gin (UPPER(measure::text) gin_trgm_ops)", params=None)


# SQLite cannot assign NEW in a BEFORE trigger: the row is corrected right after it is written
# (recursive triggers are off, so the UPDATE inside does not fire these triggers again).
_SQLITE_FILL = f"UPDATE {ITEM} SET search_text = " + _TEXT.format(
    description="(SELECT description FROM ledgers_problem WHERE id = NEW.problem_id)", measure="NEW.measure") + \
    " WHERE id = NEW.id;"
SQLITE = [
    f"CREATE TRIGGER item_search_text_insert AFTER INSERT ON {ITEM} BEGIN {_SQLITE_FILL} END",
    f"CREATE TRIGGER item_search_text_update AFTER UPDATE OF problem_id, measure, search_text ON {ITEM} "
    f"BEGIN {_SQLITE_FILL} END",
    f"""CREATE TRIGGER problem_search_text_to_items AFTER UPDATE OF description ON ledgers_problem
        WHEN OLD.description IS NOT NEW.description
        BEGIN UPDATE {ITEM} SET search_text = """ + _TEXT.format(description="NEW.description", measure="measure") +
    " WHERE problem_id = NEW.id; END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS item_search_text_insert",
    "DROP TRIGGER IF EXISTS item_search_text_update",
    "DROP TRIGGER IF EXISTS problem_search_text_to_items",
]

# The column is added by hand: for a NOT NULL column Django's SQLite editor rebuilds the table,
# which would drop the table's triggers (migrations 0006, 0012, 0014, 0015); ADD COLUMN keeps them.
ADD_COLUMN = [f"ALTER TABLE {ITEM} ADD COLUMN search_text text NOT NULL DEFAULT ''"]
DROP_COLUMN = [f"ALTER TABLE {ITEM} DROP COLUMN search_text"]


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0015_item_record_stamp")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField(
                model_name="rectificationitem",
                name="search_text",
                field=models.TextField(default="", editable=False, verbose_name="检索文本"),
            )],
            database_operations=[migrations.RunPython(
                _run({"postgresql": ADD_COLUMN, "sqlite": ADD_COLUMN}),
                _run({"postgresql": DROP_COLUMN, "sqlite": DROP_COLUMN}))],
        ),
        migrations.RunPython(_run(BACKFILL), migrations.RunPython.noop),
        migrations.RunPython(_run({"postgresql": POSTGRES, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE})),
        migrations.RunPython(_trigram_index, _trigram_index_reverse),
    ]
