"""The circular's narrative, drafted from the figures in the register of the 2022 circulars
("截至5月底，全省共开展……", "共发现问题103个，其中……", "由10个工作日压缩至6个工作日").

Every number in a drafted paragraph is one the workbook prints for the same period and scope
(tests/test_reports_document.py parses them back out): counts and rates come from the topic
sheets' totals and unit rows, the month-on-month changes from 环比, the examples of improvements
from 销号成效清单. Drafted paragraphs are not editable; the clerk writes the paragraphs named in
EDITABLE (an opening, a remark under each section, the next steps), which have Chinese defaults.
"""

from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import Problem, Report, Unit
from ..workdays import WorkCalendar
from .figures import compute_figures, largest_improvements, unwalked_must_walk_items

CAMPAIGN = "走流程、解难题、优服务"
ORDINALS = "一二三四五六七八九十"
TOP_RANKS = 3  # the ranking sentence names the units of the first three ranks
FEW = 10  # units named in one sentence before "等N个单位" would be needed; more are cut with 等

# Editable paragraphs: field name -> label on the report page.
EDITABLE = {
    "opening": gettext_lazy("开头语"),
    "overall_note": gettext_lazy("总体情况补充"),
    "effects_note": gettext_lazy("整改成效补充"),
    "problems_note": gettext_lazy("存在问题补充"),
    "next_steps": gettext_lazy("下步工作"),
}


@dataclass
class Paragraph:
    text: str
    key: str = None  # the editable field it comes from; None: drafted from the figures


@dataclass
class Section:
    heading: str
    paragraphs: list = field(default_factory=list)


@dataclass
class Narrative:
    title: str
    opening: Paragraph
    sections: list


@dataclass
class CircularContent:
    """Everything a circular's document says, gathered once (a dozen queries)."""

    kind: str
    figures: object
    previous: object  # last month's figures (monthly only)
    improvements: list
    unwalked: list


def gather(kind, scope, period, *, today=None, figures=None):
    today = today or timezone.localdate()
    calendar = WorkCalendar()
    figures = figures or compute_figures(scope, period, today=today, calendar=calendar)
    previous = None
    if kind == Report.Kind.MONTHLY:
        previous = compute_figures(scope, period.previous(), today=today, calendar=calendar)
    return CircularContent(kind=kind, figures=figures, previous=previous,
                           improvements=largest_improvements(scope, period),
                           unwalked=unwalked_must_walk_items(scope, period, figures.as_of))


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------


def percent(rate):
    """A rate as the workbook shows it (number format 0.0%)."""
    return f"{rate * 100:.1f}%"


def region_word(unit):
    """全省 / 全市 / 全州 / 全县 / 全区, as the circulars say; a department's name otherwise."""
    if unit.kind == Unit.Kind.REGION:
        if unit.level == Unit.Level.PROVINCE:
            return _("全省")
        if unit.name[-1:] in ("市", "州", "县", "区"):
            return _("全%(word)s") % {"word": unit.name[-1]}
    return unit.name


def month_day(day):
    return _("%(month)d月%(day)d日") % {"month": day.month, "day": day.day}


def this_period(kind):
    return _("本月") if kind == Report.Kind.MONTHLY else _("本周")


def named(names):
    names = list(names)
    if len(names) <= FEW:
        return "、".join(names)
    return _("%(names)s等") % {"names": "、".join(names[:FEW])}


def ordinal(n):
    return ORDINALS[n - 1] if n <= len(ORDINALS) else str(n)


def change(now, before, unit_word, *, points=False):
    """"增加3次" / "减少2个" / "持平"; rates change in 百分点."""
    if now is None or before is None:
        return None
    delta = now - before
    if points:
        delta = round(delta * 100, 1)
        if delta == 0:
            return _("持平")
        return (_("上升%(n).1f个百分点") if delta > 0 else _("下降%(n).1f个百分点")) % {"n": abs(delta)}
    if delta == 0:
        return _("持平")
    return (_("增加%(n)d%(unit)s") if delta > 0 else _("减少%(n)d%(unit)s")) % {"n": abs(delta), "unit": unit_word}


# ---------------------------------------------------------------------------------------------
# Defaults of the editable paragraphs
# ---------------------------------------------------------------------------------------------


