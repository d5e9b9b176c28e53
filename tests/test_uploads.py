"""Uploads (ledgers/uploads.py): what is stored carries no metadata, is named after its real type,
cannot act by itself when opened, and cannot make one request decode an unbounded number of pixels.

Each rule is tried on the evidence form (closure request) and, where photos come in, on the walk
API too, with the database checked after a refusal."""

import io
import json
import struct
import time
import uuid
import zlib

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from PIL import Image, PngImagePlugin

from ledgers import uploads
from ledgers.models import Attachment, ClosureRecord, ItemEvent, RectificationItem
from tests.test_walk_submission import URL as WALK_URL
from tests.test_walk_submission import valid_payload
from tests.world import build_world, make_item

SECRET = "机密-GPS-28.55N-112.35E"
LATIN_SECRET = "GPS 28.55N 112.35E, serial 0042"  # Latin-1 text goes into tEXt/zTXt, the rest into iTXt


def jpeg_with_metadata(size=(60, 40), orientation=6):
    """A JPEG carrying a COM comment, EXIF (orientation, description, GPS) and XMP."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = SECRET  # ImageDescription
    exif[0x8825] = {1: "N", 2: (28.0, 33.0, 0.0)}  # GPS IFD
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>{SECRET}</rdf:Description></x:xmpmeta>'
    image = Image.new("RGB", size, "red")
    image.paste((0, 0, 255), (0, 0, size[0] // 2, size[1]))  # left half blue: shows the turn
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=SECRET.encode(), xmp=xmp.encode())
    return out.getvalue()


def png_with_text(mode="RGB"):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", LATIN_SECRET)  # tEXt
    info.add_text("Author", LATIN_SECRET, zip=True)  # zTXt
    info.add_itxt("Description", SECRET, lang="zh", tkey="描述")  # iTXt
    out = io.BytesIO()
    Image.new(mode, (20, 10), (10, 200, 10, 128) if mode == "RGBA" else "green").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def png_header(width, height):
    """The first chunks of a PNG of that size: enough for Pillow to read its size, not to decode it."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


_BIG_PNG = {}


def big_png():
    """A real 7000 × 7000 PNG (one colour, so it is small on disk and huge decoded), made once."""
    if "data" not in _BIG_PNG:
        out = io.BytesIO()
        Image.new("RGB", (7000, 7000), "white").save(out, "PNG")
        _BIG_PNG["data"] = out.getvalue()
    return _BIG_PNG["data"]


def pdf(body=b""):
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + body + b"\n%%EOF\n"


ACTIVE_PDFS = {
    "JavaScript": pdf(b"3 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj"),
    "OpenAction": pdf(b"1 0 obj << /Type /Catalog /OpenAction 3 0 R >> endobj"),
    "Launch": pdf(b"3 0 obj << /S /Launch /F (cmd.exe) >> endobj"),
    "EmbeddedFile": pdf(b"4 0 obj << /Type /EmbeddedFile /Length 3 >> stream\nMZ!\nendstream endobj"),
    "AA": pdf(b"5 0 obj << /Type /Page /AA << /O 6 0 R >> >> endobj"),
    "RichMedia": pdf(b"6 0 obj << /Subtype /RichMedia /RichMediaContent 7 0 R >> endobj"),
    "XFA": pdf(b"7 0 obj << /AcroForm << /XFA 8 0 R >> >> endobj"),
    "escaped name": pdf(b"3 0 obj << /S /J#61vaScript /J#53 (app.alert(1)) >> endobj"),
    "inside an object stream": pdf(b"9 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode >>\nstream\n"
                                   + zlib.compress(b"10 0 << /OpenAction << /S /Launch /F (x) >> >>")
                                   + b"\nendstream endobj"),
}


