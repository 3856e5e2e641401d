"""A real, private cupsd prints to fakecups's printer persona through an IPP Everywhere queue.

    cupsd -f -c TMP/cupsd.conf -s TMP/cups-files.conf       on 127.0.0.1:CUPSPORT
    systemd-socket-activate --inetd -a -l 127.0.0.1:FAKEPORT
        fakecups.py --persona printer --printer office --spool ... --log ... --format json
    lpadmin -h 127.0.0.1:CUPSPORT -p q -E -v ipp://127.0.0.1:FAKEPORT/ipp/print -m everywhere
    lp -h 127.0.0.1:CUPSPORT -d q tests/captures/files/tiny.pdf

`-m everywhere` makes lpadmin ask the printer for its attributes (Get-Printer-Attributes) and
build the queue's PPD from them; cupsd then runs the job through its filters and its ipp
backend, which asks again and sends the job.  The test waits (bounded) for the job to land in
fakecups's spool as a PDF document and checks fakecups's log for those operations.

The cupsd is the test's own: every directory it writes (ServerRoot, RequestRoot, CacheDir,
StateDir with its PID file and certificates, TempDir, the logs, Printcap -- by default
/run/cups/printcap --, ServerKeychain) is in a temporary directory;
DataDir and ServerBin stay the system's (MIME types, filters, backends); it listens on
127.0.0.1 only, with no domain socket, Browsing Off and WebInterface No.  It does not read
or write /etc/cups, /run/cups or /var/spool/cups, and the system's cupsd (if any) is left
alone.  As root, cupsd runs its filters and backends as User lp / Group lp (it refuses User
root), with SystemGroup root (it must differ from Group).  The policy lets anyone on
127.0.0.1 administer it without authentication (DefaultAuthType None, no Require), so
lpadmin needs no local certificate.

Skipped, naming the Debian package, when cupsd, lpadmin, lp, lpstat or systemd-socket-activate is
missing; skipped with cupsd's own words when it will not start.
"""

import json
import os
import pwd
import grp
import shutil
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from tests.support import (FILES, client_env, fakecups_listener, free_port, json_records,
                           missing_reason, run_client, stop_process, wait_for_port, wait_until,
                           which)

TINY_PDF = FILES / "tiny.pdf"
START_TIMEOUT = 15        # seconds cupsd and the listener may take to accept connections
COMMAND_TIMEOUT = 60      # seconds lpadmin / lp may run
JOB_TIMEOUT = 60          # seconds for the job to reach fakecups's spool
needs_real_programs = ("cupsd", "lpadmin", "lp", "lpstat", "systemd-socket-activate")


def _missing():
    for program in ("cupsd", "lpadmin", "lp", "lpstat", "systemd-socket-activate"):
        if which(program) is None:
            return missing_reason(program)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("lp")
            grp.getgrnam("lp")
        except KeyError:
            return "cupsd started as root needs a user and a group 'lp' to run filters as"
    return None


CUPS_FILES_CONF = """\
ServerRoot {tmp}/root
RequestRoot {tmp}/spool
CacheDir {tmp}/cache
StateDir {tmp}/state
TempDir {tmp}/tmp
ErrorLog {tmp}/log/error_log
AccessLog {tmp}/log/access_log
PageLog {tmp}/log/page_log
Printcap {tmp}/printcap
ServerKeychain {tmp}/ssl
FileDevice No
Sandboxing Relaxed
{users}"""

ROOT_USERS = """\
User lp
Group lp
SystemGroup root
LogFileGroup root
"""

