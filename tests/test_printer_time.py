"""The printer persona's jobs take time (issue 11): pending → processing → completed at the
printer's pages-per-minute, one job at a time, highest job-priority first; hold and release
(job-hold-until, Hold-Job, Release-Job, Set-Job-Attributes as `lp -i ID -H/-q` send it);
and the spool's index, which answers the printer's questions without reading every job.

Everything in-process on a fake clock: no test sleeps for a job.
"""

import os
import time
import unittest

import fakecups as F
from tests.test_printer import (COMPLETED, HELD, JOB_GROUP, PENDING, PRINTER_GROUP,
                                PersonaTestCase, attr, groups, keyword, message, status_name)

PROCESSING, CANCELED = 5, 7
PDF_3_PAGES = (b"%PDF-1.4\n1 0 obj << /Type /Pages /Count 3 >> endobj\n"
               + b"".join(b"%d 0 obj << /Type /Page /Parent 1 0 R >> endobj\n" % n
                          for n in (2, 3, 4)) + b"%%EOF\n")


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


class TimedTestCase(PersonaTestCase):
    pages_per_minute = 20          # 3 s a page

    def setUp(self):
        self.clock = Clock()
        super().setUp()

    def new_persona(self, name="office", clock=None):
        return super().new_persona(name, clock or self.clock)

    def job(self, job_id, *wanted):
        operation_attrs = [attr("job-id", F.TAG_INTEGER, job_id)]
        if wanted:
            operation_attrs.append(keyword("requested-attributes", *wanted))
        answer = self.ok(message("Get-Job-Attributes", operation_attrs=operation_attrs))
        return self.job_of(answer)

    def job_state(self, job_id):
        return self.job(job_id, "job-state")["job-state"]

    def printer(self, *wanted):
        answer = self.ok(message("Get-Printer-Attributes",
                                 operation_attrs=[keyword("requested-attributes", *wanted)]))
        (group,) = groups(answer, PRINTER_GROUP)
        return {a.name: a.first for a in group.attributes}

    def later(self, seconds):
        self.clock.now += seconds


class PageCount(unittest.TestCase):

    def pages(self, data, document_format=None, chunk=5):
        counter = F.PageCounter(document_format)
        for i in range(0, len(data), chunk):
            counter.update(data[i:i + chunk])
        return counter.pages

    def test_pdf_counts_page_objects_across_chunks(self):
        self.assertEqual(self.pages(PDF_3_PAGES), 3)
        self.assertEqual(self.pages(PDF_3_PAGES, chunk=1), 3)
        self.assertEqual(self.pages(PDF_3_PAGES, chunk=1 << 20), 3)

    def test_pdf_without_page_objects_is_bytes_based(self):
        self.assertEqual(self.pages(b"%PDF-1.5\n" + b"x" * (200 * 1024)), 4)

    def test_postscript_text_and_others(self):
        self.assertEqual(self.pages(b"%!PS\n%%Page: 1 1\nshowpage\n%%Page: 2 2\nshowpage\n"), 2)
        self.assertEqual(self.pages(b"line\n" * 130, "text/plain"), 3)
        self.assertEqual(self.pages(b"\xff\xd8\xff\xe0" + b"j" * 300000), 1)
        self.assertEqual(self.pages(b"UNIRAST\x00\x00\x00\x00\x05" + b"u" * 100), 5)
        pwg = bytearray(b"RaS2" + bytes(1796) + b"r" * 100)
        pwg[456:460] = (7).to_bytes(4, "big")
        self.assertEqual(self.pages(bytes(pwg)), 7)
        self.assertEqual(self.pages(b"\x00" * 10), 1)
        self.assertEqual(self.pages(b"\x00" * (130 * 1024)), 3)


