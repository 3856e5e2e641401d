"""Real CUPS clients against a printer persona whose jobs take time (issue 11): `lp`, then
`lpstat -o` shows the job queued and, once its pages are printed, no longer (it is listed by
`lpstat -W completed -o`); `lp -H hold` then `lp -i ID -H resume`; `lp -i ID -q`; `cancel`.

--pages-per-minute 60: tiny.pdf (one page) prints in one second; every wait is bounded.
No test depends on another: each uses the job ids its own lp commands return.
"""

import unittest

from tests.support import ServedCleanly, wait_until
from tests.test_printer import CANCELED, COMPLETED, FILES, HELD, PrinterListener

WAIT = 10.0                     # seconds, at most, for a one-page job to print


class TimedClients(ServedCleanly, PrinterListener):
    pages_per_minute = 60

    def lp(self, *args):
        code, out, err = self.client("lp", "-h", self.host, "-d", "office", *args)
        self.assertEqual((code, err), (0, ""), out)
        return int(out.split("office-")[1].split()[0])

    def queued(self, *args):
        """Job ids `lpstat [args] -o office` lists (args such as -W completed come first)."""
        code, out, err = self.client("lpstat", "-h", self.host, *args, "-o", "office")
        self.assertEqual((code, err), (0, ""), out)
        return [int(line.split()[0].split("-")[-1]) for line in out.splitlines() if line.strip()]

    def wait_until_done(self, job_id):
        return wait_until(lambda: job_id not in self.queued(), WAIT, 0.2)

    def test_queued_then_completed(self):
        job_id = self.lp(str(FILES / "tiny.pdf"))
        self.assertIn(job_id, self.queued())
        self.assertTrue(self.wait_until_done(job_id), "still queued after %d s" % WAIT)
        self.assertIn(job_id, self.queued("-W", "completed"))
        self.assertEqual(self.job_record(job_id)["state"], COMPLETED)

    def test_hold_then_resume(self):
        job_id = self.lp("-H", "hold", str(FILES / "tiny.pdf"))
        # held: still so after longer than the job would take (1 s), ended early if not
        self.assertFalse(wait_until(lambda: self.job_record(job_id)["state"] != HELD, 1.5, 0.1),
                         "the held job left the held state")
        self.assertIn(job_id, self.queued())
        self.assertEqual(self.job_record(job_id)["state"], HELD)
        code, out, err = self.client("lp", "-h", self.host, "-i", "office-%d" % job_id,
                                     "-q", "80")
        self.assertEqual((code, out, err), (0, "", ""))
        self.assertEqual(self.job_record(job_id)["priority"], 80)
        code, out, err = self.client("lp", "-h", self.host, "-i", "office-%d" % job_id,
                                     "-H", "resume")
        self.assertEqual((code, out, err), (0, "", ""))
        self.assertTrue(self.wait_until_done(job_id), "still queued after %d s" % WAIT)
        self.assertEqual(self.job_record(job_id)["state"], COMPLETED)

    def test_cancel_held(self):
        job_id = self.lp("-H", "hold", str(FILES / "tiny.pdf"))
        code, out, err = self.client("cancel", "-h", self.host, "office-%d" % job_id)
        self.assertEqual((code, out, err), (0, "", ""))
        self.assertNotIn(job_id, self.queued())
        self.assertEqual(self.job_record(job_id)["state"], CANCELED)

    # test_server_stderr_clean (support.ServedCleanly) stands for test_4_server_quiet; every
    # test's tearDown makes the same check.


if __name__ == "__main__":
    unittest.main()