CUPSD_CONF = """\
LogLevel debug
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
Browsing Off
WebInterface No
DefaultAuthType None
DefaultEncryption Never
MaxLogSize 0
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""


@unittest.skipIf(_missing(), _missing() or "")
class CupsdQueue(unittest.TestCase):

    maxDiff = None

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="fakecups-cupsd-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o755)              # cupsd's User lp must reach its spool files
        for name in ("root", "spool", "cache", "state", "tmp", "log", "home", "fakecups-log"):
            (self.tmp / name).mkdir()
        os.chmod(self.tmp / "fakecups-log", 0o755)
        (self.tmp / "fakecups-state").mkdir()
        os.chmod(self.tmp / "fakecups-state", 0o777)     # fakecups makes its spool as nobody
        self.fake_spool = self.tmp / "fakecups-state" / "spool"
        self.fake_log = self.tmp / "fakecups-log" / "fakecups.log"
        self.cupsd = self.listener = None
        self.addCleanup(lambda: self.listener and self.listener.stop())
        self.addCleanup(lambda: stop_process(self.cupsd))
        self.env = client_env(self.tmp / "home", CUPS_STATEDIR=str(self.tmp / "state"),
                              CUPS_SERVERROOT=str(self.tmp / "root"))  # no /etc/cups/client.conf
        for name in ("PRINTER", "LPDEST"):
            self.env.pop(name, None)

    # ── the servers ──

    def start_cupsd(self):
        for _attempt in range(3):
            self.cups_port = free_port()
            (self.tmp / "cups-files.conf").write_text(CUPS_FILES_CONF.format(
                tmp=self.tmp, users=ROOT_USERS if os.geteuid() == 0 else ""))
            (self.tmp / "cupsd.conf").write_text(CUPSD_CONF.format(port=self.cups_port))
            with open(self.tmp / "cupsd.out", "ab") as out:
                self.cupsd = subprocess.Popen(
                    [which("cupsd"), "-f", "-c", str(self.tmp / "cupsd.conf"),
                     "-s", str(self.tmp / "cups-files.conf")],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=str(self.tmp),
                    env=dict(self.env, HOME=str(self.tmp / "home")))
            if wait_for_port(self.cups_port, START_TIMEOUT, self.cupsd):
                return
            code = self.cupsd.poll()
            stop_process(self.cupsd)
            if code is not None and "Address already in use" not in self.cupsd_said():
                break
        self.skipTest("cupsd will not start here: %s" % (self.cupsd_said().strip()[-500:]
                                                          or "no message"))

    def cupsd_said(self):
        said = ""
        for name in ("cupsd.out", "log/error_log"):
            try:
                said += (self.tmp / name).read_text(errors="replace")
            except FileNotFoundError:
                pass
        errors = [line for line in said.splitlines()
                  if not line.startswith(("D ", "d ", "I ", "i "))]
        return "\n".join(errors[-10:])

    def start_fakecups(self):
        self.listener = fakecups_listener(
            self.tmp, "--persona", "printer", "--printer", "office", "--spool", self.fake_spool,
            "--log", self.fake_log, "--format", "json", "--pages-per-minute", "0"
        ).start(START_TIMEOUT)
        self.fake_port = self.listener.port

    # ── what happened ──

    def run_client(self, *argv):
        result = run_client(argv, self.env, self.tmp, timeout=COMMAND_TIMEOUT)
        self.assertEqual(result.returncode, 0, "%s failed: %r %r\n%s" % (
            " ".join(argv), result.stdout, result.stderr, self.diagnostics()))
        return result

    def records(self):
        return json_records(self.fake_log)

    def jobs(self):
        """fakecups's job records (N.json) whose documents are all written."""
        found = []
        if not self.fake_spool.is_dir():
            return found
        for path in sorted(self.fake_spool.glob("*.json")):
            try:
                job = json.loads(path.read_text())
            except (OSError, ValueError):
                continue          # being replaced
            if job.get("documents") and job.get("state") in (7, 8, 9):
                found.append(job)
        return found

    def diagnostics(self):
        try:
            error_log = (self.tmp / "log" / "error_log").read_text(errors="replace")
        except FileNotFoundError:
            error_log = ""
        job_lines = [line for line in error_log.splitlines()
                     if "[Job " in line and not line.startswith("d ")][-40:]
        operations = [((r.get("ipp") or {}).get("operation"), r["response"].get("ipp_status"))
                      for r in self.records()]
        return ("fakecups operations: %r\nfakecups spool: %r\ncupsd error_log (job lines):\n%s"
                % (operations, sorted(os.listdir(self.fake_spool))
                   if self.fake_spool.is_dir() else None, "\n".join(job_lines)))

    def fetch_ppd(self, cups):
        """The queue's PPD, once cupsd has written it (404 until then; bounded)."""
        def fetch():
            try:
                with urllib.request.urlopen("http://%s/printers/q.ppd" % cups,
                                            timeout=COMMAND_TIMEOUT) as answer:
                    return answer.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                return None
        ppd = wait_until(fetch, COMMAND_TIMEOUT, 0.2)
        self.assertIsNotNone(ppd, "http://%s/printers/q.ppd still 404 after %d s"
                             % (cups, COMMAND_TIMEOUT))
        return ppd

    # ── the test ──

    def test_everywhere_queue_prints_to_fakecups(self):
        self.start_cupsd()
        self.start_fakecups()
        cups = "127.0.0.1:%d" % self.cups_port
        uri = "ipp://127.0.0.1:%d/ipp/print" % self.fake_port

        self.run_client("lpadmin", "-h", cups, "-p", "q", "-E", "-v", uri, "-m", "everywhere")
        # The queue exists, with a PPD made from fakecups's attributes (asked of cupsd: it
        # writes printers.conf and ppd/q.ppd into its ServerRoot when it gets round to it).
        devices = self.run_client("lpstat", "-h", cups, "-v", "q").stdout.decode()
        self.assertEqual(devices, "device for q: %s\n" % uri)
        ppd = self.fetch_ppd(cups)
        self.assertIn('*Manufacturer: "fakecups"', ppd)                 # printer-device-id
        self.assertRegex(ppd, r'\*NickName: ".* - IPP Everywhere"')
        self.assertIn('*cupsFilter2: "application/vnd.cups-pdf application/pdf', ppd)

        result = self.run_client("lp", "-h", cups, "-d", "q", str(TINY_PDF))
        self.assertRegex(result.stdout.decode(), r"^request id is q-\d+ \(1 file\(s\)\)")

        jobs = wait_until(self.jobs, JOB_TIMEOUT, 0.2)
        self.assertEqual(len(jobs), 1, "no finished job in fakecups's spool after %d s\n%s"
                         % (JOB_TIMEOUT, self.diagnostics()))
        job = jobs[0]
        self.assertEqual(job["state"], 9, job)                 # completed
        self.assertEqual(job["printer"], "office")
        self.assertEqual(len(job["documents"]), 1, job)
        document = job["documents"][0]
        # cupsd may pass the PDF through its filters (pdftopdf): a PDF, not the same bytes.
        self.assertEqual(document["document-format"], "application/pdf", job)
        self.assertGreater(document["bytes"], 0, job)
        data = (self.fake_spool / document["file"]).read_bytes()
        self.assertEqual(len(data), document["bytes"])
        self.assertTrue(data.startswith(b"%PDF-"), data[:64])
        self.assertIn(b"%%EOF", data[-64:])

        # fakecups's log: the attribute query behind -m everywhere (and the backend's), then
        # the job itself, all answered successful-ok.
        def operations():
            return [((r.get("ipp") or {}).get("operation"), r["response"]["ipp_status"])
                    for r in self.records() if r.get("ipp")]

        def job_sent():
            names = [name for name, _status in operations()]
            return "Print-Job" in names or ("Create-Job" in names and "Send-Document" in names)
        sent = wait_until(job_sent, 5, 0.1)
        operations = operations()
        names = [name for name, _status in operations]
        self.assertIn("Get-Printer-Attributes", names, operations)
        self.assertTrue(sent, operations)
        for name, status in operations:
            if name in ("Get-Printer-Attributes", "Print-Job", "Create-Job", "Send-Document"):
                self.assertEqual(status, "successful-ok", operations)
        agents = {dict((k.lower(), v) for k, v in r.get("headers") or ()).get("user-agent")
                  for r in self.records() if r.get("ipp")}
        self.assertTrue(all(agent and agent.startswith("CUPS/") for agent in agents), agents)


if __name__ == "__main__":
    unittest.main()