class JobsTakeTime(TimedTestCase):

    def test_pending_processing_completed(self):
        job = self.print_job(PDF_3_PAGES)                  # 3 pages: 9 s
        job_id = job["job-id"]
        self.assertEqual(job["job-state"], PROCESSING)     # the printer was idle
        self.assertEqual(self.printer("printer-state", "queued-job-count"),
                         {"printer-state": 4, "queued-job-count": 1})
        self.later(4.5)
        attrs = self.job(job_id, "job-state", "job-impressions", "job-impressions-completed")
        self.assertEqual(attrs, {"job-state": PROCESSING, "job-impressions": 3,
                                 "job-impressions-completed": 1})
        self.later(4.6)
        self.assertEqual(self.job_state(job_id), COMPLETED)
        record = self.record(job_id)
        self.assertEqual((record["completed"] - record["processing"]), 9.0)
        self.assertEqual(self.printer("printer-state", "queued-job-count"),
                         {"printer-state": 3, "queued-job-count": 0})

    def test_one_job_at_a_time_and_catching_up(self):
        ids = [self.print_job()["job-id"] for _ in range(3)]          # 1 page each: 3 s
        self.assertEqual([self.state(i) for i in ids], [PROCESSING, PENDING, PENDING])
        self.later(100)                         # nobody asked meanwhile
        self.assertEqual(self.job_state(ids[2]), COMPLETED)
        records = [self.record(i) for i in ids]
        # each started when the one before finished, at the times it would have
        self.assertEqual([r["processing"] - records[0]["processing"] for r in records], [0, 3, 6])
        self.assertEqual([r["completed"] - r["processing"] for r in records], [3, 3, 3])

    def test_new_process_sees_the_same_schedule(self):
        job_id = self.print_job()["job-id"]
        self.later(1)
        other = self.new_persona()              # another connection's process
        self.assertEqual(self.job_state(job_id), PROCESSING)
        self.later(2.5)
        answer = self.ok(message("Get-Job-Attributes", operation_attrs=[
            attr("job-id", F.TAG_INTEGER, job_id)]), persona=other)
        self.assertEqual(self.job_of(answer)["job-state"], COMPLETED)

    def test_priority_orders_the_queue(self):
        first = self.print_job()["job-id"]
        low = self.print_job(job_attrs=[attr("job-priority", F.TAG_INTEGER, 10)])["job-id"]
        high = self.print_job(job_attrs=[attr("job-priority", F.TAG_INTEGER, 90)])["job-id"]
        self.later(3.5)
        self.assertEqual((self.job_state(first), self.job_state(high), self.job_state(low)),
                         (COMPLETED, PROCESSING, PENDING))
        self.assertEqual(self.job(low, "job-priority")["job-priority"], 10)

    def test_bad_priority_is_refused(self):
        answer = self.ask(message("Print-Job", job_attrs=[attr("job-priority", F.TAG_INTEGER, 0)]),
                          F.Document(b"x", iter(())))
        self.assertEqual(status_name(answer), "client-error-attributes-or-values-not-supported")

    def test_get_jobs_not_completed_then_completed(self):
        job_id = self.print_job()["job-id"]
        self.assertEqual([j["job-id"] for j in self.get_jobs()], [job_id])
        self.later(10)
        self.assertEqual(self.get_jobs(), [])
        self.assertEqual([j["job-id"] for j in self.get_jobs(keyword("which-jobs", "completed"))],
                         [job_id])

    def test_cancel_processing_job_frees_the_printer(self):
        first, second = self.print_job()["job-id"], self.print_job()["job-id"]
        self.later(1)
        self.assertEqual(self.job_operation("Cancel-Job", first).ipp_status, 0)
        self.assertEqual((self.state(first), self.job_state(second)), (CANCELED, PROCESSING))
        self.assertEqual(self.record(second)["processing"], self.clock.now)

    def test_open_job_is_pending_until_its_last_document(self):
        job_id = self.create_job()["job-id"]
        self.assertEqual(self.send_document(job_id, b"%PDF-1.4\n", False).ipp_status, 0)
        self.later(30)
        self.assertEqual(self.job_state(job_id), PENDING)
        self.assertEqual(self.send_document(job_id, PDF_3_PAGES, True).ipp_status, 0)
        self.assertEqual(self.job_state(job_id), PROCESSING)
        self.assertEqual(self.job(job_id, "job-impressions")["job-impressions"], 4)

    def test_copies_and_number_up_make_the_time(self):
        job = self.print_job(PDF_3_PAGES, job_attrs=[attr("copies", F.TAG_INTEGER, 2)])
        self.assertEqual(self.record(job["job-id"])["seconds"], 18.0)

    def test_zero_pages_per_minute_is_instant(self):
        self.pages_per_minute = 0
        self.persona = self.new_persona()
        self.assertEqual(self.print_job(PDF_3_PAGES)["job-state"], COMPLETED)


