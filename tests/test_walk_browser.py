"""A leader logs walk-throughs in Chromium at tablet size: the whole form, a reload half-way,
the network cut, a lost answer. The server's tables are the judge of "nothing lost, nothing twice".

These run against a live server, so the personas are built per test (TransactionTestCase) rather
than in setUpTestData."""

import io
import re
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from ledgers.models import Attachment, Problem, RectificationItem, WalkSession
from tests.base import BrowserTestCase
from tests.world import build_world, make_walk

pytestmark = pytest.mark.browser



def photo_file(directory):
    path = Path(directory) / "counter.jpg"
    Image.new("RGB", (2400, 1800), (180, 40, 40)).save(path, "JPEG")
    return str(path)


class WalkBrowserTests(BrowserTestCase):
    host = "localhost"  # a secure context for service workers and crypto.randomUUID
    viewport = {"width": 768, "height": 1024}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.photo = photo_file(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.w = build_world()
        self.context = self.new_context(has_touch=True)
        self.sign_in(self.context, self.w.alice)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def tearDown(self):
        self.assertEqual(self.page_errors, [], "JavaScript errors on the page")

    # -- helpers ---------------------------------------------------------------------------------

    def open_form(self):
        self.page.goto(self.live_server_url + "/walks/new/")
        self.wait_saved()

    def wait_saved(self):
        self.page.wait_for_selector('#walk-status[data-state="saved"]')

    def wait_status(self, text):
        self.page.wait_for_function("t => document.getElementById('walk-status').textContent.includes(t)", arg=text)

    def fill_walk(self):
        page = self.page
        page.click("#f-service-search")
        page.fill("#f-service-search", "出生")
        page.click(".service-option:has-text('必走')")
        page.click(".chip:has-text('办事群众')")
        page.click(".chip:has-text('现场走')")
        page.fill("#f-place", "赫山区政务服务中心一楼")

    def add_problem(self):
        self.page.click("#add-problem")
        return self.page.locator(".problem").last

    def fill_on_spot(self, box, photo=True):
        box.locator(".chip:has-text('窗口建设')").click()
        box.locator("[data-field=description]").fill("自助取号机故障，群众排队取号")
        if photo:
            box.locator("input[type=file][multiple]").set_input_files(self.photo)
            box.locator(".photo img").wait_for()
        box.locator(".chip:has-text('立行立改')").click()
        box.locator("[data-field=on_spot_action]").fill("现场报修，十分钟后恢复")

    def fill_ledger(self, box):
        w = self.w
        box.locator(".chip:has-text('业务流程')").click()
        box.locator("[data-field=description]").fill("已提交身份证，仍需填写民族成分确认表")
        box.locator(".chip:has-text('列入整改台账')").click()
        box.locator("[data-field=lead_unit]").select_option(str(w.K1D.pk))
        box.locator("[data-field=owner]").select_option(str(w.carol.pk))
        box.locator("[data-field=measure]").fill("取消民族成分确认表，由系统比对身份证信息")
        box.locator("[data-field=deadline_days]").fill("10")

    def submit_and_wait_for_record(self):
        self.page.click("#walk-submit")
        self.page.wait_for_url(re.compile(r"/walks/\d+/\?submitted=1$"))

    # -- tests -------------------------------------------------------------------------------------

    def test_it_logs_a_walk_with_two_problems_and_a_photo_on_a_tablet(self):
        page = self.page
        self.open_form()
        self.fill_walk()
        self.fill_on_spot(self.add_problem())
        self.fill_ledger(self.add_problem())
        # Touch targets: every visible control is at least 44px high.
        small = page.evaluate("""() => [...document.querySelectorAll(
              '#walk-form button, #walk-form select, #walk-form input:not([type=radio]):not([type=file]):not([type=hidden]), .chip span')]
            .filter(e => e.offsetParent !== null)
            .filter(e => e.getBoundingClientRect().height < 44).map(e => e.outerHTML.slice(0, 80))""")
        self.assertEqual(small, [])
        self.submit_and_wait_for_record()

        walk = WalkSession.objects.get()
        self.assertEqual((walk.leader, walk.unit, walk.service_item), (self.w.alice, self.w.K1, self.w.birth))
        on_spot = walk.problems.get(resolution=Problem.Resolution.ON_SPOT)
        ledger = walk.problems.get(resolution=Problem.Resolution.LEDGER)
        self.assertEqual(on_spot.category, "window")
        item = RectificationItem.objects.get()
        self.assertEqual((item.problem, item.owner, item.lead_unit), (ledger, self.w.carol, self.w.K1D))
        photo = Attachment.objects.get()
        self.assertEqual(photo.problem, on_spot)
        with photo.file.open("rb") as handle:
            self.assertEqual(max(Image.open(io.BytesIO(handle.read())).size), 1600)  # resized in the browser

        self.assertIn("已提交", page.text_content(".walk-submitted"))
        self.assertEqual(page.locator(f"a[href='/items/{item.pk}/']").count(), 1)
        # The photo is served by the scoped file view and decodes: wait for it to load, not just to
        # be laid out (a broken image also ends "complete", with no width, and fails here).
        page.wait_for_function("() => { const i = document.querySelector('.problem-record img');"
                               " return i && i.complete && i.naturalWidth > 0; }")

        page.goto(self.live_server_url + "/walks/mine/")
        self.assertIn("出生上户", page.text_content(".walk-list"))
        self.assertIn("待整改 1", page.text_content(".walk-progress"))

        # The draft is gone from the browser: a new logging page starts empty.
        self.open_form()
        self.assertEqual(page.locator(".problem").count(), 0)
        self.assertEqual(page.evaluate("WalkflowDB.unsent(null).then(d => d.length)"), 0)

    def test_it_fits_a_landscape_tablet_and_a_phone(self):
        for size in ({"width": 1024, "height": 768}, {"width": 390, "height": 844}):
            self.page.set_viewport_size(size)
            self.open_form()
            self.add_problem()
            overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            self.assertLessEqual(overflow, 0, size)

    def test_it_restores_the_draft_photo_included_after_a_reload(self):
        page = self.page
        self.open_form()
        self.fill_walk()
        self.fill_on_spot(self.add_problem())
        self.wait_saved()
        page.reload()
        self.wait_saved()
        self.assertEqual(page.input_value("#f-place"), "赫山区政务服务中心一楼")
        self.assertIn("出生上户", page.text_content(".service-chosen-name"))
        self.assertTrue(page.is_checked(".chip:has-text('办事群众') input"))
        box = page.locator(".problem").first
        self.assertEqual(box.locator("[data-field=on_spot_action]").input_value(), "现场报修，十分钟后恢复")
        self.assertTrue(box.locator(".chip:has-text('窗口建设') input").is_checked())
        self.assertEqual(box.locator(".photo img").count(), 1)
        self.submit_and_wait_for_record()
        self.assertEqual(Attachment.objects.filter(walk=WalkSession.objects.get()).count(), 1)

    def test_it_keeps_the_draft_and_marks_missing_fields(self):
        page = self.page
        self.open_form()
        self.add_problem().locator("[data-field=description]").fill("只写了描述")
        page.click("#walk-submit")
        page.wait_for_selector('.field[data-name="service_item"].has-error')
        self.assertIn("请选择或新增体验事项", page.text_content('.field[data-name="service_item"] .field-error'))
        self.assertIn("请选择问题类别", page.text_content('.problem .field[data-name="category"] .field-error'))
        self.assertEqual(WalkSession.objects.count(), 0)
        page.reload()
        self.wait_saved()
        self.assertEqual(page.locator("[data-field=description]").input_value(), "只写了描述")

    def test_it_queues_offline_and_sends_exactly_once_when_back_online(self):
        page, context = self.page, self.context
        self.open_form()
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        self.fill_walk()
        self.fill_ledger(self.add_problem())
        self.wait_saved()

        # set_offline alone may not cover the service worker's own requests: refuse them as well.
        refused = []

        def cut(route):
            refused.append(route.request.url)
            route.abort("internetdisconnected")

        context.set_offline(True)
        context.route("**/walks/**", cut)
        page.click("#walk-submit")
        # After the refused attempt the form is free for the next walk and the record waits below.
        page.wait_for_selector(".outbox-item.state-queued")
        self.wait_status("等待网络")
        self.assertIn(self.live_server_url + "/walks/submit/", refused)
        self.assertEqual(WalkSession.objects.count(), 0)
        # The queued record is in view with a calm note, not an error: nothing went wrong.
        self.assertIn("联网后自动提交", page.text_content("#walk-notice"))
        self.assertTrue(page.locator("#form-error").is_hidden())
        self.assertNotIn("error", page.get_attribute("#walk-notice", "class"))
        box = page.locator(".outbox-item.state-queued").bounding_box()
        self.assertGreaterEqual(box["y"], 0)
        self.assertLessEqual(box["y"] + box["height"], self.viewport["height"])

        # The page reopens from the service worker's cache with the record still queued.
        response = page.reload()
        self.wait_status("等待网络")
        self.assertTrue(response.from_service_worker)
        self.assertIn(self.live_server_url + "/walks/new/", refused)  # the network really said no
        self.assertEqual(page.locator(".outbox-item").count(), 1)

        # Signing out now warns that a record has not reached the server.
        # Dismissed from the handler: the click itself waits for the dialog to close.
        messages = []
        page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
        with page.expect_event("dialog"):
            page.click("#logout-form button")
        self.assertIn("1 条走流程记录没有提交到服务器", messages[0])
        self.assertIn("/walks/new/", page.url)

        context.unroute("**/walks/**", cut)
        context.set_offline(False)
        self.wait_status("已提交")
        self.assertEqual(WalkSession.objects.count(), 1)
        self.assertEqual(RectificationItem.objects.count(), 1)
        page.wait_for_selector("#walk-outbox", state="hidden")
        self.assertEqual(page.evaluate("WalkflowDB.unsent(null).then(d => d.length)"), 0)

    def test_a_lost_answer_and_a_double_click_still_give_one_record(self):
        page, context = self.page, self.context
        self.open_form()
        self.fill_walk()
        self.wait_saved()
        answers = []

        def lose_first_answer(route):
            response = route.fetch()  # the server receives and stores the walk…
            answers.append(response.status)
            if len(answers) == 1:
                route.abort("connectionreset")  # …but the tablet never hears back
            else:
                route.fulfill(response=response)

        context.route("**/walks/submit/", lose_first_answer)
        # Two submits in the same instant, as an impatient double tap would make.
        page.evaluate("() => { const f = document.getElementById('walk-form'); f.requestSubmit(); f.requestSubmit(); }")
        # The tablet took the lost answer for a network failure, kept the record queued, and the
        # retry (same client UUID) was answered "already have it".
        self.wait_status("已提交")
        self.assertEqual(answers, [201, 200])
        self.assertEqual(WalkSession.objects.count(), 1)
        walk = WalkSession.objects.get()
        self.assertEqual(page.get_attribute("#walk-status a", "href"), walk.get_absolute_url())
        self.assertEqual(page.evaluate("WalkflowDB.unsent(null).then(d => d.length)"), 0)

    def test_a_conflict_keeps_the_draft_and_saves_it_as_a_new_record(self):
        page = self.page
        self.open_form()
        self.fill_walk()
        self.wait_saved()
        # Another record already holds this draft's UUID with other content (a restored backup,
        # a cloned tablet): the server must refuse, and the tablet must not lose the draft.
        draft_uuid = page.evaluate(f"localStorage.getItem('walkflow.current.{self.w.alice.pk}')")
        make_walk(self.w, client_uuid=draft_uuid, place="另一份内容")
        page.click("#walk-submit")
        page.wait_for_selector("#form-error:not([hidden])")
        self.assertIn("另存为新记录", page.text_content("#form-error"))
        self.assertEqual(page.input_value("#f-place"), "赫山区政务服务中心一楼")
        self.assertEqual(page.text_content("#walk-submit"), "另存为新记录并提交")
        self.submit_and_wait_for_record()
        self.assertEqual(WalkSession.objects.count(), 2)
        self.assertEqual(WalkSession.objects.filter(place="赫山区政务服务中心一楼").count(), 1)
