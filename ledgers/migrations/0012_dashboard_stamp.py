"""The dashboard's change stamp (issue 10): the database gives the ChangeStamp row "figures" a new
random value in every transaction that writes a row the dashboard figures are read from (problems,
items, walks, closure records, must-walk lists, calendar overrides; units, campaigns and
sub-categories already change the "choices" stamp). ledgers/reports/dashboard.py keys its cache by
both stamps, so the next request after any change computes the figures again, in every process.

On PostgreSQL the stamp is written by a deferred constraint trigger, i.e. at COMMIT: every item
write touches it, and a row lock taken at the first write and held to the end would queue all
writing transactions behind each other, and could deadlock against the "choices" stamp. At commit
it is the last lock a transaction takes, held for an instant. A transaction-local setting makes the
first row of a transaction write the stamp and every other row return at once (a 10,000-row import
writes it once).

An index on the problems' finding time serves the figures' period filters (a week, a month, the
dashboard's twelve weeks) without reading the table: the columns they group by are included.
"""

import importlib

from django.db import migrations

_run = importlib.import_module("ledgers.migrations.0002_append_only_journal")._run

FIGURE_TABLES = (
    "ledgers_problem",
    "ledgers_rectificationitem",
    "ledgers_walksession",
    "ledgers_closurerecord",
    "ledgers_campaign_must_walk_items",
    "ledgers_calendaroverride",
)
_POSTGRES_RANDOM = "floor(random() * 9007199254740991)::bigint"  # 53 random bits, as migration 0006

POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION walkflow_stamp_figures() RETURNS trigger AS $$
    BEGIN
        IF current_setting('walkflow.figures_stamped', true) = 'on' THEN
            RETURN NULL;
        END IF;
        INSERT INTO ledgers_changestamp (name, value) VALUES ('figures', {_POSTGRES_RANDOM})
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
        PERFORM set_config('walkflow.figures_stamped', 'on', true);
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
] + [
    statement
    for table in FIGURE_TABLES
    for statement in (
        f"""
        CREATE CONSTRAINT TRIGGER {table}_stamp_figures AFTER INSERT OR UPDATE OR DELETE ON {table}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION walkflow_stamp_figures();
        """,
        # Constraint triggers cannot watch TRUNCATE (the test runner's flush uses it).
        f"""
        CREATE TRIGGER {table}_stamp_figures_truncate AFTER TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION walkflow_stamp_figures();
        """,
    )
]
POSTGRES_REVERSE = [
    statement
    for table in FIGURE_TABLES
    for statement in (f"DROP TRIGGER IF EXISTS {table}_stamp_figures ON {table}",
                      f"DROP TRIGGER IF EXISTS {table}_stamp_figures_truncate ON {table}")
] + ["DROP FUNCTION IF EXISTS walkflow_stamp_figures()"]

# SQLite writes one transaction at a time: no lock to keep short, a plain trigger per row will do.
_SQLITE_STAMP = """
    INSERT INTO ledgers_changestamp (name, value) VALUES ('figures', random())
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
"""
SQLITE = [
    f"CREATE TRIGGER {table}_stamp_figures_{event.lower()} AFTER {event} ON {table} BEGIN {_SQLITE_STAMP} END"
    for table in FIGURE_TABLES
    for event in ("INSERT", "UPDATE", "DELETE")
]
SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {table}_stamp_figures_{event}" for table in FIGURE_TABLES
    for event in ("insert", "update", "delete")
]


FOUND_INDEX = {
    "postgresql": ["CREATE INDEX problem_found_idx ON ledgers_problem (found_at) "
                   "INCLUDE (unit_id, category, subcategory_id, resolution)"],
    "sqlite": ["CREATE INDEX problem_found_idx ON ledgers_problem (found_at)"],
}
FOUND_INDEX_REVERSE = ["DROP INDEX IF EXISTS problem_found_idx"]


class Migration(migrations.Migration):
    # The leaf of this branch; the integrator re-chains it.
    dependencies = [("ledgers", "0011_input")]

    operations = [
        migrations.RunPython(_run({
            "postgresql": [f"INSERT INTO ledgers_changestamp (name, value) VALUES ('figures', {_POSTGRES_RANDOM}) "
                           "ON CONFLICT (name) DO NOTHING"],
            "sqlite": ["INSERT INTO ledgers_changestamp (name, value) VALUES ('figures', random()) "
                       "ON CONFLICT (name) DO NOTHING"],
        }), migrations.RunPython.noop),
        migrations.RunPython(_run({"postgresql": POSTGRES, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE})),
        migrations.RunPython(_run(FOUND_INDEX),
                             _run({"postgresql": FOUND_INDEX_REVERSE, "sqlite": FOUND_INDEX_REVERSE})),
    ]
