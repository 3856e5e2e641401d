"""What a new user trips over (issue 12): failures said where a person sees them, --decode
without side effects, the printer persona started as root, IPv4 peers written as IPv4, the
command line's habits, fd 2 silenced only when it is the client's socket, and two answers
scanners fingerprint (a 1setOf mixing value tags, a request without Host)."""

import json
import os
import pwd
import re
import socket
import subprocess
import sys
import tempfile
import unittest

import fakecups as F
from tests.support import (CAPTURES, FAKECUPS, captured_request, captured_requests,
                           final_responses, json_records, reframe, run_fakecups)

LPSTAT = (CAPTURES / "empty" / "lpstat-v" / "client.bin").read_bytes()
LP_PRINTER = (CAPTURES / "printer" / "lp-pdf" / "client.bin").read_bytes()


class TempDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        os.chmod(self.tmp, 0o755)           # the service user (nobody) must reach inside
        self.addCleanup(subprocess.run, ["rm", "-rf", self.tmp])

    def path(self, *names):
        return os.path.join(self.tmp, *names)


class FailuresAreSaid(TempDir):
    def test_decode_of_a_missing_file_says_why(self):
        result = run_fakecups(b"", "--decode", self.path("nonexistent"))
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, b"")
        self.assertEqual(result.stderr.decode(), "fakecups: cannot read %s: No such file or directory\n"
                         % self.path("nonexistent"))

    def test_a_log_that_cannot_be_opened_is_said_and_the_client_still_answered(self):
        log = self.path("no-such-dir", "x.log")
        result = run_fakecups(LPSTAT, "--log", log)
        self.assertEqual(result.returncode, 0)
        self.assertEqual(result.stderr.decode(), "fakecups: cannot open log %s: No such file or directory\n" % log)
        self.assertEqual(len(final_responses(result.stdout, ["POST"] * 3)), 3)


class DecodeWritesNothing(TempDir):
    def test_printer_decode_creates_no_spool(self):
        spool = self.path("spool")
        result = run_fakecups(b"", "--persona", "printer", "--spool", spool, "--format", "json",
                              "--decode", str(CAPTURES / "printer" / "lp-pdf" / "client.bin"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertFalse(os.path.exists(spool))
        operations = [json.loads(line)["ipp"]["operation"] for line in result.stdout.splitlines()]
        self.assertIn("Send-Document", operations)

    def test_printer_decode_writes_no_job_into_a_real_spool(self):
        spool = self.path("spool")
        os.mkdir(spool)
        name = re.search(rb"/printers/([A-Za-z0-9_]+)", LP_PRINTER).group(1).decode()
        capture = self.path("stream.bin")
        with open(capture, "wb") as file:
            file.write(LP_PRINTER)
        result = run_fakecups(b"", "--persona", "printer", "--printer", name, "--spool", spool,
                              "--format", "json", "--decode", capture)
        answered = {r["ipp"]["operation"]: r["response"]["ipp_status"]
                    for r in map(json.loads, result.stdout.splitlines())}
        self.assertEqual(answered["Create-Job"], "successful-ok")     # a job, kept in memory
        self.assertEqual(os.listdir(spool), [])


@unittest.skipUnless(os.geteuid() == 0, "needs root: the printer persona started as root")
class PrinterStartedAsRoot(TempDir):
    def serve(self, spool):
        log = self.path("log")
        result = run_fakecups(LPSTAT, "--persona", "printer", "--spool", spool, "--log", log,
                              "--format", "json", "--user", "nobody")
        return result, json_records(log)

    def test_a_missing_spool_is_made_for_the_service_user(self):
        spool = self.path("spool")
        result, logged = self.serve(spool)
        self.assertEqual(result.stderr, b"")
        self.assertEqual(os.stat(spool).st_uid, pwd.getpwnam("nobody").pw_uid)
        self.assertEqual(os.stat(spool).st_mode & 0o777, 0o750)
        self.assertEqual({r["response"]["ipp_status"] for r in logged}, {"successful-ok"})

    def test_a_spool_root_made_is_unavailable_and_says_where(self):
        spool = self.path("root-made")
        os.mkdir(spool, 0o750)
        result, logged = self.serve(spool)
        reason = "the printer persona cannot start: Permission denied: %s/lock" % spool
        self.assertEqual(result.stderr.decode(), "fakecups: %s\n" % reason)
        self.assertEqual([r["response"]["ipp_status"] for r in logged],
                         ["server-error-service-unavailable"] * 3)
        self.assertEqual({r["response"]["status_message"] for r in logged}, {reason})


class PeersAsPeopleGrepThem(TempDir):
    def test_mapped_ipv4_from_the_environment(self):
        log = self.path("log")
        run_fakecups(LPSTAT, "--log", log, "--format", "json",
                     env=dict(os.environ, REMOTE_HOST="::ffff:192.0.2.7", REMOTE_PORT="4242"))
        self.assertEqual({r["peer"] for r in json_records(log)}, {"192.0.2.7:4242"})
        self.assertEqual(F.peer_text("::1", "631"), "[::1]:631")

    def test_mapped_ipv4_on_a_dual_stack_socket(self):
        """The shipped xinetd stanza listens dual-stack: an IPv4 client arrives as ::ffff:."""
        listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::ffff:127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=5)
        self.addCleanup(client.close)
        accepted, address = listener.accept()
        self.assertTrue(address[0].startswith("::ffff:"))
        log = self.path("log")
        with accepted:
            process = subprocess.Popen([sys.executable, str(FAKECUPS), "--log", log, "--format", "json",
                                        "--idle-timeout", "2"], stdin=accepted, stdout=accepted,
                                       stderr=subprocess.DEVNULL)
        client.sendall(LPSTAT)
        client.shutdown(socket.SHUT_WR)
        process.wait(timeout=10)
        self.assertEqual({r["peer"] for r in json_records(log)}, {"127.0.0.1:%d" % client.getsockname()[1]})


class CommandLine(unittest.TestCase):
    def test_short_help_and_version(self):
        self.assertEqual(run_fakecups(b"", "-V").stdout, b"fakecups %s\n" % F.__version__.encode())
        text = run_fakecups(b"", "-h").stdout.decode()
        self.assertEqual(text, F.usage())
        for names, value, convert, default, help_text in F.OPTIONS:
            self.assertIn(names[-1], text)
            if default not in (None, False):
                self.assertIn("(default %s)" % default, " ".join(text.split()))

    def test_a_usage_error_is_one_line(self):
        result = run_fakecups(b"", "--format", "yaml")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stderr, b"fakecups: 'yaml' is not one of %s (try --help)\n"
                         % ", ".join(F.FORMATS).encode())


