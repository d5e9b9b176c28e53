"""The throughput phase of `manage.py bench` (issue 10): requests per second a page sustains.

gunicorn with 2 sync workers and production settings (loadtest/production_env.sh, as `make load`)
listens on 127.0.0.1 only; wrk keeps 4 connections busy for 15 s a page. The sign-in form touches
no table: its figure is the ceiling of this stack on this machine, and each page is also given as
its share of it (`ledger_rps_vs_ceiling_rps` 0.1 = a tenth of the ceiling). wrk and the database
share the machine's cores with gunicorn, as they would on a one-box deployment.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

HOST = "127.0.0.1"  # loopback only: never point this at a machine people use
WORKERS = 2
CONNECTIONS = 4
INSTALL_HINT = "sudo apt-get install -y wrk"


def wrk_missing():
    return shutil.which("wrk") is None


def pages(bench):
    """(figure name, user, path with query) in the order they are measured."""
    from .models import RectificationItem

    item = (RectificationItem.objects.visible_to(bench.supervisor).filter(status="in_progress")
            .order_by("id").first())
    admin_params = {"status__exact": "in_progress", "problem__category__exact": "window", "q": "窗口"}
    return [
        ("ceiling", None, reverse("login")),
        ("ledger", bench.supervisor, f"{reverse('ledger')}?{urlencode(bench.ledger_filter())}"),
        ("ledger_plain", bench.supervisor, reverse("ledger")),
        ("item", bench.supervisor, reverse("item_detail", args=[item.pk])),
        ("home", bench.supervisor, reverse("home")),
        ("dashboard", bench.office, reverse("dashboard")),
        ("admin", bench.supervisor, f"{reverse('admin:ledgers_rectificationitem_changelist')}?"
                                    f"{urlencode(admin_params)}"),
    ]


def session_cookie(bench, user):
    """A session made the way the test client makes one, signed with the SECRET_KEY gunicorn gets."""
    client = bench.client_for(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_gunicorn(port, log):
    env = os.environ.copy()
    env["SECRET_KEY"] = settings.SECRET_KEY  # the sessions above are signed with it
    env.update(PY=sys.executable, HOST=HOST, OUT="var/bench")
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    command = (f"mkdir -p var/bench/media && source loadtest/production_env.sh && "
               f"exec {gunicorn} walkflow.wsgi -w {WORKERS} -b {HOST}:{port}")
    return subprocess.Popen(["bash", "-c", command], cwd=settings.BASE_DIR, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_up(process, url):
    for _ in range(120):
        if process.poll() is not None:
            raise RuntimeError("gunicorn stopped on start; see var/bench/gunicorn.log")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer within 60 s")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def check_page(url, cookie):
    """The page must answer 200 to this session: a redirect to the sign-in form is not a figure."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        status = urllib.request.build_opener(NoRedirect).open(request, timeout=60).status
    except urllib.error.HTTPError as error:
        status = error.code
    if status != 200:
        raise RuntimeError(f"{url} answered {status}, not 200")


def run_wrk(url, cookie, seconds):
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    return parse_wrk(subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout)


def parse_wrk(output):
    """(requests per second, answers other than 2xx/3xx) from wrk's report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, int(errors.group(1)) if errors else 0


def measure(bench, seconds=None):
    """Record `<page>_rps` for every page and `<page>_rps_vs_ceiling_rps`; skipped without wrk."""
    if wrk_missing():
        bench.stdout.write(f"throughput: wrk is not installed, phase skipped. Install it with:  {INSTALL_HINT}")
        return
    seconds = seconds or int(os.environ.get("BENCH_WRK_SECONDS", "15"))
    port = free_port()
    os.makedirs(os.path.join(settings.BASE_DIR, "var", "bench"), exist_ok=True)
    with open(os.path.join(settings.BASE_DIR, "var", "bench", "gunicorn.log"), "w") as log:
        process = start_gunicorn(port, log)
        try:
            base = f"http://{HOST}:{port}"
            wait_until_up(process, base + reverse("login"))
            ceiling = None
            for name, user, path in pages(bench):
                cookie = session_cookie(bench, user) if user else ""
                check_page(base + path, cookie)
                rps, errors = run_wrk(base + path, cookie, seconds)
                if errors:
                    raise RuntimeError(f"{name}: {errors} answers other than 2xx/3xx under load")
                bench.record(f"{name}_rps", rps, "req/s")
                if name == "ceiling":
                    ceiling = rps
                elif ceiling:
                    bench.record(f"{name}_rps_vs_ceiling_rps", rps / ceiling, "x")
        finally:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