def defaults(content):
    figures = content.figures
    return {
        "opening": _("为深入推进“%(campaign)s”行动，推动政务服务流程优化、效能提升，现将%(period)s%(region)s行动开展情况"
                     "通报如下。") % {"campaign": CAMPAIGN, "period": figures.period.title(),
                                  "region": region_word(figures.scope)},
        "overall_note": "",
        "effects_note": "",
        "problems_note": "",
        "next_steps": "\n".join([
            _("（一）持续深化走流程。各单位要坚持问题导向，聚焦高频事项和“急难愁盼”事项，常态化开展领导干部走流程，"
              "做到真走真改、走深走实。"),
            _("（二）加快问题整改销号。对逾期未销号的整改措施，责任单位要明确时限、倒排工期，逐笔销号；对临期事项"
              "提前督促，防止出现新的逾期。"),
            _("（三）巩固拓展整改成效。及时总结可复制、可推广的经验做法，推动流程再造、材料精简、时限压缩，切实"
              "提升企业群众的获得感和满意度。"),
        ]),
    }


# ---------------------------------------------------------------------------------------------
# The draft
# ---------------------------------------------------------------------------------------------


def draft(content, texts=None):
    """The narrative of `content`; `texts` holds the clerk's editable paragraphs (blank: default)."""
    chosen = defaults(content)
    for key, value in (texts or {}).items():
        if key in EDITABLE and value and value.strip():
            chosen[key] = value.strip()
    figures = content.figures
    title = circular_title(content.kind, figures.period)
    sections = [
        Section(_("一、总体情况"), _overall(content) + _editable(chosen, "overall_note")),
        Section(_("二、整改成效"), _effects(content) + _editable(chosen, "effects_note")),
        Section(_("三、存在问题"), _problems(content) + _editable(chosen, "problems_note")),
        Section(_("四、下步工作"), _editable(chosen, "next_steps")),
    ]
    return Narrative(title=title, opening=Paragraph(chosen["opening"], "opening"), sections=sections)


def circular_title(kind, period):
    if kind == Report.Kind.MONTHLY:
        return _("关于%(period)s“%(campaign)s”行动开展情况的通报") % {"period": period.title(), "campaign": CAMPAIGN}
    return _("关于%(period)s“%(campaign)s”行动开展情况的汇总") % {"period": period.title(), "campaign": CAMPAIGN}


def _editable(chosen, key):
    return [Paragraph(line.strip(), key) for line in chosen[key].split("\n") if line.strip()]


def _overall(content):
    figures, total, kind = content.figures, content.figures.total, content.kind
    as_of = month_day(figures.as_of)
    text = _("%(period)s，%(region)s共开展走流程%(walks)d次，参与领导%(leaders)d人次，其中“一把手”走流程%(top)d次，"
             "走流程事项%(items)d个") % {
        "period": figures.period.title(), "region": region_word(figures.scope), "walks": total.walks,
        "leaders": total.leader_times, "top": total.top_leaders, "items": total.service_items}
    if figures.must_walk_total:
        text += _("；截至%(date)s，%(total)d个必走事项已走到%(covered)d个") % {
            "date": as_of, "total": figures.must_walk_total, "covered": total.must_walk_covered}
    paragraphs = [Paragraph(text + "。")]

    categories = "、".join(_("%(label)s%(n)d个") % {"label": label, "n": total.by_category.get(value, 0)}
                           for value, label in Problem.Category.choices)
    text = _("共发现问题%(problems)d个，其中%(categories)s；立行立改%(on_spot)d个，新增整改措施%(created)d条，"
             "%(this)s销号%(closed)d条。") % {
        "problems": total.problems, "categories": categories, "on_spot": total.on_spot,
        "created": total.items_created, "this": this_period(kind), "closed": total.closed}
    text += _("截至%(date)s，累计列入台账整改措施%(total)d条、累计销号%(closed)d条") % {
        "date": as_of, "total": total.items_total, "closed": total.closed_total}
    if total.closure_rate is not None:
        text += _("，销号率%(rate)s") % {"rate": percent(total.closure_rate)}
    text += _("；未销号%(open)d条，其中逾期（红牌）%(red)d条、临期（黄牌）%(yellow)d条。") % {
        "open": total.open, "red": total.red, "yellow": total.yellow}
    paragraphs.append(Paragraph(text))

    if content.previous is not None:
        before = content.previous.total
        parts = [_("走流程次数%(c)s") % {"c": change(total.walks, before.walks, _("次"))},
                 _("发现问题%(c)s") % {"c": change(total.problems, before.problems, _("个"))},
                 _("本月销号%(c)s") % {"c": change(total.closed, before.closed, _("条"))}]
        rate_change = change(total.closure_rate, before.closure_rate, "", points=True)
        if rate_change:
            parts.append(_("销号率%(c)s") % {"c": rate_change})
        paragraphs.append(Paragraph(_("与上月相比，%(parts)s。") % {"parts": "，".join(parts)}))

    ranking = _ranking_sentence(figures)
    if ranking:
        paragraphs.append(Paragraph(ranking))
    return paragraphs


def rank_groups(figures):
    """[(rank, [rows])] in rank order: units sharing a closure rate share a rank (并列)."""
    groups = {}
    for row in figures.rows:
        if row.rank is not None:
            groups.setdefault(row.rank, []).append(row)
    return sorted(groups.items())


