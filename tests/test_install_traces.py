"""What install.sh leaves behind on the host: its self-check's record is marked as its own
(User-Agent fakecups-install/VERSION (self-check)), and xinetd is left as install found it
(started by install, stopped by --uninstall).

Runs install.sh as root with every path under a temporary FAKECUPS_ROOT and every service command
a recording stub, as tests/test_install.py's RootPathTest does (its set-up is borrowed, not its
tests).  Run: python3 -m unittest tests.test_install_traces
"""

import json
import re
import unittest

from tests.test_install import REPO, MiniInetd, RootPathHarness


class TracesTest(RootPathHarness, unittest.TestCase):
    """RootPathTest's stubs, staged launcher and MiniInetd (its skip and marker too)."""

    def serve(self, *args):
        """From now on the self-check's port runs the staged launcher with these options."""
        self.inetd.stop()
        launcher = self.root.parent / "fakecups-launcher"
        self.inetd = MiniInetd(self, [str(launcher), "--log", str(self.log), *args])

    def systemd_host(self, xinetd):
        (self.root / "run/systemd/system").mkdir(parents=True)
        self.set_units({"xinetd": xinetd})

    def test_self_check_is_marked_in_every_format(self):
        self.systemd_host({"active": "active", "enabled": "enabled"})
        version = re.search(r'^__version__ = "(.*)"$', (REPO / "fakecups.py").read_text(), re.M)
        agent = "fakecups-install/%s (self-check)" % version.group(1)
        result = self.install("--xinetd")
        self.assert_ok(result)
        self.assertIn("has its record (User-Agent: %s)" % agent, result.stdout)
        self.assertIn("\n    User-Agent: %s\n" % agent, self.log.read_text())
        self.log.unlink()
        self.serve("--format", "json")
        result = self.install("--xinetd", "--format", "json")
        self.assert_ok(result)
        records = [json.loads(line) for line in self.log.read_text().splitlines()]
        self.assertEqual([dict(r["headers"]).get("User-Agent") for r in records], [agent])
        # classic records carry no headers: any new record will do
        self.serve("--format", "classic")
        self.assert_ok(self.install("--xinetd", "--format", "classic"))
        # a record that is not the self-check's is not taken for it
        self.serve("--format", "classic")
        result = self.install("--xinetd", "--format", "text")
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("no record in %s with User-Agent %s" % (self.log, agent), result.stderr)

    def test_xinetd_started_by_install_is_stopped_by_uninstall(self):
        self.systemd_host({"active": "inactive", "enabled": "disabled"})
        self.assert_ok(self.install("--xinetd"))
        self.assertIn(["systemctl", "enable", "xinetd"], self.changes)
        self.assertIn(["systemctl", "start", "xinetd"], self.changes)
        self.assertEqual(self.units()["xinetd"], {"active": "active", "enabled": "enabled"})
        state = self.root / "var/lib/fakecups/xinetd-state"
        self.assertEqual(state.read_text(), "xinetd inactive disabled\n")
        self.assert_ok(self.install("--xinetd"))            # a second run keeps the first record
        self.assertEqual(state.read_text(), "xinetd inactive disabled\n")
        result = self.install("--uninstall")
        self.assert_ok(result)
        self.assertEqual([c for c in self.changes if c[0] == "systemctl"],
                         [["systemctl", "reload", "xinetd"], ["systemctl", "stop", "xinetd"],
                          ["systemctl", "disable", "xinetd"]])
        self.assertEqual(self.units()["xinetd"], {"active": "inactive", "enabled": "disabled"})
        self.assertFalse((self.root / "var/lib/fakecups").exists())

    def test_xinetd_running_before_keeps_running(self):
        self.systemd_host({"active": "active", "enabled": "enabled"})
        self.assert_ok(self.install("--xinetd"))
        self.assertEqual([c for c in self.changes if c[0] == "systemctl"],
                         [["systemctl", "reload", "xinetd"]])
        self.assert_ok(self.install("--uninstall"))
        self.assertEqual([c for c in self.changes if c[0] == "systemctl"],
                         [["systemctl", "reload", "xinetd"]])
        self.assertEqual(self.units()["xinetd"], {"active": "active", "enabled": "enabled"})


if __name__ == "__main__":
    unittest.main()
