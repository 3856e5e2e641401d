"""The UDP half of port 631 (issue 9): cups-browsed's browse packets, recorded, never answered.

In-process: the parser and the datagram loop with a scripted receive().  Real: fakecups with a
bound UDP socket on stdin (as xinetd's wait = yes hands it over), the shipped stanza in a real
xinetd, and systemd-socket-activate --datagram.  Only 127.0.0.1 is used; every wait is bounded.
"""

import grp
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import fakecups as F
from tests.support import (FAKECUPS, ROOT, missing_reason, needs_real_programs, stop_process,
                           wait_until, which)

# A CUPS 1.x cupsd's browse packet (cups/scheduler/dirsvc.c: type state uri "location" "info"
# "make-and-model" lease-duration=N and options), as cups-browsed also sends them.
LEGACY = (b'f0d4 3 ipp://192.168.1.20:631/printers/LaserJet "Room 101" "Office laser" '
          b'"HP LaserJet 4250 Postscript (recommended)" lease-duration=300 auth-info-required=none '
          b'uuid=urn:uuid:3f5c6a2e-0b1d-3c55-6b31-2cd9e0a5f1aa\n')
# A scanner's probe: a callback to the sender itself (the mass scans of 2024 used this shape).
PROBE_BACK = b'0 3 http://127.0.0.1:4444/printers/probe\n'
THIRD_HOST = b'0 3 ipp://198.51.100.23:631/printers/evil\n'
JUNK = [b"", b"hello", b"\xff\xfe\x00\x81 3 ipp://x/", bytes(range(256)), b"z" * (64 * 1024 - 100)]
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
IS_ROOT = os.geteuid() == 0


def scripted(datagrams, host="127.0.0.1", port=4000):
    """receive() for serve_datagrams: these datagrams, then silence."""
    queue = list(datagrams)

    def receive(timeout):
        if not queue:
            return None
        data = queue.pop(0)
        return data[:F.MAX_DATAGRAM_RECORDED], len(data), host, port
    return receive


class Collected(F.Recorder):
    """A Recorder that keeps what each format writes, in memory."""

    def __init__(self, fmt="json"):
        super().__init__(fmt)
        self.written = []

    def _write(self, text):
        if text:
            self.written.append(text)


def json_records(datagrams, **kwargs):
    recorder = Collected()
    F.serve_datagrams(scripted(datagrams, **kwargs), recorder, 1.0, 60.0, pid=7)
    return [json.loads(text) for text in recorder.written]


class Parsing(unittest.TestCase):
    def test_legacy_cups_packet(self):
        [record] = json_records([LEGACY], host="192.168.1.20")
        udp = record["udp"]
        self.assertEqual((record["transport"], record["peer"], record["seq"]), ("udp", "192.168.1.20:4000", 1))
        self.assertEqual(udp["type"], {"value": "0xf0d4", "bits": ["bw", "duplex", "copies", "collate",
                                                                    "small", "medium", "large", "variable"]})
        self.assertEqual(udp["state"], {"value": 3, "name": "idle"})
        self.assertEqual(udp["uri"], {"scheme": "ipp", "host": "192.168.1.20", "port": 631,
                                      "path": "/printers/LaserJet",
                                      "text": "ipp://192.168.1.20:631/printers/LaserJet"})
        self.assertEqual((udp["location"], udp["info"], udp["make_and_model"]),
                         ("Room 101", "Office laser", "HP LaserJet 4250 Postscript (recommended)"))
        self.assertEqual(udp["options"], {"lease-duration": "300", "auth-info-required": "none",
                                          "uuid": "urn:uuid:3f5c6a2e-0b1d-3c55-6b31-2cd9e0a5f1aa"})
        self.assertEqual(udp["flags"], ["private-target"])      # a LAN printer, from itself
        self.assertIsNone(udp["problem"])

    def test_flags(self):
        back, third = json_records([PROBE_BACK, THIRD_HOST])
        self.assertEqual(back["udp"]["flags"], ["non-ipp-scheme", "loopback-target"])
        self.assertEqual(third["udp"]["flags"], ["callback-elsewhere"])
        [named] = json_records([b"0 3 ipps://attacker.example/p"], host="203.0.113.5")
        self.assertEqual(named["udp"]["flags"], ["callback-elsewhere"])

    def test_what_does_not_parse_is_recorded_as_it_is(self):
        records = json_records(JUNK)
        self.assertEqual(len(records), len(JUNK))
        for data, record in zip(JUNK, records):
            udp = record["udp"]
            self.assertEqual(udp["bytes"], len(data))
            self.assertEqual(udp["problem"], "not a browse packet: wants hex type, hex state and a URI")
            self.assertEqual(udp["cut"], len(data) > F.MAX_DATAGRAM_RECORDED)
        self.assertEqual(records[2]["udp"]["packet"], "\\xff\\xfe\\x00\\x81 3 ipp://x/")
        self.assertEqual(records[4]["udp"]["packet"], "z" * F.MAX_DATAGRAM_RECORDED)

    def test_every_format_writes_each_datagram(self):
        for fmt, marker in (("text", "Datagram\n"), ("classic", "Datagram\n"), ("json", '"transport":"udp"')):
            with self.subTest(format=fmt):
                recorder = Collected(fmt)
                F.serve_datagrams(scripted([LEGACY, b"junk"]), recorder, 1.0, 60.0)
                self.assertEqual(len(recorder.written), 2)
                self.assertTrue(all(marker in text for text in recorder.written))
        text = Collected("text")
        F.serve_datagrams(scripted([THIRD_HOST]), text, 1.0, 60.0)
        self.assertIn("flags: callback-elsewhere", text.written[0])
        self.assertIn("udp 127.0.0.1:4000 udp browse ipp://198.51.100.23:631/printers/evil idle "
                      "flags=callback-elsewhere", "udp " + F.summary(json.loads(F.to_json(
                          json_records([THIRD_HOST])[0]))))


