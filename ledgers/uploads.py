"""Uploaded evidence, checked by its content, never by its name or the browser's content type.

Images are opened and verified with Pillow and then re-encoded (JPEG, or PNG when they carry
transparency): what is stored is pixels we wrote ourselves, without EXIF (GPS positions) or anything
appended to the file. PDFs are recognised by their "%PDF-" header. Anything else is refused.

Validation (`validate_upload`) runs before the caller's transaction, so a refused file never leaves
half a change behind; `store` then writes an Attachment inside it.
"""

import io
from contextlib import contextmanager
import os
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .models import Attachment

MAX_PIXELS = 50_000_000  # beyond any tablet camera; stops a small file that decodes to gigabytes
# Formats a camera, phone or scanner produces; anything else Pillow can read (EPS, ICO…) is refused.
IMAGE_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"}
BAD_IMAGE = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
             Image.DecompressionBombWarning)


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
        return CleanFile(data, "application/pdf", Attachment.Kind.DOCUMENT, name)
    try:
        return _reencode_image(data, name)
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
            if probe.format not in IMAGE_FORMATS or probe.width * probe.height > MAX_PIXELS:
                raise ValueError("not an accepted image")
            probe.verify()  # checks the structure; the image cannot be used after verify()
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)  # keep the photo upright once EXIF is gone
            if max_side:
                image.thumbnail((max_side, max_side))
            out = io.BytesIO()
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            if has_alpha and keep_alpha:
                image.convert("RGBA").save(out, format="PNG", optimize=True)
                return out.getvalue(), "image/png"
            if has_alpha or image.mode == "P":
                image = image.convert("RGBA")
                flat = Image.new("RGB", image.size, "white")
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
            return out.getvalue(), "image/jpeg"


def _reencode_image(data, name):
    content, content_type = reencode_image(data)
    stem = os.path.splitext(name)[0] or "image"
    extension = ".png" if content_type == "image/png" else ".jpg"
    return CleanFile(content, content_type, Attachment.Kind.PHOTO, f"{stem}{extension}")


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


def validate_and_store(uploaded_file, **attachment_fields):
    return store(validate_upload(uploaded_file), **attachment_fields)
