import pytest


@pytest.fixture(autouse=True)
def _celery_in_process(request):
    """Tasks run in-process in tests, even when CI sets REDIS_URL; the one test that needs the
    real broker and worker is marked `redis` and switches this off itself."""
    from walkflow.celery import app

    if request.node.get_closest_marker("redis"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def pytest_configure(config):
    from django.conf import settings

    # Hashing a password the production way costs ~0.3 s; personas and demo accounts make dozens.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
