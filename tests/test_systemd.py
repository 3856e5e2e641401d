"""The systemd deployment for real: systemd 252 boots as PID 1 in private namespaces, install.sh
--systemd runs inside it, and real clients talk to the socket unit it starts.

The private system (SystemdNamespace): `unshare --pid --fork --kill-child --mount --mount-proc
--propagation private --uts --ipc --net` runs SETUP as the new PID 1, which gives itself a tmpfs
/run holding overlay upper layers for /etc, /usr/local and /var (so useradd and install.sh write
there, never to the host), a tmpfs /etc/systemd/system with copies of the few stock units needed,
a default.target of our own and the fakecups units as DESTDIR staging made them; tmpfs /tmp,
/var/tmp, /var/log, /var/lib/systemd; a minimal /dev whose console is a pty this test reads; its
own machine-id.  It then moves into a fresh cgroup-v2 directory, unshares the cgroup namespace,
mounts a read-only sysfs with cgroup2 on /sys/fs/cgroup, and becomes systemd with
`env -i container=NAME SYSTEMD_UNIT_PATH=/etc/systemd/system` (no trailing ":": that is the only
unit path, so none of the host's units start).  Commands run inside with `nsenter -t PID -a`.
`systemctl poweroff` ends it in a fraction of a second; unshare --kill-child ends it whatever
happens to this process; the cgroup directories are removed afterwards.

Needs root, systemd, util-linux's unshare and nsenter, overlayfs and a writable cgroup2
hierarchy; skips, saying which, without them.  Run: python3 -m unittest tests.test_systemd
"""

import ast
import json
import os
import signal
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

from tests.support import which
from tests.test_install import LOG, REPO, run_install

SYSTEMD = "/lib/systemd/systemd"
needs_real_programs = ("systemd", "unshare", "nsenter", "systemctl", "journalctl")
STOCK_UNITS = ("sockets.target", "sysinit.target", "systemd-journald.service", "systemd-journald.socket",
               "systemd-journald-dev-log.socket", "poweroff.target", "systemd-poweroff.service",
               "shutdown.target", "final.target", "umount.target")
DEFAULT_TARGET = """[Unit]
Description=fakecups test system
Wants=sysinit.target sockets.target systemd-journald.socket systemd-journald-dev-log.socket
Wants=systemd-journald.service
AllowIsolate=yes
"""
SOURCES = ("install.sh", "fakecups.py", "default", "xinetd.d", "systemd", "contrib")
STATE = "/run/fakecups-test"            # inside: the overlays' upper layers, the sources
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
UNIT_DIR = "/etc/systemd/system"
FAKECUPS_UNITS = ("fakecups.socket", "fakecups@.service", "fakecups-browse.socket",
                  "fakecups-browse.service")
SOCKETS = ("fakecups.socket", "fakecups-browse.socket")

# PID 1 of the new PID namespace, before it becomes systemd.  $1: the host directory with units/
# and src/ (under /tmp, which is covered later: copied first); $2: the console pty; $3: a fresh
# cgroup-v2 directory (host path); $4: the container's name.
SETUP = r"""set -eu
host=$1 console=$2 cgroup=$3 name=$4
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
state=%(state)s
for dir in etc usr/local var; do
	mkdir -p "$state/upper/$dir" "$state/work/$dir"
	mount -t overlay overlay -o "lowerdir=/$dir,upperdir=$state/upper/$dir,workdir=$state/work/$dir" "/$dir"
done
mount -t tmpfs -o mode=0755 tmpfs %(units)s
cp -p "$host"/units/* %(units)s/
mkdir "$state/src"
cp -pR "$host/src/." "$state/src/"
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >/etc/machine-id
echo >>/etc/machine-id
: >"$state/console"
mount --bind "$console" "$state/console"
for dir in /tmp /var/tmp; do mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$dir"; done
for dir in /var/log /var/lib/systemd; do mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$dir"; done
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	IFS=: read -r node major minor <<EOF
$node
EOF
	mknod -m 0666 "/dev/$node" c "$major" "$minor"
done
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
ln -s fd/0 /dev/stdin; ln -s fd/1 /dev/stdout; ln -s fd/2 /dev/stderr
: >/dev/console
mount --bind "$state/console" /dev/console
mkdir "$cgroup"
echo 0 >"$cgroup/cgroup.procs"
exec unshare --cgroup sh -c '
	mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
	exec </dev/console >/dev/console 2>&1
	exec env -i container="$1" SYSTEMD_UNIT_PATH=%(units)s %(systemd)s
' sh "$name"
""" % {"state": STATE, "units": UNIT_DIR, "systemd": SYSTEMD}


