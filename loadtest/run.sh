#!/usr/bin/env bash
# Load run (issue 6): 60 users for 2 minutes against gunicorn + PostgreSQL + Redis, on loopback only.
#   50 browse the ledger with filters and open items, 10 submit walk-throughs (5 problems, 2 photos).
# Not part of `make test`. Usage, on the bench database of `make bench`:
#   .venv/bin/pip install -r requirements-bench.txt
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/walkflow_gen loadtest/run.sh
# It prints p50/p95, requests/s and failures per request type, and exits non-zero on any failure.
# The walk-throughs it submits stay in that database (the journal is append-only): a few thousand
# problems more for the bench account, which `make bench` takes as they come.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL bench database, e.g. postgres://postgres@127.0.0.1:5432/walkflow_gen}"
case "$DATABASE_URL" in
  postgres://*|postgresql://*) ;;
  *) echo "loadtest/run.sh: DATABASE_URL must name a PostgreSQL database (gunicorn with 4 workers on SQLite measures its lock, not walkflow)" >&2; exit 2 ;;
esac

PY=.venv/bin/python
PORT=${LOAD_PORT:-8055}
HOST=127.0.0.1                 # loopback only: never point this at a machine people use
USERS=60                       # 50 LedgerBrowser + 10 WalkSubmitter (fixed_count in the locustfile)
SPAWN_RATE=5                   # users started per second: 12 s to sign everybody in, not one login storm
RUN_TIME=${LOAD_RUN_TIME:-2m}  # bounded; a shorter LOAD_RUN_TIME=20s is handy to try the script
OUT=var/loadtest
mkdir -p "$OUT/media"
rm -f "$OUT"/result_*.csv

if ! "$PY" -c "import locust, gunicorn" 2>/dev/null; then
  echo "loadtest/run.sh: locust or gunicorn missing; run .venv/bin/pip install -r requirements-bench.txt" >&2
  exit 2
fi

# Production settings on loopback: see loadtest/production_env.sh (shared with `make bench`).
source loadtest/production_env.sh
# The four workers share one cache on the local Redis, as production's do (on REDIS_URL): a record
# or a ledger row written by one worker is read by the others. Its own database there
# (LOAD_CACHE_DB, 14 unless set), emptied first: the run starts cold, as after a release.
LOAD_CACHE_DB=${LOAD_CACHE_DB:-14}
export CACHE_URL="redis://127.0.0.1:6379/$LOAD_CACHE_DB"
if ! "$PY" -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).flushdb()" "$CACHE_URL"; then
  echo "loadtest/run.sh: no Redis on 127.0.0.1:6379 (production's cache); start one: redis-server --daemonize yes --bind 127.0.0.1" >&2
  exit 2
fi

"$PY" manage.py migrate --noinput -v0

# The accounts of `make bench` (ledgers/bench.py Bench.prepare: bench_supervisor_1, bench_leader_1,
# ...) with a fresh password, and the ids a walk-through names, for the locustfile.
LOADTEST_CONFIG="$OUT/config.json" "$PY" - <<'EOF'
import io, json, os, secrets

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "walkflow.settings")
django.setup()
from ledgers.bench import Bench

bench = Bench(problems=0, runs=1, stdout=io.StringIO())  # 0: use the data as it is, generate nothing
bench.prepare()
if bench.total < 1000:
    raise SystemExit(f"loadtest: only {bench.total} problems in this database; run make bench (or generate_ledger) first")
password = secrets.token_urlsafe(16)
for user in (bench.supervisor, bench.leader):
    user.set_password(password)
    user.save(update_fields=["password"])
config = {"supervisor": bench.supervisor.username, "leader": bench.leader.username, "password": password,
          "city": bench.city.pk, "county": bench.county.pk, "owner": bench.owner.pk,
          "campaign": bench.campaign.pk, "service_item": bench.service_item.pk, "problems": bench.total}
with open(os.environ["LOADTEST_CONFIG"], "w", encoding="utf-8") as handle:
    json.dump(config, handle)
print(f"loadtest: {bench.total} problems, users {config['supervisor']} and {config['leader']}")
EOF

# Its log (and the workers' Django error log) goes to a file that is checked for errors at the end.
.venv/bin/gunicorn walkflow.wsgi -w 4 -b "$HOST:$PORT" >"$OUT/gunicorn.log" 2>&1 &
GUNICORN=$!
stop_gunicorn() {
  if kill -0 "$GUNICORN" 2>/dev/null; then
    kill -TERM "$GUNICORN"
    wait "$GUNICORN" 2>/dev/null || true
  fi
}
trap stop_gunicorn EXIT

for _ in $(seq 1 60); do
  if "$PY" -c "import urllib.request; urllib.request.urlopen('http://$HOST:$PORT/accounts/login/', timeout=2)" 2>/dev/null; then
    break
  fi
  kill -0 "$GUNICORN" 2>/dev/null || { echo "gunicorn died; see $OUT/gunicorn.log" >&2; exit 1; }
  sleep 0.5
done

status=0
LOADTEST_CONFIG="$OUT/config.json" .venv/bin/locust -f loadtest/locustfile.py --headless --only-summary \
  -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" --stop-timeout 15 --host "http://$HOST:$PORT" \
  --csv "$OUT/result" --loglevel WARNING || status=$?
stop_gunicorn

"$PY" - "$OUT/result_stats.csv" "$OUT/requests.csv" <<'EOF'
import csv, sys

rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
print()
print(f"{'request':<22} {'count':>7} {'fail':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'req/s':>7}")
for row in rows:
    name = row["Name"] if row["Name"] != "Aggregated" else "all"
    print(f"{name:<22} {row['Request Count']:>7} {row['Failure Count']:>5} {row['50%']:>7} {row['95%']:>7} "
          f"{row['99%']:>7} {float(row['Max Response Time']):>7.0f} {float(row['Requests/s']):>7.2f}")
failures = sum(int(row["Failure Count"]) for row in rows if row["Name"] == "Aggregated")
print(f"\nfailures: {failures}  (details: {sys.argv[1].replace('_stats.csv', '_failures.csv')})")

# When the slow ones came: every request as locust logged it, in windows of 15 seconds.
log = [(float(row["t"]), float(row["ms"])) for row in csv.DictReader(open(sys.argv[2], encoding="utf-8"))]
def quantile(values, q):
    values = sorted(values)
    return values[max(0, int(len(values) * q) - 1)] if values else 0
print("\nseconds   count  p50 ms  p95 ms")
for start in range(0, int(max((t for t, _ in log), default=0)) + 1, 15):
    window = [ms for t, ms in log if start <= t < start + 15]
    if window:
        print(f"{start:3}-{start + 15:<4} {len(window):6} {quantile(window, .5):7.0f} {quantile(window, .95):7.0f}")
EOF
if [ -s "$OUT/gunicorn.log" ] && grep -q "Traceback\|ERROR\|CRITICAL" "$OUT/gunicorn.log"; then
  echo "gunicorn logged errors: see $OUT/gunicorn.log" >&2
  status=1
fi
exit "$status"