def _ranking_sentence(figures):
    groups = rank_groups(figures)
    if not groups:
        return None
    parts = []
    for rank, rows in groups[:TOP_RANKS]:
        names = "、".join(row.label for row in rows)
        rate = percent(rows[0].closure_rate)
        if len(rows) > 1:
            parts.append(_("第%(rank)d名%(names)s（并列，%(rate)s）") % {"rank": rank, "names": names, "rate": rate})
        else:
            parts.append(_("第%(rank)d名%(names)s（%(rate)s）") % {"rank": rank, "names": names, "rate": rate})
    return _("从各单位销号率看，%(parts)s。") % {"parts": "；".join(parts)}


def _effects(content):
    total, kind = content.figures.total, content.kind
    if not total.closures:
        return [Paragraph(_("%(this)s无审核通过的销号事项。") % {"this": this_period(kind)})]
    text = _("%(this)s审核通过销号%(n)d项，填报整改前后数据的事项合计压减办理时限%(saved)d个工作日") % {
        "this": this_period(kind), "n": total.closures, "saved": total.time_limit_saved}
    if total.time_limit_rate is not None:
        text += _("（时限压缩率%(rate)s）") % {"rate": percent(total.time_limit_rate)}
    cuts = [template % {"n": n} for template, n in ((_("申请材料%(n)d件"), total.materials_cut),
                                                    (_("办理环节%(n)d个"), total.steps_cut),
                                                    (_("跑动%(n)d次"), total.trips_cut)) if n]
    if cuts:
        text += _("，减少%(cuts)s") % {"cuts": "、".join(cuts)}
    paragraphs = [Paragraph(text + "。")]
    examples = [_improvement(row) for row in content.improvements]
    examples = [example for example in examples if example]
    if examples:
        paragraphs.append(Paragraph(_("其中，%(examples)s。") % {"examples": "；".join(examples)}))
    return paragraphs


def _improvement(row):
    (unit, _problem, measure, _lead, _reviewed, tl_before, tl_after, m_before, m_after, _s_before, _s_after,
     t_before, t_after, _evidence) = row
    cuts = []
    if tl_before is not None and tl_after is not None and tl_before > tl_after:
        cut = _("办理时限由%(a)d个工作日压缩至%(b)d个工作日") % {"a": tl_before, "b": tl_after}
        if tl_before:
            cut += _("（压缩率%(rate)s）") % {"rate": percent((tl_before - tl_after) / tl_before)}
        cuts.append(cut)
    if m_before is not None and m_after is not None and m_before > m_after:
        cuts.append(_("申请材料由%(a)d件减至%(b)d件") % {"a": m_before, "b": m_after})
    if t_before is not None and t_after is not None and t_before > t_after:
        if t_after == 0:
            cuts.append(_("跑动次数由%(a)d次减至零，实现“零跑动”") % {"a": t_before})
        else:
            cuts.append(_("跑动次数由%(a)d次减至%(b)d次") % {"a": t_before, "b": t_after})
    if not cuts:
        return None
    return _("%(unit)s“%(measure)s”，%(cuts)s") % {"unit": unit, "measure": measure, "cuts": "，".join(cuts)}


def _problems(content):
    figures, total = content.figures, content.figures.total
    as_of = month_day(figures.as_of)
    points = []
    if total.red:
        red_rows = sorted((row for row in figures.rows if row.red), key=lambda row: (-row.red, row.label))
        units = named(_("%(unit)s%(n)d条") % {"unit": row.label, "n": row.red} for row in red_rows)
        points.append(_("部分整改措施逾期未销号。截至%(date)s，仍有%(red)d条整改措施逾期未销号（红牌），其中%(units)s。") % {
            "date": as_of, "red": total.red, "units": units})
    groups = rank_groups(figures)
    if len(groups) > 1:
        lowest = groups[-1][1]
        units = named(_("%(unit)s销号率%(rate)s") % {"unit": row.label, "rate": percent(row.closure_rate)}
                      for row in lowest)
        points.append(_("部分单位销号进度偏慢。%(units)s，排名靠后。") % {"units": units})
    if content.unwalked:
        names = named(f"“{name}”" for name in content.unwalked)
        points.append(_("部分必走事项尚未走到。截至%(date)s，%(names)s尚无人走流程。") % {"date": as_of, "names": names})
    if not points:
        return [Paragraph(_("截至%(date)s，无逾期未销号的整改措施，必走事项均已走到。") % {"date": as_of})]
    return [Paragraph(_("%(n)s是%(text)s") % {"n": ordinal(n), "text": text}) for n, text in enumerate(points, start=1)]