class Limits(unittest.TestCase):
    def test_a_flood_from_one_source_is_summarised(self):
        records = json_records([THIRD_HOST] * 10000)
        full = [r for r in records if "flood" not in r["udp"]]
        floods = [r["udp"]["flood"] for r in records if "flood" in r["udp"]]
        self.assertEqual(len(full), F.FloodGate.FULL_RECORDS)
        self.assertEqual(sum(f["datagrams"] for f in floods) + len(full), 10000)
        self.assertLessEqual(len(records), F.FloodGate.FULL_RECORDS + 10000 // F.FloodGate.SUMMARY_EVERY + 1)

    def test_lifetime_is_bounded_under_a_steady_trickle(self):
        now = [0.0]

        def trickle(timeout):
            now[0] += 0.5                    # a datagram every half second, for ever
            return b"x", 1, "127.0.0.1", 1
        count = F.serve_datagrams(trickle, Collected(), 1.0, 30.0, clock=lambda: now[0])
        self.assertEqual(count, 60)


class RealSocket(unittest.TestCase):
    """fakecups with a bound UDP socket on stdin, as xinetd's wait = yes runs it."""

    def test_datagrams_recorded_nothing_sent_and_the_process_exits(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(server.close)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        server.bind(("127.0.0.1", 0))
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(client.close)
        client.bind(("127.0.0.1", 0))
        for data in [LEGACY, PROBE_BACK, THIRD_HOST] + JUNK:
            client.sendto(data, server.getsockname())
        for _ in range(10000):
            client.sendto(THIRD_HOST, server.getsockname())
        log = os.path.join(tmp, "log")
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(FAKECUPS), "--log", log, "--format", "json",
                                 "--idle-timeout", "1"], stdin=server, capture_output=True, timeout=30)
        self.assertLess(time.monotonic() - started, 20)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, b"", b""))
        records = [json.loads(line) for line in open(log)]
        received = sum(r["udp"]["flood"]["datagrams"] if "flood" in r["udp"] else 1 for r in records)
        self.assertLessEqual(received, 10000 + 3 + len(JUNK))
        self.assertGreater(received, 3 + len(JUNK))          # the first ones, at least
        self.assertLessEqual(len(records), 2 * F.FloodGate.FULL_RECORDS + 12)
        self.assertEqual(records[0]["udp"]["options"]["lease-duration"], "300")
        self.assertEqual(records[0]["peer"], "127.0.0.1:%d" % client.getsockname()[1])
        client.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            client.recvfrom(65536)                           # nothing ever comes back


def wait_for_lines(path, count, seconds=15.0):
    """The log's lines once there are count of them, or what there is after seconds."""
    def lines():
        if not os.path.exists(path):
            return []
        with open(path) as log:
            return log.read().splitlines()
    wait_until(lambda: len(lines()) >= count, seconds, 0.05)
    return lines()


