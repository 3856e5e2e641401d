"""CUPS's IPP conformance suites: every test ippeveprinter passes must pass against fakecups.

Runs tests/conformance.py's comparison (ipp-1.1, ipp-2.0, ipp-2.1, ipp-2.2 and ipp-everywhere
against fakecups's printer persona and against ippeveprinter, side by side).  The whole
comparison takes about 35 s here, under the ~60 s budget, so all five suites run; were it to
grow past that, CONFORMANCE_SUITES would keep ipp-1.1, ipp-2.0 and ipp-everywhere (the
last includes the first two).

Skipped when ipptool, ippeveprinter, dbus-daemon or systemd-socket-activate is missing, or
when FAKECUPS_SKIP_CONFORMANCE is set in the environment.
"""

import io
import os
import unittest

from tests import conformance

# ipp-2.1 and ipp-2.2 with -V 2.0, and ippeveprinter with `-c true` (a job done as soon as
# `true` exits) to stay within the budget; `python3 tests/conformance.py` runs them natively
# and ippeveprinter as people run it (5-15 s a job), which takes about 15 minutes.
CONFORMANCE_SUITES = conformance.SUITES_V20      # measured: ~35 s for all five
needs_real_programs = ("ipptool", "ippeveprinter", "dbus-daemon", "systemd-socket-activate")


def _skip_reason():
    if os.environ.get("FAKECUPS_SKIP_CONFORMANCE"):
        return "FAKECUPS_SKIP_CONFORMANCE is set"
    missing = conformance.missing_programs()
    if missing:
        return "needs " + ", ".join(missing)
    return None


@unittest.skipIf(_skip_reason(), _skip_reason() or "")
class Conformance(unittest.TestCase):

    def test_fakecups_passes_what_ippeveprinter_passes(self):
        report = io.StringIO()

        def out(line=""):
            report.write(line + "\n")

        status, results, bad, _tmp = conformance.run_comparison(
            CONFORMANCE_SUITES, out=out, eve_command=conformance.which("true"))
        if status == 2:
            self.fail("the comparison could not run:\n" + report.getvalue())
        self.assertEqual(set(results), {name for name, _ in CONFORMANCE_SUITES},
                         report.getvalue())
        for suite, (fake, eve, _buckets) in results.items():
            # A suite that reported nothing would pass vacuously.
            self.assertTrue(fake.results and eve.results,
                            "%s: no results\n%s" % (suite, report.getvalue()))
        self.assertEqual(bad, [], "tests ippeveprinter passes and fakecups does not:\n"
                         + report.getvalue())
        self.assertEqual(status, 0, report.getvalue())


if __name__ == "__main__":
    unittest.main()
