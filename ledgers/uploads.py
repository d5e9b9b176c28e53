"""Uploaded evidence, checked by its content, never by its name or the browser's content type.

Images are opened and verified with Pillow and then re-encoded (JPEG, or PNG when they carry
transparency): what is stored is pixels we wrote ourselves, turned upright, without any metadata
(EXIF with GPS positions, JPEG comments, XMP, PNG text chunks, ICC profiles) or anything appended to
the file. Decoding is bounded before it starts: per image (`MAX_PIXELS`) and per request
(`MAX_REQUEST_PIXELS`, `check_pixel_budget`), read from the headers alone.

PDFs are recognised by their "%PDF-" header. A PDF that can act on its own when opened (scripts,
automatic actions, launching programs, embedded files, forms that run code) is refused, not
cleaned: cleaning would mean rewriting the file, and a cleaned copy is no longer the evidence that
was submitted; the user is told to print it to a plain PDF. The stored and served name always ends
in the extension of the detected type (a PDF called "page.html" is kept as "page.pdf").
Anything else is refused.

Validation (`validate_upload`) runs before the caller's transaction, so a refused file never leaves
half a change behind; `store` then writes an Attachment inside it.
"""

import io
import os
import re
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .models import Attachment

MAX_PIXELS = 50_000_000  # beyond any tablet camera; stops a small file that decodes to gigabytes
# Decoding costs about 15 ns a pixel here: ten 7000 × 7000 PNGs held one request for 6–9 s. This is
# a dozen 12-megapixel phone photos (the walk page sends photos of at most 1600 px).
MAX_REQUEST_PIXELS = 150_000_000
# Formats a camera, phone or scanner produces; anything else Pillow can read (EPS, ICO…) is refused.
IMAGE_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"}
BAD_IMAGE = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
             Image.DecompressionBombWarning)


class ImageTooLarge(ValueError):
    """Its decoded pixels would exceed MAX_PIXELS."""


@dataclass(frozen=True)
class CleanFile:
    data: bytes
    content_type: str
    kind: str
    original_name: str


def _name(uploaded_file):
    return os.path.basename(getattr(uploaded_file, "name", "") or "")[:200] or "file"


