import time

from axes.models import AccessAttempt
from django.test import RequestFactory, TestCase, override_settings
from django.urls import reverse

from ledgers.middleware import SIGNED_IN_AT
from ledgers.security import client_ip
from tests.world import PASSWORD, build_world


@override_settings(AXES_ENABLED=True)
class BruteForceTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def attempt(self, password, ip="10.1.1.1", username="alice"):
        return self.client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)

    def test_it_locks_a_user_and_address_after_five_failures(self):
        for _ in range(4):
            self.assertEqual(self.attempt("wrong").status_code, 200)
        self.assertEqual(self.attempt("wrong").status_code, 429)  # the fifth failure locks
        response = self.attempt(PASSWORD)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "已锁定15分钟", status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_the_same_user_from_another_address_is_not_locked(self):
        for _ in range(5):
            self.attempt("wrong", ip="10.1.1.1")
        response = self.attempt(PASSWORD, ip="10.9.9.9")
        self.assertEqual(response.status_code, 302)

    def test_another_user_from_the_same_address_is_not_locked(self):
        for _ in range(5):
            self.attempt("wrong", ip="10.1.1.1")
        self.assertEqual(self.attempt(PASSWORD, ip="10.1.1.1", username="bob").status_code, 302)

    def test_a_forged_forwarding_header_does_not_escape_the_lock(self):
        for i in range(5):
            self.client.post(reverse("login"), {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.1.1.1",
                             HTTP_X_FORWARDED_FOR=f"192.0.2.{i}", HTTP_X_REAL_IP=f"192.0.2.{i}")
        self.assertEqual(AccessAttempt.objects.get().ip_address, "10.1.1.1")
        self.assertEqual(self.attempt(PASSWORD).status_code, 429)


class ClientAddressTestCase(TestCase):
    def test_it_uses_remote_addr_unless_a_header_is_configured(self):
        request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="203.0.113.7")
        self.assertEqual(client_ip(request), "127.0.0.1")
        with self.settings(CLIENT_IP_HEADER="X-Real-IP"):
            self.assertEqual(client_ip(request), "203.0.113.7")


class SessionAndHeadersTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_it_expires_after_thirty_idle_minutes(self):
        self.client.force_login(self.w.alice)
        response = self.client.get(reverse("home"))
        self.assertEqual(self.client.session.get_expiry_age(), 30 * 60)
        self.assertEqual(response.cookies["sessionid"]["max-age"], 30 * 60)

    def test_it_ends_a_session_twelve_hours_after_sign_in(self):
        self.client.force_login(self.w.alice)
        session = self.client.session
        session[SIGNED_IN_AT] = time.time() - 12 * 3600 - 60
        session.save()
        response = self.client.get(reverse("home"))
        self.assertRedirects(response, reverse("login"), fetch_redirect_response=False)
        self.assertEqual(self.client.get(reverse("home")).status_code, 302)

    def test_pages_carry_the_security_headers(self):
        response = self.client.get(reverse("login"))
        self.assertEqual(response["X-Frame-Options"], "DENY")
        policy = response["Content-Security-Policy"]
        self.assertIn("script-src 'self'", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        self.assertNotIn("unsafe-eval", policy)


class SessionRenewalTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def test_it_renews_the_idle_window_at_most_every_five_minutes(self):
        from ledgers.middleware import LAST_RENEWED

        self.client.force_login(self.w.alice)
        first = self.client.get(reverse("home"))
        self.assertIn("sessionid", first.cookies)  # renewed: a fresh 30-minute cookie
        second = self.client.get(reverse("home"))
        self.assertNotIn("sessionid", second.cookies)  # within 5 minutes: nothing written
        session = self.client.session
        session[LAST_RENEWED] = time.time() - 6 * 60
        session.save()
        third = self.client.get(reverse("home"))
        self.assertEqual(third.cookies["sessionid"]["max-age"], 30 * 60)
