"""The printer persona's attribute set (issue 11): what PWG 5100.12 and IPP Everywhere ask
for, consistent with what it does: 4x6 media, number-up, job-sheets, page-ranges, overrides
are accepted, recorded, reflected in Get-Job-Attributes and change how long a job prints."""

import unittest

import fakecups as F
from tests.test_printer import (JOB_GROUP, PRINTER_GROUP, PersonaTestCase, attr, groups, keyword,
                                message, status_name)
from tests.test_printer_time import PDF_3_PAGES


class PrinterAttributes(PersonaTestCase):

    def printer(self):
        (group,) = groups(self.ok(message("Get-Printer-Attributes")), PRINTER_GROUP)
        return {a.name: [v for _, v in a.values] for a in group.attributes}

    def test_required_values(self):
        p = self.printer()
        self.assertIn("na_index-4x6_4x6in", p["media-supported"])
        self.assertIn("image/jpeg", p["document-format-supported"])
        self.assertIn(2, p["number-up-supported"])
        self.assertIn("standard", p["job-sheets-supported"])
        self.assertIn("proof-print", p["which-jobs-supported"])
        self.assertEqual(p["ipp-versions-supported"], ["1.1", "2.0", "2.1", "2.2"])
        self.assertEqual(p["job-settable-attributes-supported"], list(F.JOB_SETTABLE))
        for name in ("document-number", "document-numbers", "pages"):
            self.assertIn(name, p["overrides-supported"])
        self.assertIn("evening", p["job-hold-until-supported"])
        for name in ("job-hold-until", "job-priority", "job-sheets", "number-up", "page-ranges",
                     "media", "print-quality", "overrides"):
            self.assertIn(name, p["job-creation-attributes-supported"])

    def test_every_advertised_which_jobs_is_accepted(self):
        for which in self.printer()["which-jobs-supported"]:
            self.ok(message("Get-Jobs", operation_attrs=[keyword("which-jobs", which)]))

    def test_every_advertised_value_is_accepted(self):
        p = self.printer()
        for up in p["number-up-supported"]:
            self.print_job(job_attrs=[attr("number-up", F.TAG_INTEGER, up)])
        for sheets in p["job-sheets-supported"]:
            self.print_job(job_attrs=[keyword("job-sheets", sheets)])
        for hold in p["job-hold-until-supported"]:
            self.print_job(job_attrs=[keyword("job-hold-until", hold)])
        for compression in p["compression-supported"]:
            self.ok(message("Validate-Job", operation_attrs=[keyword("compression", compression)]))


class JobTemplate(PersonaTestCase):

    def test_recorded_and_reflected(self):
        job_attrs = [keyword("media", "na_index-4x6_4x6in"), attr("number-up", F.TAG_INTEGER, 2),
                     attr("print-quality", F.TAG_ENUM, 5), keyword("job-sheets", "standard"),
                     attr("page-ranges", F.TAG_RANGE, (1, 2)), keyword("sides", "two-sided-long-edge")]
        job_id = self.print_job(PDF_3_PAGES, job_attrs=job_attrs)["job-id"]
        answer = self.ok(message("Get-Job-Attributes", operation_attrs=[
            attr("job-id", F.TAG_INTEGER, job_id), keyword("requested-attributes", "job-template")]))
        (group,) = groups(answer, JOB_GROUP)
        got = {a.name: a.first for a in group.attributes}
        self.assertEqual(got["media"], "na_index-4x6_4x6in")
        self.assertEqual((got["number-up"], got["print-quality"], got["job-sheets"], got["page-ranges"],
                          got["sides"]), (2, 5, "standard", (1, 2), "two-sided-long-edge"))
        record = self.record(job_id)
        # pages 1-2 of 3, two up: one sheet, plus the banner page
        self.assertEqual((record["pages"], record["banner-pages"]), (1, 1))

    def test_bad_values_refused(self):
        for job_attr in (attr("number-up", F.TAG_INTEGER, 3), keyword("job-sheets", "secret"),
                         attr("page-ranges", F.TAG_RANGE, (3, 1))):
            answer = self.ask(message("Print-Job", job_attrs=[job_attr]), F.Document(b"x", iter(())))
            self.assertEqual(status_name(answer), "client-error-attributes-or-values-not-supported")


if __name__ == "__main__":
    unittest.main()