class HoldAndRelease(TimedTestCase):

    def held_job(self, until="indefinite"):
        return self.print_job(job_attrs=[keyword("job-hold-until", until)])["job-id"]

    def test_hold_until_indefinite_then_release(self):
        job_id = self.held_job()
        self.later(100)
        self.assertEqual(self.job(job_id, "job-state", "job-hold-until"),
                         {"job-state": HELD, "job-hold-until": "indefinite"})
        self.assertEqual(self.job_operation("Release-Job", job_id).ipp_status, 0)
        self.assertEqual(self.job(job_id, "job-state", "job-hold-until"),
                         {"job-state": PROCESSING, "job-hold-until": "no-hold"})
        answer = self.job_operation("Release-Job", job_id)
        self.assertEqual((status_name(answer), answer.status_message),
                         ("client-error-not-possible", "Job #%d is not held." % job_id))

    def test_hold_job_then_release(self):
        busy = self.print_job()["job-id"]
        job_id = self.print_job()["job-id"]
        self.assertEqual(self.job_operation("Hold-Job", job_id).ipp_status, 0)
        self.later(60)
        self.assertEqual((self.job_state(busy), self.job_state(job_id)), (COMPLETED, HELD))
        self.assertEqual(self.job_operation("Release-Job", job_id).ipp_status, 0)
        self.assertEqual(self.job_state(job_id), PROCESSING)
        answer = self.job_operation("Hold-Job", busy)
        self.assertEqual(status_name(answer), "client-error-not-possible")

    def test_cancel_held_job(self):
        job_id = self.held_job()
        self.assertEqual(self.job_operation("Cancel-Job", job_id).ipp_status, 0)
        self.assertEqual(self.job_state(job_id), CANCELED)

    def test_named_period_releases_itself(self):
        t = time.localtime(self.clock.now)
        noon = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 12, 0, 0, 0, 0, -1))
        self.clock.now = noon
        job_id = self.held_job("evening")
        self.assertEqual(self.job_state(job_id), HELD)
        self.clock.now = noon + 6 * 3600 + 1        # 18:00:01
        self.assertEqual(self.job_state(job_id), PROCESSING)
        self.assertEqual(self.record(job_id)["processing"], noon + 6 * 3600)
        shift = self.held_job("second-shift")       # 16:00-24:00 is on: not held
        self.assertEqual(self.job_state(shift), PENDING)

    def test_hold_periods(self):
        t = time.localtime(self.clock.now)

        def at(hour, day=0):
            return time.mktime((t.tm_year, t.tm_mon, t.tm_mday + day, hour, 0, 0, 0, 0, -1))
        self.assertEqual(F.hold_release_time("day-time", at(3)), at(6))
        self.assertEqual(F.hold_release_time("day-time", at(20)), at(6, 1))
        self.assertEqual(F.hold_release_time("night", at(7)), at(18))
        self.assertEqual(F.hold_release_time("second-shift", at(17)), at(17))
        self.assertEqual(F.hold_release_time("third-shift", at(9)), at(0, 1))
        self.assertIsNone(F.hold_release_time("indefinite", at(9)))
        saturday = F.hold_release_time("weekend", at(12))
        self.assertEqual(time.localtime(saturday).tm_wday in (5, 6), True)

    def test_bad_hold_until_is_refused(self):
        answer = self.ask(message("Print-Job", job_attrs=[keyword("job-hold-until", "tea-time")]),
                          F.Document(b"x", iter(())))
        self.assertEqual(status_name(answer), "client-error-attributes-or-values-not-supported")
        self.assertEqual(self.get_jobs(keyword("which-jobs", "all")), [])

    def set_job(self, job_id, *job_attrs):
        return self.ask(message("Set-Job-Attributes",
                                operation_attrs=[attr("job-id", F.TAG_INTEGER, job_id)],
                                job_attrs=list(job_attrs)))

    def test_set_job_attributes_as_lp_sends_it(self):
        busy = self.print_job()["job-id"]
        job_id = self.print_job()["job-id"]
        # lp -i ID -H hold
        self.assertEqual(self.set_job(job_id, keyword("job-hold-until", "indefinite")).ipp_status, 0)
        self.later(10)
        self.assertEqual(self.job_state(job_id), HELD)
        # lp -i ID -q 80 -t renamed
        self.assertEqual(self.set_job(job_id, attr("job-priority", F.TAG_INTEGER, 80),
                                      attr("job-name", F.TAG_NAME, "renamed")).ipp_status, 0)
        self.assertEqual(self.job(job_id, "job-priority", "job-name"),
                         {"job-priority": 80, "job-name": "renamed"})
        # lp -i ID -H resume
        self.assertEqual(self.set_job(job_id, keyword("job-hold-until", "no-hold")).ipp_status, 0)
        self.assertEqual(self.job_state(job_id), PROCESSING)
        self.assertEqual(self.job_state(busy), COMPLETED)

    def test_set_job_attributes_refusals(self):
        job_id = self.print_job()["job-id"]
        answer = self.set_job(job_id, attr("job-id", F.TAG_INTEGER, 9))
        self.assertEqual(status_name(answer), "client-error-attributes-not-settable")
        (unsupported,) = groups(answer, F.TAG_UNSUPPORTED_GROUP)
        self.assertEqual(unsupported.attributes[0].name, "job-id")
        self.later(10)
        answer = self.set_job(job_id, keyword("job-hold-until", "indefinite"))
        self.assertEqual(status_name(answer), "client-error-not-possible")


