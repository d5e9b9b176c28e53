"""Forms of the ledger's actions. Each item form carries the `version` it was built on, so a save
made on a stale page is caught (services.StaleItem) instead of overwriting someone else's change."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import Jinja2
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .choices import with_selected
from .inputs import MAX_INTEGER, SaneDateField
from .models import ClosureRecord
from .services import FIGURE_FIELDS, assignable_owners, supervised_units
from .uploads import check_pixel_budget, validate_upload

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MAX_FILES = 10
MAX_BULK = 200


# The item page shows up to four of these forms; through the template engine their fields, labels
# and attributes cost about half of the page's rendering. Django's own Jinja2 copies of its form
# templates write the same markup several times faster.
FAST_RENDERER = Jinja2()


class VersionedForm(forms.Form):
    default_renderer = FAST_RENDERER
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_INTEGER)


class ProgressForm(VersionedForm):
    note = forms.CharField(label=_("整改进展"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ExtensionRequestForm(VersionedForm):
    new_deadline = SaneDateField(label=_("申请延期至"), widget=DATE)
    reason = forms.CharField(label=_("延期理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class ExtensionDecisionForm(VersionedForm):
    decision = forms.ChoiceField(label=_("审核结果"), choices=[("approve", _("同意延期")), ("reject", _("不同意延期"))],
                                 widget=forms.RadioSelect)
    note = forms.CharField(label=_("审核意见"), max_length=2000, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,application/pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        if len(files) > MAX_FILES:
            raise ValidationError(_("一次最多上传 %(n)s 个文件。") % {"n": MAX_FILES})
        return [super(MultipleFileField, self).clean(one, initial) for one in files]


class ClosureRequestForm(VersionedForm):
    evidence = forms.CharField(label=_("整改情况及佐证说明"), max_length=10000,
                               widget=forms.Textarea(attrs={"rows": 4}),
                               error_messages={"required": _("申请销号须填写整改情况及佐证说明。")})
    files = MultipleFileField(label=_("佐证材料（图片或 PDF）"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in FIGURE_FIELDS:
            label = ClosureRecord._meta.get_field(name).verbose_name
            self.fields[name] = forms.IntegerField(label=label, required=False, min_value=0, max_value=100000)

    def clean_evidence(self):
        text = self.cleaned_data["evidence"].strip()
        if not text:
            raise ValidationError(_("申请销号须填写整改情况及佐证说明。"))
        return text

    def clean_files(self):
        # Validated here, before the service's transaction: a bad file refuses the whole request.
        files = self.cleaned_data.get("files") or []
        check_pixel_budget(files)
        return [validate_upload(one) for one in files]

    def clean(self):
        data = super().clean()
        for name in ClosureRecord.FIGURES:
            before, after = data.get(f"{name}_before"), data.get(f"{name}_after")
            if (before is None) != (after is None):
                self.add_error(f"{name}_after", _("整改前后的数字请成对填写。"))
        return data

    def figures(self):
        return {name: self.cleaned_data.get(name) for name in FIGURE_FIELDS
                if self.cleaned_data.get(name) is not None}

    def figure_rows(self):
        """(before field, after field) pairs for the template."""
        return [(self[f"{name}_before"], self[f"{name}_after"]) for name in ClosureRecord.FIGURES]


class ApproveForm(VersionedForm):
    note = forms.CharField(label=_("审核意见"), max_length=2000, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


class ReturnForm(VersionedForm):
    reason = forms.CharField(label=_("退回理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return f"{user}（{user.unit.name}）" if user.unit_id else str(user)


class PrerenderedSelect(forms.Select):
    """A <select> written from options rendered once per unit and cached (ledgers/choices.py); the
    field's queryset still checks a submitted value."""

    def __init__(self, options_html, attrs=None):
        super().__init__(attrs)
        self.options_html = options_html

    def use_required_attribute(self, initial):
        # Select decides from its first choice, which this widget does not hold: the empty option
        # written below comes first, as in a plain Select.
        return forms.Widget.use_required_attribute(self, initial)

    def render(self, name, value, attrs=None, renderer=None):
        attrs = flatatt(self.build_attrs(self.attrs, attrs))
        value = getattr(value, "pk", value)
        return mark_safe(f'<select name="{escape(name)}"{attrs}><option value="">---------</option>'
                         f"{with_selected(self.options_html, value)}</select>")


class ReassignForm(VersionedForm):
    owner = OwnerChoiceField(label=_("新责任人"), queryset=None)
    note = forms.CharField(label=_("说明"), max_length=2000, required=False)

    def __init__(self, *args, actor, options=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_owners(actor)
        if options is not None:
            self.fields["owner"].widget = PrerenderedSelect(options)


class LeadUnitForm(VersionedForm):
    lead_unit = forms.ModelChoiceField(label=_("新牵头部门"), queryset=None)
    note = forms.CharField(label=_("说明"), max_length=2000, required=False)

    def __init__(self, *args, actor, options=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead_unit"].queryset = supervised_units(actor).order_by("path")
        if options is not None:
            self.fields["lead_unit"].widget = PrerenderedSelect(options)


class DeadlineForm(VersionedForm):
    deadline = SaneDateField(label=_("新整改时限"), widget=DATE)
    note = forms.CharField(label=_("说明"), max_length=2000, required=False)


class ReopenForm(VersionedForm):
    reason = forms.CharField(label=_("回头看发现的情况"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    deadline = SaneDateField(label=_("新整改时限（可不填）"), widget=DATE, required=False)


class BulkForm(forms.Form):
    ACTIONS = [("approve", _("批量销号")), ("reassign", _("批量调整责任人")), ("deadline", _("批量调整整改时限"))]

    action = forms.ChoiceField(label=_("批量操作"), choices=ACTIONS)
    items = forms.TypedMultipleChoiceField(coerce=int, choices=(), error_messages={
        "required": _("请先勾选要处理的整改措施。")})
    note = forms.CharField(label=_("说明"), max_length=2000, required=False)
    owner = OwnerChoiceField(label=_("新责任人"), queryset=None, required=False)
    deadline = SaneDateField(label=_("新整改时限"), widget=DATE, required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_owners(actor)
        # The ids are checked for scope by the service, one by one; here they only need to be numbers.
        submitted = self.data.getlist("items") if hasattr(self.data, "getlist") else []
        self.fields["items"].choices = [(value, value) for value in submitted]

    def clean_items(self):
        items = list(dict.fromkeys(self.cleaned_data["items"]))
        if len(items) > MAX_BULK:
            raise ValidationError(_("一次最多处理 %(n)s 条。") % {"n": MAX_BULK})
        return items

    def clean(self):
        data = super().clean()
        if data.get("action") == "reassign" and not data.get("owner"):
            self.add_error("owner", _("请选择新责任人。"))
        if data.get("action") == "deadline" and not data.get("deadline"):
            self.add_error("deadline", _("请填写新整改时限。"))
        return data


class SavedFilterForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=60)
    query = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)

