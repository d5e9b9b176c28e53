"""Bringing in what offices already have: the unit tree, the staff roster and their Excel ledgers.

The one front door, used by the pages, the worker and the management commands alike:

    layouts, offered = inspect(job)    read the file, find each sheet's header rows, offer a mapping
    plan = preview(job)                everything the import would do; nothing is written
    plan = commit(job, batch)          the same plan, written in one transaction, all or nothing
    run_preview(batch_id) / run_commit(batch_id)   the same for an ImportBatch, with its progress

Inside: readers (xlsx/xlsm/csv to rows), headers (header rows, synonyms, the confirmed mapping),
values (dates, categories, progress words, roles), ledger and people (one planner and writer per
kind), activation (first sign-in codes), workbooks (templates and the codes file).
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ImportBatch, ImportMapping
from . import headers, ledger, people, readers
from .base import Job, Plan, Refused, check_access, import_unit_for
from .readers import BadFile

Kind = ImportBatch.Kind
logger = logging.getLogger(__name__)
IMPORTERS = {
    Kind.LEDGER: (ledger.plan, ledger.commit, ledger.describe),
    Kind.UNITS: (people.plan_units, people.commit_units, people.describe_unit),
    Kind.USERS: (people.plan_users, people.commit_users, people.describe_user),
}

__all__ = ["BadFile", "Job", "Kind", "Plan", "Refused", "check_access", "commit", "describe", "import_unit_for",
           "inspect", "preview", "remember", "remembered", "run_commit", "run_preview"]


def layouts_of(job, head=None):
    """Each sheet with a header row, as headers.SheetLayout; BadFile when there is none."""
    sheets = readers.read(job.path, job.original_name, head=head)
    found = [layout for layout in (headers.layout(job.kind, sheet) for sheet in sheets) if layout is not None]
    if not any(sheet.rows for sheet in sheets):
        raise BadFile(_("文件中没有任何数据。"))
    if not found:
        raise BadFile(_("没有找到表头：请确认第一行（或标题行下方）是列名，如“%(example)s”。")
                      % {"example": "、".join(str(label) for label, _s in list(headers.FIELDS[job.kind].values())[:4])})
    return found


def remembered(job):
    if job.unit is None:
        return {}
    row = ImportMapping.objects.filter(unit=job.unit, kind=job.kind).first()
    return row.mapping if row else {}


def inspect(job):
    """(layouts, mapping offered on the mapping screen: remembered choices first, then synonyms)."""
    check_access(job.kind, job.actor, job.unit)
    found = layouts_of(job, head=headers.SCAN_ROWS + 2)  # the header rows only: the worker reads the rest
    return found, headers.remembered_first(job.kind, found, remembered(job))


def remember(job):
    """Keep the confirmed mapping for the unit's next import."""
    if job.unit is None or not job.mapping:
        return
    ImportMapping.objects.update_or_create(unit=job.unit, kind=job.kind, defaults={
        "mapping": {**remembered(job), **job.mapping}, "updated_by": job.actor, "updated_at": timezone.now()})


def _mapping(job, found):
    saved = remembered(job)
    return {**saved, **job.mapping} if job.mapping else headers.remembered_first(job.kind, found, saved)


def _ready(job):
    check_access(job.kind, job.actor, job.unit)
    if job.kind == Kind.LEDGER:
        ledger.check_campaign(job)
    found = layouts_of(job)
    job.mapping = _mapping(job, found)
    missing = headers.missing_required(job.kind, found, job.mapping)
    if missing:
        raise Refused(_("没有找到必填的列：%(columns)s。请在“确认表头”中指定。") % {"columns": "、".join(missing)})
    return found


def preview(job, progress=None):
    """The plan; writes nothing. Refused / BadFile when the import cannot run at all."""
    found = _ready(job)
    planner = IMPORTERS[job.kind][0]
    return planner(job, found, progress=progress).in_order()


