"""Views, one module per job: core (home, files, messages), walks (leaders), ledger (supervisors
and owners), reports (office staff). Each module lists its own `urlpatterns`, so the four areas
can grow without touching each other; `ledgers/urls.py` joins them."""
