"""Load and privilege tests: 100 real lpstat clients at once through systemd-socket-activate,
and a root start that ends up running as the unprivileged user."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from tests.support import FAKECUPS, free_port, wait_for_port

CLIENTS = 100


@unittest.skipUnless(shutil.which("systemd-socket-activate"),
                     "systemd-socket-activate not installed (apt-get install systemd)")
@unittest.skipUnless(shutil.which("lpstat"), "lpstat not installed (apt-get install cups-client)")
class HundredClients(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.log = os.path.join(self.tmp, "fakecups.log")
        self.port = free_port()
        self.listener = subprocess.Popen(
            ["systemd-socket-activate", "--inetd", "-a", "-l", "127.0.0.1:%d" % self.port,
             sys.executable, "-I", str(FAKECUPS), "--log", self.log, "--format", "json"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(self.stop_listener)
        self.assertTrue(wait_for_port(self.port), "listener did not start")
        # wait_for_port's probe is a connection too: it is recorded as one with no request.

    def stop_listener(self):
        self.listener.terminate()
        try:
            self.listener.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.listener.kill()
            self.listener.communicate()

    def test_hundred_concurrent_lpstat(self):
        env = dict(os.environ, LC_ALL="C", HOME=self.tmp, CUPS_STATEDIR=self.tmp)
        env.pop("CUPS_SERVER", None)
        command = ["lpstat", "-h", "127.0.0.1:%d" % self.port, "-v"]
        started = time.monotonic()
        clients = [subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env) for _ in range(CLIENTS)]
        results = []
        for client in clients:
            try:
                out, err = client.communicate(timeout=max(1.0, 90 - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                client.kill()
                out, err = client.communicate()
            results.append((client.returncode, out, err))
        for code, out, err in results:
            self.assertEqual((code, out, err), (1, b"", b"lpstat: No destinations added.\n"))

        expected = 3 * CLIENTS
        deadline = time.monotonic() + 10
        lines = []
        while time.monotonic() < deadline:
            with open(self.log, "rb") as log:
                lines = log.read().splitlines()
            if sum(1 for line in lines if b'"request":"POST' in line) >= expected:
                break
            time.sleep(0.1)
        records = [json.loads(line) for line in lines]       # a torn line would not parse
        answered = [r for r in records if r["request"] is not None]
        self.assertEqual(len(answered), expected)
        per_process = {}
        for record in answered:
            per_process.setdefault(record["pid"], []).append(record)
        self.assertEqual(len(per_process), CLIENTS)
        for pid, requests in per_process.items():
            self.assertEqual([r["ipp"]["operation"] for r in requests],
                             ["CUPS-Get-Default", "CUPS-Get-Printers", "CUPS-Get-Printers"])
            self.assertEqual([r["seq"] for r in requests], [1, 2, 3])
            self.assertTrue(all(r["peer"].startswith("127.0.0.1:") for r in requests))


@unittest.skipUnless(hasattr(os, "geteuid") and os.geteuid() == 0, "needs root to drop privileges")
class RootStart(unittest.TestCase):
    """Started as root (as the seed's xinetd stanza did), fakecups opens its log and then
    runs as --user before reading a byte from the client."""

    def test_runs_as_the_user(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "fakecups.log")
            server = subprocess.Popen([sys.executable, str(FAKECUPS), "--log", log,
                                       "--user", "nobody", "--idle-timeout", "5"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
            try:
                uids = None
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    with open("/proc/%d/status" % server.pid) as status:
                        fields = dict(line.split(":", 1) for line in status if ":" in line)
                    uids = fields["Uid"].split()
                    if uids[0] != "0":
                        break
                    time.sleep(0.02)
                self.assertEqual(set(uids), {str(nobody.pw_uid)})
                out, err = server.communicate(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                              timeout=10)
            finally:
                if server.poll() is None:
                    server.kill()
                    server.communicate()
            self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"))
            self.assertEqual(err, b"")
            self.assertEqual(os.stat(log).st_uid, 0)            # opened before the drop
            self.assertIn("GET / HTTP/1.1", Path(log).read_text())

    def test_unknown_user_serves_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "fakecups.log")
            result = subprocess.run([sys.executable, str(FAKECUPS), "--log", log, "--user",
                                     "no-such-user-fakecups"], input=b"GET / HTTP/1.1\r\n\r\n",
                                    capture_output=True, timeout=10)
            said = b"fakecups: not serving: cannot run as 'no-such-user-fakecups': getpwnam(): " \
                   b"name not found: 'no-such-user-fakecups'\n"    # stderr is a pipe, not the client
            self.assertEqual((result.returncode, result.stdout, result.stderr), (1, b"", said))
            self.assertIn("not serving: cannot run as 'no-such-user-fakecups'", Path(log).read_text())


if __name__ == "__main__":
    unittest.main()