def cgroup2_directory():
    """This process's cgroup-v2 directory on the host, or None: mount point + own path."""
    mount = None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" - ")
        if len(fields) == 2 and fields[1].split()[0] == "cgroup2":
            mount = fields[0].split()[4]
            break
    own = [line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::")]
    if mount is None or not own or not os.access(mount, os.W_OK):
        return None
    return os.path.join(mount, own[0].lstrip("/"))


def missing():
    """Why systemd cannot be booted here, or None."""
    if os.geteuid() != 0:
        return "needs root (unshare, mounts, a cgroup of its own)"
    if not os.access(SYSTEMD, os.X_OK):
        return "%s not found (apt-get install systemd)" % SYSTEMD
    for program in ("unshare", "nsenter", "systemctl", "journalctl", "ss"):
        if not which(program):
            return "%s not installed" % program
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "no overlayfs in this kernel"
    if cgroup2_directory() is None:
        return "no writable cgroup2 hierarchy"
    return None


class SystemdNamespace:
    """systemd as PID 1 of private namespaces (see the module's docstring)."""

    def __init__(self, units, sources, name="fakecups-test"):
        self.host = Path(tempfile.mkdtemp(prefix="fakecups-systemd-"))
        self.cgroup = os.path.join(cgroup2_directory(), "%s-%d" % (name, os.getpid()))
        self.name = name
        self.proc = None
        self.pid = None
        self.console = []
        (self.host / "units").mkdir()
        for unit in units:
            shutil.copy2(unit, self.host / "units")
        (self.host / "units" / "default.target").write_text(DEFAULT_TARGET)
        (self.host / "src").mkdir()
        for source in sources:
            copy = shutil.copytree if source.is_dir() else shutil.copy2
            copy(source, self.host / "src" / source.name)
        (self.host / "setup.sh").write_text(SETUP)

    def boot(self, seconds=20, limit=180):
        """Start it; whatever happens, it is killed after limit seconds (every later command
        inside then fails at once)."""
        master, slave = os.openpty()
        self.master = master
        threading.Thread(target=self.read_console, daemon=True).start()
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--propagation",
             "private", "--uts", "--ipc", "--net", "sh", str(self.host / "setup.sh"), str(self.host),
             os.ttyname(slave), self.cgroup, self.name],
            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.watchdog = threading.Timer(limit, self.kill)
        self.watchdog.daemon = True
        self.watchdog.start()
        deadline = time.monotonic() + seconds
        while self.pid is None and time.monotonic() < deadline and self.proc.poll() is None:
            try:
                children = Path("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)).read_text()
                self.pid = int(children.split()[0]) if children.strip() else None
            except OSError:
                pass
            time.sleep(0.01)
        state = ""
        while time.monotonic() < deadline and self.proc.poll() is None and self.pid is not None:
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return state
            time.sleep(0.05)
        raise AssertionError("systemd did not come up (%r): %s" % (state, self.console_text()[-3000:]))

    def kill(self):
        """SIGKILL to unshare's process group; --kill-child takes PID 1, and with it the rest."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def read_console(self):
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.console.append(data)

    def console_text(self):
        return b"".join(self.console).decode("utf-8", "replace")

    def run(self, *argv, check=True, timeout=60, input=None, env=()):
        """argv inside every namespace of the system, with a clean environment."""
        result = subprocess.run(["nsenter", "-t", str(self.pid), "-a", "env", "-i", "PATH=" + PATH,
                                 "HOME=/tmp", "LANG=C.UTF-8", *env, *argv],
                                capture_output=True, text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), result.returncode,
                                                        result.stdout, result.stderr))
        return result

    def python(self, code, *args, **kwargs):
        return self.run("/usr/bin/python3", "-I", "-c", code, *args, **kwargs)

    def stop(self):
        """Power off (or kill), then remove the cgroup directories and the host directory."""
        started = time.monotonic()
        try:
            if self.proc is not None and self.proc.poll() is None:
                if self.pid is not None:
                    try:
                        self.run("systemctl", "poweroff", check=False, timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.kill()
                    self.proc.wait(10)
        finally:
            self.stopped_in = time.monotonic() - started
            if getattr(self, "watchdog", None) is not None:
                self.watchdog.cancel()
            for _ in range(50):
                try:
                    for root, _dirs, _files in os.walk(self.cgroup, topdown=False):
                        os.rmdir(root)
                    break
                except FileNotFoundError:
                    break
                except OSError:                           # a process still being torn down
                    time.sleep(0.1)
            if getattr(self, "master", None) is not None:
                os.close(self.master)
                self.master = None
            shutil.rmtree(self.host, ignore_errors=True)


# Inside: hold a connection to port 631 open while its fakecups@ instance (named after the
# connection's addresses: fakecups@N-127.0.0.1:631-127.0.0.1:PORT.service) is looked at.
INSPECT_INSTANCE = r"""
import json, socket, subprocess, sys, time
held = socket.create_connection(("127.0.0.1", 631), timeout=10)
ours = "-127.0.0.1:%d.service" % held.getsockname()[1]
deadline, pid = time.monotonic() + 10, 0
while not pid and time.monotonic() < deadline:
    units = [unit for unit in subprocess.run(
        ["systemctl", "list-units", "--plain", "--no-legend", "--state=running", "fakecups@*"],
        capture_output=True, text=True).stdout.split() if unit.endswith(ours)]
    if units:
        pid = int(subprocess.run(["systemctl", "show", "-p", "MainPID", "--value", units[0]],
                                 capture_output=True, text=True).stdout)
    time.sleep(0.05)
status = dict(line.split(":\t", 1) for line in open("/proc/%d/status" % pid).read().splitlines()
              if ":\t" in line)
cmdline = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
print(json.dumps({"unit": units[0], "status": status, "cmdline": [a.decode() for a in cmdline if a]}))
held.close()
"""

# Inside: N connections opened and closed as fast as they go, as a connect scan does.
BURST = r"""
import socket, sys, time
started, refused = time.monotonic(), 0
for _ in range(int(sys.argv[1])):
    try:
        socket.create_connection(("127.0.0.1", 631), timeout=5).close()
    except ConnectionRefusedError:
        refused += 1
print(refused, round(time.monotonic() - started, 2))
"""

# Inside: one request, everything until EOF (or a reset), printed as repr.
EXCHANGE = r"""
import socket, sys
data = b""
with socket.create_connection(("127.0.0.1", 631), timeout=20) as sock:
    try:
        sock.sendall(sys.argv[1].encode().replace(b"|", b"\r\n"))
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
print(repr(data))
"""
OPTIONS = "OPTIONS / HTTP/1.1|Host: localhost|Connection: close||"


@unittest.skipIf(missing(), missing())
class SystemdTest(unittest.TestCase):
    """install.sh --systemd inside a booted systemd, the staged units already in its unit path."""

    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        stage = Path(tempfile.mkdtemp(prefix="fakecups-stage-"))
        cls.addClassCleanup(shutil.rmtree, stage, True)
        staged = run_install(env={"DESTDIR": str(stage / "root")})
        if staged.returncode != 0:
            raise AssertionError("staging failed: " + staged.stdout + staged.stderr)
        cls.staged_units = {name: (stage / "root" / UNIT_DIR.lstrip("/") / name).read_bytes()
                            for name in FAKECUPS_UNITS}
        units = [Path("/lib/systemd/system") / name for name in STOCK_UNITS]
        units += [stage / "root" / UNIT_DIR.lstrip("/") / name for name in FAKECUPS_UNITS]
        cls.system = SystemdNamespace(units, [REPO / name for name in SOURCES])
        cls.addClassCleanup(cls.report_time)
        cls.addClassCleanup(cls.system.stop)
        cls.system.boot()
        cls.booted_in = time.monotonic() - cls.started
        cls.before = cls.changed_files()
        cls.installed = cls.install("--systemd")

    @classmethod
    def report_time(cls):
        sys.stderr.write(" [systemd: booted in %.1f s, all done in %.1f s, powered off in %.1f s] "
                         % (cls.booted_in, time.monotonic() - cls.started, cls.system.stopped_in))

    @classmethod
    def install(cls, *args):
        result = cls.system.run("sh", STATE + "/src/install.sh", *args, check=False, timeout=120)
        if result.returncode != 0:
            raise AssertionError("install.sh %s: exit %d\n%s%s" % (" ".join(args), result.returncode,
                                                                    result.stdout, result.stderr))
        return result

    @classmethod
    def changed_files(cls):
        """Every path the overlays' upper layers hold, and every file in the unit directory."""
        found = cls.system.run("find", STATE + "/upper", UNIT_DIR, "-mindepth", "1", "-printf",
                               "%p %y\n").stdout.split("\n")
        return dict(line.rsplit(" ", 1) for line in found if line)

    def run_in(self, *argv, **kwargs):
        return self.system.run(*argv, **kwargs)

    def exchange(self, text=OPTIONS):
        return ast.literal_eval(self.system.python(EXCHANGE, text).stdout)   # repr of bytes

    def wait_for_instances_to_end(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.run_in("systemctl", "list-units", "--plain", "--no-legend", "--all",
                               "fakecups@*").stdout.strip():
                return
            time.sleep(0.1)
        self.fail("fakecups@ instances still there after %d s" % seconds)

    def assert_serving(self):
        for unit in SOCKETS:
            self.assertEqual(self.run_in("systemctl", "is-enabled", unit).stdout.strip(), "enabled")
            self.assertEqual(self.run_in("systemctl", "is-active", unit).stdout.strip(), "active")
        for protocol in ("-t", "-u"):                          # TCP and UDP 631, held by PID 1
            listening = self.run_in("ss", "-Hlnp", protocol, "sport = :631").stdout
            self.assertIn('("systemd",pid=1,', listening)
        self.assertTrue(self.exchange().startswith(b"HTTP/1.1 200 OK\r\n"))

    # ── the checks ───────────────────────────────────────────────────────────────────────

    def test_install_starts_the_socket_and_self_checks(self):
        out = self.installed.stdout
        for unit in SOCKETS:
            self.assertIn("+ systemctl enable %s\n" % unit, out)
            self.assertIn("+ systemctl start %s\n" % unit, out)
        self.assertNotIn("daemon-reload", out)           # the staged units were already in place
        self.assertRegex(out, r"self-check: 127\.0\.0\.1:631 answered CUPS-Get-Printers \(IPP status "
                              r"0x0406\); %s has its record \(User-Agent: fakecups-install/" % re.escape(LOG))
        self.assertRegex(out, r"self-check: UDP 127\.0\.0\.1:631: the browse-packet sensor recorded "
                              r"the datagram 'fakecups-install/")
        for name, data in self.staged_units.items():     # DESTDIR staged what install installs
            self.assertEqual(self.run_in("cat", UNIT_DIR + "/" + name).stdout.encode(), data)
        self.assert_serving()
        again = self.install("--systemd")
        self.assertIn("nothing to do", again.stdout)

    def test_real_lpstat(self):
        lpstat = which("lpstat")
        if not lpstat:
            self.skipTest("lpstat not installed (apt-get install cups-client)")
        result = self.run_in(lpstat, "-v", check=False)
        self.assertEqual((result.returncode, result.stdout, result.stderr),
                         (1, "", "lpstat: No destinations added.\n"))
        deadline = time.monotonic() + 10
        while "CUPS-Get-Printers" not in self.run_in("tail", "-n", "40", LOG).stdout:
            self.assertLess(time.monotonic(), deadline, "no lpstat record in " + LOG)
            time.sleep(0.1)
        self.assertRegex(self.run_in("cat", LOG).stdout, r"\n    User-Agent: CUPS/2\.\d")

    def test_instance_runs_unprivileged_and_filtered(self):
        seen = json.loads(self.system.python(INSPECT_INSTANCE).stdout)
        uid = self.run_in("id", "-u", "fakecups").stdout.strip()
        status = seen["status"]
        self.assertEqual(seen["cmdline"][-1], "/usr/local/sbin/fakecups")
        self.assertEqual(status["Uid"].split(), [uid] * 4)
        for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(status[caps], 16), 0, caps)
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertEqual(status["Seccomp"], "2")            # a filter
        self.assertGreaterEqual(int(status.get("Seccomp_filters", "1")), 1)

    def test_burst_does_not_fail_the_socket(self):
        """More triggers than systemd's default limit (200 in 2 s), which would fail the unit."""
        self.addCleanup(self.wait_for_instances_to_end)     # the other tests want a quiet socket
        accepted = self.socket_property("NAccepted")
        dropped = self.journal_count("dropping connection")
        refused, seconds = self.system.python(BURST, "250", timeout=120).stdout.split()
        self.assertEqual(refused, "0")
        self.assertLess(float(seconds), 2.0)
        # every connection triggers the socket: it starts an instance, or, past MaxConnections or
        # MaxConnectionsPerSource, is closed at once ("dropping connection")
        deadline = time.monotonic() + 30
        while True:
            served = int(self.socket_property("NAccepted")) - int(accepted)
            closed = self.journal_count("dropping connection") - dropped
            if served + closed >= 250 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(served + closed, 250, (served, closed))
        self.wait_for_instances_to_end()
        self.assertGreater(served, 0)
        sys.stderr.write(" [burst: 250 connections in %s s: %d served, %d closed at the limit] "
                         % (seconds, served, closed))
        self.assertEqual(self.socket_property("ActiveState"), "active")
        self.assertEqual(self.socket_property("Result"), "success")   # not trigger-limit-hit
        self.assertTrue(self.exchange().startswith(b"HTTP/1.1 200 OK\r\n"))

    def socket_property(self, name):
        return self.run_in("systemctl", "show", "-p", name, "--value", "fakecups.socket").stdout.strip()

    def journal_count(self, text):
        return self.run_in("journalctl", "--no-pager", "-o", "cat", "-u", "fakecups.socket").stdout.count(text)

    def edit_options(self, value):
        """Hand-edit FAKECUPS_OPTIONS (systemd reads it at every connection); undone afterwards."""
        path = "/etc/default/fakecups"
        text = self.run_in("cat", path).stdout
        self.addCleanup(self.run_in, "sh", "-c", 'cat >"$1"', "sh", path, input=text)
        edited = re.sub(r'(?m)^FAKECUPS_OPTIONS=.*$', 'FAKECUPS_OPTIONS="%s"' % value, text)
        self.run_in("sh", "-c", 'cat >"$1"', "sh", path, input=edited)

    def journal(self, text, seconds=10):
        """Journal entries (as JSON objects) whose MESSAGE contains text."""
        deadline = time.monotonic() + seconds
        while True:
            lines = self.run_in("journalctl", "--no-pager", "-o", "json", "--output-fields",
                                "MESSAGE,_TRANSPORT,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT").stdout.splitlines()
            found = [entry for entry in map(json.loads, lines) if text in str(entry.get("MESSAGE"))]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def test_log_error_reaches_the_journal(self):
        """A log fakecups cannot open: the client is answered; the error and the record go to
        syslog, i.e. the journal."""
        self.edit_options("--log /nonexistent/fakecups.log")
        self.assertTrue(self.exchange().startswith(b"HTTP/1.1 200 OK\r\n"))
        found = self.journal("cannot open log /nonexistent/fakecups.log")
        self.assertTrue(found, self.run_in("journalctl", "--no-pager", "-n", "30").stdout)
        self.assertEqual(found[0].get("SYSLOG_IDENTIFIER"), "fakecups")

    def test_stderr_reaches_the_journal(self):
        """StandardError=journal: what fakecups writes on stderr (here: a bad option in the
        default file) reaches the journal through fd 2, and never the client."""
        self.edit_options("--no-such-option")
        self.assertEqual(self.exchange(), b"")
        found = self.journal("unknown option")
        self.assertTrue(found, "nothing on fakecups's stderr reached the journal: "
                        + self.run_in("journalctl", "--no-pager", "-n", "30").stdout)
        self.assertEqual(found[0].get("_TRANSPORT"), "stdout")   # the stream on fd 2
        self.assertRegex(found[0].get("_SYSTEMD_UNIT", ""), r"^fakecups@.*\.service$")

    def test_options_reach_the_service(self):
        lpstat = which("lpstat")
        if not lpstat:
            self.skipTest("lpstat not installed (apt-get install cups-client)")
        self.addCleanup(self.run_in, "sh", "-c", "rm -rf /var/spool/fakecups/*")   # no jobs kept
        self.addCleanup(self.install, "--systemd", "--reset-options")
        result = self.install("--systemd", "--persona", "printer", "--printer", "office")
        self.assertIn("service options: --persona printer --printer office", result.stdout)
        self.assertNotIn("systemctl", result.stdout)          # systemd reads the file itself
        self.assertEqual(self.run_in("stat", "-c", "%U %a", "/var/spool/fakecups").stdout, "fakecups 750\n")
        listed = self.run_in(lpstat, "-v", check=False)
        self.assertEqual(listed.stdout, "device for office: ///dev/null\n", listed.stderr)
        printed = self.run_in("lp", "-d", "office", input="hello from the namespace\n", check=False)
        self.assertRegex(printed.stdout, r"request id is office-\d+", printed.stderr)
        self.assertIn("hello from the namespace", self.run_in("sh", "-c", "cat /var/spool/fakecups/*.data").stdout)

    def test_uninstall_leaves_nothing_then_install_from_scratch(self):
        removed = self.install("--uninstall")
        for unit in SOCKETS:
            self.assertIn("+ systemctl disable --now %s\n" % unit, removed.stdout)
        self.wait_for_instances_to_end()
        self.assertEqual(self.run_in("systemctl", "list-units", "--all", "--plain", "--no-legend",
                                     "fakecups*").stdout, "")
        self.assertEqual(self.run_in("systemctl", "list-unit-files", "--no-legend", "fakecups*",
                                     check=False).stdout.strip(), "")
        self.assertEqual(self.run_in("ss", "-Hltun", "sport = :631").stdout, "")
        now = self.changed_files()
        added = {path: kind for path, kind in now.items() if path not in self.before}
        user_db = {STATE + "/upper/etc/" + name for name in
                   ("passwd", "passwd-", "group", "group-", "shadow", "shadow-", "gshadow", "gshadow-",
                    ".pwd.lock", "subuid", "subuid-", "subgid", "subgid-")}
        left = {}
        for path, kind in added.items():
            lower = path[len(STATE + "/upper"):] if path.startswith(STATE + "/upper/") else None
            if path in user_db or (kind == "d" and lower and os.path.isdir(lower)):
                continue                        # the kept user; a host directory copied up
            left[path] = kind
        self.assertEqual(left, {}, "left behind (the user fakecups stays, as documented)")
        gone = {path for path in self.before if path not in now}
        self.assertEqual(gone, {UNIT_DIR + "/" + name for name in FAKECUPS_UNITS})
        self.assertTrue(self.run_in("test", "-d", "/var/log/fakecups", check=False).returncode == 0)
        # and back: this time install.sh writes the units itself
        again = self.install("--systemd")
        self.assertIn("+ systemctl daemon-reload\n", again.stdout)
        self.assert_serving()


if __name__ == "__main__":
    unittest.main()
