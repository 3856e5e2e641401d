"""The printer persona (`--persona printer`): a virtual IPP Everywhere printer that keeps
every job in a spool directory.

Three layers, cheapest first:

* Spool / PrinterPersona in-process: requests are built with fakecups' own Message, Group
  and Attribute classes and handed to the persona as IppRequest + Document; the Answer and
  the files in the spool are checked.  No subprocess.
* The captures of the real cupsd with one queue (tests/captures/printer/*): every recorded
  client stream is replayed, in the order it was recorded, through fakecups' own connection
  loop (serve_connection) in-process, against one shared spool, and must get the HTTP and
  IPP statuses the real queue gave (with the exceptions explained at EXPECTED_DIFFERENT).
* End to end: the real CUPS clients (lp, lpstat, lpq, cancel, ipptool) against
  `systemd-socket-activate --inetd -a -l 127.0.0.1:PORT python3 fakecups.py --persona printer`,
  one listener per class; skipped, naming the Debian package, where a program is missing.

Run from the repository root:
    python3 -m unittest tests.test_printer
    python3 -m tests
"""

import email.utils
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import unittest
from pathlib import Path

import fakecups as F
from tests.support import (FILES, TESTS, ListenerCase, ServedCleanly, final_responses,
                           json_records, split_requests)

CAPTURES = TESTS / "captures" / "printer"
IPPTOOL_DIR = Path("/usr/share/cups/ipptool")

OCTET_STRING = 0x30         # not among fakecups' TAG_* names
MIME_TYPE = 0x49
JOB_GROUP = 0x02
PRINTER_GROUP = 0x04