class StandardError(TempDir):
    """fd 2 is silenced only when it is the client's socket: a journal stream keeps messages."""

    def run_with_stderr(self, stdin, stderr):
        log = self.path("no-such-dir", "log")
        process = subprocess.Popen([sys.executable, str(FAKECUPS), "--log", log, "--idle-timeout", "1"],
                                   stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr)
        self.assertEqual(process.wait(timeout=10), 0)

    def test_a_unix_stream_socket_on_fd_2_hears_the_problem(self):
        journal, ours = socket.socketpair()
        self.addCleanup(journal.close)
        with ours:
            self.run_with_stderr(subprocess.DEVNULL, ours)
        journal.settimeout(5)
        self.assertIn(b"fakecups: cannot open log", journal.recv(4096))

    def test_the_clients_own_socket_on_fd_2_hears_nothing(self):
        client, server = socket.socketpair()
        self.addCleanup(client.close)
        client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        with server:
            process = subprocess.Popen(
                [sys.executable, str(FAKECUPS), "--log", self.path("no-such-dir", "log")],
                stdin=server, stdout=server, stderr=server)
        self.assertEqual(process.wait(timeout=10), 0)
        client.settimeout(5)
        received = b""
        for _ in range(100):
            chunk = client.recv(65536)
            if not chunk:
                break
            received += chunk
        self.assertTrue(received.startswith(b"HTTP/1.1 200 OK"))
        self.assertNotIn(b"fakecups:", received)


class Fingerprints(unittest.TestCase):
    """Answers scanners compare with CUPS's: follow libcups ippRead() and cupsd valid_host()."""

    def answer(self, *values):
        message = captured_request("lpstat-v")
        message.groups[0].attributes.append(F.Attribute("x-set", list(values)))
        head = captured_requests("lpstat-v")[0].lines
        result = run_fakecups(reframe(head, F.encode_message(message)), "--log", os.devnull + "/x")
        return final_responses(result.stdout, ["POST"])[0]

    def test_a_1setof_with_incompatible_value_tags_is_400(self):
        for values in ([(F.TAG_KEYWORD, "a"), (F.TAG_INTEGER, 1)],
                       [(F.TAG_ENUM, 3), (F.TAG_INTEGER, 3)],
                       [(F.TAG_KEYWORD, "a"), (F.TAG_NO_VALUE, b""), (F.TAG_KEYWORD, "b")],
                       [(F.TAG_BOOLEAN, True), (F.TAG_KEYWORD, "a")]):
            with self.subTest(values=values):
                self.assertEqual(self.answer(*values).status, 400)

    def test_sets_libcups_accepts_are_answered(self):
        for values in ([(F.TAG_KEYWORD, "a"), (F.TAG_NAME, "b")],
                       [(F.TAG_INTEGER, 1), (F.TAG_RANGE, (1, 2)), (F.TAG_INTEGER, 3)],
                       [(F.TAG_TEXT, "a"), (F.TAG_TEXT_LANG, ("en", "b")), (F.TAG_NAME, "c")],
                       [(F.TAG_KEYWORD, "a"), (F.TAG_NO_VALUE, b"")]):
            with self.subTest(values=values):
                answer = self.answer(*values)
                self.assertEqual((answer.status, answer.header("Content-Type")), (200, "application/ipp"))


if __name__ == "__main__":
    unittest.main()
