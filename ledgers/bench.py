"""`manage.py bench`: speed figures a user can trust, ours beside a peer's on the same data.

Each figure is the median of several runs after a warm-up. Requests go through Django's test
client, so the figures are server time (routing, views, templates, SQL) without a network.
Exports and the circular run in a child process each, whose peak resident memory is read from
the kernel (ru_maxrss), so one measurement's memory never leaks into another's.
"""

import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from . import bench_throughput
from .models import Campaign, Problem, Role, ServiceItem, Unit, User
from .roles import grant
from .synthetic import Generator

SEED = 1
HOST = {"HTTP_HOST": "127.0.0.1", "secure": True}
SEARCH_WORD = "窗口"


def median_ms(action, runs, warmup=2):
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class Bench:
    def __init__(self, problems, runs, stdout):
        self.problems = problems
        self.runs = runs
        self.stdout = stdout
        self.results = []

    # -- data -------------------------------------------------------------------------------------

    def prepare(self):
        generator = Generator(seed=SEED, stdout=self.stdout)
        root = Unit.objects.filter(code=f"SYN{SEED}").first()
        existing = Problem.objects.filter(campaign__unit=root).count() if root else 0
        if existing < self.problems:
            self.stdout.write(f"生成数据：已有 {existing} 个问题，补足到 {self.problems} 个 …")
            generator.run(self.problems - existing)
        else:
            generator.build_world()
        self.root = generator.root
        self.city = Unit.objects.filter(parent=self.root, level=Unit.Level.CITY).order_by("path").first()
        self.supervisor = self._bench_user("bench_supervisor", self.city, Role.SUPERVISOR, Role.ADMIN, staff=True)
        self.office = self._bench_user("bench_office", self.root, Role.OFFICE, Role.SUPERVISOR, Role.LEADER)
        county = Unit.objects.filter(parent=self.city, level=Unit.Level.COUNTY).order_by("path").first()
        self.leader = self._bench_user("bench_leader", county, Role.LEADER)
        self.county = county
        self.owner = User.objects.filter(unit__path__startswith=county.path, groups__name=Role.OWNER).first()
        self.campaign = Campaign.objects.get(unit=self.root)
        self.service_item = ServiceItem.objects.visible_to(self.leader).first()
        self.total = Problem.objects.filter(campaign=self.campaign).count()

    def _bench_user(self, username, unit, *roles, staff=False):
        user, _ = User.objects.update_or_create(username=f"{username}_{SEED}",
                                                defaults={"unit": unit, "is_staff": staff, "last_name": "测评"})
        grant(user, *roles)
        return user

    def client_for(self, user):
        client = Client()
        client.force_login(user)
        return client

    # -- figures ----------------------------------------------------------------------------------

    def record(self, name, value, unit):
        row = {"name": name, "value": round(value, 3) if isinstance(value, float) else value, "unit": unit}
        self.results.append(row)
        self.stdout.write(json.dumps(row, ensure_ascii=False))

    def compare(self, ours, peer):
        values = {row["name"]: row["value"] for row in self.results}
        if values.get(ours) and values.get(peer) is not None:
            self.record(f"{ours}_vs_{peer}", values[peer] / values[ours], "x")

    def ledger_filter(self):
        return {"status": "in_progress", "category": "window", "unit": self.city.pk, "q": SEARCH_WORD}

    def measure_ledger(self):
        client = self.client_for(self.supervisor)
        url = reverse("ledger")
        params = self.ledger_filter()

        def get():
            response = client.get(url, params, **HOST)
            assert response.status_code == 200, response.status_code

        self.record("ledger_page_ms", median_ms(get, self.runs), "ms")
        with CaptureQueriesContext(connection) as queries:
            get()
        self.record("ledger_page_queries", len(queries), "queries")

        # The first request after a change writes the page's rows again (ledgers/views/ledger.py).
        def get_cold():
            for store in caches.all():
                store.clear()
            get()

        self.record("ledger_page_cold_ms", median_ms(get_cold, self.runs), "ms")

    def measure_admin(self):
        client = self.client_for(self.supervisor)
        url = reverse("admin:ledgers_rectificationitem_changelist")
        # The same rows: the admin scopes to the same subtree (visible_to); same status, category, word.
        params = {"status__exact": "in_progress", "problem__category__exact": "window", "q": SEARCH_WORD}

        def get():
            response = client.get(url, params, **HOST)
            assert response.status_code == 200, response.status_code

        self.record("admin_changelist_ms", median_ms(get, self.runs), "ms")

    def measure_walk_submit(self):
        client = self.client_for(self.leader)
        url = reverse("walk_submit")
        photos = {name: _jpeg(1600, 1200, shade) for name, shade in (("photo-0-0", 60), ("photo-1-0", 160))}
        deadline = (timezone.localdate() + timezone.timedelta(days=40)).isoformat()

        def payload():
            problems = []
            for i in range(5):
                row = {"category": ["window", "process", "system", "coordination", "window"][i],
                       "description": f"测评问题{i + 1}：自助服务终端无法正常使用", "photos": []}
                if i < 2:
                    row["photos"] = [f"photo-{i}-0"]
                if i % 2:
                    row.update(resolution="on_spot", on_spot_action="现场协调解决")
                else:
                    row.update(resolution="ledger", lead_unit=self.county.pk, owner=self.owner.pk,
                               measure="优化流程，压减环节", deadline_mode="date", deadline=deadline)
                problems.append(row)
            return {"client_uuid": str(uuid.uuid4()), "campaign": self.campaign.pk, "unit": self.county.pk,
                    "service_item": self.service_item.pk, "leader_rank": "top", "identity": "applicant",
                    "way": "on_site", "place": "政务服务中心",
                    "started_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "ended_at": "",
                    "companions": "", "companion_count": 0, "deputy_count": 0, "notes": "测评", "problems": problems}

        def post():
            data = {"payload": json.dumps(payload(), ensure_ascii=False)}
            for name, content in photos.items():
                data[name] = _upload(name, content)
            response = client.post(url, data, **HOST)
            assert response.status_code == 201, response.content[:300]

        self.record("walk_submit_ms", median_ms(post, self.runs, warmup=1), "ms")

    def measure_dashboard(self):
        client = self.client_for(self.office)
        url = reverse("dashboard")

        def get():
            response = client.get(url, **HOST)
            assert response.status_code == 200, response.status_code

        self.record("dashboard_ms", median_ms(get, self.runs), "ms")
        # The first request after a change computes the figures (ledgers/reports/dashboard.py).
        def get_cold():
            cache.clear()
            get()

        self.record("dashboard_cold_ms", median_ms(get_cold, self.runs), "ms")

    def measure_cpu(self):
        """CPU time per request, this process's plus its PostgreSQL backend's: unlike elapsed time it
        hardly moves when other processes share the cores, so before/after stay comparable on a busy
        machine. Needs the database on this machine (the backend's /proc entry); skipped otherwise."""
        backend = _backend_cpu_reader()
        if backend is None:
            self.stdout.write("cpu: the database backend's CPU time cannot be read here (not local PostgreSQL)")
            return
        from .models import RectificationItem

        item = (RectificationItem.objects.visible_to(self.supervisor).filter(status="in_progress")
                .order_by("id").first())
        pages = [("ledger", self.supervisor, reverse("ledger"), self.ledger_filter()),
                 ("ledger_plain", self.supervisor, reverse("ledger"), {}),
                 ("item", self.supervisor, reverse("item_detail", args=[item.pk]), {}),
                 ("home", self.supervisor, reverse("home"), {}),
                 ("dashboard", self.office, reverse("dashboard"), {}),
                 ("admin", self.supervisor, reverse("admin:ledgers_rectificationitem_changelist"),
                  {"status__exact": "in_progress", "problem__category__exact": "window", "q": SEARCH_WORD})]
        runs = max(self.runs, 20)  # the kernel counts CPU time in ticks of 10 ms: average over many
        for name, user, url, params in pages:
            client = self.client_for(user)
            for _ in range(2):
                assert client.get(url, params, **HOST).status_code == 200
            python, database = time.process_time(), backend()
            for _ in range(runs):
                client.get(url, params, **HOST)
            self.record(f"{name}_cpu_ms", ((time.process_time() - python) + (backend() - database)) / runs * 1000,
                        "ms")

    def measure_child(self, job, seconds_name, memory_name):
        runs = []
        for _ in range(max(1, min(self.runs, 3))):
            output = subprocess.run([sys.executable, "manage.py", "bench", "--child", job,
                                     "--problems", str(self.problems)],
                                    cwd=settings.BASE_DIR, capture_output=True, text=True, check=True,
                                    env=os.environ.copy())
            runs.append(json.loads(output.stdout.strip().splitlines()[-1]))
        self.record(seconds_name, statistics.median(r["seconds"] for r in runs), "s")
        self.record(memory_name, max(r["peak_mb"] for r in runs), "MB")
        return runs

    def measure_imports(self):
        """A 10,000-row ledger and a 5,000-user roster (ledgers/imports/benchmark.py), in a child."""
        output = subprocess.run([sys.executable, "manage.py", "bench", "--child", "imports",
                                 "--problems", str(self.problems)], cwd=settings.BASE_DIR, capture_output=True,
                                text=True, check=True, env=os.environ.copy())
        figures = json.loads(output.stdout.strip().splitlines()[-1])
        for name in ("import_preview_s", "import_s", "import_users_preview_s", "import_users_s", "import_cpu_s",
                     "import_users_cpu_s"):
            self.record(name, figures[name], "s")
        self.record("import_peak_mb", figures["peak_mb"], "MB")

    def run(self, only=None):
        self.prepare()
        self.stdout.write(f"数据：{self.total} 个问题（{connection.vendor}），每项取 {self.runs} 次中位数")
        steps = {
            "ledger": self.measure_ledger,
            "admin": self.measure_admin,
            "export": lambda: self.measure_child("ledger_export", "ledger_export_s", "ledger_export_peak_mb"),
            "iie": lambda: self.measure_child("iie_export", "iie_export_s", "iie_export_peak_mb"),
            "circular": lambda: self.measure_child("circular", "circular_s", "circular_peak_mb"),
            "circular_docx": lambda: self.measure_child("circular_docx", "circular_docx_s", "circular_docx_peak_mb"),
            "walk": self.measure_walk_submit,
            "dashboard": self.measure_dashboard,
            "imports": self.measure_imports,
            "api": lambda: measure_api(self),
            "cpu": self.measure_cpu,
            "throughput": lambda: bench_throughput.measure(self),
        }
        for name, step in steps.items():
            if only and name not in only:
                continue
            step()
        self.compare("ledger_page_ms", "admin_changelist_ms")
        self.compare("ledger_cpu_ms", "admin_cpu_ms")
        self.compare("ledger_export_s", "iie_export_s")
        self.compare("ledger_export_peak_mb", "iie_export_peak_mb")
        self.table()
        return self.results

    def table(self):
        self.stdout.write("")
        self.stdout.write(f"{'figure':<28} {'value':>12}  unit")
        for row in self.results:
            self.stdout.write(f"{row['name']:<28} {row['value']:>12}  {row['unit']}")