PENDING, HELD, CANCELED, ABORTED, COMPLETED = 3, 4, 7, 8, 9
UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The only names fakecups may create in a spool (temporary files are N.json.PID.tmp etc.,
# renamed away before the request is answered).
SPOOL_NAME = re.compile(r"^(\d+\.json|\d+-\d+\.data|lock|next-job-id|index)$")


# ── Building requests with fakecups' own classes ──────────────────────────────────────────

def attr(name, tag, *values):
    return F.Attribute(name, [(tag, value) for value in values])


def keyword(name, *values):
    return attr(name, F.TAG_KEYWORD, *values)


def message(operation, uri="ipp://localhost:631/printers/office", user="alice", operation_attrs=(),
            job_attrs=(), uri_name="printer-uri", request_id=1, version=(2, 0)):
    """An IPP request as a CUPS client builds one: charset, language, the target URI,
    requesting-user-name, then any further operation attributes; then a job group."""
    group = [attr("attributes-charset", F.TAG_CHARSET, "utf-8"),
             attr("attributes-natural-language", F.TAG_LANGUAGE, "en")]
    if uri is not None:
        group.append(attr(uri_name, F.TAG_URI, uri))
    if user is not None:
        group.append(attr("requesting-user-name", F.TAG_NAME, user))
    group.extend(operation_attrs)
    groups = [F.Group(F.TAG_OPERATION, group)]
    if job_attrs:
        groups.append(F.Group(JOB_GROUP, list(job_attrs)))
    return F.Message(version, F.OP[operation], request_id, groups)


def document(data, chunk=7):
    """A Document as the connection loop makes one: the first bytes, then the rest in chunks."""
    chunks = [data[i:i + chunk] for i in range(chunk, len(data), chunk)]
    return F.Document(data[:chunk], iter(chunks))


def status_name(answer):
    return F.STATUS_CODES.get(answer.ipp_status, hex(answer.ipp_status or 0))


def groups(answer, tag):
    return [g for g in answer.message.groups if g.tag == tag]


def value(group, name):
    attribute = group.get(name)
    return None if attribute is None else attribute.first


def names(group):
    return [a.name for a in group.attributes]


class PersonaTestCase(unittest.TestCase):
    """A fresh spool in a temporary directory and the persona "office" on it."""

    maxDiff = None
    max_job_bytes = F.DEFAULT_MAX_BODY_BYTES
    max_spool_bytes = F.DEFAULT_MAX_SPOOL_BYTES
    pages_per_minute = 0            # a job completes the moment it arrives (--pages-per-minute 0)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fakecups-printer-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.spool_dir = os.path.join(self.tmp, "spool")
        self.persona = self.new_persona()

    def new_persona(self, name="office", clock=time.time):
        """What each new connection's process builds (make_printer): a new Spool object on
        the same directory."""
        spool = F.Spool(self.spool_dir, self.max_job_bytes, self.max_spool_bytes, clock=clock,
                        pages_per_minute=self.pages_per_minute)
        return F.PrinterPersona(name, spool, clock=clock)

    def ask(self, msg, doc=None, path="/printers/office", host="localhost:631",
            peer="127.0.0.1:40000", persona=None):
        return (persona or self.persona)(F.IppRequest(msg, path, host, peer), doc)

    def ok(self, msg, doc=None, **kwargs):
        answer = self.ask(msg, doc, **kwargs)
        self.assertEqual((answer.http_status, status_name(answer)), (200, "successful-ok"),
                         answer.status_message)
        return answer

    def job_of(self, answer):
        """The job group of a job operation's answer as {name: first value}."""
        (group,) = groups(answer, JOB_GROUP)
        return {a.name: a.first for a in group.attributes}

    def print_job(self, data=b"%PDF-1.4 hello\n", user="alice", job_attrs=(), operation_attrs=(),
                  **kwargs):
        msg = message("Print-Job", user=user, job_attrs=job_attrs,
                      operation_attrs=(attr("job-name", F.TAG_NAME, "report"),
                                       attr("document-format", MIME_TYPE, "application/pdf"))
                      + tuple(operation_attrs))
        return self.job_of(self.ok(msg, document(data), **kwargs))

    def create_job(self, user="alice", job_attrs=()):
        return self.job_of(self.ok(message("Create-Job", user=user, job_attrs=job_attrs)))

    def send_document(self, job_id, data, last, user="alice"):
        operation_attrs = [attr("job-id", F.TAG_INTEGER, job_id)]
        if last is not None:
            operation_attrs.append(attr("last-document", F.TAG_BOOLEAN, last))
        return self.ask(message("Send-Document", user=user, operation_attrs=operation_attrs),
                        document(data))

    def record(self, job_id):
        with open(os.path.join(self.spool_dir, "%d.json" % job_id), encoding="utf-8") as file:
            return json.load(file)

    def state(self, job_id):
        return self.record(job_id)["state"]

    def job_operation(self, operation, job_id, user="alice", operation_attrs=()):
        return self.ask(message(operation, user=user,
                                operation_attrs=[attr("job-id", F.TAG_INTEGER, job_id)]
                                + list(operation_attrs)))

    def get_jobs(self, *operation_attrs, user="alice"):
        answer = self.ok(message("Get-Jobs", user=user, operation_attrs=operation_attrs))
        return [{a.name: a.first for a in g.attributes} for g in groups(answer, JOB_GROUP)]


# ── Spool: files on disk, shared by every connection's process ─────────────────────────

class SpoolFiles(PersonaTestCase):

    def test_job_ids_increase_across_processes(self):
        """Every connection is a new process with a new Spool object on the same directory:
        the counter lives on disk, so ids go on increasing."""
        ids = []
        for _ in range(3):
            self.persona = self.new_persona()
            ids.append(self.print_job()["job-id"])
            ids.append(self.create_job()["job-id"])
        self.assertEqual(ids, [1, 2, 3, 4, 5, 6])
        # the bare Spool API too
        first = F.Spool(self.spool_dir, 1 << 20, 1 << 20)
        second = F.Spool(self.spool_dir, 1 << 20, 1 << 20)
        record = {"printer": "office", "user": "u", "peer": "-", "name": "n", "hold": False,
                  "attributes": []}
        self.assertEqual([first.new_job(record)["job-id"], second.new_job(record)["job-id"],
                          first.new_job(record)["job-id"]], [7, 8, 9])

    def test_metadata_is_json_with_user_peer_name_documents_state(self):
        data = b"%PDF-1.4\n" + bytes(range(256)) * 3 + b"\n%%EOF\n"
        job = self.print_job(data, user="carol", peer="127.0.0.1:4242")
        record = self.record(job["job-id"])
        self.assertEqual(record["job-id"], job["job-id"])
        self.assertEqual(record["user"], "carol")
        self.assertEqual(record["peer"], "127.0.0.1:4242")
        self.assertEqual(record["name"], "report")
        self.assertEqual(record["printer"], "office")
        self.assertEqual(record["state"], COMPLETED)
        self.assertEqual(len(record["documents"]), 1)
        doc = record["documents"][0]
        self.assertEqual(doc["bytes"], len(data))
        self.assertEqual(doc["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(doc["file"], "%d-1.data" % job["job-id"])
        self.assertEqual(doc["document-format"], "application/pdf")

    def test_document_files_hold_the_bytes_exactly(self):
        created = self.create_job()
        job_id = created["job-id"]
        first = bytes(range(256)) * 40 + b"\r\n\x00\xff"
        second = b"second document\n"
        self.assertEqual(status_name(self.send_document(job_id, first, False)), "successful-ok")
        self.assertEqual(status_name(self.send_document(job_id, second, True)), "successful-ok")
        self.assertEqual(Path(self.spool_dir, "%d-1.data" % job_id).read_bytes(), first)
        self.assertEqual(Path(self.spool_dir, "%d-2.data" % job_id).read_bytes(), second)
        record = self.record(job_id)
        self.assertEqual([d["bytes"] for d in record["documents"]], [len(first), len(second)])
        self.assertEqual([d["sha256"] for d in record["documents"]],
                         [hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()])
        self.assertEqual([d["file"] for d in record["documents"]],
                         ["%d-1.data" % job_id, "%d-2.data" % job_id])

    def test_no_client_string_in_a_file_name(self):
        hostile = "../../etc/passwd"
        data = b"payload\n"
        self.print_job(data, user=hostile, operation_attrs=(
            attr("document-name", F.TAG_NAME, hostile),))
        msg = message("Create-Job", user="x/../../y",
                      operation_attrs=[attr("job-name", F.TAG_NAME, hostile + "\x00/tmp/z")])
        job_id = self.job_of(self.ok(msg))["job-id"]
        send = message("Send-Document", operation_attrs=[
            attr("job-id", F.TAG_INTEGER, job_id), attr("last-document", F.TAG_BOOLEAN, True),
            attr("document-name", F.TAG_NAME, "/tmp/" + hostile)])
        self.ok(send, document(data))
        # a job-uri with a path in it names no job and makes no file
        by_uri = message("Get-Job-Attributes", uri="ipp://localhost/jobs/../../etc/passwd",
                         uri_name="job-uri")
        self.assertEqual(status_name(self.ask(by_uri)), "client-error-not-found")
        listing = sorted(os.listdir(self.spool_dir))
        self.assertEqual([n for n in listing if not SPOOL_NAME.match(n)], [], listing)
        self.assertEqual(os.listdir(self.tmp), ["spool"])
        for name in listing:
            self.assertNotIn("passwd", name)
        self.assertEqual(self.record(1)["name"], "report")
        self.assertEqual(self.record(2)["name"], hostile + "\x00/tmp/z")     # kept, as data
        self.assertEqual(self.record(2)["documents"][0]["document-name"], "/tmp/" + hostile)

    def test_max_job_bytes_aborts_the_job(self):
        self.max_job_bytes = 100
        self.persona = self.new_persona()
        answer = self.ask(message("Print-Job"), document(b"x" * 150))
        self.assertEqual(status_name(answer), "client-error-request-entity-too-large")
        job = self.job_of(answer)
        self.assertEqual(job["job-state"], ABORTED)
        record = self.record(job["job-id"])
        self.assertEqual(record["state"], ABORTED)
        self.assertEqual(record["reasons"], "aborted-by-system")
        self.assertIn("max-job-bytes", record["note"])
        self.assertIsNone(record["documents"][0]["file"])
        self.assertFalse(os.path.exists(os.path.join(self.spool_dir, "%d-1.data" % job["job-id"])))
        # the limit is per job: two documents of 60 bytes go over it together
        job_id = self.create_job()["job-id"]
        self.assertEqual(status_name(self.send_document(job_id, b"a" * 60, False)), "successful-ok")
        answer = self.send_document(job_id, b"b" * 60, True)
        self.assertEqual(status_name(answer), "client-error-request-entity-too-large")
        self.assertEqual(self.state(job_id), ABORTED)
        # a job within the limit is fine
        self.assertEqual(self.print_job(b"y" * 100)["job-state"], COMPLETED)

    def test_max_spool_bytes_is_busy(self):
        self.max_spool_bytes = 1000
        self.persona = self.new_persona()
        self.assertEqual(self.print_job(b"a" * 800)["job-state"], COMPLETED)
        answer = self.ask(message("Print-Job"), document(b"b" * 300))
        self.assertEqual(status_name(answer), "server-error-busy")
        job = self.job_of(answer)
        self.assertEqual(job["job-state"], ABORTED)
        record = self.record(job["job-id"])
        self.assertEqual(record["state"], ABORTED)
        self.assertIn("max-spool-bytes", record["note"])
        self.assertEqual(sum(os.path.getsize(os.path.join(self.spool_dir, n))
                             for n in os.listdir(self.spool_dir) if n.endswith(".data")), 800)

    def test_make_printer_from_options(self):
        options = F.parse_options(["--persona", "printer", "--printer", "lab-2", "--spool",
                                   self.spool_dir, "--max-job-bytes", "10",
                                   "--max-spool-bytes", "20"])
        persona = F.PrinterPersona.from_options(options, {})
        self.assertIsInstance(persona, F.PrinterPersona)
        self.assertEqual(persona.name, "lab-2")
        self.assertEqual((persona.spool.directory, persona.spool.max_job_bytes,
                          persona.spool.max_spool_bytes), (self.spool_dir, 10, 20))
        self.assertTrue(persona.is_me("/printers/lab-2") and persona.is_me("/ipp/print"))
        self.assertFalse(persona.is_me("/printers/office"))
        # without --spool: systemd's $STATE_DIRECTORY (its first entry)
        state = os.path.join(self.tmp, "state")
        options = F.parse_options(["--persona", "printer"])
        persona = F.PrinterPersona.from_options(options, {"STATE_DIRECTORY": state + ":/elsewhere"})
        self.assertEqual((persona.name, persona.spool.directory), (F.DEFAULT_PRINTER, state))
        self.assertTrue(os.path.isdir(state))
        for bad in ("", "a b", "a/b", "a#b", "x" * 128):
            with self.assertRaises(F.UsageError, msg=bad):
                F.parse_options(["--printer", bad])

    def test_open_job_times_out_into_processing(self):
        """multiple-operation-time-out (60 s), action process-job: a job left pending is
        completed when it is next looked at."""
        now = [1_800_000_000.0]
        self.persona = self.new_persona(clock=lambda: now[0])
        job_id = self.create_job()["job-id"]
        self.assertEqual(self.send_document(job_id, b"part\n", False).ipp_status, 0)
        now[0] += F.MULTIPLE_OPERATION_TIME_OUT - 1
        self.assertEqual(self.state(job_id), PENDING)
        self.assertEqual(self.job_of(self.ok(message("Get-Job-Attributes", operation_attrs=[
            attr("job-id", F.TAG_INTEGER, job_id)])))["job-state"], PENDING)
        now[0] += 2
        self.assertEqual(self.job_of(self.ok(message("Get-Job-Attributes", operation_attrs=[
            attr("job-id", F.TAG_INTEGER, job_id)])))["job-state"], COMPLETED)
        self.assertEqual(self.state(job_id), COMPLETED)


# ── requested-attributes ─────────────────────────────────────────────────────────────────

class RequestedAttributes(PersonaTestCase):

    def printer_names(self, *wanted, path="/printers/office"):
        operation_attrs = [keyword("requested-attributes", *wanted)] if wanted else []
        uri = "ipp://localhost:631" + path
        answer = self.ok(message("Get-Printer-Attributes", uri=uri,
                                 operation_attrs=operation_attrs), path=path)
        (group,) = groups(answer, PRINTER_GROUP)
        return names(group)

    def test_all_excludes_media_col_database(self):
        got = self.printer_names("all")
        self.assertNotIn("media-col-database", got)
        for name in ("printer-name", "printer-uuid", "copies-default", "media-col-ready",
                     "media-col-default", "printer-state", "operations-supported"):
            self.assertIn(name, got)
        self.assertEqual(len(got), len(set(got)), "an attribute sent twice")

    def test_no_requested_attributes_means_all(self):
        self.assertEqual(self.printer_names(), self.printer_names("all"))

    def test_media_col_database_alone(self):
        self.assertEqual(self.printer_names("media-col-database"), ["media-col-database"])

    def test_all_and_media_col_database(self):
        got = self.printer_names("all", "media-col-database")
        self.assertIn("media-col-database", got)
        self.assertEqual(len(got), len(self.printer_names("all")) + 1)

    def test_job_template(self):
        got = self.printer_names("job-template")
        for name in ("copies-default", "copies-supported", "media-default", "media-col-ready",
                     "sides-supported", "job-hold-until-supported", "printer-resolution-default"):
            self.assertIn(name, got)
        for name in ("printer-name", "printer-state", "printer-uuid", "media-col-database",
                     "operations-supported"):
            self.assertNotIn(name, got)

    def test_printer_description(self):
        got = self.printer_names("printer-description")
        for name in ("printer-name", "printer-state", "printer-uri-supported", "printer-uuid",
                     "operations-supported", "document-format-supported"):
            self.assertIn(name, got)
        for name in ("copies-default", "copies-supported", "media-col-ready", "sides-default",
                     "media-col-database"):
            self.assertNotIn(name, got)

    def test_template_and_description_make_all(self):
        self.assertEqual(self.printer_names("job-template", "printer-description"),
                         self.printer_names("all"))

    def test_explicit_names_in_table_order(self):
        self.assertEqual(self.printer_names("printer-state", "printer-name", "no-such-attribute"),
                         ["printer-name", "printer-state"])

    def test_filter_functions(self):
        attributes = F.printer_attributes("office", "localhost", 0, 10, 0)
        msg = message("Get-Printer-Attributes",
                      operation_attrs=[keyword("requested-attributes", "printer-name",
                                               "copies-default")])
        self.assertEqual(F.requested(msg), frozenset(("printer-name", "copies-default")))
        self.assertEqual(F.requested(message("Get-Printer-Attributes")), frozenset(("all",)))
        self.assertEqual(F.requested(message("Get-Jobs"), ("job-id", "job-uri")),
                         frozenset(("job-id", "job-uri")))
        picked = F.filter_attributes(attributes, F.requested(msg))
        self.assertEqual([a.name for a in picked], ["printer-name", "copies-default"])
        every = [a.name for a in attributes]
        self.assertEqual([a.name for a in F.filter_attributes(attributes, frozenset(("all",)))],
                         [n for n in every if n != "media-col-database"])

    def test_cups_get_printers_uses_requested_attributes(self):
        msg = message("CUPS-Get-Printers", uri=None, operation_attrs=[
            keyword("requested-attributes", "printer-name", "device-uri", "printer-uri-supported")])
        answer = self.ok(msg, path="/")
        (group,) = groups(answer, PRINTER_GROUP)
        self.assertEqual(names(group), ["printer-uri-supported", "printer-name", "device-uri"])
        self.assertEqual(value(group, "printer-uri-supported"),
                         "ipp://localhost:631/printers/office")

    def test_get_jobs_default_is_job_id_and_uri(self):
        self.print_job()
        answer = self.ok(message("Get-Jobs", operation_attrs=[keyword("which-jobs", "all")]))
        (group,) = groups(answer, JOB_GROUP)
        self.assertEqual(names(group), ["job-id", "job-uri"])

    def test_get_job_attributes_default_is_all(self):
        job_id = self.print_job()["job-id"]
        answer = self.ok(message("Get-Job-Attributes",
                                 operation_attrs=[attr("job-id", F.TAG_INTEGER, job_id)]))
        (group,) = groups(answer, JOB_GROUP)
        for name in ("job-id", "job-uri", "job-printer-uri", "job-name", "job-state",
                     "job-state-reasons", "job-originating-user-name", "time-at-creation",
                     "job-k-octets", "job-hold-until", "document-format"):
            self.assertIn(name, names(group))
        template = self.ok(message("Get-Job-Attributes", operation_attrs=[
            attr("job-id", F.TAG_INTEGER, job_id),
            keyword("requested-attributes", "job-template")]))
        (group,) = groups(template, JOB_GROUP)
        self.assertEqual(names(group), ["job-priority", "job-hold-until", "copies"])


# ── Job states and operations ────────────────────────────────────────────────────────────

class JobStates(PersonaTestCase):

    def test_print_job_completes(self):
        job = self.print_job()
        self.assertEqual(job["job-id"], 1)
        self.assertEqual(job["job-state"], COMPLETED)
        self.assertEqual(job["job-state-reasons"], "job-completed-successfully")
        self.assertEqual(job["job-uri"], "ipp://localhost:631/jobs/1")
        self.assertEqual(self.state(1), COMPLETED)

    def test_print_job_without_document_is_bad_request(self):
        for doc in (None, F.Document(b"", iter(()))):
            answer = self.ask(message("Print-Job"), doc)
            self.assertEqual(status_name(answer), "client-error-bad-request")
            self.assertEqual(answer.status_message, "No file in print request.")
        self.assertEqual([n for n in os.listdir(self.spool_dir) if n.endswith(".json")], [])

    def test_unsupported_document_format(self):
        msg = message("Print-Job", operation_attrs=[
            attr("document-format", MIME_TYPE, "application/x-nothing")])
        answer = self.ask(msg, document(b"data"))
        self.assertEqual(status_name(answer), "client-error-document-format-not-supported")
        self.assertEqual([n for n in os.listdir(self.spool_dir) if n.endswith(".json")], [])
        validate = self.ask(message("Validate-Job", operation_attrs=[
            attr("document-format", MIME_TYPE, "application/x-nothing")]))
        self.assertEqual(status_name(validate), "client-error-document-format-not-supported")
        self.ok(message("Validate-Job", operation_attrs=[
            attr("document-format", MIME_TYPE, "text/plain")]))

    def test_hold_until_indefinite_is_held(self):
        job = self.print_job(job_attrs=[keyword("job-hold-until", "indefinite")])
        self.assertEqual(job["job-state"], HELD)
        self.assertEqual(job["job-state-reasons"], "job-hold-until-specified")
        self.assertEqual(self.state(job["job-id"]), HELD)
        self.assertTrue(self.record(job["job-id"])["hold"])
        # no-hold is not a hold
        self.assertEqual(self.print_job(job_attrs=[keyword("job-hold-until", "no-hold")])
                         ["job-state"], COMPLETED)

    def test_create_send_close(self):
        created = self.create_job()
        job_id = created["job-id"]
        self.assertEqual(created["job-state"], PENDING)
        answer = self.send_document(job_id, b"one\n", False)
        self.assertEqual(status_name(answer), "successful-ok")
        self.assertEqual(self.job_of(answer)["job-state"], PENDING)
        self.assertEqual(self.state(job_id), PENDING)
        closed = self.job_of(self.ok(message("Close-Job", operation_attrs=[
            attr("job-id", F.TAG_INTEGER, job_id)])))
        self.assertEqual(closed["job-state"], COMPLETED)
        self.assertEqual(self.state(job_id), COMPLETED)
        # nothing more can be added to a finished job
        answer = self.send_document(job_id, b"late\n", True)
        self.assertEqual(status_name(answer), "client-error-not-possible")

    def test_create_send_last_document(self):
        job_id = self.create_job()["job-id"]
        self.assertEqual(self.job_of(self.send_document(job_id, b"one\n", False))["job-state"],
                         PENDING)
        answer = self.send_document(job_id, b"two\n", True)
        self.assertEqual(status_name(answer), "successful-ok")
        self.assertEqual(self.job_of(answer)["job-state"], COMPLETED)
        self.assertEqual(len(self.record(job_id)["documents"]), 2)

    def test_send_document_needs_last_document(self):
        job_id = self.create_job()["job-id"]
        answer = self.send_document(job_id, b"data\n", None)
        self.assertEqual(status_name(answer), "client-error-bad-request")
        self.assertEqual(answer.status_message, "Missing last-document attribute in request.")
        self.assertEqual(self.state(job_id), PENDING)

    def test_send_document_to_a_held_job_keeps_it_held(self):
        job_id = self.create_job(job_attrs=[keyword("job-hold-until", "indefinite")])["job-id"]
        self.assertEqual(self.job_of(self.send_document(job_id, b"x", True))["job-state"], HELD)

    def test_cancel_pending_job_keeps_the_record(self):
        job_id = self.create_job()["job-id"]
        answer = self.job_operation("Cancel-Job", job_id)
        self.assertEqual(status_name(answer), "successful-ok")
        record = self.record(job_id)
        self.assertEqual(record["state"], CANCELED)
        self.assertEqual(record["reasons"], "job-canceled-by-user")
        got = self.job_of(self.job_operation("Get-Job-Attributes", job_id))
        self.assertEqual(got["job-state"], CANCELED)
        completed = self.get_jobs(keyword("which-jobs", "completed"))
        self.assertIn(job_id, [j["job-id"] for j in completed])
        again = self.job_operation("Cancel-Job", job_id)
        self.assertEqual(status_name(again), "client-error-not-possible")

    def test_cancel_held_job(self):
        job_id = self.print_job(job_attrs=[keyword("job-hold-until", "indefinite")])["job-id"]
        self.assertEqual(status_name(self.job_operation("Cancel-Job", job_id)), "successful-ok")
        self.assertEqual(self.state(job_id), CANCELED)

    def test_cancel_completed_job_is_not_possible(self):
        job_id = self.print_job()["job-id"]
        answer = self.job_operation("Cancel-Job", job_id)
        self.assertEqual(status_name(answer), "client-error-not-possible")
        self.assertEqual(answer.status_message,
                         "Job #%d is already completed - can't cancel." % job_id)
        self.assertEqual(self.state(job_id), COMPLETED)

    def test_cancel_by_job_uri(self):
        job_id = self.create_job()["job-id"]
        msg = message("Cancel-Job", uri="ipp://localhost:631/jobs/%d" % job_id, uri_name="job-uri")
        self.ok(msg)
        self.assertEqual(self.state(job_id), CANCELED)

    def test_cancel_my_jobs_only_mine(self):
        alice = [self.create_job(user="alice")["job-id"] for _ in range(2)]
        bob = self.create_job(user="bob")["job-id"]
        alice_done = self.print_job(user="alice")["job-id"]
        self.ok(message("Cancel-My-Jobs", user="alice"))
        self.assertEqual([self.state(j) for j in alice], [CANCELED, CANCELED])
        self.assertEqual(self.state(bob), PENDING)
        self.assertEqual(self.state(alice_done), COMPLETED)
        self.ok(message("Cancel-Jobs", user="carol"))
        self.assertEqual(self.state(bob), CANCELED)

    def test_get_jobs_which_jobs_my_jobs_limit(self):
        done_a = self.print_job(user="alice")["job-id"]                       # 1 completed
        pending_b = self.create_job(user="bob")["job-id"]                     # 2 pending
        held_a = self.print_job(user="alice", job_attrs=[
            keyword("job-hold-until", "indefinite")])["job-id"]               # 3 held
        done_b = self.print_job(user="bob")["job-id"]                         # 4 completed
        canceled_a = self.create_job(user="alice")["job-id"]                  # 5 canceled
        self.ok(message("Cancel-Job", operation_attrs=[attr("job-id", F.TAG_INTEGER, canceled_a)]))

        def ids(*operation_attrs, user="alice"):
            return [j["job-id"] for j in self.get_jobs(*operation_attrs, user=user)]

        self.assertEqual(ids(), [pending_b, held_a])                           # not-completed
        self.assertEqual(ids(keyword("which-jobs", "not-completed")), [pending_b, held_a])
        self.assertEqual(ids(keyword("which-jobs", "completed")), [canceled_a, done_b, done_a])
        self.assertEqual(ids(keyword("which-jobs", "all")),
                         [done_a, pending_b, held_a, done_b, canceled_a])
        my_jobs = attr("my-jobs", F.TAG_BOOLEAN, True)
        self.assertEqual(ids(keyword("which-jobs", "all"), my_jobs), [done_a, held_a, canceled_a])
        self.assertEqual(ids(keyword("which-jobs", "all"), my_jobs, user="bob"),
                         [pending_b, done_b])
        self.assertEqual(ids(keyword("which-jobs", "all"), attr("my-jobs", F.TAG_BOOLEAN, False)),
                         [done_a, pending_b, held_a, done_b, canceled_a])
        self.assertEqual(ids(keyword("which-jobs", "all"), attr("limit", F.TAG_INTEGER, 2)),
                         [done_a, pending_b])
        self.assertEqual(ids(keyword("which-jobs", "completed"), attr("limit", F.TAG_INTEGER, 1)),
                         [canceled_a])
        jobs = self.get_jobs(keyword("which-jobs", "all"),
                             keyword("requested-attributes", "job-id", "job-state",
                                     "job-originating-user-name"))
        self.assertEqual([(j["job-id"], j["job-state"], j["job-originating-user-name"])
                          for j in jobs],
                         [(done_a, COMPLETED, "alice"), (pending_b, PENDING, "bob"),
                          (held_a, HELD, "alice"), (done_b, COMPLETED, "bob"),
                          (canceled_a, CANCELED, "alice")])
        bad = self.ask(message("Get-Jobs", operation_attrs=[keyword("which-jobs", "fetching")]))
        self.assertEqual(status_name(bad), "client-error-attributes-or-values-not-supported")

    def test_get_jobs_server_wide(self):
        """lpstat -o and lpq ask ipp://HOST/ with Get-Jobs (see the captures)."""
        job_id = self.create_job()["job-id"]
        for path in ("/", "/jobs", "/printers", "/printers/"):
            answer = self.ok(message("Get-Jobs", uri="ipp://localhost:631" + path), path=path)
            self.assertEqual([value(g, "job-id") for g in groups(answer, JOB_GROUP)], [job_id])

    def test_missing_job(self):
        self.print_job()
        for job_id in (2, 99):
            answer = self.job_operation("Get-Job-Attributes", job_id)
            self.assertEqual(status_name(answer), "client-error-not-found")
            self.assertEqual(answer.status_message, "Job #%d does not exist." % job_id)
        answer = self.ask(message("Get-Job-Attributes", uri="ipp://localhost/jobs/42",
                                  uri_name="job-uri"))
        self.assertEqual((status_name(answer), answer.status_message),
                         ("client-error-not-found", "Job #42 does not exist."))
        answer = self.job_operation("Cancel-Job", 7)
        self.assertEqual((status_name(answer), answer.status_message),
                         ("client-error-not-found", "Job #7 does not exist."))
        answer = self.ask(message("Get-Job-Attributes"))
        self.assertEqual((status_name(answer), answer.status_message),
                         ("client-error-bad-request", "Got a printer-uri attribute but no job-id."))

    def test_wrong_printer_name(self):
        for operation in ("Get-Printer-Attributes", "Print-Job", "Create-Job", "Get-Jobs",
                          "Validate-Job"):
            msg = message(operation, uri="ipp://localhost:631/printers/labprinter")
            answer = self.ask(msg, document(b"data"), path="/printers/labprinter")
            self.assertEqual((status_name(answer), answer.status_message),
                             ("client-error-not-found", "The printer or class does not exist."),
                             operation)
        self.assertEqual([n for n in os.listdir(self.spool_dir) if n.endswith(".json")], [])

    def test_unsupported_operation(self):
        for operation in ("Pause-Printer", "Restart-Job", "Set-Printer-Attributes",
                          "CUPS-Add-Modify-Printer"):
            answer = self.ask(message(operation,
                                      operation_attrs=[attr("job-id", F.TAG_INTEGER, 1)]))
            self.assertEqual(status_name(answer), "server-error-operation-not-supported", operation)
            self.assertEqual(answer.status_message, "%s not supported." % operation)

    def test_request_checks_come_first(self):
        answer = self.ask(message("Get-Printer-Attributes", request_id=0))
        self.assertEqual(status_name(answer), "client-error-bad-request")
        answer = self.ask(message("Get-Printer-Attributes", version=(3, 0)))
        self.assertEqual(status_name(answer), "server-error-version-not-supported")
        answer = self.ask(message("Get-Printer-Attributes", uri=None))
        self.assertEqual(status_name(answer), "client-error-bad-request")

    def test_identify_printer(self):
        self.ok(message("Identify-Printer"))

    def test_bad_user_name_is_anonymous(self):
        job_id = self.print_job(user="bad\x01name")["job-id"]
        self.assertEqual(self.record(job_id)["user"], "anonymous")
        job_id = self.job_of(self.ok(message("Create-Job", user=None)))["job-id"]
        self.assertEqual(self.record(job_id)["user"], "anonymous")

    def test_echoes_version_request_id_charset_language(self):
        msg = message("Get-Printer-Attributes", request_id=4242, version=(1, 1),
                      operation_attrs=[keyword("requested-attributes", "printer-name")])
        answer = self.ok(msg)
        self.assertEqual((answer.message.version, answer.message.request_id), ((1, 1), 4242))
        operation = answer.message.groups[0]
        self.assertEqual(names(operation)[:2],
                         ["attributes-charset", "attributes-natural-language"])
        # and it encodes and decodes
        self.assertEqual(F.decode_message(F.encode_message(answer.message)), answer.message)


class Addressing(PersonaTestCase):
    """ipp://HOST/printers/NAME (CUPS) and ipp://HOST/ipp/print (IPP Everywhere); URIs in
    answers use the Host the client sent."""

    def printer_group(self, path, host):
        msg = message("Get-Printer-Attributes", uri="ipp://%s%s" % (host, path))
        answer = self.ok(msg, path=path, host=host)
        (group,) = groups(answer, PRINTER_GROUP)
        return group

    def test_both_uris_and_the_host_sent(self):
        cups = self.printer_group("/printers/office", "printhost.example:8631")
        self.assertEqual(cups.get("printer-uri-supported").values,
                         [(F.TAG_URI, "ipp://printhost.example:8631/printers/office")])
        self.assertEqual(value(cups, "printer-more-info"),
                         "http://printhost.example:8631/printers/office")
        self.assertEqual(value(cups, "printer-name"), "office")
        everywhere = self.printer_group("/ipp/print", "10.1.2.3:631")
        self.assertEqual(everywhere.get("printer-uri-supported").values,
                         [(F.TAG_URI, "ipp://10.1.2.3:631/ipp/print")])
        self.assertEqual(value(everywhere, "printer-name"), "office")
        self.assertEqual(value(everywhere, "printer-uuid"), value(cups, "printer-uuid"))
        self.assertIn("ipp-everywhere",
                      [v for _, v in everywhere.get("ipp-features-supported").values])

    def test_jobs_through_ipp_print(self):
        msg = message("Print-Job", uri="ipp://localhost:9999/ipp/print")
        answer = self.ok(msg, document(b"hi\n"), path="/ipp/print", host="localhost:9999")
        job = self.job_of(answer)
        self.assertEqual(job["job-uri"], "ipp://localhost:9999/jobs/%d" % job["job-id"])
        msg = message("Get-Job-Attributes", uri="ipp://otherhost/ipp/print",
                      operation_attrs=[attr("job-id", F.TAG_INTEGER, job["job-id"])])
        got = self.ok(msg, path="/ipp/print", host="otherhost")
        attributes = self.job_of(got)
        self.assertEqual(attributes["job-uri"], "ipp://otherhost/jobs/%d" % job["job-id"])
        self.assertEqual(attributes["job-printer-uri"], "ipp://otherhost/printers/office")
        jobs = self.ok(message("Get-Jobs", uri="ipp://h:1/ipp/print/",
                               operation_attrs=[keyword("which-jobs", "all")]), host="h:1")
        self.assertEqual([value(g, "job-uri") for g in groups(jobs, JOB_GROUP)],
                         ["ipp://h:1/jobs/%d" % job["job-id"]])

    def test_printer_uuid(self):
        office = value(self.printer_group("/printers/office", "a"), "printer-uuid")
        self.assertRegex(office, UUID)
        self.assertEqual(F.printer_uuid("office"), office)
        self.assertEqual(F.printer_uuid("office"), F.printer_uuid("office"))
        self.assertNotEqual(F.printer_uuid("office"), F.printer_uuid("office2"))
        self.assertNotEqual(F.printer_uuid("office"), F.printer_uuid("labprinter"))
        for name in ("office", "labprinter", "x", "Drucker-\u00e9", "a" * 127):
            uuid = F.printer_uuid(name)
            self.assertRegex(uuid, UUID)
            self.assertEqual(uuid[23], "5", "RFC 4122 version nibble")       # name-based
            self.assertIn(uuid[28], "89ab", "RFC 4122 variant")
        lab = self.new_persona("labprinter")
        answer = self.ok(message("Get-Printer-Attributes", uri="ipp://a/printers/labprinter"),
                         path="/printers/labprinter", persona=lab)
        self.assertEqual(value(groups(answer, PRINTER_GROUP)[0], "printer-uuid"),
                         F.printer_uuid("labprinter"))

    def test_queued_job_count(self):
        self.print_job()
        self.create_job()
        self.print_job(job_attrs=[keyword("job-hold-until", "indefinite")])
        self.assertEqual(value(self.printer_group("/printers/office", "h"), "queued-job-count"), 2)

    def test_cups_get_default_is_this_printer(self):
        """This persona is the default destination by design (the real queue was not)."""
        answer = self.ok(message("CUPS-Get-Default", uri=None), path="/")
        (group,) = groups(answer, PRINTER_GROUP)
        self.assertEqual(value(group, "printer-name"), "office")

    def test_cups_get_classes_not_found(self):
        """lpstat -c asks CUPS-Get-Classes; there are no classes, so cupsd's answer is
        client-error-not-found "No destinations added.".
        (Once a TypeError: the handler took one argument where the persona passes two.)"""
        answer = self.ask(message("CUPS-Get-Classes", uri=None), path="/")
        self.assertEqual((status_name(answer), answer.status_message),
                         ("client-error-not-found", "No destinations added."))


# ── The captures of the real cupsd with one queue, replayed in-process ─────────────────

# What fakecups answers differently from the recorded queue, on purpose or because the real
# server already had jobs the captures never created.  (scenario, request index) -> status.
EXPECTED_DIFFERENT = {
    # CUPS-Get-Default: the real cupsd had no default destination ("No default printer.");
    # the printer persona is the default by design, so the clients need no -d/-P.
    ("lpstat-v", 0): "successful-ok",
    ("lpstat-p-d", 0): "successful-ok",
    ("lpstat-p-d", 3): "successful-ok",
    ("lpoptions-p", 0): "successful-ok",
}


def capture_time(meta):
    """When the scenario was recorded: the first request's Date header (curl sends none:
    then the first response's)."""
    for kind in ("request_headers", "response_headers"):
        for connection in meta["connection_details"]:
            for exchange in connection["exchanges"]:
                for name, text in exchange[kind]:
                    if name.lower() == "date":
                        return email.utils.parsedate_to_datetime(text)
    raise ValueError("no Date in %s" % meta["scenario"])


def printer_scenarios():
    """[(name, folder, meta)] of tests/captures/printer, in the order they were recorded."""
    found = []
    for folder in CAPTURES.iterdir():
        if (folder / "meta.json").is_file() and (folder / "client.bin").is_file():
            found.append((folder.name, folder, json.loads((folder / "meta.json").read_text())))
    return sorted(found, key=lambda item: capture_time(item[2]))


class _NoRecords:
    def exchange_done(self, connection, exchange):
        pass

    def connection_done(self, connection):
        pass


class RecordedClientsAgainstThePersona(unittest.TestCase):
    """Every captured client stream of tests/captures/printer, replayed through
    serve_connection against one spool with --printer labprinter."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fakecups-printer-captures-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.spool_dir = os.path.join(cls.tmp, "spool")
        cls.results = []            # (name, meta, requests, responses, real responses)
        for name, folder, meta in printer_scenarios():
            # a new process, so a new Spool object, per connection -- as make_printer does
            spool = F.Spool(cls.spool_dir, F.DEFAULT_MAX_BODY_BYTES, F.DEFAULT_MAX_SPOOL_BYTES,
                            pages_per_minute=0)
            persona = F.PrinterPersona("labprinter", spool)
            client = (folder / "client.bin").read_bytes()
            stream = [client]
            reader = F.ByteReader(lambda size: stream.pop() if stream else b"", None, 5.0)
            sent = []
            connection = F.ConnectionRecord(time.time(), "127.0.0.1:50000", os.getpid())
            F.serve_connection(reader, sent.append, connection, F.Config(persona=persona),
                               _NoRecords())
            requests = split_requests(client)
            methods = [r.method for r in requests]
            responses = final_responses(b"".join(sent), methods)
            real = final_responses((folder / "server.bin").read_bytes(), methods)
            cls.results.append((name, meta, requests, responses, real, connection))

    def test_recorded_order(self):
        self.assertEqual([r[0] for r in self.results],
                         ["lpstat-v", "lpstat-p-d", "lpoptions-p", "lp-txt", "lp-pdf", "lpstat-o",
                          "lpq", "ipptool-get-printer-attributes", "ipptool-print-job",
                          "ipptool-get-jobs", "curl-printer"])

    def test_statuses_as_the_real_queue(self):
        for name, meta, requests, responses, real, connection in self.results:
            with self.subTest(scenario=name):
                self.assertEqual(len(responses), len(requests), "one answer per request")
                self.assertEqual(len(meta["ipp_operations"]), len(requests))
                for index, (operation, response) in enumerate(zip(meta["ipp_operations"],
                                                                  responses)):
                    want_http = int(operation["http_status"].split()[1])
                    want_ipp = EXPECTED_DIFFERENT.get((name, index), operation["ipp_status"])
                    got_ipp = None
                    if response.is_ipp:
                        got_ipp = F.STATUS_CODES[F.decode_message(response.body).code]
                    self.assertEqual((response.status, got_ipp), (want_http, want_ipp),
                                     "%s request %d (%s)" % (name, index, operation["operation"]))
                    if (name, index) in EXPECTED_DIFFERENT:
                        self.assertEqual(operation["operation"], "CUPS-Get-Default")
                        self.assertEqual(operation["ipp_status"], "client-error-not-found")
                self.assertEqual([e.error for e in connection.exchanges], [None] * len(requests))

    def ipp(self, scenario, index, real=False):
        for name, meta, requests, responses, real_responses, connection in self.results:
            if name == scenario:
                return F.decode_message((real_responses if real else responses)[index].body)
        raise KeyError(scenario)

    def test_job_ids_as_the_real_queue(self):
        """lp-txt and lp-pdf made the real queue's jobs 1 and 2, and are the first jobs here
        too.  Between lp-pdf and ipptool-print-job the real queue got jobs 3 to 5 from
        commands not in the captures (the held job 4 "heldjob"), so ipptool's Print-Job was
        job 6 there and is job 3 here."""
        for scenario, index, job_id in (("lp-txt", 3, 1), ("lp-txt", 4, 1), ("lp-pdf", 3, 2),
                                        ("lp-pdf", 4, 2)):
            got = self.ipp(scenario, index).find("job-id", JOB_GROUP).first
            real = self.ipp(scenario, index, real=True).find("job-id", JOB_GROUP).first
            self.assertEqual((got, real), (job_id, job_id), scenario)
        self.assertEqual(self.ipp("ipptool-print-job", 0, real=True).find("job-id").first, 6)
        self.assertEqual(self.ipp("ipptool-print-job", 0).find("job-id").first, 3)

    def test_get_jobs_lists_only_jobs_that_exist_here(self):
        """lpstat -o and lpq listed the real queue's held job 4, which no capture created;
        here the only jobs by then are 1 and 2, completed, so the not-completed lists are
        empty (still successful-ok)."""
        for scenario, index in (("lpstat-o", 0), ("lpq", 2)):
            real = self.ipp(scenario, index, real=True)
            self.assertEqual([g.get("job-id").first for g in real.groups if g.tag == JOB_GROUP],
                             [4])
            got = self.ipp(scenario, index)
            self.assertEqual(F.STATUS_CODES[got.code], "successful-ok")
            self.assertEqual([g for g in got.groups if g.tag == JOB_GROUP], [], scenario)

    def test_printer_answers_name_labprinter(self):
        for scenario, index in (("lpstat-v", 2), ("lpoptions-p", 1), ("lp-txt", 2),
                                ("ipptool-get-printer-attributes", 0)):
            got = self.ipp(scenario, index).find("printer-name", PRINTER_GROUP)
            real = self.ipp(scenario, index, real=True).find("printer-name", PRINTER_GROUP)
            self.assertEqual(got.first, real.first, scenario)
            self.assertEqual(got.first, "labprinter")
            uri = self.ipp(scenario, index).find("printer-uri-supported", PRINTER_GROUP)
            self.assertEqual(uri.first, "ipp://localhost:9631/printers/labprinter")

    def test_documents_stored(self):
        somefile = (FILES / "somefile.txt").read_bytes()
        tiny = (FILES / "tiny.pdf").read_bytes()
        for job_id, data, name in ((1, somefile, "somefile.txt"), (2, tiny, "tiny.pdf"),
                                   (3, somefile, None)):
            with self.subTest(job=job_id):
                self.assertEqual(Path(self.spool_dir, "%d-1.data" % job_id).read_bytes(), data)
                record = json.loads(Path(self.spool_dir, "%d.json" % job_id).read_text())
                self.assertEqual(record["state"], COMPLETED)
                self.assertEqual(record["printer"], "labprinter")
                self.assertEqual(record["user"], "root")
                self.assertEqual(record["peer"], "127.0.0.1:50000")
                self.assertEqual(record["documents"][0]["sha256"], hashlib.sha256(data).hexdigest())
                if name is not None:
                    self.assertEqual(record["name"], name)
        self.assertEqual(sorted(n for n in os.listdir(self.spool_dir) if n.endswith(".json")),
                         ["1.json", "2.json", "3.json"])


# ── End to end: real CUPS clients through systemd-socket-activate ───────────────────────
REQUEST_ID = re.compile(r"^request id is office-(\d+) \((\d+) file\(s\)\)$")


class PrinterListener(ListenerCase):
    """One `systemd-socket-activate --inetd -a` listener per class running the printer
    persona "office"; its spool and JSON log live in a temporary directory.  No test
    depends on another: each finds the jobs it made by their ids."""

    pages_per_minute = 0            # jobs complete the moment they arrive

    @classmethod
    def fakecups_args(cls):
        # Started as root, fakecups opens the log and then runs as nobody (--user's default):
        # the spool's parent must be writable by nobody; fakecups creates the spool (0750).
        state = os.path.join(cls.tmp, "state")
        os.mkdir(state)
        os.chmod(state, 0o777)
        cls.spool = os.path.join(state, "spool")
        return ("--persona", "printer", "--printer", "office", "--spool", cls.spool,
                "--log", cls.log, "--format", "json", "--pages-per-minute",
                str(cls.pages_per_minute))

    def client(self, *argv, stdin=None):
        """(exit code, stdout, stderr) of a real client, as text."""
        result = self.run_client(*argv, stdin=stdin)
        return (result.returncode, result.stdout.decode("utf-8", "replace"),
                result.stderr.decode("utf-8", "replace"))

    # ── what the server left behind ──

    def records(self):
        self.listener.wait_children()
        return json_records(self.log)

    def job_record(self, job_id):
        self.listener.wait_children()
        with open(os.path.join(self.spool, "%d.json" % job_id), encoding="utf-8") as file:
            return json.load(file)

    def job_ids(self):
        """The ids of every job in the spool."""
        self.listener.wait_children()
        if not os.path.isdir(self.spool):
            return set()
        return {int(name[:-5]) for name in os.listdir(self.spool) if name.endswith(".json")}


class CupsClients(ServedCleanly, PrinterListener):
    """lp, lpstat, lpq and cancel, on the class's one spool."""

    def lp(self, *args, stdin=None):
        code, out, err = self.client("lp", "-h", self.host, "-d", "office", *args, stdin=stdin)
        self.assertEqual((code, err), (0, ""), out)
        match = REQUEST_ID.match(out.rstrip("\n"))
        self.assertIsNotNone(match, out)
        self.assertTrue(out.endswith(")\n") and out.count("\n") == 1, out)
        return int(match.group(1)), int(match.group(2))

    def test_lp_file(self):
        tiny = FILES / "tiny.pdf"
        job_id, files = self.lp(str(tiny))
        self.assertEqual(files, 1)
        record = self.job_record(job_id)
        self.assertEqual(record["state"], COMPLETED)
        self.assertEqual(record["name"], "tiny.pdf")
        self.assertTrue(record["peer"].startswith("127.0.0.1:"), record["peer"])
        (doc,) = record["documents"]
        self.assertEqual(Path(self.spool, doc["file"]).read_bytes(), tiny.read_bytes())
        self.assertEqual(doc["bytes"], tiny.stat().st_size)
        self.assertEqual(doc["sha256"], hashlib.sha256(tiny.read_bytes()).hexdigest())

    def test_lp_stdin_chunked(self):
        data = b"hello\n"
        job_id, files = self.lp(stdin=data)
        self.assertEqual(files, 0)
        record = self.job_record(job_id)
        self.assertEqual(record["state"], COMPLETED)
        (doc,) = record["documents"]
        self.assertEqual(Path(self.spool, doc["file"]).read_bytes(), data)
        sends = [r for r in self.records()
                 if (r.get("ipp") or {}).get("operation") == "Send-Document"]
        self.assertTrue(sends, "no Send-Document in the log")
        headers = dict((k.lower(), v) for k, v in sends[-1]["headers"])
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        self.assertEqual(sends[-1]["response"]["ipp_status"], "successful-ok")

    def test_lpstat_p(self):
        code, out, err = self.client("lpstat", "-h", self.host, "-p", "office")
        self.assertEqual((code, err), (0, ""), out)
        self.assertRegex(out, r"^printer office is idle\.  enabled since .+\n$")

    def test_lpstat_v(self):
        code, out, err = self.client("lpstat", "-h", self.host, "-v")
        self.assertEqual((code, out, err), (0, "device for office: ///dev/null\n", ""))

    def test_lpstat_completed_lists_earlier_jobs(self):
        earlier, _ = self.lp(str(FILES / "tiny.pdf"))
        own, _ = self.lp(str(FILES / "somefile.txt"))
        code, out, err = self.client("lpstat", "-h", self.host, "-W", "completed", "-o")
        self.assertEqual((code, err), (0, ""), out)
        listed = re.findall(r"^office-(\d+) ", out, re.M)
        finished = sorted(job_id for job_id in self.job_ids()
                          if self.job_record(job_id)["state"] in (CANCELED, ABORTED, COMPLETED))
        self.assertIn(own, finished)
        self.assertEqual(sorted(int(n) for n in listed), finished)
        self.assertIn(str(earlier), listed)

    def test_hold_lpq_cancel(self):
        job_id, files = self.lp("-H", "hold", str(FILES / "somefile.txt"))
        self.assertEqual(files, 1)
        record = self.job_record(job_id)
        self.assertEqual(record["state"], HELD)
        self.assertTrue(record["hold"])

        code, out, err = self.client("lpq", "-h", self.host, "-P", "office")
        self.assertEqual((code, err), (0, ""), out)
        lines = out.splitlines()
        self.assertEqual(lines[0], "office is ready")
        self.assertRegex(out, r"(?m)^1st\s+\S+\s+%d\s+somefile\.txt\s+\d+ bytes$" % job_id)

        code, out, err = self.client("cancel", "-h", self.host, "office-%d" % job_id)
        self.assertEqual((code, out, err), (0, "", ""))
        self.assertEqual(self.job_record(job_id)["state"], CANCELED)

        code, out, err = self.client("lpstat", "-h", self.host, "-W", "all", "-o")
        self.assertEqual((code, err), (0, ""), out)
        self.assertIn("office-%d" % job_id, re.findall(r"^(office-\d+) ", out, re.M))

        code, out, err = self.client("lpq", "-h", self.host, "-P", "office")
        self.assertEqual((code, err), (0, ""), out)
        self.assertIn("no entries", out)

    def test_lpstat_c_no_classes(self):
        """lpstat -c (and lpstat -t) ask CUPS-Get-Classes; the persona has no classes and
        should answer client-error-not-found "No destinations added.", as cupsd does.
        (Once answered HTTP 500, and lpstat said "lpstat: Scheduler is not running.".)"""
        before = len(self.records())
        code, out, err = self.client("lpstat", "-h", self.host, "-c")
        self.assertNotIn("Scheduler is not running", err)
        answers = [(r["response"]["http_status"], r["response"]["ipp_status"])
                   for r in self.records()[before:]
                   if (r.get("ipp") or {}).get("operation") == "CUPS-Get-Classes"]
        self.assertEqual(answers, [(200, "client-error-not-found")])


@unittest.skipUnless(IPPTOOL_DIR.is_dir(),
                     "%s missing (apt-get install cups-ipp-utils)" % IPPTOOL_DIR)
class Ipptool(ServedCleanly, PrinterListener):
    """ipptool's own test files against the printer."""

    def ipptool(self, test, *options, path="/printers/office"):
        code, out, err = self.client("ipptool", "-t", *options, "ipp://%s%s" % (self.host, path),
                                     str(IPPTOOL_DIR / test))
        self.assertEqual(code, 0, "%s\n%s%s" % (test, out, err))
        self.assertNotIn("[FAIL]", out)
        return out

    def test_get_printer_attributes(self):
        self.ipptool("get-printer-attributes.test")

    def test_print_job(self):
        before = self.job_ids()
        out = self.ipptool("print-job.test", "-f", str(FILES / "somefile.txt"))
        self.assertIn("[PASS]", out)
        (job_id,) = self.job_ids() - before
        record = self.job_record(job_id)
        self.assertEqual(Path(self.spool, record["documents"][0]["file"]).read_bytes(),
                         (FILES / "somefile.txt").read_bytes())

    def test_get_jobs(self):
        self.ipptool("get-jobs.test")

    def test_validate_job(self):
        # validate-job.test sends document-format $filetype, which is "" without -f; the
        # real cupsd refuses an empty mimeMediaType too, so the file is given, as for print-job.
        self.ipptool("validate-job.test", "-f", str(FILES / "somefile.txt"))

    def test_ipp_everywhere(self):
        out = self.ipptool("ipp-everywhere.test", "-V", "2.0", "-f", str(FILES / "tiny.pdf"),
                           path="/ipp/print")
        self.assertIn("[PASS]", out)


if __name__ == "__main__":
    unittest.main()