@needs_real_programs("xinetd", "systemd-socket-activate")
class Superservers(unittest.TestCase):
    """The shipped xinetd stanza in a real xinetd; systemd-socket-activate --datagram."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        os.chmod(self.tmp, 0o755)
        self.program = os.path.join(self.tmp, "fakecups.py")   # readable by the service user
        shutil.copy(FAKECUPS, self.program)
        self.logdir = os.path.join(self.tmp, "log")
        os.mkdir(self.logdir, 0o755)
        self.log = os.path.join(self.logdir, "fakecups.log")
        self.port = self.free_udp_port()

    @staticmethod
    def free_udp_port():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def send(self, *datagrams):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for data in datagrams:
                client.sendto(data, ("127.0.0.1", self.port))

    @staticmethod
    def exited(xinetd_log, pid):
        if not os.path.exists(xinetd_log):
            return False
        with open(xinetd_log) as log:
            return any("EXIT:" in line and "pid=%d " % pid in line + " " for line in log)

    def test_shipped_stanza_in_a_real_xinetd(self):
        xinetd = which("xinetd")
        if not xinetd:
            self.skipTest(missing_reason("xinetd"))
        user = pwd.getpwnam("nobody") if IS_ROOT else pwd.getpwuid(os.getuid())
        if IS_ROOT:
            os.chown(self.logdir, user.pw_uid, user.pw_gid)
        lines = ["defaults", "{", "\tlog_type = FILE %s" % os.path.join(self.tmp, "xinetd.log"), "}"]
        for line in (ROOT / "xinetd.d" / "fakecups-browse").read_text().splitlines():
            key = line.split("=")[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
            if key in ("type", "port", "flags", "user", "group", "server", "server_args"):
                continue
            lines.append(line)
            if line.strip() == "{":
                lines += ["\ttype = UNLISTED", "\tport = %d" % self.port, "\tbind = 127.0.0.1",
                          "\tserver = %s" % PYTHON,
                          "\tserver_args = %s --udp --idle-timeout 1 --format json --log %s"
                          % (self.program, self.log),
                          "\tuser = %s" % user.pw_name, "\tgroup = %s" % grp.getgrgid(user.pw_gid).gr_name]
        config = os.path.join(self.tmp, "xinetd.conf")
        with open(config, "w") as file:
            file.write("\n".join(lines) + "\n")
        process = subprocess.Popen([xinetd, "-dontfork", "-f", config, "-pidfile",
                                    os.path.join(self.tmp, "xinetd.pid")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(stop_process, process)
        lines = []
        for _ in range(50):                       # until xinetd listens: the first record arrives
            self.send(LEGACY)
            lines = wait_for_lines(self.log, 1, 0.2)
            if lines:
                break
        self.assertTrue(lines, "no record from xinetd's fakecups")
        self.send(THIRD_HOST)
        lines = wait_for_lines(self.log, 2)
        records = [json.loads(line) for line in lines]
        self.assertEqual(records[0]["udp"]["uri"]["host"], "192.168.1.20")
        self.assertEqual(records[-1]["udp"]["flags"], ["callback-elsewhere"])
        # idle: that fakecups exits (xinetd logs its EXIT), xinetd listens again and starts another
        first_pid = records[0]["pid"]
        xinetd_log = os.path.join(self.tmp, "xinetd.log")
        wait_until(lambda: self.exited(xinetd_log, first_pid), 15, 0.1)
        self.send(PROBE_BACK)
        later = [r for r in map(json.loads, wait_for_lines(self.log, len(records) + 1))
                 if r["pid"] != first_pid]
        self.assertEqual([r["udp"]["uri"]["port"] for r in later], [4444],
                         "xinetd did not start fakecups again after it went idle")

    def test_systemd_socket_activate_datagram(self):
        activate = which("systemd-socket-activate")
        if not activate:
            self.skipTest(missing_reason("systemd-socket-activate"))
        process = subprocess.Popen([activate, "--datagram", "--inetd", "-l", "127.0.0.1:%d" % self.port,
                                    sys.executable, self.program, "--idle-timeout", "1", "--format",
                                    "json", "--log", self.log],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(stop_process, process)
        lines = []
        for _ in range(50):
            self.send(LEGACY)
            lines = wait_for_lines(self.log, 1, 0.2)
            if lines:
                break
        self.assertTrue(lines, "no record through systemd-socket-activate")
        self.assertEqual(json.loads(lines[0])["transport"], "udp")
        self.assertEqual(process.wait(timeout=15), 0)      # idle: fakecups exits


if __name__ == "__main__":
    unittest.main()
