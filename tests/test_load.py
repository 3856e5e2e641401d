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

from tests.support import (FAKECUPS, client_env, fakecups_listener, needs_real_programs,
                           require, wait_until)

CLIENTS = 100


@needs_real_programs("systemd-socket-activate", "lpstat")
class HundredClients(unittest.TestCase):

    def setUp(self):
        require("systemd-socket-activate")
        self.lpstat = require("lpstat")
        self.tmp = tempfile.mkdtemp()
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.log = os.path.join(self.tmp, "fakecups.log")
        self.listener = fakecups_listener(self.tmp, "--log", self.log, "--format", "json",
                                          python_flags=("-I",))
        self.addCleanup(self.listener.stop)
        self.listener.start()

    def test_hundred_concurrent_lpstat(self):
        env = client_env(self.tmp)
        command = [self.lpstat, "-h", self.listener.host, "-v"]
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

        def log_lines():
            with open(self.log, "rb") as log:
                return log.read().splitlines()
        wait_until(lambda: sum(1 for line in log_lines() if b'"request":"POST' in line) >= expected,
                   10, 0.1)
        lines = log_lines()
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
                def uids():
                    with open("/proc/%d/status" % server.pid) as status:
                        fields = dict(line.split(":", 1) for line in status if ":" in line)
                    return fields["Uid"].split()
                wait_until(lambda: uids()[0] != "0", 5)
                self.assertEqual(set(uids()), {str(nobody.pw_uid)})
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
