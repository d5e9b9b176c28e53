"""The admin's scripts speak Chinese too: Django 5.2's own zh_Hans catalogue leaves some strings of
the two-list selector in English; locale/zh_Hans/djangojs.po fills them."""

import json
import pathlib
import re

import django.contrib.admin
from django.test import TestCase
from django.urls import reverse

from ledgers.models import Role
from tests.world import build_world, make_user

ADMIN_SCRIPTS = pathlib.Path(django.contrib.admin.__file__).parent / "static" / "admin" / "js"
GETTEXT_CALL = re.compile(r"""(?<![\w.])n?gettext\(\s*(['"])((?:(?!\1).|\\.)*)\1""")


class AdminScriptsTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        w = build_world()
        cls.admin_user = make_user("chen", w.C1, Role.ADMIN, is_staff=True)

    def test_every_string_of_the_admin_scripts_is_translated(self):
        self.client.force_login(self.admin_user)
        script = self.client.get(reverse("admin:jsi18n")).content.decode()
        catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});", script, re.DOTALL).group(1))
        strings = {match.group(2).replace("\\'", "'")
                   for script in [*ADMIN_SCRIPTS.glob("*.js"), *ADMIN_SCRIPTS.glob("admin/*.js")]
                   for match in GETTEXT_CALL.finditer(script.read_text(encoding="utf-8"))}
        self.assertGreater(len(strings), 40)
        self.assertEqual(sorted(strings - set(catalog)), [])
