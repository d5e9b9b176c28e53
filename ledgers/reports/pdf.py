"""PDF through LibreOffice (`soffice --headless --convert-to pdf`), where the server has it.

Each conversion gets a private LibreOffice profile in its own temporary folder, so two at once do
not fight over one profile, and a time limit after which the whole process group is killed
(soffice starts a child that outlives a killed parent).
"""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

TIMEOUT_SECONDS = 120


class PdfUnavailable(Exception):
    """No PDF can be made here; the message says why, for the user."""


def soffice():
    """The LibreOffice executable: settings.SOFFICE if set, else `soffice` or `libreoffice` on PATH."""
    configured = getattr(settings, "SOFFICE", "")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("soffice") or shutil.which("libreoffice")


def unavailable_reason():
    if soffice():
        return None
    return _("服务器未安装 LibreOffice（soffice），暂不能生成 PDF；请下载 Word 或 Excel 文件后自行转换，"
             "或请管理员按说明安装。")


def to_pdf(content, extension, *, timeout=TIMEOUT_SECONDS):
    """The PDF of a .docx or .xlsx given as bytes."""
    executable = soffice()
    if not executable:
        raise PdfUnavailable(unavailable_reason())
    with tempfile.TemporaryDirectory(prefix="walkflow-pdf-") as folder:
        folder = Path(folder)
        source = folder / f"document.{extension}"
        source.write_bytes(content)
        command = [executable, "--headless", "--norestore", "--nologo",
                   f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                   "--convert-to", "pdf", "--outdir", str(folder), str(source)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                   env={**os.environ, "HOME": str(folder)})
        try:
            _out, errors = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise PdfUnavailable(_("PDF 转换超时（%(n)d 秒），请稍后再试或下载 Word 文件。") % {"n": timeout}) from None
        target = source.with_suffix(".pdf")
        if process.returncode != 0 or not target.exists():
            raise PdfUnavailable(_("PDF 转换失败：%(error)s") % {
                "error": errors.decode("utf-8", "replace").strip()[-300:] or process.returncode})
        return target.read_bytes()
