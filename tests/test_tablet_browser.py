"""A supervisor's day on a portrait tablet (768 × 1024), on the demo province: the ledger's first
screen shows rows with their status and card, filters fold into chips, an item's actions come
first, and every tappable element on the main pages is at least 44 × 44 px."""

from io import StringIO

import pytest
from django.core.management import call_command

from ledgers.models import RectificationItem, User
from tests.base import BrowserTestCase

pytestmark = pytest.mark.browser

TAPPABLE = """() => {
  const seen = [];
  const targetOf = (el) => {
    if (el.matches("input[type=checkbox], input[type=radio]")) {
      return el.closest("label") || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
    }
    return el;
  };
  for (const el of document.querySelectorAll("a[href], button, input, select, textarea, summary, label[for]")) {
    if (el.matches("input[type=hidden]") || el.closest("[hidden], .skip")) continue;
    if (el.matches("label[for]")) {
      const input = document.getElementById(el.htmlFor);
      if (!input || !input.matches("input[type=checkbox], input[type=radio]")) continue;
    }
    const target = targetOf(el);
    const style = getComputedStyle(target);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const box = target.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (target.matches("input[type=file]") && style.opacity === "0") continue;  // its label is the target
    if (box.width < 44 || box.height < 44) {
      seen.push(`${target.tagName.toLowerCase()}${target.id ? "#" + target.id : ""}` +
                `${target.className ? "." + String(target.className).split(" ").join(".") : ""} ` +
                `"${(target.textContent || target.value || "").trim().slice(0, 20)}" ` +
                `${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return seen;
}"""


class TabletBrowserTests(BrowserTestCase):
    host = "localhost"  # the walk page registers a service worker: a secure context
    viewport = {"width": 768, "height": 1024}

    def setUp(self):
        super().setUp()
        call_command("load_demo", stdout=StringIO())

    def tearDown(self):
        self.assertEqual(self.page_errors, [], "JavaScript errors on the page")

    def page_of(self, username):
        return self.signed_in_page(User.objects.get(username=username), has_touch=True)

    def in_viewport(self, page, locator):
        box = locator.bounding_box()
        return (box is not None and box["x"] >= 0 and box["y"] >= 0
                and box["x"] + box["width"] <= self.viewport["width"]
                and box["y"] + box["height"] <= self.viewport["height"])

    def test_the_first_screen_of_the_ledger_shows_rows_with_status_and_card(self):
        page = self.page_of("duban")
        page.goto(f"{self.live_server_url}/ledger/")
        page.click(".ledger-filter summary")
        page.select_option("#f-card", "red")
        page.click("#filter-form button[type=submit]")
        page.wait_for_url("**/ledger/?*card=red*")

        # Folded after applying: the first screen shows rows, the filter shows as a chip.
        self.assertIsNone(page.get_attribute(".ledger-filter", "open"))
        chip = page.locator(".filter-chip", has_text="红黄牌")
        self.assertTrue(self.in_viewport(page, chip))
        rows = page.locator(".ledger-table tbody tr")
        on_first_screen = [rows.nth(i) for i in range(rows.count())
                           if rows.nth(i).bounding_box()["y"] < self.viewport["height"]]
        self.assertGreaterEqual(len(on_first_screen), 1)
        for row in on_first_screen:
            # Red rows carry the word and the shape as well as the colour.
            self.assertIn("红牌", row.locator(".c-mark").inner_text())
            self.assertIn("row-red", row.get_attribute("class"))
            for cell in (row.locator(".c-status .status"), row.locator(".c-mark .mark")):
                box = cell.bounding_box()
                self.assertLessEqual(box["x"] + box["width"], self.viewport["width"], row.inner_text())
        self.assertTrue(self.in_viewport(page, on_first_screen[0].locator(".c-status .status")))
        self.assertTrue(self.in_viewport(page, on_first_screen[0].locator(".c-mark .mark")))
        self.assertEqual(page.evaluate("getComputedStyle(document.querySelector('tr.row-red')).borderLeftColor"),
                         "rgb(198, 40, 40)")

        # Tapping the chip removes the filter it stands for.
        chip.click()
        page.wait_for_url(lambda url: "card=" not in url)
        self.assertEqual(page.locator(".filter-chip").count(), 0)
        self.assertEqual(rows.count(), RectificationItem.objects.visible_to(User.objects.get(username="duban")).count())

    def test_an_item_s_actions_are_above_the_fold(self):
        duban = User.objects.get(username="duban")
        item = (RectificationItem.objects.visible_to(duban)
                .filter(status=RectificationItem.Status.CLOSURE_REQUESTED).first())
        page = self.page_of("duban")
        page.goto(f"{self.live_server_url}/items/{item.pk}/")
        for action in ("approve", "return"):
            self.assertTrue(self.in_viewport(page, page.locator(f"#action-{action} summary")), action)
        # The record itself comes after the actions.
        actions_bottom = page.locator(".item-actions").bounding_box()
        problem_top = page.locator(".item-main").bounding_box()
        self.assertLess(actions_bottom["y"], problem_top["y"])
        page.click("#action-approve summary")
        self.assertTrue(page.locator("#id_approve-note").is_visible())

    def test_every_tappable_element_is_at_least_44_px(self):
        zeren = User.objects.get(username="zeren")
        owned = RectificationItem.objects.filter(owner=zeren, status=RectificationItem.Status.IN_PROGRESS).first()
        pages = {
            "duban": ["/", "/ledger/", "/ledger/?card=red&status=open", f"/items/{owned.pk}/", "/reports/weekly/",
                      "/notifications/"],
            "zeren": ["/", f"/items/{owned.pk}/"],
            "lingdao": ["/", "/walks/new/", "/walks/mine/", "/reports/dashboard/"],
            "bangongshi": ["/", "/reports/", "/ledger/exports/"],
        }
        small = {}
        for username, urls in pages.items():
            page = self.page_of(username)
            for url in urls:
                page.goto(self.live_server_url + url)
                page.wait_for_load_state("networkidle")
                page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")  # folded boxes count too
                found = page.evaluate(TAPPABLE)
                if found:
                    small[f"{username} {url}"] = found
        self.maxDiff = None
        self.assertEqual(small, {})
