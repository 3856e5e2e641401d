"""Indicators of known attacks (issue 10, part 1): every row of fakecups.INDICATORS is tripped
by a request made from a real client's captured request, no captured request trips any row,
and every log format carries the ids that matched.

Requests are the captured ones decoded with fakecups.decode_message, changed with Attribute,
Group and Message, and encoded again; they are served in-process through serve_connection, as
a connection from a peer that is not this machine.
"""

import io
import json
import unittest
from unittest import mock

import fakecups as F
from tests.support import CAPTURES, captured_requests, reframe, serve_in_process

PEER = "198.51.100.7:40000"          # a stranger (TEST-NET-2), not this machine


def captured(scenario, index=0, state="empty"):
    """The index-th IPP request of a capture: (head lines, decoded Message)."""
    request = captured_requests(scenario, state)[index]
    return request.lines, F.decode_message(request.body)


def stream(lines, message, extra_headers=(), target=None):
    """The bytes of one request: the captured head without Expect (so the answer is the only
    response), other headers and target if given, then the message."""
    kept = [line for line in lines if not line.lower().startswith("expect:")]
    if target is not None:
        kept[0] = "POST %s HTTP/1.1" % target
    return reframe(kept + list(extra_headers), F.encode_message(message))


def serve(data, fmt="json", peer=PEER, persona=None):
    """Serve data as one connection from peer; (records as parsed JSON or text, answer bytes)."""
    sends, log = serve_in_process(F.ByteReader(io.BytesIO(data).read),
                                  F.Config(persona or F.EmptyPersona(), local_peer=False), fmt,
                                  started=0.0, peer=peer)
    text = log.decode("utf-8")
    records = [json.loads(line) for line in text.splitlines()] if fmt == "json" else text
    return records, b"".join(sends)


def with_attribute(message, group_tag, attribute):
    """message with attribute added to its first group with group_tag (a new group if none)."""
    group = next((g for g in message.groups if g.tag == group_tag), None)
    if group is None:
        group = F.Group(group_tag)
        message.groups.append(group)
    group.attributes.append(attribute)
    return message


def subscription(uri):
    """A Create-Printer-Subscriptions for the server, made from lpstat -v's first request."""
    lines, message = captured("lpstat-v")
    message.code = F.OP["Create-Printer-Subscriptions"]
    with_attribute(message, F.TAG_OPERATION, F.Attribute("printer-uri", [(F.TAG_URI, "ipp://localhost/")]))
    with_attribute(message, F.TAG_SUBSCRIPTION, F.Attribute("notify-recipient-uri", [(F.TAG_URI, uri)]))
    with_attribute(message, F.TAG_SUBSCRIPTION, F.Attribute("notify-events", [(F.TAG_KEYWORD, "all")]))
    return stream(lines, message)


def print_job_with(attribute):
    """ipptool's Print-Job of the captured text file with one more job attribute."""
    lines, message = captured("ipptool-print-job")
    return stream(lines, with_attribute(message, F.TAG_JOB, attribute))


def get_printer_attributes_with(attribute):
    lines, message = captured("ipptool-get-printer-attributes")
    return stream(lines, with_attribute(message, F.TAG_OPERATION, attribute))


def with_operation(name, *attributes):
    lines, message = captured("ipptool-get-printer-attributes")
    message.code = F.OP[name]
    for attribute in attributes:
        with_attribute(message, F.TAG_OPERATION, attribute)
    return stream(lines, message)


def authorized(scheme_and_credentials, target="/"):
    lines, message = captured("cancel-a")         # lpstat's Cancel-Jobs, POSTed to /admin/
    return stream(lines, message, ["Authorization: " + scheme_and_credentials], target)


# One request per row that trips it (id -> bytes of a connection); a new row needs one here.
TRIPS = {
    "ppd-injection": print_job_with(F.Attribute("printer-info", [(
        F.TAG_TEXT, '*cupsFilter2: "application/pdf application/vnd.cups-postscript 0 /bin/sh"')])),
    "control-character": print_job_with(F.Attribute("page-border", [(F.TAG_TEXT, "none\ttwo")])),
    "rss-traversal": subscription("rss:///../job.cache"),
    "mailto-injection": subscription("mailto:-oQ/tmp/q@example.com"),
    "local-token": authorized("Local 0123456789abcdef0123456789abcdef"),
    "basic-admin": authorized("Basic cm9vdDpyb290", "/admin/"),
    "extension-tag": get_printer_attributes_with(F.Attribute("x-extension", [
        (F.TAG_EXTENSION, (0x40000001, b"\x01\x02"))])),
    "mixed-tags": get_printer_attributes_with(F.Attribute("requested-attributes", [
        (F.TAG_KEYWORD, "all"), (F.TAG_INTEGER, 7)])),
    "get-document": with_operation("CUPS-Get-Document", F.Attribute("job-id", [(F.TAG_INTEGER, 1)]),
                                   F.Attribute("document-number", [(F.TAG_INTEGER, 1)])),
    "local-file-printer": with_operation(
        "CUPS-Create-Local-Printer",
        F.Attribute("printer-name", [(F.TAG_NAME, "q")]),
        F.Attribute("device-uri", [(F.TAG_URI, "file:///etc/cron.d/q")]),
        F.Attribute("printer-is-shared", [(F.TAG_BOOLEAN, True)])),
}


