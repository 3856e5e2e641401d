"""`python3 -m tests`: run the whole suite with unittest and end on one plain summary line
("N passed, N failed, N skipped") that CI and people can read at a glance."""

import sys
import unittest
from pathlib import Path


def main():
    root = Path(__file__).resolve().parent.parent
    suite = unittest.defaultTestLoader.discover(str(root / "tests"), top_level_dir=str(root))
    verbosity = 2 if "-v" in sys.argv[1:] else 1
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    if result.skipped:
        print("skipped:")
        for test, reason in result.skipped:
            print("  %s: %s" % (test.id(), reason))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