class ReencodingTests(TestCase):
    def test_it_drops_every_metadata_of_a_jpeg_and_keeps_it_upright(self):
        clean = uploads.validate_upload(SimpleUploadedFile("现场.jpg", jpeg_with_metadata()))
        self.assertNotIn(SECRET.encode(), clean.data)
        self.assertNotIn(b"\xff\xfe", clean.data[:clean.data.find(b"\xff\xda")])  # no COM segment before the scan
        self.assertNotIn(b"Exif\x00\x00", clean.data)
        self.assertNotIn(b"http://ns.adobe.com/xap/1.0/", clean.data)
        with Image.open(io.BytesIO(clean.data)) as back:
            self.assertEqual(back.size, (40, 60))  # orientation 6 was applied before EXIF went
            self.assertEqual(set(back.info) & {"comment", "exif", "xmp", "icc_profile"}, set())
            # Turned clockwise: the blue left half is now on top.
            self.assertGreater(back.getpixel((20, 5))[2], 200)
            self.assertGreater(back.getpixel((20, 55))[0], 200)

    def test_it_drops_the_text_chunks_of_a_png(self):
        for mode, content_type in (("RGB", "image/jpeg"), ("RGBA", "image/png")):
            with self.subTest(mode=mode):
                data = png_with_text(mode)
                for marker in (b"tEXt", b"zTXt", b"iTXt"):
                    self.assertIn(marker, data)
                clean = uploads.validate_upload(SimpleUploadedFile("截图.png", data))
                self.assertEqual(clean.content_type, content_type)
                for marker in (b"tEXt", b"zTXt", b"iTXt", SECRET.encode(), LATIN_SECRET.encode()):
                    self.assertNotIn(marker, clean.data)

    def test_the_walk_api_drops_them_too(self):
        self.assertIsNotNone(jpeg := uploads.reencode_image(jpeg_with_metadata(), max_side=1600,
                                                             keep_alpha=False)[0])
        self.assertNotIn(SECRET.encode(), jpeg)


    def test_a_camera_photo_is_shrunk_to_the_longest_side_and_kept_upright(self):
        # 4000 x 3000 stored sideways (orientation 6): decoded at reduced scale, turned, then shrunk.
        jpeg, content_type = uploads.reencode_image(jpeg_with_metadata(size=(4000, 3000)), max_side=1600,
                                                    keep_alpha=False)
        self.assertEqual(content_type, "image/jpeg")
        self.assertNotIn(SECRET.encode(), jpeg)
        with Image.open(io.BytesIO(jpeg)) as back:
            self.assertEqual(back.size, (1200, 1600))
            self.assertGreater(back.getpixel((600, 100))[2], 200)  # the blue left half is on top
            self.assertGreater(back.getpixel((600, 1500))[0], 200)

class EvidenceTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.item = make_item(cls.w)

    def ask_closure(self, *files):
        self.client.force_login(self.w.carol)
        return self.client.post(reverse("item_action", args=[self.item.pk, "closure"]), {
            "closure-version": 1, "closure-evidence": "已整改到位", "closure-files": list(files)})

    def assertRefused(self, response, message):
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, message, status_code=400)
        self.assertEqual((ClosureRecord.objects.count(), Attachment.objects.count(), ItemEvent.objects.count()),
                         (0, 0, 0))
        self.assertEqual(RectificationItem.objects.get(pk=self.item.pk).status, RectificationItem.Status.OPEN)


class NameTests(EvidenceTestCase):
    def test_a_pdf_named_html_is_stored_and_served_as_pdf(self):
        response = self.ask_closure(SimpleUploadedFile("page.html", pdf(), content_type="text/html"))
        self.assertEqual(response.status_code, 302)
        attachment = Attachment.objects.get()
        self.assertEqual((attachment.original_name, attachment.content_type), ("page.pdf", "application/pdf"))
        self.assertTrue(attachment.file.name.endswith(".pdf"), attachment.file.name)
        served = self.client.get(reverse("attachment", args=[attachment.pk]))
        self.assertEqual(served["Content-Type"], "application/pdf")
        self.assertIn('filename="page.pdf"', served["Content-Disposition"])

    def test_an_image_is_named_after_what_it_was_reencoded_to(self):
        self.ask_closure(SimpleUploadedFile("照片.html", jpeg_with_metadata(), content_type="text/html"))
        self.assertEqual(Attachment.objects.get().original_name, "照片.jpg")

    def test_a_row_stored_under_a_wrong_name_is_served_under_the_right_one(self):
        self.ask_closure(SimpleUploadedFile("a.pdf", pdf(), content_type="application/pdf"))
        Attachment.objects.update(original_name="旧数据.html")
        served = self.client.get(reverse("attachment", args=[Attachment.objects.get().pk]))
        self.assertIn("filename*=utf-8''%E6%97%A7%E6%95%B0%E6%8D%AE.pdf", served["Content-Disposition"])

    def test_walk_photos_are_named_jpg(self):
        self.client.force_login(self.w.alice)
        payload = valid_payload(self.w)
        response = self.client.post(WALK_URL, {"payload": json.dumps(payload), "photo-0-0": SimpleUploadedFile(
            "photo.html", jpeg_with_metadata(), content_type="text/html")})
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(Attachment.objects.get().original_name, "photo.jpg")


