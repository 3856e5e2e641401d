"""`python3 -m tests`: run the whole suite with unittest and end on one plain summary line
("N passed, N failed, N skipped") that CI and people can read at a glance.

    python3 -m tests [--quick] [-v] [NAME ...]

--quick: only what drives no real client or daemon (lp*, ipptool, cupsd, xinetd,
systemd-socket-activate, rsyslogd, the conformance suites) -- every test not marked with
tests.support.needs_real_programs -- for a fast inner loop.  It runs in a few processes
side by side (most of the time is spent waiting: timeouts, child processes), the classes
marked tests.support.long_running first (quick_units), and sums their counts.
NAME (tests.test_ipp, tests.test_ipp.CapturedRequests, ...): only those.
"""

import os
import re
import subprocess
import sys
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", re.M)
QUICK_WORKERS = 4
REST_PROCESSES = 3


def needs_real_programs(test):
    """Whether the test, its class or its module carries the needs_real_programs marker."""
    method = getattr(test, getattr(test, "_testMethodName", ""), None)
    module = sys.modules.get(type(test).__module__)
    return any(isinstance(getattr(owner, "needs_real_programs", None), tuple)
               for owner in (method, type(test), module))


def class_of(test):
    """"module.Class" of a test, or the module's name for one that did not import."""
    if isinstance(test, unittest.loader._FailedTest):
        return test._testMethodName
    return "%s.%s" % (type(test).__module__, type(test).__qualname__)


def tests_in(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from tests_in(item)
        else:
            yield item


def load(names):
    loader = unittest.defaultTestLoader
    if names:
        return loader.loadTestsFromNames(names)
    return loader.discover(str(ROOT / "tests"), top_level_dir=str(ROOT))


def run(suite, verbosity):
    """Run in this process; print the skip reasons and the summary line; whether all passed."""
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    if result.skipped:
        print("skipped:")
        for test, reason in result.skipped:
            print("  %s: %s" % (test.id(), reason))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return result.wasSuccessful()


def quick_units(tests):
    """How --quick splits the tests into processes: [[names]], longest first.  A class marked
    long_running(seconds) is a process of its own, started first, longest first; the other
    modules share REST_PROCESSES processes (each process costs an interpreter's start)."""
    long_classes = {}
    rest = [[] for _ in range(REST_PROCESSES)]
    modules = []
    for test in tests:
        seconds = getattr(test, "long_running", 0)
        if seconds:
            long_classes.setdefault(class_of(test), seconds)
            continue
        module = type(test).__module__
        if module not in modules:
            modules.append(module)
        names = rest[modules.index(module) % REST_PROCESSES]
        if class_of(test) not in names:
            names.append(class_of(test))
    ordered = sorted(long_classes, key=lambda name: -long_classes[name])
    return [[name] for name in ordered] + [names for names in rest if names]


def run_side_by_side(units, flags):
    """Each unit (test classes) in a process of its own, QUICK_WORKERS at a time;
    then, in order, a line for each (its whole output where something failed or skipped),
    then the summed summary line."""
    def one(names):
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "tests", *flags, *names], cwd=str(ROOT),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        return done, time.monotonic() - started

    with ThreadPoolExecutor(QUICK_WORKERS) as pool:
        outcomes = list(pool.map(one, units))
    totals = [0, 0, 0]
    ok = True
    for names, (done, seconds) in zip(units, outcomes):
        text = done.stdout.decode("utf-8", "replace")
        counts = SUMMARY.findall(text)
        if counts:
            totals = [total + int(n) for total, n in zip(totals, counts[-1])]
        else:
            totals[1] += 1                  # it did not even report: count it failed
        clean = done.returncode == 0 and counts and counts[-1][1:] == ("0", "0")
        ok = ok and done.returncode == 0 and bool(counts)
        print("%s  %s%s (%.1f s)" % (counts[-1][0] + " passed" if clean else "see below",
                                     names[0], " and %d more" % (len(names) - 1)
                                     if len(names) > 1 else "", seconds))
        if not clean or "-v" in flags:
            print(text.rstrip("\n"))
    print("%d passed, %d failed, %d skipped" % tuple(totals))
    return ok


def main(argv):
    quick = "--quick" in argv
    verbosity = 2 if "-v" in argv else 1
    names = [arg for arg in argv if not arg.startswith("-")]
    sys.path.insert(0, str(ROOT))
    os.chdir(str(ROOT))
    tests = list(tests_in(load(names)))
    if quick:
        tests = [test for test in tests if not needs_real_programs(test)]
        if not names:
            flags = [arg for arg in argv if arg.startswith("-")]
            return run_side_by_side(quick_units(tests), flags)
    return run(unittest.TestSuite(tests), verbosity)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:]) else 1)
