"""install.sh's service options: kept in /etc/default/fakecups, read back at every run, given to
xinetd in server_args and to systemd through EnvironmentFile=; values checked before anything is
written; a hand edit is never replaced without showing what differs.  And DESTDIR staging for
packagers: every file of both deployments, whatever the staging host runs.

Everything runs install.sh for real under a DESTDIR staging directory (no root needed, nothing
outside a temporary directory touched).  Run: python3 -m unittest tests.test_install_options
"""

import os
import pwd
import re
import subprocess
import unittest

from tests.support import long_running
from tests.test_install import (CAPTURE, INSTALLED, LAUNCHER, LOG, REPO, mapped_launcher,
                                run_install, snapshot, stage, stanza_values, tempdir, unit_values)

DEFAULTS = "etc/default/fakecups"
STANZA = "etc/xinetd.d/fakecups"
UNIT = "etc/systemd/system/fakecups@.service"


def kept(destdir):
    """FAKECUPS_OPTIONS as /etc/default/fakecups holds it (the quotes taken off)."""
    lines = re.findall(r'^FAKECUPS_OPTIONS="(.*)"$', (destdir / DEFAULTS).read_text(), re.M)
    assert len(lines) == 1, lines
    return lines[0]


def server_args(destdir):
    return stanza_values((destdir / STANZA).read_text())["server_args"]


