"""--report (issue 10, part 2) and --format ipphoney (part 3).

The report reads JSON Lines logs made here the way the suite makes them: every captured
client stream served through serve_connection, the indicator test requests, and UDP records
from serve_datagrams.  Its fast reader (fields found by position) is checked against json on
every line, including lines built to mislead it.  The ipphoney events are checked for
ipphoney's field names, value types and formats.
"""

import gzip
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import fakecups as F
from tests.support import CAPTURES, FAKECUPS
from tests.test_indicators import PEER, TRIPS, captured, stream, with_attribute

F.load_report()

LEGACY_BROWSE = b'f0d4 3 ipp://192.168.1.20:631/printers/LaserJet "Room 101" "Office" "HP"\n'
CALLBACK = b'0 3 http://203.0.113.66:4444/printers/probe\n'


def captured_log(fmt="json", udp=True):
    """What the suite's captures, its indicator requests and (udp) a few datagrams write in
    fmt: (text, number of connections, number of requests)."""
    parts, connections, requests = [], 0, 0
    for state in ("empty", "printer"):
        for client in sorted((CAPTURES / state).glob("*/*client.bin")):
            persona = F.PrinterPersona("labprinter", F.MemorySpool(1 << 30, 1 << 30)) \
                if state == "printer" else None
            text, count = served(client.read_bytes(), fmt, persona)
            parts.append(text)
            connections += 1
            requests += count
    for data in TRIPS.values():
        text, count = served(data, fmt)
        parts.append(text)
        connections += 1
        requests += count
    if udp:
        parts.append(datagrams([LEGACY_BROWSE, CALLBACK, CALLBACK, b"hello"], fmt))
    return "".join(parts), connections, requests


PIDS = iter(range(1000, 1 << 22))      # a process per connection, as under xinetd


def served(data, fmt, persona=None, peer=PEER):
    written = []
    recorder = F.Recorder(fmt)
    recorder._write = written.append
    connection = F.ConnectionRecord(time.time(), peer, next(PIDS))
    F.serve_connection(F.ByteReader(io.BytesIO(data).read), lambda d: None, connection,
                       F.Config(persona or F.EmptyPersona(), local_peer=False), recorder)
    return "".join(written), len(connection.exchanges)


def datagrams(packets, fmt="json"):
    written = []
    recorder = F.Recorder(fmt)
    recorder._write = written.append
    queue = list(packets)
    F.serve_datagrams(lambda timeout: (queue.pop(0), 50, "203.0.113.66", 5353) if queue else None,
                      recorder, 1.0, 5.0, pid=77)
    return "".join(written)


def tally_of(text):
    tally = F.ReportTally()
    F._fold_lines(io.BytesIO(text.encode()), tally)
    return tally


class FastReader(unittest.TestCase):
    """The reader by position agrees with json on every record, or leaves the line to json."""

    def assert_agrees(self, line):
        by_position = F._fields_by_position(line)
        parsed = F._fields_parsed(line)
        self.assertIsNotNone(parsed, line[:200])
        if by_position is not None:
            self.assertEqual(by_position, parsed, line[:300])
        return by_position

    def test_every_record_of_the_captures(self):
        text, _, _ = captured_log()
        lines = text.encode().splitlines()
        fast = [line for line in lines if self.assert_agrees(line) is not None]
        self.assertGreater(len(fast), 60)
        self.assertEqual(len(lines) - len(fast), 4, "UDP records go to json")

    def test_lines_built_to_mislead_it(self):
        lines, message = captured("ipptool-get-printer-attributes")
        tricky = [("X-Trick", r'x"],["User-Agent","not this one"], \ ,"auth":'),
                  ("User-Agent", r'real "one" \ ,"ipp":')]
        collection = F.Attribute("media-col", [(F.TAG_BEGIN_COLLECTION, [
            F.Attribute("document_bytes", [(F.TAG_INTEGER, 99)]),
            F.Attribute("response", [(F.TAG_KEYWORD, '",\"operation\":\"x')])])])
        with_attribute(message, F.TAG_OPERATION, collection)
        with_attribute(message, F.TAG_OPERATION, F.Attribute('auth",\"ipp\":{', [(F.TAG_TEXT, '"]')]))
        data = stream(lines, message, ["%s: %s" % pair for pair in tricky],
                      target='/printers/q\\?x=","version":')
        text, _ = served(data, "json")
        line = text.encode().splitlines()[0]
        fields = self.assert_agrees(line)
        self.assertIsNotNone(fields, "this record is still read by position")
        kind, time, peer, host, pid, seq, target, agent, operation, size, digest, ids, udp = fields
        self.assertEqual(agent, rb'real \"one\" \\\\ ,\"ipp\":')        # escape(), then JSON
        self.assertEqual((target, operation, size, host), (
            rb'/printers/q\\\\?x=\",\"version\":', b"Get-Printer-Attributes", 0, b"198.51.100.7"))

    def test_other_lines(self):
        for line in (b"", b"{}", b"[1, 2]", b'{"time": 5}', b"Connection", b"{not json",
                     b'{"time":"2026-11-23T20:07:31.405Z","peer":"x","pid":1,"seq":"one"}'):
            self.assertIsNone(F.record_fields(line), line)


