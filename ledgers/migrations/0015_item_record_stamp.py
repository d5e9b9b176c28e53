"""Each rectification item carries a record stamp (issue 10): a random number the database draws
anew whenever anything shown in the item's record changes, in the writing transaction, whoever
writes (services, imports, the admin, a bulk UPDATE, a unit move). The item page keeps its rendered
record under that stamp (ledgers/views/ledger.py), so a repeated view skips the thirteen-table read
and the five lists under it, and a change is seen on the next request.

What the record shows and so what renews the stamp: the item's own row; its problem and the
problem's walk; its closure records, extension requests, journal events and cooperating units; the
files of the item, of its problem, of the walk and of its closures. Names of units, people,
campaigns, service items and sub-categories are covered by the "choices" stamp (migration 0006),
which the page's key carries too.
"""

import importlib

from django.db import migrations, models

_run = importlib.import_module("ledgers.migrations.0002_append_only_journal")._run
_POSTGRES_RANDOM = importlib.import_module("ledgers.migrations.0006_perf")._POSTGRES_RANDOM

ITEM = "ledgers_rectificationitem"
# table -> (operations, the items a row of it belongs to: one condition each, with {row} standing
# for OLD or NEW). Each condition is its own UPDATE: OR-ed in one, PostgreSQL read all the items
# (a photo of a walk cost 200 ms at 1,000,000 problems); apart, each is one index lookup.
SOURCES = {
    "ledgers_problem": ("UPDATE", ["problem_id = {row}.id"]),
    "ledgers_walksession": ("UPDATE", ["problem_id IN (SELECT id FROM ledgers_problem WHERE walk_id = {row}.id)"]),
    "ledgers_closurerecord": ("INSERT UPDATE DELETE", ["id = {row}.item_id"]),
    "ledgers_extensionrequest": ("INSERT UPDATE DELETE", ["id = {row}.item_id"]),
    "ledgers_itemevent": ("INSERT UPDATE DELETE", ["id = {row}.item_id"]),
    "ledgers_rectificationitem_cooperating_units": ("INSERT UPDATE DELETE", ["id = {row}.rectificationitem_id"]),
    "ledgers_attachment": ("INSERT UPDATE DELETE", [
        "id = {row}.item_id",
        "problem_id = {row}.problem_id",
        "problem_id IN (SELECT id FROM ledgers_problem WHERE walk_id = {row}.walk_id)",
        "id IN (SELECT item_id FROM ledgers_closurerecord WHERE id = {row}.closure_id)",
    ]),
}
# Whose rows an operation touches: the new row, the old one, or both; a problem's or a walk's items
# are found by its own id, which no UPDATE changes.
ROWS = {"INSERT": ("NEW",), "DELETE": ("OLD",), "UPDATE": ("OLD", "NEW")}
BY_OWN_ID = {"ledgers_problem", "ledgers_walksession"}


def _name(table):
    return table.removeprefix("ledgers_")


def _updates(table, operation, conditions, stamp):
    rows = ("NEW",) if table in BY_OWN_ID else ROWS[operation]
    return " ".join(f"UPDATE {ITEM} SET record_stamp = {stamp} WHERE {condition.format(row=row)};"
                    for row in rows for condition in conditions)


def _postgres_source(table, operations, conditions):
    name = _name(table)
    branches = "\n".join(f"IF TG_OP = '{op}' THEN {_updates(table, op, conditions, '0')} END IF;"
                         for op in operations.split())
    return [
        # The item's own trigger below draws the new stamp: the 0 written here never stays.
        f"""
        CREATE OR REPLACE FUNCTION walkflow_record_of_{name}() RETURNS trigger AS $$
        BEGIN
            {branches}
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql;
        """,
        f"""
        CREATE TRIGGER {name}_item_record AFTER {" OR ".join(operations.split())} ON {table}
        FOR EACH ROW EXECUTE FUNCTION walkflow_record_of_{name}();
        """,
    ]


POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION walkflow_item_record_stamp() RETURNS trigger AS $$
    BEGIN
        NEW.record_stamp := {_POSTGRES_RANDOM};
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    # Every write of the row, whatever Python sent for the column (a model's save() sends the
    # value it read, which would otherwise put an older stamp back).
    f"""
    CREATE TRIGGER item_record_stamp BEFORE INSERT OR UPDATE ON {ITEM}
    FOR EACH ROW EXECUTE FUNCTION walkflow_item_record_stamp();
    """,
    *[statement for table, (operations, conditions) in SOURCES.items()
      for statement in _postgres_source(table, operations, conditions)],
]
POSTGRES_REVERSE = [
    f"DROP TRIGGER IF EXISTS item_record_stamp ON {ITEM}",
    "DROP FUNCTION IF EXISTS walkflow_item_record_stamp()",
    *[statement for table in SOURCES for statement in (
        f"DROP TRIGGER IF EXISTS {_name(table)}_item_record ON {table}",
        f"DROP FUNCTION IF EXISTS walkflow_record_of_{_name(table)}()")],
]

# SQLite cannot assign NEW: the row is stamped right after it is written (recursive triggers are
# off, so that UPDATE does not fire the item's trigger again; a source's UPDATE of the item does).
_SQLITE_STAMP = f"UPDATE {ITEM} SET record_stamp = random() WHERE id = NEW.id;"
SQLITE = [
    f"CREATE TRIGGER item_record_stamp_insert AFTER INSERT ON {ITEM} BEGIN {_SQLITE_STAMP} END",
    f"CREATE TRIGGER item_record_stamp_update AFTER UPDATE ON {ITEM} BEGIN {_SQLITE_STAMP} END",
    *[f"""CREATE TRIGGER {_name(table)}_item_record_{op.lower()} AFTER {op} ON {table}
          BEGIN {_updates(table, op, conditions, "random()")} END"""
      for table, (operations, conditions) in SOURCES.items() for op in operations.split()],
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS item_record_stamp_insert",
    "DROP TRIGGER IF EXISTS item_record_stamp_update",
    *[f"DROP TRIGGER IF EXISTS {_name(table)}_item_record_{op.lower()}"
      for table, (operations, _conditions) in SOURCES.items() for op in operations.split()],
]

# Added by hand, as in migration 0014: Django's SQLite editor would rebuild the table and drop its
# triggers. A constant default costs PostgreSQL no rewrite of the items; the rows keep 0 until their
# first change, and a new row draws its own stamp (an id SQLite hands out again after a rollback
# never finds an older record under 0).
ADD_COLUMN = [f"ALTER TABLE {ITEM} ADD COLUMN record_stamp bigint NOT NULL DEFAULT 0"]
DROP_COLUMN = [f"ALTER TABLE {ITEM} DROP COLUMN record_stamp"]


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0014_item_category")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddField(
                model_name="rectificationitem",
                name="record_stamp",
                field=models.BigIntegerField(default=0, editable=False, verbose_name="记录戳"),
            )],
            database_operations=[migrations.RunPython(
                _run({"postgresql": ADD_COLUMN, "sqlite": ADD_COLUMN}),
                _run({"postgresql": DROP_COLUMN, "sqlite": DROP_COLUMN}))],
        ),
        migrations.RunPython(_run({"postgresql": POSTGRES, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE})),
    ]
