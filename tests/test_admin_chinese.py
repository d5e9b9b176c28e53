"""The admin speaks Chinese to a unit administrator too: the forms they open, and the scripts, where
Django 5.2's own zh_Hans catalogue leaves some strings of the two-list selector in English
(locale/zh_Hans/djangojs.po fills them)."""

import json
import pathlib
import re

import django.contrib.admin
from django.test import TestCase
from django.urls import reverse

from ledgers.models import Role
from tests.test_chinese_ui import english_words
from tests.world import build_world, make_user

ADMIN_SCRIPTS = pathlib.Path(django.contrib.admin.__file__).parent / "static" / "admin" / "js"
GETTEXT_CALL = re.compile(r"""(?<![\w.])n?gettext\(\s*(['"])((?:(?!\1).|\\.)*)\1""")

# Names inside Django's own Chinese help texts ("…例如单一登入或LDAP", "按住 Control 键或 Mac 上的 Command 键").
NAMES = {"LDAP", "Control", "Mac", "Command"}
# The password hash summary shows a few characters of the salt and hash, which may be letters; and
# Django writes a yes/no icon's alt text as the Python value ("True"), in every language.
NOT_LANGUAGE = re.compile(r"<bdi>.*?</bdi>|<img src=\"[^\"]*/icon-(?:yes|no|unknown)\.svg\" alt=\"\w+\">")


def readable(response):
    return NOT_LANGUAGE.sub(" ", response.content.decode())


class AdminInChineseTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.admin_user = make_user("chen", cls.w.C1, Role.ADMIN, is_staff=True, last_name="陈", first_name="管")

    def test_the_forms_a_unit_administrator_opens_have_no_stray_english(self):
        self.client.force_login(self.admin_user)
        for url in (reverse("admin:ledgers_user_change", args=[self.w.alice.pk]),
                    reverse("admin:ledgers_user_change", args=[self.admin_user.pk]),
                    reverse("admin:ledgers_user_add"), reverse("admin:ledgers_unit_change", args=[self.w.C1.pk]),
                    reverse("admin:ledgers_campaign_add"), reverse("admin:ledgers_user_changelist") + "?q=张"):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertEqual([w for w in english_words(readable(response)) if w not in NAMES], [])

    def test_every_string_of_the_admin_scripts_is_translated(self):
        self.client.force_login(self.admin_user)
        script = self.client.get(reverse("admin:jsi18n")).content.decode()
        catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});", script, re.DOTALL).group(1))
        strings = {match.group(2).replace("\\'", "'")
                   for script in [*ADMIN_SCRIPTS.glob("*.js"), *ADMIN_SCRIPTS.glob("admin/*.js")]
                   for match in GETTEXT_CALL.finditer(script.read_text(encoding="utf-8"))}
        self.assertGreater(len(strings), 40)
        self.assertEqual(sorted(strings - set(catalog)), [])