def _backend_cpu_reader():
    """A function returning the CPU seconds used so far by this connection's PostgreSQL backend."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = f"/proc/{cursor.fetchone()[0]}/stat"
    if not os.path.exists(stat):
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def read():
        fields = open(stat).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    return read


def _jpeg(width, height, shade):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 120, 200 - shade // 2)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _upload(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(f"{name}.jpg", content, content_type="image/jpeg")


# -- child jobs: one measurement per process --------------------------------------------------------


def child(job, problems):
    bench = Bench(problems, runs=1, stdout=io.StringIO())
    bench.prepare()
    started = time.perf_counter()
    if job == "ledger_export":
        rows = _ledger_export(bench)
    elif job == "iie_export":
        rows = _iie_export(bench)
    elif job == "circular":
        rows = _circular(bench)
    elif job == "imports":
        from .imports.benchmark import child as imports_child

        return {"job": job, **imports_child(bench), "peak_mb": peak_mb()}
    elif job == "circular_docx":
        rows = _circular_docx(bench)
    else:
        raise ValueError(job)
    return {"job": job, "rows": rows, "seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def _ledger_export(bench):
    # Past LEDGER_EXPORT_INLINE_MAX rows a worker builds the file (ledger_export.build_export) with the
    # same writer; answering in the request here times exactly that writing.
    settings.LEDGER_EXPORT_INLINE_MAX = 10**9
    client = bench.client_for(bench.office)
    response = client.get(reverse("ledger_export"), **HOST)
    assert response.status_code == 200, response.status_code
    size = sum(len(chunk) for chunk in response.streaming_content)
    return size


def _export_queryset(bench):
    from .models import RectificationItem

    return (RectificationItem.objects.visible_to(bench.office)
            .select_related("problem", "unit", "lead_unit", "owner", "problem__subcategory")
            .order_by("deadline", "id"))


def _iie_export(bench):
    """django-import-export exporting the same rows and columns as our export: the latest progress
    note and the closure figures come from queryset annotations, as a careful user of it would write
    them (a dehydrate method per field would cost one query per row)."""
    from django.db.models import OuterRef, Subquery
    from import_export import fields, resources

    from .models import ClosureRecord, ItemEvent, RectificationItem

    progress = ItemEvent.objects.filter(item=OuterRef("pk"), action=ItemEvent.Action.PROGRESS).order_by("-at", "-id")
    closure = (ClosureRecord.objects.filter(item=OuterRef("pk"), decision=ClosureRecord.Decision.APPROVED)
               .order_by("-reviewed_at", "-id"))
    figure_names = [f"{name}_{side}" for name in ClosureRecord.FIGURES for side in ("before", "after")]
    annotations = {"latest_note": Subquery(progress.values("note")[:1]),
                   "latest_note_at": Subquery(progress.values("at")[:1])}
    annotations.update({name: Subquery(closure.values(name)[:1]) for name in figure_names})
    queryset = _export_queryset(bench).select_related("problem__campaign", "problem__service_item").annotate(
        **annotations)

    def field(attribute, header):
        return fields.Field(attribute=attribute, column_name=header)

    declared = {
        "campaign": field("problem__campaign__name", "专项行动"),
        "unit_name": field("unit__name", "所属单位"),
        "description": field("problem__description", "问题描述"),
        "category": field("problem__category", "问题类别"),
        "subcategory": field("problem__subcategory__name", "细分类"),
        "source": field("problem__source", "问题来源"),
        "service": field("problem__service_item__name", "涉及事项"),
        "lead_name": field("lead_unit__name", "牵头部门"),
        "owner_name": field("owner__username", "责任人"),
        "latest_note": field("latest_note", "最新进展"),
        "latest_note_at": field("latest_note_at", "最新进展时间"),
        **{name: field(name, name) for name in figure_names},
    }
    meta = type("Meta", (), {"model": RectificationItem,
                             "fields": ("id", "campaign", "unit_name", "description", "category", "subcategory",
                                        "source", "service", "measure", "lead_name", "owner_name", "kind",
                                        "status", "opened_on", "deadline", "closed_at", "updated_at",
                                        "latest_note", "latest_note_at", *figure_names)})
    meta.export_order = meta.fields
    resource_class = type("ItemResource", (resources.ModelResource,), {**declared, "Meta": meta})
    dataset = resource_class().export(queryset=queryset)
    return len(dataset.export("xlsx"))


def _circular(bench):
    from .reports.workbook import build_workbook
    from .models import Report
    from .reports.figures import Period

    today = timezone.localdate()
    last_month = today.replace(day=1) - timezone.timedelta(days=1)
    content = build_workbook(Report.Kind.MONTHLY, bench.root, Period.month(last_month.year, last_month.month))
    return len(content)


# -- the JSON API (ledgers/api) --------------------------------------------------------------------


def measure_api(bench):
    """api_problem_post_ms: one 12345 ticket with its rectification item, through token, checks,
    one transaction and the webhook outbox look-up; api_items_ms: a filtered page of 100 items."""
    from .api.auth import issue_token, revoke_token
    from .api.models import ApiToken, Scope

    settings.API_RATE_LIMIT = "1000000/min"  # the limit is not what is measured
    pusher, reader = (ApiToken(name="测评", unit=bench.county, scopes=[Scope.PROBLEMS_WRITE]),
                      ApiToken(name="测评", unit=bench.root, scopes=[Scope.ITEMS_READ]))
    push_client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_token(pusher)}")
    read_client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_token(reader)}")
    url = reverse("api:problems")

    def post():
        body = {"source": "hotline", "external_number": f"BENCH-{uuid.uuid4().hex}", "unit": bench.county.code,
                "service_item": bench.service_item.name, "category": "window",
                "description": "测评：市民反映自助服务终端无法打印", "received_at": timezone.localtime().isoformat(),
                "item": {"lead_unit": bench.county.code, "owner": bench.owner.username,
                         "measure": "更换终端打印模块", "deadline_working_days": 10}}
        response = push_client.post(url, json.dumps(body, ensure_ascii=False), content_type="application/json",
                                    **HOST)
        assert response.status_code == 201, response.content[:300]

    bench.record("api_problem_post_ms", median_ms(post, bench.runs), "ms")
    params = {"status": "open_all", "category": "window", "unit": bench.city.code, "page_size": 100}

    def get():
        response = read_client.get(reverse("api:items"), params, **HOST)
        assert response.status_code == 200 and len(response.json()["results"]) == 100, response.content[:300]

    bench.record("api_items_ms", median_ms(get, bench.runs), "ms")
    with CaptureQueriesContext(connection) as queries:
        get()
    bench.record("api_items_queries", len(queries), "queries")
    revoke_token(pusher)
    revoke_token(reader)
def _circular_docx(bench):
    """The province's circular as a document: the figures, last month's, the narrative and the
    attachment tables, as the report page's download builds it."""
    from .models import Report
    from .reports.circulars import document_bytes
    from .reports.figures import Period

    today = timezone.localdate()
    last_month = today.replace(day=1) - timezone.timedelta(days=1)
    period = Period.month(last_month.year, last_month.month)
    report = Report(kind=Report.Kind.MONTHLY, period=period.label, period_start=period.start, period_end=period.end,
                    scope=bench.root)
    return len(document_bytes(report, today=today))
