"""install.sh and the two halves of port 631 (issue 9): by default it installs the UDP
browse-packet sensor beside the TCP service and stops cups-browsed, which holds UDP 631;
--tcp-only leaves cups-browsed alone, later runs keep that choice, --udp adds the half back,
and --uninstall restores cupsd and cups-browsed exactly as they were.  SysV host, every
service command a stub (the RootPathTest harness of test_install.py)."""

import unittest

from tests.test_install import RootPathHarness


class Halves(RootPathHarness, unittest.TestCase):
    """RootPathTest's stubs, staged launcher and MiniInetd (its skip and marker too)."""

    def sysv_service(self, name):
        """An init script whose status is a state file, started and enabled at boot."""
        initd = self.root / "etc/init.d"
        initd.mkdir(parents=True, exist_ok=True)
        (initd / name).write_text('#!/bin/sh\n[ -e "%s/running-%s" ]\n' % (self.state, name))
        (initd / name).chmod(0o755)
        (self.state / ("running-" + name)).touch()
        (self.root / "etc/rc2.d").mkdir(exist_ok=True)
        (self.root / "etc/rc2.d" / ("S01" + name)).symlink_to("../init.d/" + name)

    def stanzas(self):
        return sorted(p.name for p in (self.root / "etc/xinetd.d").iterdir())

    def test_tcp_only_is_kept_and_udp_brings_back_the_half(self):
        self.sysv_service("cups")
        self.sysv_service("cups-browsed")
        self.assert_ok(self.install("--tcp-only"))
        self.assertEqual(self.stanzas(), ["fakecups"])
        self.assertIn(["service", "cups", "stop"], self.changes)
        self.assertNotIn(["service", "cups-browsed", "stop"], self.changes)
        self.assertTrue((self.state / "running-cups-browsed").exists())
        state = self.root / "var/lib/fakecups/cups-state"
        self.assertEqual(state.read_text(), "sysv-cups active enabled\n")

        result = self.install()                      # a plain re-run keeps TCP only
        self.assert_ok(result)
        self.assertIn("keeping the TCP half only, as installed", result.stdout)
        self.assertEqual(self.stanzas(), ["fakecups"])
        # (no xinetd runs in this harness: each run starts it)
        self.assertEqual(self.changes, [["service", "xinetd", "start"]])

        self.assert_ok(self.install("--udp"))        # the UDP half, and cups-browsed recorded
        self.assertEqual(self.stanzas(), ["fakecups", "fakecups-browse"])
        self.assertIn(["service", "cups-browsed", "stop"], self.changes)
        self.assertIn(["update-rc.d", "cups-browsed", "disable"], self.changes)
        self.assertEqual(state.read_text(), "sysv-cups active enabled\nsysv-cups-browsed active enabled\n")

        self.assert_ok(self.install("--tcp-only"))   # and away again
        self.assertEqual(self.stanzas(), ["fakecups"])

        self.assert_ok(self.install("--uninstall"))
        for name in ("cups", "cups-browsed"):
            self.assertIn(["service", name, "start"], self.changes)
            self.assertIn(["update-rc.d", name, "enable"], self.changes)
            self.assertTrue((self.state / ("running-" + name)).exists())
        self.assertEqual(sorted(p.name for p in (self.root / "etc/rc2.d").iterdir()),
                         ["S01cups", "S01cups-browsed"])
        self.assertEqual(self.remaining_files(), [])

    def test_both_halves_by_default(self):
        self.sysv_service("cups-browsed")
        self.assert_ok(self.install())
        self.assertEqual(self.stanzas(), ["fakecups", "fakecups-browse"])
        self.assertIn(["service", "cups-browsed", "stop"], self.changes)
        self.assert_ok(self.install("--uninstall"))
        self.assertIn(["service", "cups-browsed", "start"], self.changes)
        self.assertEqual(self.remaining_files(), [])


if __name__ == "__main__":
    unittest.main()
