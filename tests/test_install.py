"""Deployment: install.sh, the xinetd stanza, the systemd units, the logrotate and rsyslog snippets.

What runs for real: install.sh itself (DESTDIR staging; the root path with every file under a
temporary FAKECUPS_ROOT and every service command replaced by a recording stub first on PATH), a
real xinetd and systemd-socket-activate serving the staged launcher and module on a free loopback
port to the real lpstat, and two real rsyslogd processes running the shipped rsyslog snippets.
Nothing here touches /etc, /usr/local, /var or a real service.  A test whose tool is missing
skips and names it.  Run: python3 -m unittest tests.test_install
"""

import concurrent.futures
import grp
import json
import marshal
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

from tests.support import (free_port, long_running, needs_real_programs, stop_process,
                           wait_for_port, wait_until, which as tool)

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "install.sh"
STANZA = REPO / "xinetd.d" / "fakecups"
SOCKET_UNIT = REPO / "systemd" / "fakecups.socket"
SERVICE_UNIT = REPO / "systemd" / "fakecups@.service"
RSYSLOG_CONF = REPO / "contrib" / "rsyslog-fakecups.conf"
LOGROTATE = REPO / "contrib" / "logrotate-fakecups"
CAPTURE = REPO / "tests" / "captures" / "empty" / "lpstat-v" / "client.bin"

LIBDIR = "/usr/local/lib/fakecups"
LAUNCHER = "/usr/local/sbin/fakecups"
LOG = "/var/log/fakecups/fakecups.log"
INSTALLED = {  # path → mode, for each mode of install
    "xinetd": {LIBDIR + "/fakecups.py": 0o644, LAUNCHER: 0o755, "/etc/default/fakecups": 0o644,
               "/etc/logrotate.d/fakecups": 0o644, "/etc/xinetd.d/fakecups": 0o644,
               "/etc/xinetd.d/fakecups-browse": 0o644},
    "systemd": {LIBDIR + "/fakecups.py": 0o644, LAUNCHER: 0o755, "/etc/default/fakecups": 0o644,
                "/etc/logrotate.d/fakecups": 0o644,
                "/etc/systemd/system/fakecups.socket": 0o644,
                "/etc/systemd/system/fakecups@.service": 0o644,
                "/etc/systemd/system/fakecups-browse.socket": 0o644,
                "/etc/systemd/system/fakecups-browse.service": 0o644},
}
IS_ROOT = os.geteuid() == 0
NOBODY = pwd.getpwnam("nobody")
OPTIONS_REQUEST = b"OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
TEST_ENV_NAMES = ("DESTDIR", "FAKECUPS_ROOT", "FAKECUPS_PYTHON", "FAKECUPS_CHECK_PORT",
                  "CUPS_SERVER", "LOGS_DIRECTORY")


def run_install(*args, env=None, timeout=120, prefix=(), script=INSTALL):
    """sh install.sh ARGS with a clean environment plus ENV; returns CompletedProcess (text)."""
    full = {k: v for k, v in os.environ.items() if k not in TEST_ENV_NAMES}
    full.update(env or {})
    return subprocess.run([*prefix, "sh", str(script), *args], env=full, capture_output=True,
                          text=True, timeout=timeout, cwd="/")


def tempdir(test, mode=0o755):
    path = Path(tempfile.mkdtemp(prefix="fakecups-test-"))
    path.chmod(mode)
    test.addCleanup(shutil.rmtree, path, True)
    return path


def start(test, argv, **kwargs):
    proc = subprocess.Popen(argv, **kwargs)
    test.addCleanup(stop_process, proc)
    return proc


def http_exchange(port, request=OPTIONS_REQUEST, timeout=30.0):
    """Send REQUEST on a new connection to 127.0.0.1:port, return everything until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while len(data) < 1 << 20:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def wait_for_record(path, text, seconds=10.0):
    """The log's text once it contains text (a record is written when its connection ends)."""
    def log():
        return path.read_text() if path.exists() else ""
    wait_until(lambda: text in log(), seconds, 0.05)
    return log()


def snapshot(root):
    """{relative path: (mode, size, mtime_ns)} of everything under root."""
    found = {}
    for path in sorted(Path(root).rglob("*")):
        st = path.lstat()
        found[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


def source_copy(test):
    """install.sh in a copy of the source tree (without .git and tests/) in a 0755
    directory: another user (nobody) cannot read a checkout under a 0700 directory, such as
    a clone made in `mktemp -d`."""
    copy = tempdir(test) / "src"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".git", "tests", "__pycache__"))
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return copy / INSTALL.name


def stage(test, *args):
    """DESTDIR=<temp> sh install.sh ARGS; returns the staging directory."""
    destdir = tempdir(test) / "stage"
    result = run_install(*args, env={"DESTDIR": str(destdir)})
    test.assertEqual(result.returncode, 0, result.stdout + result.stderr)
    return destdir


def mapped_launcher(test, destdir, where):
    """The staged launcher, with its module path pointing into the staging directory."""
    text = (destdir / LAUNCHER.lstrip("/")).read_text()
    test.assertIn('"%s"' % LIBDIR, text)
    path = Path(where) / "fakecups-launcher"
    path.write_text(text.replace('"%s"' % LIBDIR, '"%s%s"' % (destdir, LIBDIR)))
    path.chmod(0o755)
    return path


def unit_values(path):
    """{key: [values]} over all sections of a systemd unit file."""
    values = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def stanza_values(text):
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def rsyslog_snippet(name):
    """One part of the rsyslog file, cut out with the command its comments give."""
    command = "sed -n '/^# >>> %s/,/^# <<< %s/p' rsyslog-fakecups.conf" % (name, name)
    assert command in RSYSLOG_CONF.read_text(), command
    return subprocess.run(["sed", "-n", "/^# >>> %s/,/^# <<< %s/p" % (name, name), str(RSYSLOG_CONF)],
                          capture_output=True, text=True, check=True, timeout=30).stdout


# ── the script itself ────────────────────────────────────────────────────────────────────