class LoadedForTheReportOnly(unittest.TestCase):
    def test_not_built_when_serving(self):
        code = ("import sys; sys.path.insert(0, %r); import fakecups; "
                "print('ReportTally' in vars(fakecups), 're' in sys.modules)" % str(FAKECUPS.parent))
        result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, timeout=20)
        self.assertEqual(result.stdout, b"False False\n")

    def test_its_names_take_none_of_the_modules(self):
        import ast
        names = set()
        for node in ast.parse(F.REPORT_SOURCE).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            names.update([getattr(node, "name", None)] + [t.id for t in targets if isinstance(t, ast.Name)])
        code = "import sys; sys.path.insert(0, %r); import fakecups; print(sorted(vars(fakecups)))"
        result = subprocess.run([sys.executable, "-I", "-S", "-c", code % str(FAKECUPS.parent)],
                                capture_output=True, timeout=20)
        self.assertEqual(names & set(ast.literal_eval(result.stdout.decode())), set())
        self.assertIn("ReportTally", names)

    def test_tracebacks_name_the_lines_of_fakecups_py(self):
        lines = FAKECUPS.read_text().splitlines()
        self.assertTrue(lines[F.record_fields.__code__.co_firstlineno - 1].startswith("def record_fields("))
        self.assertTrue(lines[F.ReportTally.add.__code__.co_firstlineno - 1].strip().startswith("def add("))