def commit(job, batch, progress=None):
    """Plan, then write the plan in one transaction and mark the batch done; nothing at all is
    written when a row is bad (Refused) or the database refuses a row. Planning runs before the
    transaction, so its progress is visible to the status page; the writer locks and compares again
    the items it updates, and the keys' unique constraint stops a concurrent import of the same rows."""
    result = preview(job, progress=(lambda f: progress(f * 0.5)) if progress else None)
    if result.errors:
        raise Refused(_("有 %(n)s 行数据有误，未导入任何内容。") % {"n": len(result.errors)})
    writer = IMPORTERS[job.kind][1]
    with transaction.atomic():
        result = writer(job, batch, result, progress=(lambda f: progress(0.5 + f * 0.5)) if progress else None)
        batch.status = ImportBatch.Status.DONE
        batch.progress = 100
        batch.committed_at = timezone.now()
        batch.mapping = job.mapping
        batch.result = result.summary(describe_for(job.kind))
        batch.error = ""
        batch.save(update_fields=["status", "progress", "committed_at", "mapping", "result", "error"])
    return result


def describe_for(kind):
    return IMPORTERS[kind][2]


def describe(plan):
    return plan.summary(describe_for(plan.kind))


# -- batches: the pages' imports, run by the worker ------------------------------------------------


def job_for(batch):
    return Job(kind=batch.kind, actor=batch.created_by, path=batch.file.path, original_name=batch.original_name,
               unit=batch.unit, campaign=batch.campaign, mapping=dict(batch.mapping), options=dict(batch.options))


def _progress(batch_id, scale=1.0, base=0):
    last = [-1]

    def report(fraction):
        percent = int(base + fraction * scale * 100)
        if percent != last[0]:
            last[0] = percent
            ImportBatch.objects.filter(pk=batch_id).update(progress=min(percent, 99))

    return report


def _fail(batch_id, running, message, status=ImportBatch.Status.FAILED):
    # Only a batch still in the step that failed: a redelivered task never overwrites a finished one.
    ImportBatch.objects.filter(pk=batch_id, status=running).update(status=status, error=message, progress=0)


def _log_failure(batch_id):
    logger.exception("导入失败：批次 %s", batch_id)


def _batch_in(batch_id, status):
    """The batch while it is in `status`: a redelivered task finds it moved on, and does nothing."""
    return ImportBatch.objects.select_related("created_by", "unit", "campaign").filter(pk=batch_id,
                                                                                     status=status).first()


def run_preview(batch_id):
    """Preview a batch (status PREVIEWING -> PREVIEWED, or FAILED with the reason)."""
    running = ImportBatch.Status.PREVIEWING
    batch = _batch_in(batch_id, running)
    if batch is None:
        return None
    try:
        result = preview(job_for(batch), progress=_progress(batch_id))
    except Refused as error:
        _fail(batch_id, running, error.message)
        return None
    except Exception:
        _log_failure(batch_id)
        _fail(batch_id, running, _("读取文件时出错，未导入任何内容。请检查文件后重新上传。"))
        return None
    ImportBatch.objects.filter(pk=batch_id, status=running).update(
        status=ImportBatch.Status.PREVIEWED, progress=100, error="", summary=describe(result))
    return result


def run_commit(batch_id):
    """Commit a confirmed batch (COMMITTING -> DONE); on any refusal it goes back to PREVIEWED with
    the reason, and nothing is written."""
    running = ImportBatch.Status.COMMITTING
    batch = _batch_in(batch_id, running)
    if batch is None:
        return None
    try:
        return commit(job_for(batch), batch, progress=_progress(batch_id))
    except Refused as error:
        _fail(batch_id, running, error.message, status=ImportBatch.Status.PREVIEWED)
    except Exception:
        _log_failure(batch_id)
        _fail(batch_id, running, _("导入时数据库拒绝了其中的数据，未导入任何内容。请检查文件后重新上传。"))
    return None
