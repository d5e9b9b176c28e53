"""Load run (issue 6): 50 people browsing the ledger and 10 leaders submitting walk-throughs.

Started by loadtest/run.sh, which prepares the accounts and writes var/loadtest/config.json; not
part of `make test`. Every simulated user signs in through the login form as a person would (CSRF
cookie first), then:

- LedgerBrowser (50): the ledger with a mix of filters (status, category, a unit subtree, a search
  word, a later page), then opens one or two of the items listed on the page;
- WalkSubmitter (10): submits a walk-through with 5 problems and 2 photos to the JSON/multipart
  API, as the tablet page does and as ledgers/bench.py measure_walk_submit does.

Any answer other than the expected one counts as a failure, so "zero failures" means zero errors.
"""

import io
import json
import os
import random
import re
import time
import uuid
from datetime import date, datetime, timedelta

from locust import HttpUser, between, events, task

CONFIG = json.loads(open(os.environ.get("LOADTEST_CONFIG", "var/loadtest/config.json"), encoding="utf-8").read())
ITEM_LINK = re.compile(r'href="/items/(\d+)/"')
SEARCH_WORDS = ["窗口", "材料", "系统", "时限", ""]
STATUSES = ["", "open_all", "open", "in_progress", "closure_requested", "closed"]
CARDS = ["", "", "red", "yellow"]
CATEGORIES = ["", "window", "process", "system", "coordination"]


def _jpeg(width, height, shade):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 120, 200 - shade // 2)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# Every request as it ends (seconds since the start, name, milliseconds), for a look at when the
# slow ones came: var/loadtest/requests.csv, beside locust's own summary.
REQUEST_LOG = open(os.path.join(os.path.dirname(os.environ.get("LOADTEST_CONFIG", "var/loadtest/config.json")),
                                "requests.csv"), "w", encoding="utf-8")
REQUEST_LOG.write("t,name,ms\n")
STARTED = time.monotonic()


@events.request.add_listener
def _log_request(name, response_time, **_kwargs):
    REQUEST_LOG.write(f"{time.monotonic() - STARTED:.2f},{name},{response_time:.0f}\n")


# The same two photos as the bench: a tablet photo re-encoded by the server on every submission.
PHOTOS = {name: _jpeg(1600, 1200, shade) for name, shade in (("photo-0-0", 60), ("photo-1-0", 160))}


class SignedInUser(HttpUser):
    abstract = True
    username = None

    def on_start(self):
        self.client.get("/accounts/login/", name="login page")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post("/accounts/login/", name="login", allow_redirects=False, catch_response=True,
                              data={"username": CONFIG[self.username], "password": CONFIG["password"],
                                    "csrfmiddlewaretoken": token}) as response:
            if response.status_code != 302:
                response.failure(f"login answered {response.status_code}")

    def csrf_header(self):
        return {"X-CSRFToken": self.client.cookies.get("csrftoken", "")}


class LedgerBrowser(SignedInUser):
    fixed_count = 50
    wait_time = between(1, 3)  # reading a page before the next click
    username = "supervisor"

    @task(3)
    def ledger_filtered(self):
        params = {"status": random.choice(STATUSES), "category": random.choice(CATEGORIES),
                  "unit": random.choice(["", CONFIG["city"]]), "card": random.choice(CARDS),
                  "q": random.choice(SEARCH_WORDS)}
        params = {key: value for key, value in params.items() if value != ""}
        self.browse(params, "ledger [filtered]")

    @task(1)
    def ledger_first_page(self):
        self.browse({}, "ledger")

    @task(1)
    def ledger_later_page(self):
        self.browse({"status": "open_all", "page": random.randint(2, 20)}, "ledger [page 2-20]")

    def browse(self, params, name):
        with self.client.get("/ledger/", params=params, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"ledger answered {response.status_code}")
                return
            items = ITEM_LINK.findall(response.text)
        for pk in random.sample(items, min(len(items), random.randint(1, 2))):
            with self.client.get(f"/items/{pk}/", name="item", catch_response=True) as item:
                if item.status_code != 200:
                    item.failure(f"item answered {item.status_code}")


class WalkSubmitter(SignedInUser):
    fixed_count = 10
    wait_time = between(2, 5)  # a leader does not submit walk-throughs back to back
    username = "leader"

    @task
    def submit_walk(self):
        deadline = (date.today() + timedelta(days=40)).isoformat()
        problems = []
        for i in range(5):
            row = {"category": ["window", "process", "system", "coordination", "window"][i],
                   "description": f"压测问题{i + 1}：自助服务终端无法正常使用", "photos": []}
            if i < 2:
                row["photos"] = [f"photo-{i}-0"]
            if i % 2:
                row.update(resolution="on_spot", on_spot_action="现场协调解决")
            else:
                row.update(resolution="ledger", lead_unit=CONFIG["county"], owner=CONFIG["owner"],
                           measure="优化流程，压减环节", deadline_mode="date", deadline=deadline)
            problems.append(row)
        payload = {"client_uuid": str(uuid.uuid4()), "campaign": CONFIG["campaign"], "unit": CONFIG["county"],
                   "service_item": CONFIG["service_item"], "leader_rank": "top", "identity": "applicant",
                   "way": "on_site", "place": "政务服务中心", "started_at": datetime.now().strftime("%Y-%m-%dT%H:%M"),
                   "ended_at": "", "companions": "", "companion_count": 0, "deputy_count": 0, "notes": "压测",
                   "problems": problems}
        files = {name: (f"{name}.jpg", content, "image/jpeg") for name, content in PHOTOS.items()}
        with self.client.post("/walks/submit/", name="walk submit", catch_response=True,
                              data={"payload": json.dumps(payload, ensure_ascii=False)}, files=files,
                              headers={**self.csrf_header(), "Accept": "application/json"}) as response:
            if response.status_code != 201:
                response.failure(f"walk submit answered {response.status_code}: {response.text[:200]}")
