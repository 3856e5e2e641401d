"""--format ipphoney (issue 10, part 3): ipphoney's events, checked for its field names, value
types and formats.
"""

import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import fakecups as F
from tests.support import CAPTURES, FAKECUPS
from tests.test_indicators import PEER, captured, stream, with_attribute

CALLBACK = b'0 3 http://203.0.113.66:4444/printers/probe\n'


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
