"""gzip and deflate documents (issue 11): compression-supported, the spool keeps the
document as received and records both the received and the decompressed size and sha256;
--max-job-bytes applies to the decompressed size, so a decompression bomb stops there."""

import gzip
import hashlib
import os
import unittest
import zlib

import fakecups as F
from tests.test_printer import (ABORTED, COMPLETED, MIME_TYPE, PRINTER_GROUP, PersonaTestCase,
                                attr, document, groups, keyword, message, status_name)

PDF = b"%PDF-1.4\n" + b"".join(b"%d 0 obj << /Type /Page >> endobj\n" % n for n in range(5))


def deflate(data):
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


class Compression(PersonaTestCase):

    def print_compressed(self, data, compression, **kwargs):
        msg = message("Print-Job", operation_attrs=[
            keyword("compression", compression),
            attr("document-format", MIME_TYPE, "application/pdf")])
        return self.ask(msg, document(data, chunk=kwargs.get("chunk", 1000)))

    def test_supported(self):
        answer = self.ok(message("Get-Printer-Attributes", operation_attrs=[
            keyword("requested-attributes", "compression-supported")]))
        (group,) = groups(answer, PRINTER_GROUP)
        self.assertEqual([v for _, v in group.get("compression-supported").values],
                         ["none", "deflate", "gzip"])

    def test_gzip_and_deflate_kept_as_received(self):
        for compression, packed in (("gzip", gzip.compress(PDF)), ("deflate", deflate(PDF))):
            with self.subTest(compression=compression):
                answer = self.print_compressed(packed, compression, chunk=7)
                self.assertEqual(status_name(answer), "successful-ok")
                job = self.job_of(answer)
                self.assertEqual(job["job-state"], COMPLETED)
                record = self.record(job["job-id"])
                (doc,) = record["documents"]
                self.assertEqual((doc["compression"], doc["bytes"], doc["sha256"]),
                                 (compression, len(packed), hashlib.sha256(packed).hexdigest()))
                self.assertEqual((doc["decompressed-bytes"], doc["decompressed-sha256"]),
                                 (len(PDF), hashlib.sha256(PDF).hexdigest()))
                self.assertEqual(doc["pages"], 5)
                with open(os.path.join(self.spool_dir, doc["file"]), "rb") as file:
                    self.assertEqual(file.read(), packed)

    def test_unsupported_compression(self):
        answer = self.print_compressed(b"data", "compress")
        self.assertEqual(status_name(answer), "client-error-compression-not-supported")

    def test_bad_compressed_data_aborts(self):
        answer = self.print_compressed(b"this is not gzip at all", "gzip")
        self.assertEqual(status_name(answer), "client-error-compression-error")
        self.assertEqual(self.job_of(answer)["job-state"], ABORTED)
        answer = self.print_compressed(gzip.compress(PDF)[:-12], "gzip")
        self.assertEqual(status_name(answer), "client-error-compression-error")


class Bomb(PersonaTestCase):
    max_job_bytes = 1 << 20

    def test_decompressed_size_is_limited(self):
        bomb = gzip.compress(bytes(64 << 20))           # 64 MiB of zeros in ~64 KiB
        self.assertLess(len(bomb), self.max_job_bytes)
        msg = message("Print-Job", operation_attrs=[keyword("compression", "gzip")])
        answer = self.ask(msg, document(bomb, chunk=65536))
        self.assertEqual((status_name(answer), answer.status_message),
                         ("client-error-request-entity-too-large", "job over --max-job-bytes"))
        record = self.record(self.job_of(answer)["job-id"])
        self.assertEqual(record["state"], ABORTED)
        self.assertLessEqual(record["documents"][0]["decompressed-bytes"],
                             self.max_job_bytes + F.DocumentContent.STEP)
        self.assertEqual([n for n in os.listdir(self.spool_dir) if n.endswith(".data")], [])


if __name__ == "__main__":
    unittest.main()
