import time

import walkflow.settings as project_settings
from axes.models import AccessAttempt
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.test import RequestFactory, TestCase, override_settings
from django.urls import reverse

from ledgers.middleware import SIGNED_IN_AT
from ledgers.security import client_ip
from tests.world import PASSWORD, build_world


# The project's own hashers (the suite otherwise hashes with MD5 for speed: tests/conftest.py).
@override_settings(PASSWORD_HASHERS=project_settings.PASSWORD_HASHERS)
class PasswordStorageTestCase(TestCase):
    ARGON2ID = "argon2$argon2id$v=19$m=21504,t=3,p=1$"

    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()

    def sign_in(self, password):
        return self.client.post(reverse("login"), {"username": "alice", "password": password})

    def test_a_new_password_is_stored_with_argon2id(self):
        self.w.alice.set_password("换一个新密码-2026")
        self.w.alice.save()
        self.w.alice.refresh_from_db()
        self.assertTrue(self.w.alice.password.startswith(self.ARGON2ID), self.w.alice.password[:40])
        self.assertTrue(self.w.alice.check_password("换一个新密码-2026"))
        self.assertFalse(self.w.alice.check_password("换一个新密码-2027"))

    def test_a_password_stored_before_signs_in_and_is_rewritten_with_argon2id(self):
        for hasher in ("pbkdf2_sha256", "pbkdf2_sha1", "scrypt"):
            with self.subTest(hasher=hasher):
                type(self.w.alice).objects.filter(pk=self.w.alice.pk).update(
                    password=make_password(PASSWORD, hasher=hasher))
                self.client.logout()
                self.assertEqual(self.sign_in("错误的密码").status_code, 200)
                self.w.alice.refresh_from_db()
                self.assertTrue(self.w.alice.password.startswith(f"{hasher}$"))  # a failure rewrites nothing
                self.assertRedirects(self.sign_in(PASSWORD), reverse("home"), fetch_redirect_response=False)
                self.w.alice.refresh_from_db()
                self.assertTrue(self.w.alice.password.startswith(self.ARGON2ID), self.w.alice.password[:40])

    def test_an_argon2_hash_with_other_parameters_is_rewritten_at_sign_in(self):
        django_argon2 = Argon2PasswordHasher()  # Django's own parameters (m=102400, t=2, p=8)
        type(self.w.alice).objects.filter(pk=self.w.alice.pk).update(
            password=django_argon2.encode(PASSWORD, django_argon2.salt()))
        self.w.alice.refresh_from_db()
        self.assertTrue(self.w.alice.password.startswith("argon2$argon2id$v=19$m=102400,t=2,p=8$"))
        self.assertRedirects(self.sign_in(PASSWORD), reverse("home"), fetch_redirect_response=False)
        self.w.alice.refresh_from_db()
        self.assertTrue(self.w.alice.password.startswith(self.ARGON2ID))


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