class Report(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.text, self.connections, self.requests = captured_log()
        self.log = os.path.join(self.dir, "fakecups.log")
        with open(self.log, "w") as log:
            log.write(self.text)

    def run_report(self, *args, env=None):
        return subprocess.run([sys.executable, str(FAKECUPS), "--report", *args], capture_output=True,
                              timeout=60, env=env)

    def test_counts(self):
        tally = tally_of(self.text)
        self.assertEqual((tally.connections, tally.requests, tally.datagrams),
                         (self.connections, self.requests, 4))
        self.assertEqual(tally.lines, tally.records)
        self.assertEqual(tally.alerts["get-document".encode()][0], 1)
        self.assertEqual(tally.callbacks, {b"203.0.113.66": 2, b"192.168.1.20": 1})
        self.assertEqual(tally.sources[b"198.51.100.7"][:2], [self.connections, self.requests])

    def test_text_summary(self):
        result = self.run_report(self.log)
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        out = result.stdout.decode()
        self.assertIn("connections  %d   requests  %d   udp datagrams  4"
                      % (self.connections, self.requests), out)
        self.assertRegex(out, r"\n  198\.51\.100\.7 +%d +%d +0\n" % (self.connections, self.requests))
        self.assertRegex(out, r"\n  CUPS-Get-Printers +\d+\n")
        self.assertRegex(out, r"\n  CUPS/2\.4\.2 \(Linux [^)]*\) IPP/2\.0 +\d+\n")
        self.assertRegex(out, r"\n  get-document +1 +\d{4}-\S+ +\d{4}-\S+ +CVE-2023-32360\n")
        self.assertRegex(out, r"\n  203\.0\.113\.66 +2\n")
        self.assertRegex(out, r"\ndocuments +\d+, [\d,]+ bytes, \d+ distinct sha256\n")

    def test_json_summary(self):
        result = self.run_report("--report-format", "json", self.log)
        summary = json.loads(result.stdout)
        self.assertEqual(summary["requests"], self.requests)
        self.assertEqual(summary["files"], [{"path": self.log, "lines": len(self.text.splitlines()),
                                             "records": len(self.text.splitlines()), "problem": None}])
        alerts = {a["id"]: a for a in summary["alerts"]}
        # the request rows' trips, and the UDP rows from the log's datagrams
        self.assertEqual(sorted(alerts), sorted(list(TRIPS) + ["browse-packet", "browse-reflection"]))
        self.assertEqual(alerts["rss-traversal"]["advisory"], "CVE-2026-34978")
        self.assertLessEqual(alerts["rss-traversal"]["first_seen"], alerts["rss-traversal"]["last_seen"])
        records = [json.loads(line) for line in self.text.splitlines()]
        digests = {r["ipp"]["document_sha256"] for r in records
                   if (r.get("ipp") or {}).get("document_sha256")}
        documents = summary["documents"]
        self.assertEqual((documents["distinct_sha256"], documents["count"]), (len(digests), sum(
            1 for r in records if (r.get("ipp") or {}).get("document_bytes"))))
        self.assertEqual(len(digests), 2)           # somefile.txt and tiny.pdf
        self.assertEqual(summary["udp_callbacks"][0], {"host": "203.0.113.66", "datagrams": 2})

    def test_gzip_and_the_default_log(self):
        with open(self.log, "rb") as plain, gzip.open(self.log + ".1.gz", "wb") as packed:
            packed.write(plain.read())
        env = dict(os.environ, LOGS_DIRECTORY=self.dir)
        default = json.loads(self.run_report("--report-format=json", env=env).stdout)
        both = json.loads(self.run_report("--report-format=json", self.log, self.log + ".1.gz").stdout)
        self.assertEqual([f["path"] for f in default["files"]], [self.log])
        self.assertEqual(both["requests"], 2 * default["requests"])
        self.assertEqual(both["documents"]["distinct_sha256"], default["documents"]["distinct_sha256"])

    def test_text_logs_are_not_read_back(self):
        text_log = os.path.join(self.dir, "text.log")
        with open(text_log, "w") as log:
            log.write(captured_log("text")[0])
        result = self.run_report(text_log, self.log)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"not JSON Lines", result.stderr)
        self.assertIn(b"--format json", result.stderr)
        self.assertIn(b"requests  %d" % self.requests, result.stdout)
        missing = self.run_report(os.path.join(self.dir, "nothing.log"))
        self.assertEqual(missing.returncode, 1)
        self.assertIn(b"cannot read", missing.stderr)

    def test_ipphoney_logs_are_not_fakecups_records(self):
        log = os.path.join(self.dir, "ipphoney.json")
        with open(log, "w") as out:
            out.write(captured_log("ipphoney", udp=False)[0])
        result = self.run_report(log)
        self.assertEqual(result.returncode, 1)
        self.assertIn(b"no fakecups records", result.stderr)

    def test_log_arguments_need_report(self):
        result = subprocess.run([sys.executable, str(FAKECUPS), "some.log"], capture_output=True, timeout=20)
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"--report", result.stderr)


# ipphoney's event fields (core/protocol.py report_event) and their JSON types.
IPPHONEY_FIELDS = {"eventid": str, "operation": str, "timestamp": str, "url": str, "src_ip": str,
                   "src_port": int, "dst_port": int, "sensor": str, "request": str, "filename": str,
                   "filesize": int, "sha256": str, "query": dict, "user_agent": str, "dst_ip": str}
IPPHONEY_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