class ActivePdfTests(EvidenceTestCase):
    def test_it_refuses_a_pdf_that_can_act_by_itself(self):
        for label, data in ACTIVE_PDFS.items():
            with self.subTest(label):
                response = self.ask_closure(SimpleUploadedFile("材料.pdf", data, content_type="application/pdf"))
                self.assertRefused(response, "含有脚本、自动执行的动作或嵌入的文件")

    def test_it_accepts_a_plain_pdf_whose_text_mentions_javascript(self):
        plain = pdf(b"3 0 obj << /Length 40 >> stream\nBT (/JavaScript is a language) Tj ET\nendstream endobj")
        self.assertEqual(self.ask_closure(SimpleUploadedFile("a.pdf", plain)).status_code, 302)
        self.assertEqual(Attachment.objects.count(), 1)

    def test_it_does_not_inflate_more_than_its_budget(self):
        zeros = b"\x00" * (uploads.MAX_INFLATED + 1_000_000)
        bomb = pdf(b"3 0 obj << /Filter /FlateDecode >>\nstream\n" + zlib.compress(zeros)
                   + b"\nendstream endobj")
        self.assertLess(len(bomb), 200_000)
        self.assertTrue(uploads.pdf_active_content(bomb))  # too much to look through: refused, not trusted


class PixelTests(EvidenceTestCase):
    def test_it_refuses_one_image_over_the_pixel_limit_before_decoding_it(self):
        response = self.ask_closure(SimpleUploadedFile("大图.png", png_header(8000, 7000)))
        self.assertRefused(response, "像素过多")

    def test_it_refuses_ten_7000_pixel_pngs_in_one_request(self):
        data = big_png()
        started = time.perf_counter()
        response = self.ask_closure(*[SimpleUploadedFile(f"{n}.png", data) for n in range(10)])
        print(f"\nten 7000×7000 PNGs refused in {time.perf_counter() - started:.2f} s")
        self.assertRefused(response, "合计超过 150 百万像素")

    def test_the_budget_counts_headers_only(self):
        three = [SimpleUploadedFile(f"{n}.png", png_header(7000, 7000)) for n in range(3)]
        uploads.check_pixel_budget(three)  # 147 million: within
        with self.assertRaises(ValidationError):
            uploads.check_pixel_budget([*three, SimpleUploadedFile("4.png", png_header(2000, 2000))])
        uploads.check_pixel_budget([SimpleUploadedFile("a.pdf", pdf()), SimpleUploadedFile("x", b"junk")])

    def test_the_walk_api_refuses_photos_over_the_request_budget(self):
        self.client.force_login(self.w.alice)
        payload = valid_payload(self.w, client_uuid=str(uuid.uuid4()))
        payload["problems"][0]["photos"] = [f"photo-0-{n}" for n in range(4)]
        data = {"payload": json.dumps(payload)}
        for n in range(4):
            data[f"photo-0-{n}"] = SimpleUploadedFile(f"{n}.png", png_header(7000, 7000))
        response = self.client.post(WALK_URL, data)
        self.assertEqual(response.status_code, 400)
        self.assertIn("合计超过", response.json()["message"])
        self.assertEqual(Attachment.objects.count(), 0)

    def test_the_walk_api_names_a_photo_over_the_per_image_limit(self):
        self.client.force_login(self.w.alice)
        response = self.client.post(WALK_URL, {"payload": json.dumps(valid_payload(self.w)),
                                               "photo-0-0": SimpleUploadedFile("大图.png", png_header(8000, 7000))})
        self.assertEqual(response.status_code, 400)
        self.assertIn("像素过多", response.json()["errors"]["problems.0.photos"])
        self.assertEqual(Attachment.objects.count(), 0)