def dripped(data, seconds_per_read, size=4):
    """A ByteReader that hands over size bytes a read while the monotonic clock, as fakecups
    reads it for records, moves on seconds_per_read: a slow-drip client without the wait."""
    clock = [1000.0]
    pieces = [data[i:i + size] for i in range(0, len(data), size)]

    def recv(limit):
        clock[0] += seconds_per_read
        return pieces.pop(0) if pieces else b""
    return F.ByteReader(recv), clock


class EveryRowTripped(unittest.TestCase):
    def test_every_row_has_a_request_that_trips_it(self):
        rows = [row.id for row in F.INDICATORS if row.kind == "request"]
        self.assertEqual(sorted(rows), sorted(list(TRIPS) + ["slow-head"]))
        self.assertEqual(len(rows), len(set(rows)), "indicator ids are unique")

    def test_each_request_trips_its_row(self):
        for name, data in TRIPS.items():
            with self.subTest(name):
                records, answer = serve(data)
                self.assertTrue(answer.startswith(b"HTTP/1.1 "), answer[:40])
                self.assertIn(name, records[0]["alerts"])

    def test_ppd_text_after_a_newline(self):
        records, _ = serve(print_job_with(F.Attribute("printer-make-and-model", [(
            F.TAG_TEXT_LANG, ("en", "Generic\n*FoomaticRIPCommandLine: \"touch /tmp/x\""))])))
        self.assertEqual(records[0]["alerts"], ["ppd-injection", "control-character"])

    def test_mixed_tags_is_answered_400_and_still_recorded_with_its_alert(self):
        records, answer = serve(TRIPS["mixed-tags"])
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer[:40])
        self.assertEqual(records[0]["response"]["http_status"], 400)
        self.assertEqual(records[0]["alerts"], ["mixed-tags"])
        self.assertEqual(records[0]["ipp"]["operation"], "Get-Printer-Attributes")

    def test_slow_head(self):
        data = (CAPTURES / "empty" / "lpstat-v" / "client.bin").read_bytes()
        reader, clock = dripped(data[:data.index(b"\r\n\r\n") + 4], 0.5)
        with mock.patch.object(F.time, "monotonic", lambda: clock[0]):
            _, log = serve_in_process(reader, F.Config(), peer=PEER)
        record = json.loads(log.splitlines()[0])
        self.assertEqual(record["alerts"], ["slow-head"])
        self.assertEqual(record["head_bytes"], 215)          # as sent: the capture's first head
        self.assertGreaterEqual(record["head_seconds"], 215 / 4 * 0.5)
        self.assertLess(record["head_bytes_per_second"], F.SLOW_HEAD_BYTES_PER_SECOND)

    def test_a_slow_head_that_never_ends_is_timed_until_it_is_recorded(self):
        reader, clock = dripped(b"POST / HTTP/1.1\r\nHost: x\r\nX-a: b\r\n", 1.0, 3)
        with mock.patch.object(F.time, "monotonic", lambda: clock[0]):
            exchange = F.Exchange(0.0, 1, PEER)
            exchange.head = F.RequestHead(b"", "", "", "", [])
            with self.assertRaises(F.ClientGone):
                F.read_request_head(reader, exchange.head, 1 << 14, None)
            self.assertEqual(F.alerts_for("request", exchange), ["slow-head"])

    def test_fast_heads_and_later_requests_do_not_trip_slow_head(self):
        clock = [0.0]
        with mock.patch.object(F.time, "monotonic", lambda: clock[0]):
            exchange = F.Exchange(0.0, 2, PEER)      # a keep-alive request after a pause
            exchange.head = F.RequestHead(b"GET / HTTP/1.1", "GET", "/", "HTTP/1.1", [("Host", "x")])
            clock[0] = 9.0
            exchange.head_done(9.0)
        self.assertEqual(exchange.head_timing(), (27, 9.0))
        self.assertEqual(F.alerts_for("request", exchange), [])
        exchange.seq = 1
        self.assertEqual(F.alerts_for("request", exchange), ["slow-head"])


class NotTripped(unittest.TestCase):
    def test_no_captured_request_trips_any_indicator(self):
        for state in ("empty", "printer"):
            for client in sorted((CAPTURES / state).glob("*/*client.bin")):
                with self.subTest("%s/%s/%s" % (state, client.parent.name, client.name)):
                    persona = F.PrinterPersona("labprinter", F.MemorySpool(1 << 30, 1 << 30)) \
                        if state == "printer" else None
                    records, _ = serve(client.read_bytes(), persona=persona)
                    self.assertTrue(records)
                    self.assertEqual([r["alerts"] for r in records], [[] for r in records])

    def test_near_misses(self):
        """What looks like an attack but is not one."""
        benign = [subscription("mailto:alice@example.com"), subscription("rss://feeds.example.com/x"),
                  authorized("Basic cm9vdDpyb290"),                 # Basic, but not on /admin
                  print_job_with(F.Attribute("job-name", [(F.TAG_NAME, "résumé * 2.pdf")]))]
        for data in benign:
            records, _ = serve(data)
            self.assertEqual(records[0]["alerts"], [])
        records, _ = serve(authorized("Local 0123456789abcdef"), peer="127.0.0.1:5000")
        self.assertEqual(records[0]["alerts"], [], "a Local token from this machine is normal")


