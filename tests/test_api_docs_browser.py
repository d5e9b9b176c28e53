"""The API's docs page runs under the site's Content-Security-Policy (script-src 'self', no inline
script) from vendored files: Swagger UI renders every endpoint and the console stays clean."""

import pytest

from tests.base import BrowserTestCase


@pytest.mark.browser
class ApiDocsBrowserTestCase(BrowserTestCase):
    viewport = {"width": 768, "height": 1024}

    def test_the_docs_page_renders_under_the_csp(self):
        context = self.new_context()
        page = context.new_page()
        console = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(str(error)))
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        response = page.goto(f"{self.live_server_url}/api/v1/docs/")
        self.assertIn("script-src 'self'", response.headers["content-security-policy"])
        page.wait_for_selector(".opblock")
        self.assertIn("/api/v1/problems/", page.content())
        self.assertEqual(console, [])
        self.assertEqual([url for url in requested if not url.startswith(self.live_server_url)], [],
                         "everything is served by the site itself")
