"""Uploaded evidence, checked by its content, never by its name or the browser's content type.

Images are opened and verified with Pillow and then re-encoded (JPEG, or PNG when they carry
transparency): what is stored is pixels we wrote ourselves, without EXIF (GPS positions) or anything
appended to the file. PDFs are recognised by their "%PDF-" header. Anything else is refused.

Validation (`validate_upload`) runs before the caller's transaction, so a refused file never leaves
half a change behind; `store` then writes an Attachment inside it.
"""

import io
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

MAX_PIXELS = 40_000_000  # a 40-megapixel photo is already more than any phone takes


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
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise ValidationError(_("文件“%(name)s”不是可识别的图片或 PDF 文件，只接受 JPG、PNG 等图片和 PDF。")
                              % {"name": name}) from None


def _reencode_image(data, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ValueError("too many pixels")
            probe.verify()  # checks the structure; the image cannot be used after verify()
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)  # keep the photo upright once EXIF is gone
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            out = io.BytesIO()
            stem = os.path.splitext(name)[0] or "image"
            if has_alpha:
                image.convert("RGBA").save(out, format="PNG", optimize=True)
                return CleanFile(out.getvalue(), "image/png", Attachment.Kind.PHOTO, f"{stem}.png")
            image.convert("RGB").save(out, format="JPEG", quality=85)
            return CleanFile(out.getvalue(), "image/jpeg", Attachment.Kind.PHOTO, f"{stem}.jpg")


def store(clean, **attachment_fields):
    """Write a validated file as an Attachment; `attachment_fields` name its unit, owner rows and
    uploader (unit=..., item=..., closure=..., uploaded_by=...)."""
    attachment = Attachment(original_name=clean.original_name, content_type=clean.content_type,
                            size=len(clean.data), kind=clean.kind, **attachment_fields)
    attachment.file.save(clean.original_name, ContentFile(clean.data), save=False)
    attachment.save()
    return attachment


def validate_and_store(uploaded_file, **attachment_fields):
    return store(validate_upload(uploaded_file), **attachment_fields)