class Index(TimedTestCase):
    pages_per_minute = 0

    def test_printer_attributes_read_no_job_record(self):
        for _ in range(5):
            self.print_job()
        held = self.print_job(job_attrs=[keyword("job-hold-until", "indefinite")])["job-id"]
        persona = self.new_persona()
        persona.spool._read_record = None            # any record read would fail
        answer = self.ok(message("Get-Printer-Attributes"), persona=persona)
        (group,) = groups(answer, PRINTER_GROUP)
        self.assertEqual(group.get("queued-job-count").first, 1)
        self.assertEqual(self.state(held), HELD)

    def test_get_jobs_with_limit_reads_few_records(self):
        for _ in range(30):
            self.print_job()
        persona = self.new_persona()
        reads = []
        original = persona.spool._read_record
        persona.spool._read_record = lambda job_id: reads.append(job_id) or original(job_id)
        answer = self.ok(message("Get-Jobs", operation_attrs=[
            keyword("which-jobs", "completed"), attr("limit", F.TAG_INTEGER, 2)]), persona=persona)
        self.assertEqual([g.get("job-id").first for g in groups(answer, JOB_GROUP)], [30, 29])
        self.assertEqual(reads, [30, 29])

    def test_index_is_rebuilt_when_lost(self):
        first = self.print_job()["job-id"]
        held = self.print_job(job_attrs=[keyword("job-hold-until", "indefinite")])["job-id"]
        os.unlink(os.path.join(self.spool_dir, "index"))
        self.persona = self.new_persona()
        self.assertEqual(self.print_job()["job-id"], held + 1)
        self.assertEqual([j["job-id"] for j in self.get_jobs()], [held])
        self.assertEqual(self.state(first), COMPLETED)


