"""Units and users import: matched rows update, never duplicate; scope and role limits; activation codes."""

from django.contrib.auth import authenticate
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from ledgers import imports
from ledgers.imports import activation
from ledgers.models import ActivationCode, ImportBatch, Role, Unit, User
from ledgers.roles import grant
from tests import importfiles
from tests.world import PASSWORD, build_world, make_user


def sheet(rows):
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    return importfiles.save(workbook)


class PeopleImportTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = build_world()
        cls.admin = make_user("admin_c1", w.C1, Role.ADMIN, Role.SUPERVISOR, Role.OWNER, Role.LEADER, last_name="管",
                              first_name="理")

    def job(self, kind, path, actor=None):
        actor = actor or self.admin
        return imports.Job(kind=kind, actor=actor, path=path, original_name="名册.xlsx",
                           unit=imports.import_unit_for(actor))

    def run_commit(self, job):
        batch = ImportBatch.objects.create(kind=job.kind, created_by=job.actor, unit=job.unit,
                                           original_name=job.original_name, file="imports/test.xlsx")
        return imports.commit(job, batch), batch

    def test_units_by_code_and_name_path_in_any_order_and_a_second_import_changes_nothing(self):
        path = sheet([["单位名称", "单位代码", "上级单位", "层级", "类型"],
                      ["会龙山街道", "430903-HLS", "430903-NEW", "乡镇街道", "地区"],  # parent comes later
                      ["赫山区新区", "430903-NEW", "湖南省/益阳市/赫山区", "", ""],
                      ["益阳市水利局", "430900-SL", "益阳市", "", "部门"]])
        plan = imports.preview(self.job(imports.Kind.UNITS, path))
        self.assertEqual((len(plan.created), plan.errors), (3, []))
        self.run_commit(self.job(imports.Kind.UNITS, path))
        street = Unit.objects.get(code="430903-HLS")
        new_area = Unit.objects.get(code="430903-NEW")
        self.assertEqual(street.parent, new_area)
        self.assertTrue(street.path.startswith(new_area.path) and new_area.path.startswith(self.w.K1.path))
        self.assertEqual((new_area.level, Unit.objects.get(code="430900-SL").level), ("township", "city"))
        self.assertEqual(Unit.objects.get(code="430900-SL").kind, "department")
        again = imports.preview(self.job(imports.Kind.UNITS, path))
        self.assertEqual((len(again.created), len(again.updated), len(again.skipped)), (0, 0, 3))

    def test_a_changed_unit_row_renames_and_moves_the_unit_with_its_subtree(self):
        w = self.w
        path = sheet([["单位名称", "单位代码", "上级单位", "简称"],
                      ["赫山区行政审批服务局", "430903-XZSP", "资阳区", "审批局"]])
        plan = imports.preview(self.job(imports.Kind.UNITS, path))
        self.assertEqual(plan.labelled(plan.updated[0][2]), {"简称": ["", "审批局"], "上级单位": ["赫山区", "资阳区"]})
        self.run_commit(self.job(imports.Kind.UNITS, path))
        moved = Unit.objects.get(code="430903-XZSP")
        self.assertEqual((moved.parent, moved.short_name), (w.K2, "审批局"))
        self.assertTrue(moved.path.startswith(w.K2.path))

    def test_units_outside_the_administrators_subtree_are_errors(self):
        path = sheet([["单位名称", "单位代码", "上级单位"], ["吉首市民政局", "433101-MZ", "吉首市"],
                      ["湘西州", "433100", ""]])
        plan = imports.preview(self.job(imports.Kind.UNITS, path))
        messages = [e.message for e in plan.errors]
        self.assertIn("单位“吉首市”不在您的管辖范围内", messages[0])
        self.assertIn("管辖范围外", messages[1])

    def test_users_matched_by_username_or_name_and_phone_keep_their_password(self):
        self.w.carol.phone = "13800000003"
        self.w.carol.save()
        path = sheet([["姓名", "用户名", "手机号", "单位", "角色", "职务"],
                      ["陈卡", "", "13800000003", "430903-XZSP", "责任人、督办", "副局长"],  # carol, by name+phone
                      ["王博", "bob", "13800000004", "益阳市", "督办", "科长"],  # bob, by user name
                      ["张新", "", "13800000005", "湖南省/益阳市/赫山区", "领导", "区长"],
                      ["李四", "", "", "赫山区", "责任人", ""]])
        plan = imports.preview(self.job(imports.Kind.USERS, path))
        self.assertEqual(plan.errors, [])
        self.assertEqual((len(plan.created), len(plan.updated)), (2, 2))
        self.assertEqual([r.username for r in plan.created], ["13800000005", "430903_1"])
        self.run_commit(self.job(imports.Kind.USERS, path))
        self.assertEqual(User.objects.filter(last_name="陈", first_name="卡").count(), 1)
        carol = User.objects.get(username="carol")
        self.assertEqual((carol.title, carol.roles), ("副局长", frozenset({"owner", "supervisor"})))
        self.assertIsNotNone(authenticate(username="carol", password=PASSWORD))  # password kept
        new = User.objects.get(username="13800000005")
        self.assertFalse(new.has_usable_password())
        self.assertEqual((new.unit, new.roles), (self.w.K1, frozenset({"leader"})))
        self.assertEqual(ActivationCode.objects.filter(user=new).count(), 1)
        again = imports.preview(self.job(imports.Kind.USERS, path))
        self.assertEqual(len(again.created), 0)

    def test_users_matched_by_name_and_phone_cost_no_query_each(self):
        def staff(count):
            for n in range(count):
                make_user(f"k1_staff_{count}_{n}", self.w.K1, Role.OWNER, last_name="赵", first_name=f"{count}{n}",
                          phone=f"1390000{count}{n:03d}")
            return sheet([["姓名", "手机号", "单位", "职务"]]
                         + [[f"赵{count}{n}", f"1390000{count}{n:03d}", "赫山区", "科员"] for n in range(count)])

        def queries(path):
            with CaptureQueriesContext(connection) as captured:
                plan = imports.preview(self.job(imports.Kind.USERS, path))
            self.assertEqual(len(plan.updated), plan.rows)  # every row matched an account
            return len(captured)

        one = staff(1)
        queries(one)  # warms what a first import loads once per process
        self.assertEqual(queries(one), queries(staff(4)))

    def test_an_administrator_gives_only_roles_they_hold_and_never_superuser(self):
        path = sheet([["姓名", "单位", "角色"], ["赵六", "赫山区", "办公室"], ["钱七", "赫山区", "管理员"]])
        plan = imports.preview(self.job(imports.Kind.USERS, path))
        self.assertEqual(len(plan.errors), 1)
        self.assertIn("您不能授予“办公室人员”角色", plan.errors[0].message)
        path = sheet([["姓名", "单位", "角色"], ["钱七", "赫山区", "管理员"]])
        self.run_commit(self.job(imports.Kind.USERS, path))
        new = User.objects.get(last_name="钱")
        self.assertEqual((new.is_staff, new.is_superuser), (True, False))

    def test_only_administrators_import_units_and_users(self):
        with self.assertRaises(imports.Refused):
            imports.preview(self.job(imports.Kind.USERS, sheet([["姓名", "单位"], ["甲", "赫山区"]]), actor=self.w.bob))

    def test_a_user_name_taken_outside_the_subtree_is_an_error(self):
        path = sheet([["姓名", "用户名", "单位"], ["符凡", "frank", "赫山区"]])
        plan = imports.preview(self.job(imports.Kind.USERS, path))
        self.assertIn("管辖范围外", plan.errors[0].message)

    def test_activation_codes_are_handed_out_once_and_work_once(self):
        path = sheet([["姓名", "用户名", "单位", "角色"], ["孙八", "sunba", "赫山区", "责任人"]])
        _result, batch = self.run_commit(self.job(imports.Kind.USERS, path))
        (user, code, _expires), = activation.hand_out(batch)
        self.assertEqual(activation.hand_out(batch), [])  # never again
        row = ActivationCode.objects.get(user=user)
        self.assertEqual((row.salt, row.digest), ("", activation.digest(code)))
        self.assertNotIn(code.replace("-", ""), str(ActivationCode.objects.values_list().get()))
        wrong = self.client.post(reverse("activate"), {
            "username": "sunba", "code": "AAAAA-BBBBB-CCCCC-DDDDD", "new_password1": "Xq7!walk-2026",
            "new_password2": "Xq7!walk-2026"})
        self.assertContains(wrong, "激活码不正确")
        response = self.client.post(reverse("activate"), {"username": "sunba", "code": code.lower(),
                                                           "new_password1": "Xq7!walk-2026",
                                                           "new_password2": "Xq7!walk-2026"})
        self.assertRedirects(response, reverse("login"), fetch_redirect_response=False)
        self.assertIsNotNone(authenticate(username="sunba", password="Xq7!walk-2026"))
        reuse = self.client.post(reverse("activate"), {"username": "sunba", "code": code,
                                                        "new_password1": "Other!pass-2026",
                                                        "new_password2": "Other!pass-2026"})
        self.assertContains(reuse, "激活码不正确")

    def test_superuser_without_unit_may_import_the_whole_tree(self):
        root = User.objects.create_superuser("root", password=PASSWORD)
        path = sheet([["单位名称", "单位代码", "上级单位", "层级"], ["广东省", "440000", "", "省"]])
        self.run_commit(imports.Job(kind=imports.Kind.UNITS, actor=root, path=path, original_name="u.xlsx"))
        self.assertIsNone(Unit.objects.get(code="440000").parent)
        grant(root, Role.ADMIN)
