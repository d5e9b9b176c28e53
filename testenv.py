"""pytest plugin loaded with `-p testenv` (pytest.ini), before pytest-django reads the settings.

Tests run with the development defaults (no TLS redirect, console e-mail) unless told otherwise;
production settings are checked separately in a subprocess (tests/test_settings.py).
"""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "walkflow-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

if "MEDIA_ROOT" not in os.environ:
    import tempfile

    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="walkflow-test-media-")
os.environ.setdefault("AXES_ENABLED", "0")  # tests/test_security.py switches it on where it is the subject