if __name__ == "__main__":
    unittest.main()


class Notifications(TimedTestCase):
    """Create-Printer-Subscriptions / Create-Job-Subscriptions with ippget, Get-Notifications
    answered from the spool's job events."""

    def subscribe(self, *attrs, operation="Create-Printer-Subscriptions", **kwargs):
        msg = message(operation, **kwargs)
        msg.groups.append(F.Group(F.TAG_SUBSCRIPTION, [keyword("notify-pull-method", "ippget")]
                                  + list(attrs)))
        (group,) = groups(self.ok(msg), F.TAG_SUBSCRIPTION)
        return group

    def notifications(self, number, after=None):
        operation_attrs = [attr("notify-subscription-ids", F.TAG_INTEGER, number)]
        if after is not None:
            operation_attrs.append(attr("notify-sequence-numbers", F.TAG_INTEGER, after))
        answer = self.ok(message("Get-Notifications", operation_attrs=operation_attrs))
        return [{a.name: a.first for a in g.attributes}
                for g in groups(answer, F.TAG_EVENT_NOTIFICATION)]

    def test_printer_subscription_sees_job_states(self):
        number = self.subscribe(keyword("notify-events", "job-state-changed")).get(
            "notify-subscription-id").first
        job_id = self.print_job()["job-id"]
        self.later(5)
        events = self.notifications(number)
        self.assertEqual([(e["job-id"], e["job-state"], e["notify-subscribed-event"]) for e in events],
                         [(job_id, PENDING, "job-created"), (job_id, PENDING, "job-state-changed"),
                          (job_id, PROCESSING, "job-state-changed"),
                          (job_id, COMPLETED, "job-completed")])
        last = events[-1]["notify-sequence-number"]
        self.assertEqual(self.notifications(number, last + 1), [])

    def test_job_completed_only_and_job_subscriptions(self):
        job_id = self.print_job()["job-id"]
        number = self.subscribe(attr("notify-job-id", F.TAG_INTEGER, job_id),
                                keyword("notify-events", "job-completed"),
                                operation="Create-Job-Subscriptions").get(
            "notify-subscription-id").first
        other = self.print_job()["job-id"]
        self.later(10)
        self.assertEqual([(e["job-id"], e["job-state"]) for e in self.notifications(number)],
                         [(job_id, COMPLETED)])
        self.assertNotEqual(other, job_id)

    def test_subscription_operations(self):
        number = self.subscribe().get("notify-subscription-id").first
        answer = self.ok(message("Get-Subscription-Attributes", operation_attrs=[
            attr("notify-subscription-id", F.TAG_INTEGER, number)]))
        (group,) = groups(answer, F.TAG_SUBSCRIPTION)
        self.assertEqual(group.get("notify-events").first, "job-completed")
        self.ok(message("Renew-Subscription", operation_attrs=[
            attr("notify-subscription-id", F.TAG_INTEGER, number),
            attr("notify-lease-duration", F.TAG_INTEGER, 60)]))
        self.ok(message("Get-Subscriptions"))
        self.later(61)
        answer = self.ask(message("Get-Notifications", operation_attrs=[
            attr("notify-subscription-ids", F.TAG_INTEGER, number)]))
        self.assertEqual(status_name(answer), "client-error-not-found")

    def test_push_is_refused(self):
        msg = message("Create-Printer-Subscriptions")
        msg.groups.append(F.Group(F.TAG_SUBSCRIPTION, [
            attr("notify-recipient-uri", F.TAG_URI, "mailto:someone@example.com")]))
        (group,) = groups(self.ok(msg), F.TAG_SUBSCRIPTION)
        self.assertEqual(group.get("notify-status-code").first,
                         F.STATUS["client-error-uri-scheme-not-supported"])