def validate_upload(uploaded_file):
    """A CleanFile, or ValidationError with a message for the user."""
    name = _name(uploaded_file)
    limit = settings.UPLOAD_MAX_BYTES
    if uploaded_file.size is not None and uploaded_file.size > limit:
        raise ValidationError(_("文件“%(name)s”超过 %(limit)s 的大小限制。")
                              % {"name": name, "limit": filesizeformat(limit)})
    uploaded_file.seek(0)
    data = uploaded_file.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(_("文件“%(name)s”超过 %(limit)s 的大小限制。")
                              % {"name": name, "limit": filesizeformat(limit)})
    if not data:
        raise ValidationError(_("文件“%(name)s”是空文件。") % {"name": name})
    if data.startswith(b"%PDF-"):
        if pdf_active_content(data):
            raise ValidationError(_("PDF 文件“%(name)s”含有脚本、自动执行的动作或嵌入的文件，出于安全考虑不予接收。"
                                    "请用“打印为 PDF”另存为普通 PDF（或上传扫描件）后重新上传。") % {"name": name})
        return CleanFile(data, "application/pdf", Attachment.Kind.DOCUMENT, named_for_type(name, "application/pdf"))
    try:
        return _reencode_image(data, name)
    except ImageTooLarge:
        raise ValidationError(_("图片“%(name)s”像素过多（超过 %(mp)d 百万像素），请缩小后上传。")
                              % {"name": name, "mp": MAX_PIXELS // 1_000_000}) from None
    except BAD_IMAGE:
        raise ValidationError(_("文件“%(name)s”不是可识别的图片或 PDF 文件，只接受 JPG、PNG 等图片和 PDF。")
                              % {"name": name}) from None


def reencode_image(data, *, max_side=None, keep_alpha=True):
    """(bytes, content type) of the image re-encoded from its pixels alone: JPEG, or PNG when it is
    transparent and `keep_alpha`; shrunk to `max_side` if given. Raises one of BAD_IMAGE when the
    data is not a whole image of an accepted format."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in IMAGE_FORMATS:
                raise ValueError("not an accepted image")
            if probe.width * probe.height > MAX_PIXELS:
                raise ImageTooLarge(probe.size)
            probe.verify()  # checks the structure; the image cannot be used after verify()
        with Image.open(io.BytesIO(data)) as image:
            if max_side:
                # A camera's JPEG decoded at a half, quarter or eighth of its size (still at least
                # max_side): most of the decoding work is never done.
                image.draft(image.mode, (max_side, max_side))
            # Upright once EXIF is gone. In place: a copy of a 1600 x 1200 photo costs as much as
            # decoding it.
            ImageOps.exif_transpose(image, in_place=True)
            if max_side:
                image.thumbnail((max_side, max_side))
            out = io.BytesIO()
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            if has_alpha and keep_alpha:
                _pixels_only(image.convert("RGBA")).save(out, format="PNG", optimize=True)
                return out.getvalue(), "image/png"
            if has_alpha or image.mode == "P":
                image = image.convert("RGBA")
                flat = Image.new("RGB", image.size, "white")
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            if image.mode != "RGB":  # convert() copies even when the mode is already right
                image = image.convert("RGB")
            # No Huffman optimisation (optimize=True): for a camera photo it cost more than the
            # decoding and the plain encoding together (1600 x 1200: 37 ms against 14) for 3-4 %
            # of the bytes.
            _pixels_only(image).save(out, format="JPEG", quality=85)
            return out.getvalue(), "image/jpeg"


def _pixels_only(image):
    """The image with no metadata left to write: Pillow's JPEG writer copies the COM comment from
    `info`, its PNG writer the ICC profile; XMP, EXIF and text chunks live there too."""
    image.info = {}
    return image


def check_pixel_budget(uploads):
    """ValidationError when the images of one request would decode to more than
    MAX_REQUEST_PIXELS together. Only headers are read (Pillow opens lazily); files that are not
    images count nothing and are refused later by their own check."""
    total = 0
    for upload in uploads:
        upload.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(upload) as probe:
                    total += probe.width * probe.height
        except Image.DecompressionBombError:
            total += MAX_REQUEST_PIXELS + 1
        except BAD_IMAGE:
            pass
        finally:
            upload.seek(0)
    if total > MAX_REQUEST_PIXELS:
        raise ValidationError(_("这次上传的图片合计超过 %(mp)d 百万像素，请先缩小图片或分几次上传。")
                              % {"mp": MAX_REQUEST_PIXELS // 1_000_000})


# Names that make a PDF act by itself when opened, as PDF writes them ("#4A" may stand for "J").
ACTIVE_PDF_NAMES = {b"JavaScript", b"JS", b"OpenAction", b"AA", b"Launch", b"EmbeddedFile", b"EmbeddedFiles",
                    b"RichMedia", b"XFA", b"SubmitForm", b"ImportData", b"GoToE"}
_PDF_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
_PDF_VALUE = re.compile(rb"[\x00\t\n\x0c\r ]*(<<|\[|\(|<|/|\d+[\x00\t\n\x0c\r ]+\d+[\x00\t\n\x0c\r ]+R)")
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.DOTALL)
MAX_INFLATED = 20_000_000  # compressed streams are read this far in all, so a zip bomb cannot fill memory


def pdf_active_content(data):
    """True when the PDF names any of ACTIVE_PDF_NAMES, in its plain objects or inside compressed
    streams (object streams hide dictionaries there)."""
    if _names_active(data):
        return True
    budget = MAX_INFLATED
    for match in _PDF_STREAM.finditer(data):
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(match.group(1), budget)
        except zlib.error:
            continue  # not Flate (an image's DCT data, say): nothing a reader would parse as names
        budget -= len(inflated)
        if _names_active(inflated) or (budget <= 0 and inflater.unconsumed_tail):
            return True  # the second: more compressed data than any evidence holds; refuse unread
    return False


def _names_active(chunk):
    """A dictionary key among ACTIVE_PDF_NAMES: the name followed by a value (a dictionary, array,
    string, name or object reference). Requiring the value keeps compressed image bytes that happen
    to spell "/JS" from refusing an honest scan."""
    for match in _PDF_NAME.finditer(chunk):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        if name in ACTIVE_PDF_NAMES and _PDF_VALUE.match(chunk, match.end()):
            return True
    return False


EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


def named_for_type(name, content_type):
    """The file name with the extension of its detected type, whatever the uploader called it."""
    name = os.path.basename(name or "") or "file"
    if content_type not in EXTENSIONS:
        return name
    return (os.path.splitext(name)[0] or "file") + EXTENSIONS[content_type]


def _reencode_image(data, name):
    content, content_type = reencode_image(data)
    return CleanFile(content, content_type, Attachment.Kind.PHOTO, named_for_type(name, content_type))


def store(clean, stored=None, **attachment_fields):
    """Write a validated file as an Attachment; `attachment_fields` name its unit, owner rows and
    uploader (unit=..., item=..., closure=..., uploaded_by=...). The file's name is added to
    `stored` (from `removed_if_rolled_back`) so that a rolled-back change leaves no file behind."""
    attachment = Attachment(original_name=clean.original_name, content_type=clean.content_type,
                            size=len(clean.data), kind=clean.kind, **attachment_fields)
    attachment.file.save(clean.original_name, ContentFile(clean.data), save=False)
    if stored is not None:
        stored.append(attachment.file.name)
    attachment.save()
    return attachment


@contextmanager
def removed_if_rolled_back():
    """Files are written to storage inside the change's transaction, and storage does not roll
    back: use `with removed_if_rolled_back() as stored, transaction.atomic():` and pass `stored`
    to `store`, and a failed change deletes its files again."""
    stored = []
    try:
        yield stored
    except BaseException:
        discard(stored)
        raise


def discard(names):
    storage = Attachment._meta.get_field("file").storage
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            pass  # a file we cannot delete is an orphan on disk, never a lost record
