"""The admin of the integration and import records, tried as a city administrator would misuse it:
tokens with roles they do not hold, secrets and digests read back, delivery rows edited, another
unit's records opened. tests/test_admin_scope.py walks these models with the others (choices,
forged ids, rows above and in the sibling city); these are the cases the walk cannot see."""

import datetime

from django.contrib.auth.models import Group
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from ledgers.api.auth import issue_token
from ledgers.api.models import ApiToken, Scope, WebhookDelivery, WebhookEndpoint
from ledgers.imports.activation import _code, issue
from ledgers.models import ActivationCode, ImportBatch, Role, User
from tests.world import build_world, make_item, make_user


def url(model, view, *args):
    return reverse(f"admin:ledgers_{model._meta.model_name}_{view}", args=args)


class IntegrationAdminTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        w = cls.w = build_world()
        cls.chen = make_user("chen", w.C1, Role.ADMIN, is_staff=True)  # the city's administrator, nothing else
        cls.root = make_user("root", w.P, is_staff=True, is_superuser=True)
        cls.k1_hook = WebhookEndpoint.objects.create(name="赫山区督办平台", unit=w.K1, url="https://k1.example.cn/hook",
                                                     events=["item.closed"])
        cls.k3_hook = WebhookEndpoint.objects.create(name="吉首市督办平台", unit=w.K3, url="https://k3.example.cn/hook",
                                                     events=["item.closed"])

    def setUp(self):
        self.client.force_login(self.chen)

    def add_token(self, **data):
        return self.client.post(url(ApiToken, "add"), {"name": "12345热线", "unit": self.w.K1.pk, **data})

    def test_a_token_carries_only_the_roles_its_maker_holds(self):
        form = self.client.get(url(ApiToken, "add")).context["adminform"].form
        self.assertEqual([value for value, _label in form.fields["scopes"].choices],
                         [Scope.PROBLEMS_WRITE, Scope.ITEMS_READ])
        accounts = User.objects.count()
        for scope in (Scope.ITEMS_REVIEW, Scope.ITEMS_WRITE, Scope.FIGURES_READ):
            with self.subTest(scope=scope):
                response = self.add_token(scopes=[Scope.ITEMS_READ, scope])
                self.assertEqual(response.status_code, 200)
                self.assertIn("scopes", response.context["adminform"].form.errors)
        self.assertEqual((ApiToken.objects.count(), User.objects.count()), (0, accounts))

        dave = make_user("dave_admin", self.w.C1, Role.ADMIN, Role.SUPERVISOR, is_staff=True)
        self.client.force_login(dave)
        response = self.add_token(scopes=[Scope.ITEMS_REVIEW])
        self.assertEqual(response.status_code, 200)
        self.assertEqual(set(ApiToken.objects.get().user.roles), {Role.SUPERVISOR})

    def test_a_token_is_not_made_above_the_city_or_in_the_sibling_city(self):
        for unit in (self.w.P, self.w.C2, self.w.K3):
            with self.subTest(unit=unit.name):
                response = self.add_token(unit=unit.pk, scopes=[Scope.ITEMS_READ])
                self.assertIn("unit", response.context["adminform"].form.errors)
        self.assertFalse(ApiToken.objects.exists())

    def test_a_tokens_secret_and_digest_never_show_after_it_is_made(self):
        response = self.add_token(scopes=[Scope.PROBLEMS_WRITE])
        secret, token = response.context["secret"], ApiToken.objects.get()
        self.assertContains(response, secret)
        self.assertIn("no-store", response["Cache-Control"])
        for actor in (self.chen, self.root):
            self.client.force_login(actor)
            for page in (url(ApiToken, "change", token.pk), url(ApiToken, "changelist"),
                         url(User, "change", token.user_id)):
                with self.subTest(actor=actor.username, page=page):
                    answer = self.client.get(page)
                    self.assertEqual(answer.status_code, 200)
                    self.assertNotContains(answer, secret)
                    self.assertNotContains(answer, token.secret_hash)

    def test_a_tokens_account_is_not_changed_through_the_user_form(self):
        token = ApiToken(name="好差评系统", unit=self.w.K1, scopes=[Scope.ITEMS_READ])
        issue_token(token)
        response = self.client.get(url(User, "change", token.user_id))
        self.assertFalse(response.context["has_change_permission"])
        password = reverse("admin:auth_user_password_change", args=[token.user_id])
        self.assertEqual(self.client.post(password, {"password1": "Taken@2026x!", "password2": "Taken@2026x!"})
                         .status_code, 403)
        self.assertEqual(self.client.post(url(User, "change", token.user_id), {
            "username": "taken", "groups": [Group.objects.get(name="admin").pk]}).status_code, 403)
        account = User.objects.get(pk=token.user_id)
        self.assertFalse(account.has_usable_password())
        self.assertEqual(list(account.groups.all()), [])
        self.client.force_login(self.root)
        self.assertTrue(self.client.get(url(User, "change", token.user_id)).context["has_change_permission"])

    def test_a_receivers_secret_shows_once_when_made_and_when_renewed(self):
        response = self.client.post(url(WebhookEndpoint, "add"), {
            "name": "资阳区督办平台", "unit": self.w.K2.pk, "url": "https://k2.example.cn/hook",
            "events": ["item.closed"], "is_active": "on"})
        endpoint = WebhookEndpoint.objects.get(unit=self.w.K2)
        self.assertContains(response, endpoint.secret)
        self.assertIn("no-store", response["Cache-Control"])
        for actor in (self.chen, self.root):
            self.client.force_login(actor)
            for page in (url(WebhookEndpoint, "change", endpoint.pk), url(WebhookEndpoint, "changelist")):
                with self.subTest(actor=actor.username, page=page):
                    self.assertNotContains(self.client.get(page), endpoint.secret)
        self.client.force_login(self.chen)
        old = endpoint.secret
        response = self.client.post(url(WebhookEndpoint, "changelist"), {
            "action": "renew_secret", "_selected_action": [endpoint.pk, self.k3_hook.pk]})
        endpoint.refresh_from_db()
        self.assertNotEqual(endpoint.secret, old)
        self.assertContains(response, endpoint.secret)
        self.assertEqual(WebhookEndpoint.objects.get(pk=self.k3_hook.pk).secret, self.k3_hook.secret,
                         "the sibling city's receiver is not theirs to renew")
        self.assertNotContains(self.client.get(url(WebhookEndpoint, "change", endpoint.pk)), endpoint.secret)

    def test_a_receiver_is_not_moved_to_the_sibling_city(self):
        response = self.client.post(url(WebhookEndpoint, "change", self.k1_hook.pk), {
            "name": "改到吉首", "unit": self.w.K3.pk, "url": "https://evil.example.cn/", "events": ["item.closed"]})
        self.assertIn("unit", response.context["adminform"].form.errors)
        self.k1_hook.refresh_from_db()
        self.assertEqual((self.k1_hook.unit, self.k1_hook.name), (self.w.K1, "赫山区督办平台"))
        self.assertEqual(self.client.get(url(WebhookEndpoint, "change", self.k3_hook.pk)).status_code, 302)

    def test_delivery_rows_are_read_only_and_another_citys_hidden(self):
        ours = WebhookDelivery.objects.create(endpoint=self.k1_hook, event="item.closed", item=make_item(self.w),
                                              body='{"event": "item.closed"}')
        theirs = WebhookDelivery.objects.create(endpoint=self.k3_hook, event="item.closed", body="{}")
        page = self.client.get(url(WebhookDelivery, "change", ours.pk))
        self.assertEqual(page.status_code, 200)
        self.assertFalse(page.context["has_change_permission"])
        self.assertNotContains(page, self.k1_hook.secret)
        self.assertEqual(self.client.post(url(WebhookDelivery, "change", ours.pk), {
            "status": "delivered", "body": "{}", "endpoint": self.k1_hook.pk, "event": "item.closed"}).status_code, 403)
        self.assertEqual(self.client.post(url(WebhookDelivery, "delete", ours.pk), {"post": "yes"}).status_code, 403)
        self.assertEqual(self.client.get(url(WebhookDelivery, "change", theirs.pk)).status_code, 302)
        ours.refresh_from_db()
        self.assertEqual((ours.status, ours.body), (WebhookDelivery.Status.PENDING, '{"event": "item.closed"}'))


class ImportAdminTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        w = cls.w = build_world()
        cls.chen = make_user("chen", w.C1, Role.ADMIN, is_staff=True)
        cls.root = make_user("root", w.P, is_staff=True, is_superuser=True)
        cls.batch = ImportBatch.objects.create(kind=ImportBatch.Kind.USERS, original_name="人员.xlsx", unit=w.C1,
                                               file="imports/2026/11/people.xlsx", created_by=w.bob)
        cls.ours, cls.theirs = issue([w.alice, w.frank], cls.batch,
                                     now=timezone.now() - datetime.timedelta(hours=1))

    def test_activation_codes_never_show_in_the_admin(self):
        code = _code(self.ours.salt)
        for actor in (self.chen, self.root):
            self.client.force_login(actor)
            for page in (url(ActivationCode, "changelist"), url(ActivationCode, "change", self.ours.pk)):
                with self.subTest(actor=actor.username, page=page):
                    answer = self.client.get(page)
                    self.assertEqual(answer.status_code, 200)
                    for secret in (code, code.replace("-", ""), self.ours.digest, self.ours.salt):
                        self.assertNotContains(answer, secret)

    def test_another_citys_codes_and_another_importers_batch_are_hidden(self):
        self.client.force_login(self.chen)
        listed = self.client.get(url(ActivationCode, "changelist")).context["cl"].result_list
        self.assertEqual([row.pk for row in listed], [self.ours.pk])
        self.assertEqual(self.client.get(url(ActivationCode, "change", self.theirs.pk)).status_code, 302)
        # The batch holds its importer's file and codes: bob's, though in chen's city, is bob's alone.
        self.assertEqual(self.client.get(url(ImportBatch, "change", self.batch.pk)).status_code, 302)
        self.assertEqual(list(self.client.get(url(ImportBatch, "changelist")).context["cl"].result_list), [])
        self.assertEqual(self.client.post(url(ActivationCode, "delete", self.ours.pk), {"post": "yes"}).status_code,
                         403)
        self.assertTrue(ActivationCode.objects.filter(pk=self.ours.pk).exists())