class ScriptTest(unittest.TestCase):
    @needs_real_programs("shellcheck")
    def test_shellcheck_clean(self):
        if not tool("shellcheck"):
            self.skipTest("shellcheck is not installed (apt-get install shellcheck)")
        result = subprocess.run(["shellcheck", "-s", "sh", str(INSTALL)], capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_posix_sh_parses_and_runs_nothing_before_main(self):
        result = subprocess.run(["sh", "-n", str(INSTALL)], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = [line for line in INSTALL.read_text().splitlines() if line.strip()]
        self.assertEqual(lines[-1], 'main "$@"')
        self.assertIn("set -eu", lines[:30])

    def test_help(self):
        result = run_install("--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("--uninstall", result.stdout)
        self.assertIn("--dry-run", result.stdout)

    def test_unknown_flag_exits_2(self):
        for args in (["--frobnicate"], ["--dry-run", "-x"], ["--xinetd", "--systemd"]):
            result = run_install(*args)
            self.assertEqual(result.returncode, 2, (args, result.stdout, result.stderr))
            self.assertIn("install.sh:", result.stderr)

    def test_refuses_non_root_without_dry_run_or_destdir(self):
        prefix, script = (), INSTALL
        if IS_ROOT:
            if not tool("setpriv"):
                self.skipTest("running as root and setpriv is missing: cannot run as a non-root user")
            prefix = ("setpriv", "--reuid=%d" % NOBODY.pw_uid, "--regid=%d" % NOBODY.pw_gid,
                      "--clear-groups", "--")
            script = source_copy(self)
        for args in ([], ["--uninstall"], ["--systemd"]):
            result = run_install(*args, prefix=prefix, script=script)
            self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
            self.assertIn("run as root", result.stderr)
            self.assertNotIn("+ ", result.stdout)
        # as the same user, DESTDIR staging works and --dry-run changes nothing
        destdir = tempdir(self, 0o777)
        result = run_install(env={"DESTDIR": str(destdir / "d")}, prefix=prefix, script=script)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertTrue((destdir / "d" / LAUNCHER.lstrip("/")).is_file())
        result = run_install("--dry-run", env={"DESTDIR": str(destdir / "e")}, prefix=prefix,
                             script=script)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertFalse((destdir / "e").exists())


# ── DESTDIR staging ──────────────────────────────────────────────────────────────────────


@long_running(3)
class StagingTest(unittest.TestCase):
    def check_staged(self, destdir, mode):
        expected = {**INSTALLED["xinetd"], **INSTALLED["systemd"]}   # both, whatever the mode
        for path, file_mode in expected.items():
            staged = destdir / path.lstrip("/")
            self.assertTrue(staged.is_file(), path)
            self.assertEqual(staged.stat().st_mode & 0o7777, file_mode, path)
        # nothing else but the byte-compiled module and the (empty) log directory
        files = {"/" + str(p.relative_to(destdir)) for p in destdir.rglob("*") if p.is_file()}
        pycs = {f for f in files if "/__pycache__/" in f}
        self.assertEqual(files - pycs, set(expected))
        self.assertEqual(len(pycs), 1, pycs)
        logdir = destdir / "var/log/fakecups"
        self.assertEqual(logdir.stat().st_mode & 0o7777, 0o750)
        # contents: copies of the sources; the stanza minus the IPv6 flag on a host without IPv6
        lib = destdir / LIBDIR.lstrip("/")
        self.assertEqual((lib / "fakecups.py").read_bytes(), (REPO / "fakecups.py").read_bytes())
        self.assertEqual((destdir / "etc/logrotate.d/fakecups").read_bytes(), LOGROTATE.read_bytes())
        self.assertEqual((destdir / "etc/default/fakecups").read_bytes(),
                         (REPO / "default" / "fakecups").read_bytes())
        stanza = (destdir / "etc/xinetd.d/fakecups").read_text()
        if os.path.exists("/proc/net/if_inet6"):
            self.assertEqual(stanza, STANZA.read_text())
        else:
            self.assertNotIn("IPv6", stanza_values(stanza).get("flags", ""))
        for unit in (SOCKET_UNIT, SERVICE_UNIT):
            self.assertEqual((destdir / "etc/systemd/system" / unit.name).read_bytes(),
                             unit.read_bytes())
        # the launcher: a real interpreter, isolated mode, the module path inserted explicitly
        lines = (destdir / LAUNCHER.lstrip("/")).read_text().splitlines()
        self.assertEqual(len(lines), 2, lines)
        interpreter, _, flags = lines[0][2:].partition(" ")
        self.assertTrue(lines[0].startswith("#!/"), lines[0])
        self.assertEqual(flags, "-IS")
        self.assertNotIn("env", os.path.basename(interpreter))
        self.assertNotIn("shims", interpreter)
        with open(os.path.realpath(interpreter), "rb") as binary:
            self.assertEqual(binary.read(4), b"\x7fELF", "%s is not an executable binary" % interpreter)
        self.assertEqual(lines[1], 'import os, sys; sys.path.insert(0, "%s"); import fakecups; '
                                   'os._exit(fakecups.main(sys.argv[1:]))' % LIBDIR)
        # the bytecode is for that interpreter and names the installed path, not the staging one
        tag = subprocess.run([interpreter, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
                             capture_output=True, text=True, check=True).stdout.strip()
        pyc = lib / "__pycache__" / ("fakecups.%s.pyc" % tag)
        self.assertTrue(pyc.is_file(), sorted(pycs))
        self.assertEqual(pyc.stat().st_mode & 0o777, 0o644)
        self.assertEqual(marshal.loads(pyc.read_bytes()[16:]).co_filename, LIBDIR + "/fakecups.py")
        # and the staging directory appears in no file at all
        for path in destdir.rglob("*"):
            if path.is_file():
                self.assertNotIn(str(destdir).encode(), path.read_bytes(), path)

    def test_xinetd_stage_second_run_and_uninstall(self):
        destdir = stage(self, "--xinetd")
        self.check_staged(destdir, "xinetd")
        before = snapshot(destdir)
        again = run_install("--xinetd", env={"DESTDIR": str(destdir)})
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("nothing to do", again.stdout)
        self.assertEqual(snapshot(destdir), before)
        self.assertNotIn("useradd", again.stdout)
        removed = run_install("--uninstall", env={"DESTDIR": str(destdir)})
        self.assertEqual(removed.returncode, 0, removed.stderr)
        left = [p for p in destdir.rglob("*") if not p.is_dir()]
        self.assertEqual(left, [])
        self.assertFalse((destdir / LIBDIR.lstrip("/")).exists())
        self.assertIn("kept", removed.stdout)          # the log directory holds evidence
        self.assertTrue((destdir / "var/log/fakecups").is_dir())
        again = run_install("--uninstall", env={"DESTDIR": str(destdir)})
        self.assertIn("nothing to remove", again.stdout)

    def test_systemd_stage(self):
        destdir = stage(self, "--systemd")
        self.check_staged(destdir, "systemd")
        before = snapshot(destdir)                   # the same files, whichever mode is named
        other = run_install("--xinetd", env={"DESTDIR": str(destdir)})
        self.assertEqual(other.returncode, 0, other.stderr)
        self.assertIn("nothing to do", other.stdout)
        self.assertEqual(snapshot(destdir), before)

    def test_changed_source_is_replaced_and_recompiled(self):
        destdir = stage(self, "--xinetd")
        installed = destdir / LIBDIR.lstrip("/") / "fakecups.py"
        installed.write_text("# edited by hand\n")
        installed.chmod(0o600)
        result = run_install("--xinetd", env={"DESTDIR": str(destdir)})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("replace", result.stdout)
        self.assertIn("py_compile", result.stdout)
        self.check_staged(destdir, "xinetd")

    def test_dry_run_writes_nothing(self):
        destdir = tempdir(self)
        for args in (["--dry-run"], ["--dry-run", "--systemd"], ["--dry-run", "--uninstall"]):
            result = run_install(*args, env={"DESTDIR": str(destdir / "stage")})
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertIn("nothing was changed", result.stdout)
            self.assertEqual(list(destdir.iterdir()), [], args)
        created = run_install("--dry-run", env={"DESTDIR": str(destdir / "stage")}).stdout
        for path in INSTALLED["xinetd"]:
            self.assertIn(path, created)
        # over an existing install, too
        staged = stage(self)
        before = snapshot(staged)
        result = run_install("--dry-run", "--uninstall", env={"DESTDIR": str(staged)})
        self.assertIn("would run: rm -f %s%s" % (staged, LAUNCHER), result.stdout)
        self.assertEqual(snapshot(staged), before)

    def test_no_python_is_a_clear_error(self):
        destdir = tempdir(self)
        result = run_install(env={"DESTDIR": str(destdir / "s"),
                                  "FAKECUPS_PYTHON": str(Path(sys.prefix) / "nonexistent")})
        self.assertEqual(result.returncode, 1)
        self.assertIn("python3", result.stderr)
        shim = destdir / "python3"
        shim.write_text("#!/bin/sh\nexec python3 \"$@\"\n")
        shim.chmod(0o755)
        result = run_install(env={"DESTDIR": str(destdir / "s"), "FAKECUPS_PYTHON": str(shim)})
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertFalse((destdir / "s" / LAUNCHER.lstrip("/")).exists())


# ── the root path, with stubs for every service command ──────────────────────────────────

STUB = r'''#!%(python)s -I
import json, os, sys
name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
state = os.environ["STUB_STATE"]
with open(os.path.join(state, "calls"), "a") as log:
    log.write(json.dumps([name] + args) + "\n")
units_file = os.path.join(state, "units.json")
units = json.load(open(units_file)) if os.path.exists(units_file) else {}
if name == "systemctl":
    verb, names = args[0], [a for a in args[1:] if not a.startswith("-")]
    if verb == "is-active":
        active = units.get(names[0], {}).get("active", "inactive")
        print(active)
        sys.exit(0 if active == "active" else 3)
    if verb == "is-enabled":
        if names[0] not in units:
            sys.stderr.write("Failed to get unit file state for %%s\n" %% names[0])
            sys.exit(1)
        print(units[names[0]]["enabled"])
        sys.exit(0 if units[names[0]]["enabled"] == "enabled" else 1)
    for unit in names:
        entry = units.setdefault(unit, {"active": "inactive", "enabled": "disabled"})
        if verb in ("start", "restart") or (verb == "enable" and "--now" in args):
            entry["active"] = "active"
        if verb == "stop" or (verb == "disable" and "--now" in args):
            entry["active"] = "inactive"
        if verb in ("enable", "disable"):
            entry["enabled"] = verb + "d"
    json.dump(units, open(units_file, "w"))
elif name == "getent":
    path = os.path.join(state, "user-" + args[-1])
    if not os.path.exists(path):
        sys.exit(2)
    print(args[-1] + ":x:" + open(path).read().strip() + "::/nonexistent:/usr/sbin/nologin")
elif name in ("useradd", "adduser"):
    with open(os.path.join(state, "user-" + args[-1]), "w") as user:
        user.write("%(uid)d:%(gid)d")
elif name == "service":                       # SysV: the init script's status reads this
    running = os.path.join(state, "running-" + args[0])
    if args[1] == "start":
        open(running, "w").close()
    elif args[1] == "stop" and os.path.exists(running):
        os.unlink(running)
elif name == "update-rc.d":                   # Debian's way: S links become K links and back
    import glob
    old, new = ("S", "K") if args[1] == "disable" else ("K", "S")
    pattern = os.environ["FAKECUPS_ROOT"] + "/etc/rc[0-6S].d/%%s[0-9][0-9]%%s" %% (old, args[0])
    for link in glob.glob(pattern):
        os.rename(link, os.path.join(os.path.dirname(link), new + os.path.basename(link)[1:]))
elif name == "ss":
    path = os.path.join(state, "ss")
    if os.path.exists(path):
        sys.stdout.write(open(path).read())
'''
STUB_NAMES = ("systemctl", "service", "update-rc.d", "chkconfig", "useradd", "adduser", "getent",
              "ss", "xinetd")
QUERIES = {("systemctl", "is-active"), ("systemctl", "is-enabled"), ("getent", "passwd"),
           ("ss", "-Hltunp")}


class MiniInetd:
    """Accepts on 127.0.0.1:port and runs one command per connection on it, like xinetd."""

    def __init__(self, test, argv):
        self.argv = argv
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        test.addCleanup(self.stop)

    def serve(self):
        deadline = time.monotonic() + 300
        while not self.stopping and time.monotonic() < deadline:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(None)
                try:
                    subprocess.run(self.argv, stdin=conn.fileno(), stdout=conn.fileno(),
                                   stderr=subprocess.DEVNULL, timeout=30)
                except subprocess.TimeoutExpired:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.listener.close()


@unittest.skipUnless(IS_ROOT, "install.sh refuses to run its root path as a non-root user")
@needs_real_programs("install.sh as root", "a served fakecups")     # 12 s, half of it waiting
class RootPathHarness:
    """install.sh as root, but every path under FAKECUPS_ROOT and every service command a stub.

    The self-check is real: it talks to a staged fakecups served on a free port (MiniInetd).
    Mixed into a TestCase (RootPathTest, test_install_traces, test_install_halves); not one
    itself, so that a module importing it runs no test of it a second time."""

    def setUp(self):
        base = tempdir(self)
        self.root = base / "root"
        self.state = base / "state"
        self.stubs = base / "bin"
        for path in (self.root, self.state, self.stubs):
            path.mkdir()
        python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        stub = self.stubs / "stub"
        stub.write_text(STUB % {"python": python, "uid": NOBODY.pw_uid, "gid": NOBODY.pw_gid})
        stub.chmod(0o755)
        for name in STUB_NAMES:
            (self.stubs / name).symlink_to("stub")
        self.log = self.root / LOG.lstrip("/")
        launcher = mapped_launcher(self, stage(self), base)
        self.inetd = MiniInetd(self, [str(launcher), "--log", str(self.log)])
        self.calls = []

    def install(self, *args, without=()):
        """Run install.sh ARGS; self.calls = every stub call, self.changes = all but queries."""
        path = self.stubs
        if without:
            path = self.stubs.parent / "bin-some"
            path.mkdir()
            for name in STUB_NAMES:
                if name not in without:
                    (path / name).symlink_to(self.stubs / "stub")
        calls = self.state / "calls"
        if calls.exists():
            calls.unlink()
        env = {"FAKECUPS_ROOT": str(self.root), "STUB_STATE": str(self.state),
               "PATH": "%s:/usr/bin:/bin" % path, "FAKECUPS_CHECK_PORT": str(self.inetd.port)}
        result = run_install(*args, env=env)
        self.calls = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
        self.changes = [call for call in self.calls if tuple(call[:2]) not in QUERIES]
        return result

    def assert_ok(self, result):
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def units(self):
        return json.loads((self.state / "units.json").read_text())

    def cups_units(self):
        return {name: value for name, value in self.units().items() if name.startswith("cups")}

    def set_units(self, units):
        (self.state / "units.json").write_text(json.dumps(units))

    def assert_self_checked(self, result):
        self.assertIn("self-check: 127.0.0.1:%d answered CUPS-Get-Printers" % self.inetd.port,
                      result.stdout)
        # marked as the installer's own request, in the log too; no unmarked lpstat any more
        self.assertIn("(User-Agent: fakecups-install/", result.stdout)
        self.assertIn("User-Agent: fakecups-install/", self.log.read_text())
        self.assertNotIn("lpstat", result.stdout)

    def assert_second_run_changes_nothing(self, *args):
        before = snapshot(self.root)
        result = self.install(*args)
        self.assert_ok(result)
        self.assertIn("nothing to do", result.stdout)
        self.assertEqual(self.changes, [])
        self.assert_self_checked(result)
        after = snapshot(self.root)
        log = str(self.log.relative_to(self.root))
        self.assertEqual({k: v for k, v in after.items() if k != log},
                         {k: v for k, v in before.items() if k != log})

    def remaining_files(self):
        ours = ("var/log/fakecups", "etc/init.d", "etc/rc2.d", "run")
        return [str(p.relative_to(self.root)) for p in self.root.rglob("*")
                if not p.is_dir() and not str(p.relative_to(self.root)).startswith(ours)]


class RootPathTest(RootPathHarness, unittest.TestCase):

    def test_systemd_host(self):
        cups = {unit: {"active": "active", "enabled": "enabled"}
                for unit in ("cups.service", "cups.socket", "cups.path")}
        self.set_units(cups)
        (self.root / "run/systemd/system").mkdir(parents=True)
        result = self.install("--systemd")
        self.assert_ok(result)
        self.assert_self_checked(result)
        self.assertIn("CUPS-Get-Printers", self.log.read_text())
        changes = self.changes
        self.assertIn(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir",
                       "/nonexistent", "--shell", "/usr/sbin/nologin", "fakecups"], changes)
        for unit in ("cups.socket", "cups.path", "cups.service"):
            self.assertIn(["systemctl", "disable", unit], changes)
        # socket and path stop before the service (they would start it again), all before fakecups
        stops = [call for call in changes if call[:2] == ["systemctl", "stop"]]
        self.assertEqual(stops, [["systemctl", "stop", u] for u in ("cups.socket", "cups.path", "cups.service")])
        self.assertLess(changes.index(stops[-1]), changes.index(["systemctl", "start", "fakecups.socket"]))
        self.assertLess(changes.index(["systemctl", "daemon-reload"]),
                        changes.index(["systemctl", "enable", "fakecups.socket"]))
        self.assertEqual((self.root / "var/lib/fakecups/cups-state").read_text(),
                         "cups.socket active enabled\ncups.path active enabled\ncups.service active enabled\n")
        self.assertTrue(all(v == {"active": "inactive", "enabled": "disabled"} for v in self.cups_units().values()))
        self.assertEqual(self.units()["fakecups.socket"], {"active": "active", "enabled": "enabled"})
        logdir = (self.root / "var/log/fakecups").stat()
        self.assertEqual((logdir.st_mode & 0o777, logdir.st_uid, logdir.st_gid),
                         (0o750, NOBODY.pw_uid, NOBODY.pw_gid))
        for path in INSTALLED["systemd"]:
            self.assertTrue((self.root / path.lstrip("/")).is_file(), path)

        self.assert_second_run_changes_nothing("--systemd")

        result = self.install("--uninstall")
        self.assert_ok(result)
        self.assertEqual(self.changes[0], ["systemctl", "disable", "--now", "fakecups.socket"])
        self.assertIn(["systemctl", "daemon-reload"], self.changes)
        self.assertEqual(self.cups_units(), cups)
        self.assertEqual(self.remaining_files(), [])
        self.assertFalse((self.root / "var/lib/fakecups").exists())
        self.assertEqual(self.install("--uninstall").stdout.count("nothing to remove"), 1)
        self.assertEqual(self.changes, [])

    def test_restores_exactly_what_was(self):
        cups = {"cups.service": {"active": "active", "enabled": "disabled"},
                "cups.socket": {"active": "inactive", "enabled": "enabled"}}   # and no cups.path
        self.set_units(cups)
        (self.root / "run/systemd/system").mkdir(parents=True)
        result = self.install(without=("xinetd",))         # no xinetd: systemd by default
        self.assert_ok(result)
        self.assertIn("mode: systemd", result.stdout)
        self.assertEqual(sorted(c for c in self.changes if c[-1].startswith("cups")),
                         [["systemctl", "disable", "cups.socket"], ["systemctl", "stop", "cups.service"]])
        result = self.install("--uninstall")
        self.assert_ok(result)
        self.assertEqual(sorted(c for c in self.changes if c[1] in ("enable", "start")),
                         [["systemctl", "enable", "cups.socket"], ["systemctl", "start", "cups.service"]])
        self.assertEqual(self.cups_units(), cups)

    def test_sysv_host_with_xinetd(self):
        initd = self.root / "etc/init.d"
        initd.mkdir(parents=True)
        (initd / "cups").write_text('#!/bin/sh\n[ -e "%s/running-cups" ]\n' % self.state)  # status
        (self.state / "running-cups").touch()
        (initd / "cups").chmod(0o755)
        (self.root / "etc/rc2.d").mkdir()
        (self.root / "etc/rc2.d/S01cups").symlink_to("../init.d/cups")
        result = self.install()
        self.assert_ok(result)
        self.assertIn("mode: xinetd", result.stdout)
        self.assert_self_checked(result)
        for call in (["service", "cups", "stop"], ["update-rc.d", "cups", "disable"],
                     ["service", "xinetd", "start"]):                # no xinetd ran yet
            self.assertIn(call, self.changes)
        self.assertEqual((self.root / "var/lib/fakecups/cups-state").read_text(), "sysv-cups active enabled\n")
        self.assertEqual(stanza_values((self.root / "etc/xinetd.d/fakecups").read_text())["user"], "fakecups")

        # from now on xinetd runs: its pid file names a live process, which records SIGHUPs
        hup = self.state / "hup"
        helper = start(self, [sys.executable, "-c",
                              "import signal, sys, time\n"
                              "signal.signal(signal.SIGHUP, lambda *a: open(sys.argv[1], 'a').write('HUP\\n'))\n"
                              "print('ready', flush=True)\n"
                              "for _ in range(600): time.sleep(0.1)\n", str(hup)],
                       stdout=subprocess.PIPE, text=True)
        self.assertEqual(helper.stdout.readline().strip(), "ready")
        (self.root / "run").mkdir(exist_ok=True)
        (self.root / "run/xinetd.pid").write_text("%d\n" % helper.pid)
        self.assert_second_run_changes_nothing()
        self.assertFalse(hup.exists())
        (self.root / "etc/xinetd.d/fakecups").write_text("# edited\n")   # drift: put back + SIGHUP
        self.assert_ok(self.install())
        self.assertEqual(self.changes, [])                    # kill is a builtin, not a stub
        self.assertEqual(wait_for_text(hup, "HUP\n"), "HUP\n")
        self.assertEqual((self.root / "etc/xinetd.d/fakecups").read_text(), STANZA.read_text()
                         if os.path.exists("/proc/net/if_inet6") else
                         (self.root / "etc/xinetd.d/fakecups").read_text())
        result = self.install("--uninstall")
        self.assert_ok(result)
        self.assertEqual(wait_for_text(hup, "HUP\nHUP\n"), "HUP\nHUP\n")
        self.assertEqual(self.changes, [["service", "xinetd", "stop"],   # install started it
                                        ["update-rc.d", "cups", "enable"], ["service", "cups", "start"]])
        self.assertTrue((self.state / "running-cups").exists())
        self.assertEqual(os.listdir(self.root / "etc/rc2.d"), ["S01cups"])
        self.assertEqual(self.remaining_files(), [])

    def test_cups_still_there_is_an_error(self):
        (self.root / "run/systemd/system").mkdir(parents=True)
        (self.state / "ss").write_text('LISTEN 0 128 0.0.0.0:631 0.0.0.0:* users:(("cupsd",pid=9,fd=7))\n')
        result = self.install("--systemd")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("port 631 is still in use", result.stderr)
        self.assertIn("cupsd", result.stderr)
        (self.state / "ss").write_text('LISTEN 0 64 *:631 *:* users:(("systemd",pid=1,fd=51))\n')
        sockdir = self.root / "run/cups"
        sockdir.mkdir(parents=True)
        with socket.socket(socket.AF_UNIX) as live:
            live.bind(str(sockdir / "cups.sock"))
            live.listen(1)
            result = self.install("--systemd")
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertIn("/run/cups/cups.sock", result.stderr)
        # now a socket file nobody listens on, as a stopped cups.socket leaves behind: removed
        self.assertTrue((sockdir / "cups.sock").exists())
        result = self.install("--systemd")
        self.assert_ok(result)
        self.assertIn("+ rm -f %s" % (sockdir / "cups.sock"), result.stdout)
        self.assertFalse((sockdir / "cups.sock").exists())

    def test_self_check_fails_without_ipp_answer_or_record(self):
        (self.root / "run/systemd/system").mkdir(parents=True)
        self.inetd.stop()
        self.inetd = MiniInetd(self, ["sh", "-c", "dd bs=65536 count=1 >/dev/null 2>&1; "
                                      "printf 'HTTP/1.1 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n'"])
        result = self.install("--systemd")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("gave no IPP answer", result.stderr)
        launcher = self.root.parent / "fakecups-launcher"   # answers, but logs elsewhere
        self.inetd = MiniInetd(self, [str(launcher), "--log", str(self.root.parent / "other.log")])
        result = self.install("--systemd")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("no new record in %s" % self.log, result.stderr)

    def test_no_xinetd_no_systemd_says_what_to_install(self):
        result = self.install(without=("xinetd",))
        self.assertEqual(result.returncode, 1)
        self.assertIn("install xinetd", result.stderr)
        self.assertEqual(self.changes, [])
        result = self.install("--systemd")
        self.assertEqual(result.returncode, 1)
        self.assertIn("systemd is not running here", result.stderr)
        self.assertEqual((self.changes, os.listdir(self.root)), ([], []))

    def test_dry_run_changes_nothing(self):
        (self.root / "run/systemd/system").mkdir(parents=True)
        cups = {"cups.service": {"active": "active", "enabled": "enabled"}}
        self.set_units(cups)
        before = snapshot(self.root)
        result = self.install("--dry-run", "--systemd")
        self.assert_ok(result)
        self.assertEqual(self.changes, [])
        self.assertEqual(snapshot(self.root), before)
        self.assertEqual(self.units(), cups)
        for line in ("would run: systemctl stop cups.service", "would run: systemctl disable cups.service",
                     "would run: useradd", "would run: systemctl enable fakecups.socket",
                     "would create %s/etc/systemd/system/fakecups.socket" % self.root,
                     "would check: CUPS-Get-Printers"):
            self.assertIn(line, result.stdout)
        self.assertNotIn("self-check:", result.stdout)


def wait_for_text(path, expected, seconds=5.0):
    """The text of path once it equals expected, or whatever it holds after seconds."""
    if wait_until(lambda: path.exists() and path.read_text() == expected, seconds, 0.05):
        return expected
    return path.read_text() if path.exists() else None


# ── the shipped service definitions ──────────────────────────────────────────────────────


class ServiceFilesTest(unittest.TestCase):
    def test_xinetd_stanza(self):
        self.assertNotIn(".", STANZA.name)
        values = stanza_values(STANZA.read_text())
        self.assertIn("service ipp", STANZA.read_text())
        expect = {"socket_type": "stream", "protocol": "tcp", "wait": "no", "port": "631",
                  "user": "fakecups", "group": "fakecups", "server": LAUNCHER,
                  "server_args": "--log " + LOG, "flags": "IPv6", "disable": "no"}
        for key, value in expect.items():
            self.assertEqual(values.get(key), value, key)
        self.assertIn("log_on_success", values)
        self.assertIn("log_on_failure", values)
        limit, pause = (int(v) for v in values["cps"].split())
        self.assertGreater(limit, 150, "a burst of 150 a second must not switch the service off")
        self.assertLessEqual(pause, 10)
        self.assertGreaterEqual(int(values["per_source"]), 40)
        self.assertGreaterEqual(int(values["instances"]), int(values["per_source"]))

    def test_systemd_units(self):
        sock = unit_values(SOCKET_UNIT)
        self.assertEqual(sock["ListenStream"], ["631"])
        self.assertEqual(sock["Accept"], ["yes"])
        self.assertGreaterEqual(int(sock["MaxConnections"][0]), int(sock["MaxConnectionsPerSource"][0]))
        interval, burst = sock["TriggerLimitIntervalSec"][0], sock["TriggerLimitBurst"][0]
        self.assertTrue(interval == "0" or burst == "0" or int(burst) > 1000, (interval, burst))
        service = unit_values(SERVICE_UNIT)
        for key, value in {"StandardInput": "socket", "StandardOutput": "socket",
                           "StandardError": "journal", "LogsDirectory": "fakecups",
                           "CollectMode": "inactive-or-failed", "User": "fakecups",
                           "PrivateNetwork": "yes", "ExecStart": LAUNCHER + " $FAKECUPS_OPTIONS",
                           "EnvironmentFile": "-/etc/default/fakecups"}.items():
            self.assertEqual(service[key], [value], key)

    @needs_real_programs("systemd-analyze")
    def test_systemd_security_score(self):
        if not tool("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(SERVICE_UNIT)],
                                capture_output=True, text=True, timeout=60)
        match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
        if match is None:
            self.skipTest("systemd-analyze security --offline unsupported here: %s" % result.stderr[-200:])
        self.assertLessEqual(float(match.group(1)), 2.0, result.stdout)

    @needs_real_programs("systemd-analyze")
    def test_systemd_units_verify(self):
        if not tool("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        destdir = stage(self, "--systemd")
        units = destdir / "etc/systemd/system"
        result = subprocess.run(["systemd-analyze", "verify", "--root=%s" % destdir,
                                 str(units / "fakecups.socket"), str(units / "fakecups@.service")],
                                capture_output=True, text=True, timeout=60)
        complaints = [line for line in (result.stdout + result.stderr).splitlines()
                      if re.search(r"[Uu]nknown|[Ii]nvalid|[Ff]ailed to parse|[Ii]gnoring|deprecated", line)]
        self.assertEqual(complaints, [])

    @needs_real_programs("logrotate")
    def test_logrotate(self):
        logrotate = tool("logrotate")
        if not logrotate:
            self.skipTest("logrotate is not installed")
        tmp = tempdir(self)
        (tmp / "log").mkdir()
        (tmp / "log" / "fakecups.log").write_text("x\n")
        group = grp.getgrgid(NOBODY.pw_gid).gr_name
        text = LOGROTATE.read_text().replace("/var/log/fakecups", str(tmp / "log"))
        text = text.replace("fakecups fakecups", "nobody " + group)
        (tmp / "conf").write_text(text)
        result = subprocess.run([logrotate, "--debug", "--state", str(tmp / "state"), str(tmp / "conf")],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertNotIn("error", (result.stdout + result.stderr).lower())


# ── end to end: real xinetd, real systemd-socket-activate, real lpstat ───────────────────


def lpstat_v(test, port):
    lpstat = tool("lpstat")
    if not lpstat:
        test.skipTest("lpstat is not installed (apt-get install cups-client)")
    env = {k: v for k, v in os.environ.items() if k not in TEST_ENV_NAMES}
    env["HOME"] = str(tempdir(test))             # no ~/.cups/client.conf of the test's user
    return subprocess.run([lpstat, "-h", "127.0.0.1:%d" % port, "-v"], capture_output=True,
                          text=True, timeout=60, env=env)


@needs_real_programs("xinetd", "lpstat")
class XinetdEndToEndTest(unittest.TestCase):
    """The shipped stanza, moved to a free loopback port, in a real xinetd in the foreground."""

    def setUp(self):
        xinetd = tool("xinetd")
        if not xinetd:
            self.skipTest("xinetd is not installed (apt-get install xinetd)")
        tmp = tempdir(self)
        destdir = stage(self, "--xinetd")
        launcher = mapped_launcher(self, destdir, tmp)
        self.logdir = tmp / "log"
        self.logdir.mkdir(mode=0o750)
        self.port = free_port()
        lines = ["defaults", "{", "\tlog_type = FILE %s" % (tmp / "xinetd.log"), "}", ""]
        for line in (destdir / "etc/xinetd.d/fakecups").read_text().splitlines():
            key = line.split("=")[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
            if key in ("port", "flags", "user", "group", "server", "server_args"):
                continue
            lines.append(line)
            if line.strip() == "{":
                lines += ["\ttype = UNLISTED", "\tport = %d" % self.port, "\tbind = 127.0.0.1",
                          "\tserver = %s" % launcher, "\tserver_args = --log %s/fakecups.log" % self.logdir]
                # as root: not root under xinetd either (the stanza's user may not exist here);
                # otherwise xinetd cannot switch users but still wants the attribute
                user = NOBODY if IS_ROOT else pwd.getpwuid(os.getuid())
                lines += ["\tuser = %s" % user.pw_name, "\tgroup = %s" % grp.getgrgid(user.pw_gid).gr_name]
        if IS_ROOT:
            os.chown(self.logdir, NOBODY.pw_uid, NOBODY.pw_gid)
        self.xinetd_log = tmp / "xinetd.log"
        errors = open(tmp / "xinetd.err", "w")
        self.addCleanup(errors.close)
        (tmp / "xinetd.conf").write_text("\n".join(lines) + "\n")
        self.proc = start(self, [xinetd, "-dontfork", "-f", str(tmp / "xinetd.conf"), "-pidfile",
                                 str(tmp / "xinetd.pid"), "-filelog", str(tmp / "xinetd.err")],
                          stdout=subprocess.DEVNULL, stderr=errors)
        if not wait_for_port(self.port):
            self.fail("xinetd did not listen on %d: %s" % (self.port, (tmp / "xinetd.err").read_text()))

    def log(self):
        path = self.logdir / "fakecups.log"
        return path.read_text() if path.exists() else ""

    def xinetd_said(self):
        return self.xinetd_log.read_text() if self.xinetd_log.exists() else ""

    def test_lpstat_through_xinetd(self):
        result = lpstat_v(self, self.port)
        self.assertEqual((result.returncode, result.stdout, result.stderr),
                         (1, "", "lpstat: No destinations added.\n"))
        self.assertIn("CUPS-Get-Printers", wait_for_record(self.logdir / "fakecups.log", "CUPS-Get-Printers"))
        log = self.logdir / "fakecups.log"
        if IS_ROOT:
            self.assertEqual(log.stat().st_uid, NOBODY.pw_uid)
        self.assertEqual(log.stat().st_mode & 0o777, 0o640)

    def answered_again(self, seconds=10.0):
        """After a burst: the next request gets an answer (not refused: the service is on)."""
        def answered():
            try:
                return http_exchange(self.port).startswith(b"HTTP/1.1 200 ")
            except ConnectionResetError:            # closed unanswered: at a limit for a moment
                return False                        # (ConnectionRefusedError: switched off)
        return wait_until(answered, seconds, 0.2)

    def test_scan_burst_does_not_switch_the_service_off(self):
        """150 connections opened and closed within a second, as a connect scan does."""
        started = time.monotonic()
        for n in range(150):
            pause = started + n / 150.0 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)  # refused = off
            sock.close()
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 1.5)
        self.assertTrue(self.answered_again(), self.xinetd_said()[-2000:])
        self.assertNotIn("Deactivating", self.xinetd_said())

    def test_request_burst_each_answered(self):
        """150 requests as fast as 30 clients at a time can go: every one gets HTTP 200."""
        def one(_):
            begun = time.monotonic()
            try:
                return begun, http_exchange(self.port)
            except ConnectionError as error:        # at a limit (reset) or switched off (refused)
                return begun, repr(error).encode()
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(30) as pool:
            results = list(pool.map(one, range(150), timeout=120))
        elapsed = time.monotonic() - started
        statuses = [data.split(b"\r\n", 1)[0] for _, data in results]
        self.assertEqual(statuses.count(b"HTTP/1.1 200 OK"), 150,
                         (sorted(set(statuses)), self.xinetd_said()[-2000:]))
        first_second = sum(1 for begun, _ in results if begun - started < 1.0)
        self.assertNotIn("Deactivating", self.xinetd_said())
        wait_until(lambda: self.log().count(": OPTIONS / HTTP/1.1\n") >= 150, 10, 0.1)
        self.assertEqual(self.log().count(": OPTIONS / HTTP/1.1\n"), 150)
        sys.stderr.write(" [150 requests in %.2f s, %d begun in the first second] "
                         % (elapsed, first_second))


@needs_real_programs("systemd-socket-activate", "lpstat")
class SocketActivateEndToEndTest(unittest.TestCase):
    """The shipped unit's ExecStart under systemd-socket-activate --inetd (Accept=yes)."""

    def test_lpstat_through_socket_activation(self):
        activate = tool("systemd-socket-activate")
        if not activate:
            self.skipTest("systemd-socket-activate is not installed (part of systemd)")
        tmp = tempdir(self)
        destdir = stage(self, "--systemd")
        launcher = mapped_launcher(self, destdir, tmp)
        unit = unit_values(destdir / "etc/systemd/system/fakecups@.service")
        argv = unit["ExecStart"][0].split()
        self.assertEqual(argv[0], LAUNCHER)
        self.assertEqual(argv[1:], ["$FAKECUPS_OPTIONS"])         # staged empty: no argument
        argv = argv[:1]
        logdir = tmp / "logs"                     # what LogsDirectory=fakecups makes
        logdir.mkdir(mode=0o750)
        if IS_ROOT:
            os.chown(logdir, NOBODY.pw_uid, NOBODY.pw_gid)
        port = free_port()
        proc = start(self, [activate, "--inetd", "-a", "-l", "127.0.0.1:%d" % port,
                            "-E", "LOGS_DIRECTORY=%s" % logdir, str(launcher), *argv[1:]],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_for_port(port):
            stop_process(proc)
            self.fail("systemd-socket-activate did not listen: %s" % proc.stderr.read())
        result = lpstat_v(self, port)
        self.assertEqual((result.returncode, result.stderr), (1, "lpstat: No destinations added.\n"))
        self.assertIn("CUPS-Get-Printers", wait_for_record(logdir / "fakecups.log", "CUPS-Get-Printers"))


# ── many sensors, one place: the rsyslog snippets between two real rsyslogd ──────────────


@needs_real_programs("rsyslogd", "logger")
class RsyslogTest(unittest.TestCase):
    def test_sender_forwards_to_receiver_one_json_object_per_line(self):
        rsyslogd, logger = tool("rsyslogd"), tool("logger")
        if not rsyslogd or not logger:
            self.skipTest("rsyslogd and logger are needed (apt-get install rsyslog bsdutils)")
        tmp = tempdir(self)
        port = free_port()
        for name in ("rcv", "snd", "central"):
            (tmp / name).mkdir()
        receiver = rsyslog_snippet("receiver")
        self.assertEqual(receiver.count('port="10514"'), 1)
        receiver = receiver.replace('port="10514"', 'port="%d" address="127.0.0.1"' % port)
        receiver = receiver.replace("/var/log/fakecups-central", str(tmp / "central"))
        (tmp / "rcv.conf").write_text('global(workDirectory="%s")\n%s' % (tmp / "rcv", receiver))
        sender = rsyslog_snippet("sender")
        self.assertEqual(sender.count('target="central-log.example" port="10514"'), 1)
        sender = sender.replace('target="central-log.example" port="10514"',
                                'target="127.0.0.1" port="%d"' % port)
        (tmp / "snd.conf").write_text(
            'global(workDirectory="%s")\n' % (tmp / "snd")
            + 'module(load="imuxsock" SysSock.Use="off")\n'       # as the distribution loads it
            + 'input(type="imuxsock" Socket="%s")\n' % (tmp / "log.sock")
            + sender + '\naction(type="omfile" file="%s")\n' % (tmp / "local.log"))
        for conf in ("rcv", "snd"):
            check = subprocess.run([rsyslogd, "-N1", "-f", str(tmp / (conf + ".conf"))],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        for conf in ("rcv", "snd"):
            start(self, [rsyslogd, "-n", "-f", str(tmp / (conf + ".conf")), "-i", str(tmp / (conf + ".pid"))],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.assertTrue(wait_for_port(port), "the receiving rsyslogd did not listen")
        wait_until((tmp / "log.sock").exists, 10, 0.05)
        # real records: fakecups --format json on a captured lpstat -v connection, and a long one
        made = subprocess.run([sys.executable, str(REPO / "fakecups.py"), "--log", "-", "--format", "json"],
                              input=CAPTURE.read_bytes(), capture_output=True, timeout=60)
        records = made.stderr.decode().splitlines()
        self.assertGreaterEqual(len(records), 3, made.stderr)
        records.append(json.dumps({"peer": "192.0.2.1:4242", "note": "x" * 20000}))
        for record in records:
            subprocess.run([logger, "--size", "65536", "-u", str(tmp / "log.sock"), "-t", "fakecups",
                            "-p", "daemon.info", record], check=True, timeout=30)
        subprocess.run([logger, "-u", str(tmp / "log.sock"), "-t", "fakecups", "-p", "daemon.err",
                        "cannot open log /var/log/fakecups/fakecups.log: Permission denied"],
                       check=True, timeout=30)
        subprocess.run([logger, "-u", str(tmp / "log.sock"), "-t", "sshd", "-p", "auth.info", "not ours"],
                       check=True, timeout=30)
        def central():
            found = sorted((tmp / "central").glob("*.json"))
            return found, found[0].read_text().splitlines() if found else []
        wait_until(lambda: len(central()[1]) >= len(records), 20, 0.1)
        files, lines = central()
        self.assertEqual(len(files), 1, sorted(p.name for p in (tmp / "central").iterdir()))
        self.assertEqual([json.loads(line) for line in lines], [json.loads(r) for r in records])
        self.assertEqual(lines, records)          # byte for byte as fakecups wrote them
        other = sorted((tmp / "central").glob("*.other.log"))
        self.assertEqual(len(other), 1)
        self.assertRegex(other[0].read_text(), r"^\S+ \S+ fakecups\[\S+\]: cannot open log /var/log/"
                                                r"fakecups/fakecups.log: Permission denied\n$")
        everything = "".join(p.read_text() for p in (tmp / "central").iterdir())
        self.assertNotIn("not ours", everything)
        local = (tmp / "local.log").read_text()       # errors stay local too, records do not
        self.assertIn("Permission denied", local)
        self.assertNotIn("CUPS-Get-Printers", local)


if __name__ == "__main__":
    unittest.main()
