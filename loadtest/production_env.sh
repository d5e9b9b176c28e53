# Production settings for a run on loopback, shared by loadtest/run.sh and the throughput phase of
# `make bench` (ledgers/bench_throughput.py). Source it with PY, HOST and OUT set.
# Production settings, except what a plain-HTTP loopback run cannot have or must not measure:
# - SECURE_SSL_REDIRECT=0, SECURE_COOKIES=0: no TLS proxy in front, so no https redirect and cookies
#   that travel over http (production keeps both on behind its TLS proxy);
# - AXES_ENABLED=0: 60 simulated people share one address and two accounts; one mistyped password
#   repeated by the script would lock all of them out (5 failures, user name + address) and the run
#   would measure the lock-out page. Brute-force protection is proven in tests/test_security.py;
# - EMAIL_BACKEND dummy: no mail server on this machine; the notification rows are still written;
# - REDIS_URL unset: the web requests measured here queue no Celery task, they run the tasks
#   themselves (the cache is each worker's memory, unless the caller sets CACHE_URL: run.sh does).
# SECRET_KEY: the caller's when it has one (the bench signs its sessions with it), else a fresh one.
export DEBUG=0 ALLOWED_HOSTS=$HOST SECURE_SSL_REDIRECT=0 SECURE_COOKIES=0 AXES_ENABLED=0
export SECRET_KEY="${SECRET_KEY:-$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')}"
export EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend
export MEDIA_ROOT="$PWD/$OUT/media" LOG_LEVEL=WARNING
unset REDIS_URL