class InEveryFormat(unittest.TestCase):
    def test_json_text_classic_and_syslog_carry_the_ids(self):
        data = TRIPS["get-document"] + TRIPS["basic-admin"]
        records, _ = serve(data, "json")
        self.assertEqual([r["alerts"] for r in records], [["get-document"], ["basic-admin"]])
        text, _ = serve(data, "text")
        self.assertIn("\n    alerts: get-document (CVE-2023-32360)\n", text)
        self.assertIn("\n    alerts: basic-admin (CVE-2025-58060)\n", text)
        classic, _ = serve(data, "classic")
        self.assertEqual(classic.splitlines()[3], "alerts=get-document,basic-admin")
        self.assertTrue(F.summary(records[0]).endswith(" alerts=get-document"))
        quiet, _ = serve(TRIPS["get-document"].replace(b"\x40\x27", b"\x40\x02", 1), "classic")
        self.assertEqual(len(quiet.splitlines()), 3, "no alert, no fourth line")

    def test_syslog_gets_the_tag(self):
        lines = []
        with mock.patch.object(F, "_syslog", lambda priority, text: lines.append(text)):
            recorder = F.Recorder("text", use_syslog=True)
            F.serve_connection(F.ByteReader(io.BytesIO(TRIPS["rss-traversal"]).read), lambda d: None,
                               F.ConnectionRecord(0.0, PEER, 1), F.Config(), recorder)
        self.assertTrue(lines[0].endswith(" alerts=rss-traversal"), lines[0])

    def test_connection_records_carry_an_empty_list(self):
        records, _ = serve(b"")
        self.assertEqual(records[0]["alerts"], [])


class BrowsePackets(unittest.TestCase):
    """The UDP rows: every browse packet, and the reflection flag as its own id."""

    def alerts(self, *packets, source="198.51.100.7"):
        written = []
        recorder = F.Recorder("json")
        recorder._write = written.append
        queue = list(packets)
        F.serve_datagrams(lambda timeout: (queue.pop(0), 40, source, 631) if queue else None,
                          recorder, 1.0, 5.0)
        return [json.loads(text)["alerts"] for text in written]

    def test_rows(self):
        udp = sorted(row.id for row in F.INDICATORS if row.kind == "udp")
        self.assertEqual(udp, ["browse-packet", "browse-reflection"])
        self.assertEqual(self.alerts(b"0 3 ipp://198.51.100.7:631/printers/x\n",      # from itself
                                     b"0 3 http://203.0.113.9:4444/printers/x\n",     # elsewhere
                                     b"hello"),                                        # no packet
                         [["browse-packet"], ["browse-packet", "browse-reflection"], []])


class NewIndicator(unittest.TestCase):
    """Recipe: a new indicator is one row in INDICATORS; a "udp" row reads UDP records."""

    def setUp(self):
        saved = list(F.INDICATORS)
        self.addCleanup(lambda: F.INDICATORS.__setitem__(slice(None), saved))

    def test_a_request_row(self):
        F.INDICATORS.append(F.Indicator("lpstat", "none", "request", "lpstat asked",
                                        lambda e: F.operation_is(e, "CUPS-Get-Default")))
        records, _ = serve((CAPTURES / "empty" / "lpstat-v" / "client.bin").read_bytes())
        self.assertEqual([r["alerts"] for r in records], [["lpstat"], [], []])

    def test_a_udp_row(self):
        F.INDICATORS[:] = [row for row in F.INDICATORS if row.kind != "udp"]   # this row alone
        F.INDICATORS.append(F.Indicator("browse-packet", "CVE-2024-47176", "udp", "a browse packet",
                                        lambda record: "uri" in record["udp"]))
        written = []
        recorder = F.Recorder("json")
        recorder._write = written.append
        packets = [b"0 3 http://203.0.113.9:4444/printers/x\n", b"hello"]
        F.serve_datagrams(lambda timeout: (packets.pop(0), 40, "203.0.113.9", 5353) if packets else None,
                          recorder, 1.0, 5.0)
        records = [json.loads(text) for text in written]
        self.assertEqual([r["alerts"] for r in records], [["browse-packet"], []])
        self.assertTrue(F.summary(records[0]).endswith(" alerts=browse-packet"))
        classic = F.ClassicFormat().datagram(records[0])
        self.assertEqual(classic.splitlines()[-1], "alerts=browse-packet")


if __name__ == "__main__":
    unittest.main()