class Ipphoney(unittest.TestCase):
    def events(self, data, **kwargs):
        text, _ = served(data, "ipphoney", **kwargs)
        return [json.loads(line) for line in text.splitlines()]

    def assert_shape(self, event):
        self.assertLessEqual(set(event), set(IPPHONEY_FIELDS))
        order = [key for key in IPPHONEY_FIELDS if key in event]
        self.assertEqual(list(event), order, "ipphoney's key order")
        for key, value in event.items():
            self.assertIsInstance(value, IPPHONEY_FIELDS[key], key)
        self.assertRegex(event["timestamp"], IPPHONEY_TIME)
        self.assertTrue(event["eventid"].startswith("ipphoney."))

    def test_an_ipp_request(self):
        event = self.events((CAPTURES / "empty" / "lpstat-v" / "client.bin").read_bytes())[1]
        self.assert_shape(event)
        self.assertEqual((event["eventid"], event["operation"]),
                         ("ipphoney.cups-get-printers", "CUPS-Get-Printers"))
        self.assertEqual((event["src_ip"], event["src_port"], event["request"], event["url"]),
                         ("198.51.100.7", 40000, "POST", "/"))
        self.assertTrue(event["user_agent"].startswith("CUPS/2.4.2"))
        query = event["query"]
        self.assertEqual(list(query), ["version", "request_id", "operation", "groups"])
        self.assertEqual((query["version"], query["request_id"], query["operation"]),
                         ("2.0", "00000002", "CUPS-Get-Printers"))
        group = query["groups"][0]
        self.assertEqual(group["group_type"], "Operation-Attributes-Tag")
        self.assertEqual(group["attributes"][1], {"attribute_type": "language",
                                                  "attribute_name": "attributes-natural-language",
                                                  "attribute_value": ["en"]})

    def test_values_as_ipphoney_writes_them(self):
        attributes = [F.Attribute("copies", [(F.TAG_INTEGER, -1)]),
                      F.Attribute("page-ranges", [(F.TAG_RANGE, (1, 5))]),
                      F.Attribute("printer-resolution", [(F.TAG_RESOLUTION, (600, 600, 3))]),
                      F.Attribute("finishings", [(F.TAG_ENUM, 3), (F.TAG_ENUM, 0x1234)]),
                      F.Attribute("x-flag", [(F.TAG_BOOLEAN, True)]),
                      F.Attribute("x-empty", [(F.TAG_NAME, "")]),
                      F.Attribute("x-nothing", [(F.TAG_NO_VALUE, b"")])]
        lines, message = captured("ipptool-print-job")
        for attribute in attributes:
            with_attribute(message, F.TAG_JOB, attribute)
        event = self.events(stream(lines, message))[0]
        self.assert_shape(event)
        self.assertEqual(event["eventid"], "ipphoney.print-job")
        self.assertEqual((event["filesize"], event["sha256"], event["filename"]),
                         (45, event["sha256"], event["sha256"]))
        self.assertRegex(event["sha256"], r"\A[0-9a-f]{64}\Z")
        job = {a["attribute_name"]: a for a in event["query"]["groups"][1]["attributes"]}
        self.assertEqual(event["query"]["groups"][1]["group_type"], "Job-Attributes-Tag")
        self.assertEqual(job["copies"]["attribute_value"], [4294967295])
        self.assertEqual(job["page-ranges"]["attribute_value"], ["1-5"])
        self.assertEqual(job["printer-resolution"]["attribute_value"], ["600dpi"])
        self.assertEqual(job["finishings"]["attribute_value"], ["Print-Uri", "1234"])
        self.assertEqual(job["x-flag"]["attribute_value"], ["true"])
        self.assertEqual(job["x-empty"]["attribute_value"], ["''"])
        self.assertEqual(job["x-nothing"], {"attribute_type": "no-value", "attribute_name": "x-nothing",
                                            "attribute_value": ["no-value"]})

    def test_operation_names_are_ipphoneys(self):
        lines, message = captured("ipptool-get-printer-attributes")
        message.code = F.OP["Print-URI"]
        event = self.events(stream(lines, message))[0]
        self.assertEqual((event["eventid"], event["operation"]), ("ipphoney.print-uri", "Print-Uri"))

    def test_connect_events(self):
        get = self.events(b"GET /printers/ HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0\r\n\r\n")[0]
        self.assert_shape(get)
        self.assertEqual((get["eventid"], get["request"], get["url"]),
                         ("ipphoney.connect", "GET", "/printers/"))
        self.assertNotIn("query", get)
        nothing = self.events(b"")[0]
        self.assert_shape(nothing)
        self.assertEqual(nothing["eventid"], "ipphoney.connect")
        self.assertNotIn("request", nothing)

    def test_a_real_socket_gives_dst_ip_and_dst_port(self):
        log = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
        self.addCleanup(os.unlink, log.name)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            address = listener.getsockname()
            client = socket.create_connection(address, timeout=5)
            self.addCleanup(client.close)
            with listener.accept()[0] as conn:
                proc = subprocess.Popen([sys.executable, str(FAKECUPS), "--format", "ipphoney", "--log",
                                         log.name, "--sensor", "sensor-1"], stdin=conn, stdout=conn,
                                        stderr=subprocess.DEVNULL)
        client.sendall((CAPTURES / "empty" / "lpstat-d" / "client.bin").read_bytes())
        client.shutdown(socket.SHUT_WR)
        while client.recv(65536):
            pass
        self.assertEqual(proc.wait(20), 0)
        with open(log.name) as written:
            event = json.loads(written.readline())
        self.assert_shape(event)
        self.assertEqual((event["dst_ip"], event["dst_port"], event["sensor"]),
                         ("127.0.0.1", address[1], "sensor-1"))
        self.assertEqual((event["src_ip"], event["src_port"]), client.getsockname())

    def test_datagrams_are_json_records(self):
        record = json.loads(datagrams([CALLBACK], "ipphoney"))
        self.assertEqual((record["transport"], record["udp"]["uri"]["host"]), ("udp", "203.0.113.66"))


if __name__ == "__main__":
    unittest.main()
