"""Database helpers that are not about one model."""

from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def written_join_order():
    """PostgreSQL joins the tables of the queries inside in the order the query writes them,
    instead of searching every order (join_collapse_limit = 1, for this transaction only).

    For a wide select_related read of one row by primary key, the written order (the row, then
    each relation by its key) is the best one, and the search costs far more than the query:
    with a dozen tables, milliseconds of planning for microseconds of execution."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL join_collapse_limit = 1")
        yield