@long_running(5)
class OptionsTest(unittest.TestCase):
    def install(self, destdir, *args, ok=True):
        result = run_install(*args, env={"DESTDIR": str(destdir)})
        if ok:
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result

    def test_options_are_kept_for_every_later_run(self):
        destdir = stage(self, "--persona", "printer", "--printer=office", "--syslog")
        words = "--persona printer --printer office --syslog"
        self.assertEqual(kept(destdir), words)
        self.assertEqual(server_args(destdir), "--log %s %s" % (LOG, words))
        self.assertEqual(((destdir / "var/spool/fakecups").stat().st_mode & 0o7777), 0o750)
        # a re-run without options keeps them and changes nothing
        again = self.install(destdir)
        self.assertIn("service options: " + words, again.stdout)
        self.assertIn("nothing to do", again.stdout)
        # one option changed: the others stay; the change is shown, line by line
        changed = self.install(destdir, "--format", "json", "--no-syslog")
        words = "--persona printer --printer office --format json"
        self.assertEqual(kept(destdir), words)
        self.assertEqual(server_args(destdir), "--log %s %s" % (LOG, words))
        self.assertIn("\n  -\tserver_args\t= --log %s --persona printer --printer office --syslog\n" % LOG,
                      changed.stdout)
        self.assertIn("\n  +FAKECUPS_OPTIONS=\"%s\"\n" % words, changed.stdout)
        # back to the defaults: the stanza and the default file are the shipped ones again
        self.install(destdir, "--reset-options")
        self.assertEqual(kept(destdir), "")
        self.assertEqual((destdir / STANZA).read_text(), (REPO / "xinetd.d/fakecups").read_text()
                         if os.path.exists("/proc/net/if_inet6") else (destdir / STANZA).read_text())
        self.assertEqual((destdir / DEFAULTS).read_text(), (REPO / "default/fakecups").read_text())
        self.install(destdir, "--uninstall")
        self.assertFalse((destdir / DEFAULTS).exists())
        self.assertFalse((destdir / "var/spool/fakecups").exists())     # empty: removed
        self.assertIn("nothing to remove", self.install(destdir, "--uninstall").stdout)

    def test_uninstall_says_the_options(self):
        destdir = stage(self, "--persona", "printer", "--format", "json")
        (destdir / "var/spool/fakecups/1.json").write_text("{}")
        removed = self.install(destdir, "--uninstall")
        self.assertIn("the service options were: --persona printer --format json (sh install.sh "
                      "--persona printer --format json brings them back)", removed.stdout)
        self.assertIn("kept %s/var/spool/fakecups" % destdir, removed.stdout)  # jobs: evidence
        self.assertTrue((destdir / "var/spool/fakecups/1.json").exists())

    def test_values_are_checked_before_anything_is_written(self):
        destdir = tempdir(self) / "stage"
        cases = [
            (["--printer", "my office"], "--printer 'my office' (the command line): not a printer name"),
            (["--printer", "a/b"], "not a printer name"),
            (["--printer", "x" * 128], "not a printer name"),
            (["--printer="], "not a printer name"),
            (["--persona", "cupsd"], "--persona cupsd (the command line): one of: empty, printer"),
            (["--format=yaml"], "one of: text, json, classic"),
            (["--max-job-bytes", "0"], "not a number of bytes"),
            (["--max-spool-bytes", "1e9"], "not a number of bytes"),
            (["--printer"], "--printer needs a value"),
            (["--syslog=yes"], "--syslog takes no value"),
            (["--log", "/tmp/x.log"], "the installer sets it"),
            (["--spool", "/srv"], "the installer sets it"),
            (["--user=root"], "the installer sets it"),
            (["--idle-timeout", "5"], "not an option install.sh knows"),
            (["office"], "office (the command line): not an option"),
            (["--uninstall", "--syslog"], "not with --uninstall"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                result = run_install(*args, env={"DESTDIR": str(destdir)})
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertIn(message, result.stderr)
                self.assertTrue(result.stderr.startswith("install.sh: "), result.stderr)
                self.assertEqual(result.stdout, "")
                self.assertFalse(destdir.exists())
        # the installer's own log path is no change at all
        self.install(destdir, "--log", LOG)
        self.assertEqual(kept(destdir), "")

    def test_hand_edit_of_the_default_file_is_read_back_and_checked(self):
        destdir = stage(self)
        defaults = destdir / DEFAULTS
        text = defaults.read_text().replace('FAKECUPS_OPTIONS=""', "# mine\nFAKECUPS_OPTIONS='--syslog --persona printer'")
        defaults.write_text(text)
        result = self.install(destdir)
        self.assertIn("service options: --persona printer --syslog", result.stdout)
        self.assertEqual(server_args(destdir), "--log %s --persona printer --syslog" % LOG)
        self.assertIn("# mine\n", defaults.read_text())             # the rest of the file stays
        self.assertEqual(kept(destdir), "--persona printer --syslog")
        defaults.write_text(text.replace("--persona printer", "--printer 'big office'"))
        before = (destdir / STANZA).read_text()
        result = self.install(destdir, ok=False)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("(%s): not a printer name" % defaults, result.stderr)
        self.assertEqual((destdir / STANZA).read_text(), before)

    def test_hand_edit_of_a_generated_file_is_shown_before_it_is_replaced(self):
        destdir = stage(self, "--format", "json")
        stanza = destdir / STANZA
        stanza.write_text(stanza.read_text().replace("cps\t\t= 500 5", "cps\t\t= 20 60"))
        result = self.install(destdir, "--dry-run")
        self.assertIn("would replace %s" % stanza, result.stdout)
        self.assertIn("\n  -\tcps\t\t= 20 60\n  +\tcps\t\t= 500 5\n", result.stdout)
        self.assertIn("cps\t\t= 20 60", stanza.read_text())          # a dry run changes nothing
        result = self.install(destdir)
        self.assertIn("replace %s (mode 0644)\n  what changes (- the installed file, + install.sh's):\n"
                      % stanza, result.stdout)
        self.assertIn("\n  -\tcps\t\t= 20 60\n  +\tcps\t\t= 500 5\n", result.stdout)
        self.assertIn("cps\t\t= 500 5", stanza.read_text())
        self.assertEqual(kept(destdir), "--format json")

    def test_options_added_by_hand_before_the_default_file_existed_are_kept(self):
        """Earlier installs had no /etc/default/fakecups; the README said to edit server_args
        (xinetd) or ExecStart (systemd).  The next run keeps those options."""
        for where, old, new in [
                (STANZA, "server_args\t= --log %s\n" % LOG,
                 "server_args\t= --log %s --persona printer --printer lab --format json\n" % LOG),
                (UNIT, "ExecStart=%s $FAKECUPS_OPTIONS\n" % LAUNCHER,
                 "ExecStart=%s --persona=printer --printer lab --format json\n" % LAUNCHER)]:
            with self.subTest(where=where):
                destdir = stage(self)
                (destdir / DEFAULTS).unlink()
                path = destdir / where
                path.parent.mkdir(parents=True, exist_ok=True)
                shipped = (REPO / ("xinetd.d/fakecups" if where == STANZA else "systemd/fakecups@.service"))
                self.assertIn(old, shipped.read_text())
                path.write_text(shipped.read_text().replace(old, new))
                result = self.install(destdir)
                self.assertIn("keeping the service options added by hand to %s: --persona printer "
                              "--printer lab --format json (from now on in /etc/default/fakecups)" % path,
                              result.stdout)
                self.assertEqual(kept(destdir), "--persona printer --printer lab --format json")
                self.assertEqual(server_args(destdir),
                                 "--log %s --persona printer --printer lab --format json" % LOG)

    def test_staged_options_reach_fakecups_both_ways(self):
        """The stanza's server_args and the unit's ExecStart with FAKECUPS_OPTIONS expanded as
        systemd does (unquoted: split at blanks) give fakecups the same arguments, and they work."""
        destdir = stage(self, "--persona", "printer", "--printer", "lab-2", "--format", "json")
        xinetd_args = server_args(destdir).split()
        execstart = unit_values(REPO / "systemd/fakecups@.service")["ExecStart"][0].split()
        self.assertEqual(execstart, [LAUNCHER, "$FAKECUPS_OPTIONS"])
        systemd_args = kept(destdir).split()
        self.assertEqual(xinetd_args, ["--log", LOG] + systemd_args)
        browse = stanza_values((destdir / "etc/xinetd.d/fakecups-browse").read_text())["server_args"]
        self.assertEqual(browse.split(), ["--udp", "--log", LOG] + systemd_args)     # the UDP sensor
        self.assertEqual(unit_values(REPO / "systemd/fakecups-browse.service")["ExecStart"][0].split(),
                         [LAUNCHER, "--udp", "$FAKECUPS_OPTIONS"])
        tmp = tempdir(self)
        launcher = mapped_launcher(self, destdir, tmp)
        user = pwd.getpwuid(os.getuid()).pw_name       # as root: stay root, the spool is root's
        result = subprocess.run([str(launcher), *systemd_args, "--log", str(tmp / "log"), "--spool",
                                 str(tmp), "--user", user], input=CAPTURE.read_bytes(), capture_output=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"\x00\x05lab-2", result.stdout)                  # lpstat -v: printer-name
        self.assertTrue((tmp / "log").read_text().startswith("{"))      # --format json


@long_running(3)
class PackagingTest(unittest.TestCase):
    def test_destdir_stages_both_deployments_whatever_the_host_runs(self):
        both = set(INSTALLED["xinetd"]) | set(INSTALLED["systemd"])
        staged = []
        for path in ("/usr/sbin:/usr/bin:/sbin:/bin",        # this host: xinetd is found
                     "/usr/bin:/bin"):                       # a host without xinetd (no sbin)
            for args in ([], ["--xinetd"], ["--systemd"]):
                with self.subTest(path=path, args=args):
                    destdir = tempdir(self) / "stage"
                    result = run_install(*args, env={"DESTDIR": str(destdir), "PATH": path})
                    self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                    self.assertIn("DESTDIR: staging the files of both deployments", result.stdout)
                    files = {"/" + str(f.relative_to(destdir)) for f in destdir.rglob("*")
                             if f.is_file() and "__pycache__" not in f.parts}
                    self.assertEqual(files, both)
                    staged.append({k: v[0] for k, v in snapshot(destdir).items()})   # modes
        self.assertTrue(all(s == staged[0] for s in staged))
        removed = run_install("--uninstall", env={"DESTDIR": str(destdir)})
        self.assertEqual(removed.returncode, 0, removed.stderr)
        self.assertEqual([f for f in destdir.rglob("*") if f.is_file()], [])


if __name__ == "__main__":
    unittest.main()
