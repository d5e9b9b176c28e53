"""The journal (ItemEvent) and closure records are append-only, enforced by the database itself,
so that neither a view, the admin, a shell nor a bug can rewrite history.

A closure record may be updated exactly once: from decision "pending" to a decision, filling the
review fields; its request (evidence, figures, who and when) never changes.
"""

from django.db import migrations

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION walkflow_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'walkflow: % on % is not allowed (append-only)', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER itemevent_append_only BEFORE UPDATE OR DELETE ON ledgers_itemevent
    FOR EACH ROW EXECUTE FUNCTION walkflow_refuse_change();
    """,
    """
    CREATE TRIGGER closurerecord_no_delete BEFORE DELETE ON ledgers_closurerecord
    FOR EACH ROW EXECUTE FUNCTION walkflow_refuse_change();
    """,
    """
    CREATE TRIGGER closurerecord_review_once BEFORE UPDATE ON ledgers_closurerecord
    FOR EACH ROW WHEN (
        OLD.decision <> 'pending'
        OR NEW.item_id IS DISTINCT FROM OLD.item_id
        OR NEW.submitted_by_id IS DISTINCT FROM OLD.submitted_by_id
        OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
        OR NEW.evidence IS DISTINCT FROM OLD.evidence
        OR NEW.time_limit_before IS DISTINCT FROM OLD.time_limit_before
        OR NEW.time_limit_after IS DISTINCT FROM OLD.time_limit_after
        OR NEW.materials_before IS DISTINCT FROM OLD.materials_before
        OR NEW.materials_after IS DISTINCT FROM OLD.materials_after
        OR NEW.steps_before IS DISTINCT FROM OLD.steps_before
        OR NEW.steps_after IS DISTINCT FROM OLD.steps_after
        OR NEW.trips_before IS DISTINCT FROM OLD.trips_before
        OR NEW.trips_after IS DISTINCT FROM OLD.trips_after
    )
    EXECUTE FUNCTION walkflow_refuse_change();
    """,
]

POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS itemevent_append_only ON ledgers_itemevent;",
    "DROP TRIGGER IF EXISTS closurerecord_no_delete ON ledgers_closurerecord;",
    "DROP TRIGGER IF EXISTS closurerecord_review_once ON ledgers_closurerecord;",
    "DROP FUNCTION IF EXISTS walkflow_refuse_change();",
]

_FIGURES = ["item_id", "submitted_by_id", "submitted_at", "evidence", "time_limit_before", "time_limit_after",
            "materials_before", "materials_after", "steps_before", "steps_after", "trips_before", "trips_after"]

SQLITE = [
    """
    CREATE TRIGGER itemevent_no_update BEFORE UPDATE ON ledgers_itemevent
    BEGIN SELECT RAISE(ABORT, 'walkflow: UPDATE on ledgers_itemevent is not allowed (append-only)'); END;
    """,
    """
    CREATE TRIGGER itemevent_no_delete BEFORE DELETE ON ledgers_itemevent
    BEGIN SELECT RAISE(ABORT, 'walkflow: DELETE on ledgers_itemevent is not allowed (append-only)'); END;
    """,
    """
    CREATE TRIGGER closurerecord_no_delete BEFORE DELETE ON ledgers_closurerecord
    BEGIN SELECT RAISE(ABORT, 'walkflow: DELETE on ledgers_closurerecord is not allowed (append-only)'); END;
    """,
    """
    CREATE TRIGGER closurerecord_review_once BEFORE UPDATE ON ledgers_closurerecord
    WHEN OLD.decision <> 'pending' OR """ + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FIGURES) + """
    BEGIN SELECT RAISE(ABORT, 'walkflow: UPDATE on ledgers_closurerecord is not allowed (append-only)'); END;
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS itemevent_no_update;",
    "DROP TRIGGER IF EXISTS itemevent_no_delete;",
    "DROP TRIGGER IF EXISTS closurerecord_no_delete;",
    "DROP TRIGGER IF EXISTS closurerecord_review_once;",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)  # None: the % in plpgsql is not a placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("ledgers", "0001_initial")]

    operations = [
        migrations.RunPython(_run({"postgresql": POSTGRES, "sqlite": SQLITE}),
                             _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE})),
    ]
