"""Every demo user signs in and follows every same-site link on every page they can reach: no link
leads to a 404, a 403 or a 500. A link shown to a user is a link that user can open.

Bounded so that it stays quick: each path is visited with at most a few query strings, the admin
(Django's own pages, whose sort and filter links multiply without end) with two pages of each shape,
and each user at most MAX_PAGES pages. Static files
are checked against the finders rather than fetched (the test client does not serve them).
"""

import re
from collections import deque
from html.parser import HTMLParser
from io import StringIO
from urllib.parse import urldefrag, urljoin, urlsplit

from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import TestCase

from ledgers.demo import DEMO_PASSWORD
from ledgers.models import User

MAX_PAGES = 400
QUERIES_PER_PATH = 3
ADMIN_PER_SHAPE = 2
# Signing out ends the crawl; a POST-only endpoint is never a link.
SKIP_PREFIXES = ("/accounts/logout/", "/admin/logout/")


class LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name) and tag in ("a", "link", "img", "script", "iframe"):
                self.links.append(attrs[name])


def same_site_links(base, html):
    parser = LinkParser()
    parser.feed(html)
    for link in parser.links:
        if link.startswith(("mailto:", "tel:", "javascript:", "data:", "blob:")):
            continue
        url = urldefrag(urljoin(base, link)).url
        parts = urlsplit(url)
        if parts.netloc not in ("", "testserver"):
            continue
        yield parts.path + (f"?{parts.query}" if parts.query else "")


class DemoCrawlTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("load_demo", stdout=StringIO())

    def crawl(self, username):
        client = self.client
        client.logout()
        self.assertTrue(client.login(username=username, password=DEMO_PASSWORD), username)
        queue, came_from, per_path, dead, static_missing = deque(["/"]), {"/": "(start)"}, {}, [], set()
        pages = 0
        while queue and pages < MAX_PAGES:
            url = queue.popleft()
            response = client.get(url)
            pages += 1
            if response.status_code in (301, 302, 303, 307, 308):
                target = response["Location"]
                if urlsplit(target).path.startswith("/accounts/login/"):
                    dead.append((url, "sent to sign-in", came_from[url]))
                    continue
                links = [urljoin(url, target)]
            elif response.status_code >= 400:
                dead.append((url, response.status_code, came_from[url]))
                continue
            elif "text/html" not in response.get("Content-Type", ""):
                continue
            else:
                links = list(same_site_links(url, response.content.decode()))
            for link in links:
                path, _sep, query = link.partition("?")
                if path.startswith("/static/"):
                    if not finders.find(path.removeprefix("/static/")):
                        static_missing.add((url, path))
                    continue
                if link in came_from or path.startswith(SKIP_PREFIXES):
                    continue
                if path.startswith("/admin/"):
                    # Django's own pages: one of each shape (change list, change form, history ...) is
                    # enough, and its sort and filter links are left alone.
                    if query:
                        continue
                    shape = re.sub(r"/\d+/", "/N/", path)
                    per_path[shape] = per_path.get(shape, 0) + 1
                    if per_path[shape] > ADMIN_PER_SHAPE:
                        continue
                elif query:
                    per_path[path] = per_path.get(path, 0) + 1
                    if per_path[path] > QUERIES_PER_PATH:
                        continue
                came_from[link] = url
                queue.append(link)
        return pages, dead, static_missing

    def test_no_demo_user_meets_a_dead_link(self):
        usernames = list(User.objects.order_by("username").values_list("username", flat=True))
        self.assertGreaterEqual(len(usernames), 10)
        visited = {}
        for username in usernames:
            with self.subTest(username=username):
                pages, dead, static_missing = self.crawl(username)
                visited[username] = pages
                self.assertEqual(dead, [], f"{username}: dead links")
                self.assertEqual(static_missing, set(), f"{username}: missing static files")
                # Every user reaches more than the home page: the crawl itself is working.
                self.assertGreater(pages, 5, username)
