#!/usr/bin/env python3
"""CUPS's IPP conformance suites against fakecups's printer persona and against ippeveprinter.

    python3 tests/conformance.py [--keep] [--suite NAME ...] [--strict] [--pristine]
                                 [--eve-command CMD] [--v20]

Runs ipp-1.1.test (ipptool -I -V 1.1), ipp-2.0.test (-V 2.0), ipp-2.1.test (-V 2.1),
ipp-2.2.test (-V 2.2) and ipp-everywhere.test (-V 2.0) from /usr/share/cups/ipptool/ (--v20:
ipp-2.1 and ipp-2.2 with -V 2.0 too, as before) against

  * fakecups.py --persona printer, behind systemd-socket-activate on 127.0.0.1:PORT
    (URI ipp://127.0.0.1:PORT/ipp/print), and
  * CUPS's reference printer ippeveprinter (package cups-ipp-utils) on 127.0.0.1:PORT2,

side by side (the two servers' runs of one suite in parallel, the suites one after another;
from copies of the suite files that only shorten ipptool's wait before repeating a test
answered server-error-busy, see prepare_suites; --pristine runs the files as installed),
with ipptool's working directory holding the sample documents the suites name (FILE
document-a4.pdf, color.jpg, pwg-raster-samples-300dpi/..., all made here with stdlib code)
and `-f tests/captures/files/tiny.pdf` for $filename.

Each run's `-t` report is parsed into {(index, test name): PASS/FAIL/SKIP}; test names can
repeat within a suite, so the index (the test's place in the report) is part of the key.
A table per suite shows the tests both pass, fakecups-only failures, ippeveprinter-only
failures and the totals.  Exit status 0 when every test ippeveprinter passes also passes
against fakecups, except that a test fakecups SKIPs because it does not advertise an optional
feature (deflate/gzip compression, a raster type, ...) is listed but not counted against it
unless --strict is given; else 1, with the tests listed (their EXPECTED/GOT lines too).
Exit status 2: a program is missing or a server did not start.

ippeveprinter is started as
    ippeveprinter -p PORT2 -f application/pdf,image/jpeg,image/pwg-raster,application/postscript
                  -r off -n localhost -d SPOOL NAME
with DBUS_SESSION_BUS_ADDRESS and DBUS_SYSTEM_BUS_ADDRESS pointing at a private
`dbus-daemon --session` (its Avahi client needs a D-Bus connection, and the system bus may not
exist; AVAHI_CLIENT_NO_FAIL copes with no avahi-daemon).  `-n localhost` rather than
127.0.0.1: ippeveprinter binds one IPv4 and one IPv6 listener for the -n name and gives up
when the name has no IPv6 address, so it listens on 127.0.0.1 and ::1, loopback only.
No `-c`, as people run it: without a print command ippeveprinter "prints" each job by
sleeping 5-15 s and answers server-error-busy to a Create-Job meanwhile, so its jobs are
still pending when the suites' Get-Jobs tests look.  --eve-command /usr/bin/true gives it one
(it then finishes a job as soon as the command exits, which is quicker; tests/test_conformance
runs that way to stay within its time budget).

Everything stays on loopback; every ipptool run is bounded (RUN_TIMEOUT); every process
started here is ended in a finally block.  --keep leaves the temporary directory (ipptool
reports, server logs, spools, sample documents) and prints where it is.
"""

import argparse
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(ROOT))               # so that it runs as a script too
from tests.support import (fakecups_listener, free_port, stop_process,  # noqa: E402
                           wait_for_port, wait_until, which)
TINY_PDF = TESTS / "captures" / "files" / "tiny.pdf"
IPPTOOL_DIR = Path("/usr/share/cups/ipptool")

# (suite file, ipptool -V version)
SUITES = (("ipp-1.1.test", "1.1"), ("ipp-2.0.test", "2.0"), ("ipp-2.1.test", "2.1"),
          ("ipp-2.2.test", "2.2"), ("ipp-everywhere.test", "2.0"))
SUITES_V20 = tuple((name, "2.0" if version in ("2.1", "2.2") else version)
                   for name, version in SUITES)
RUN_TIMEOUT = 300             # seconds one ipptool run may take
IO_TIMEOUT = 30               # ipptool -T: seconds to wait for one response
START_TIMEOUT = 15            # seconds a server may take to accept connections
REPEAT_INTERVAL = "0.5"       # seconds ipptool waits before repeating a test (see prepare_suites)
PRINTER_NAME = "fakecups-conformance"
EVE_NAME = "ippeveprinter-conformance"
EVE_FORMATS = "application/pdf,image/jpeg,image/pwg-raster,application/postscript"

PROGRAMS = (("ipptool", "cups-ipp-utils"), ("ippeveprinter", "cups-ipp-utils"),
            ("dbus-daemon", "dbus-daemon"), ("systemd-socket-activate", "systemd"))

RESULT_LINE = re.compile(r"^    (\S.*?)\s*\[(PASS|FAIL|SKIP)\]\s*$")
DETAIL_LINE = re.compile(r"^        (.*)$")

def missing_programs():
    """['PROGRAM (apt-get install PACKAGE)', ...] for what is not installed."""
    return ["%s (apt-get install %s)" % (program, package)
            for program, package in PROGRAMS if which(program) is None]


# ── Sample documents ─────────────────────────────────────────────────────────────────────

PAGE_SIZES = {             # name in the sample file names → (width, height in points, PWG name)
    "a4": (595, 842, "iso_a4_210x297mm"),
    "letter": (612, 792, "na_letter_8.5x11in"),
    "4x6": (288, 432, "na_index-4x6_4x6in"),
}


def make_pdf(width, height, text):
    """A one-page PDF of the given size, xref offsets computed."""
    content = ("BT /F1 24 Tf 72 %d Td (%s) Tj ET\n0 0 m %d %d l S\n"
               % (height - 96, text, width, height)).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R "
         "/Resources << /Font << /F1 5 0 R >> >> >>" % (width, height)).encode("ascii"),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_postscript(width, height, text):
    return ("%%!PS-Adobe-3.0\n%%%%BoundingBox: 0 0 %d %d\n%%%%Pages: 1\n%%%%EndComments\n"
            "%%%%Page: 1 1\n<< /PageSize [%d %d] >> setpagedevice\n"
            "/Helvetica findfont 24 scalefont setfont 72 %d moveto (%s) show\n"
            "newpath 0 0 moveto %d %d lineto stroke\nshowpage\n%%%%EOF\n"
            % (width, height, width, height, height - 96, text, width, height)).encode("ascii")


def make_jpeg(width, height, components):
    """A valid baseline JPEG, every 8x8 block flat mid-grey: one quantisation table, a DC
    table whose one code ("0") means difference 0 and an AC table whose one code ("0") is
    end-of-block, so each block is two 0 bits."""
    def segment(marker, payload):
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    blocks = ((width + 7) // 8) * ((height + 7) // 8) * components
    bits = 2 * blocks
    scan = b"\x00" * (bits // 8)
    if bits % 8:
        scan += bytes([0xFF >> (bits % 8)])           # pad the last byte with 1 bits
    one_code = bytes([1] + [0] * 15) + b"\x00"
    comps = b"".join(struct.pack(">BBB", i + 1, 0x11, 0) for i in range(components))
    return (b"\xff\xd8"
            + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00")
            + segment(0xDB, b"\x00" + b"\x01" * 64)
            + segment(0xC0, struct.pack(">BHHB", 8, height, width, components) + comps)
            + segment(0xC4, b"\x00" + one_code)
            + segment(0xC4, b"\x10" + one_code)
            + segment(0xDA, bytes([components])
                      + b"".join(struct.pack(">BB", i + 1, 0x00) for i in range(components))
                      + b"\x00\x3f\x00")
            + scan + b"\xff\xd9")


# PWG raster type → (bits per colour, colours, colour space, white sample byte)
PWG_TYPES = {"black-1": (1, 1, 3, 0x00), "sgray-8": (8, 1, 18, 0xFF),
             "srgb-8": (8, 3, 19, 0xFF), "srgb-16": (16, 3, 19, 0xFF),
             "cmyk-8": (8, 4, 6, 0x00)}


def make_pwg_raster(page, dpi, kind):
    """A one-page blank PWG raster (PWG 5102.4) of a page size and resolution."""
    width_pt, height_pt, media = PAGE_SIZES[page]
    bits, colours, space, white = PWG_TYPES[kind]
    width, height = width_pt * dpi // 72, height_pt * dpi // 72
    bits_per_pixel = bits * colours
    bytes_per_line = (width * bits_per_pixel + 7) // 8
    header = bytearray(1796)

    def put(offset, *values):
        struct.pack_into(">%dI" % len(values), header, offset, *values)

    header[0:9] = b"PwgRaster"
    put(276, dpi, dpi)                    # HWResolution
    put(340, 1)                           # NumCopies
    put(352, width_pt, height_pt)         # PageSize
    put(372, width, height)               # Width, Height
    put(384, bits, bits_per_pixel, bytes_per_line, 0, space)   # ..., ColorOrder chunky
    put(420, colours)                     # NumColors
    put(452, 1, 1, 1)                     # TotalPageCount, CrossFeedTransform, FeedTransform
    put(464, 0, 0, width, height)         # ImageBox
    put(480, 0xFFFFFF)                    # AlternatePrimary
    header[1732:1732 + len(media)] = media.encode("ascii")
    # Compressed lines: a line-repeat byte (count - 1, so up to 256 lines), then runs of
    # "byte n (0..127) = n + 1 copies of the next pixel"; a 1-bit line counts in bytes.
    unit = max(1, bits_per_pixel // 8)
    units = bytes_per_line // unit
    run = bytes([127]) + bytes([white]) * unit
    line = run * (units // 128)
    if units % 128:
        line += bytes([units % 128 - 1]) + bytes([white]) * unit
    body = bytearray()
    remaining = height
    while remaining:
        lines = min(256, remaining)
        body += bytes([lines - 1]) + line
        remaining -= lines
    return b"RaS2" + bytes(header) + bytes(body)


def suite_files(suites):
    """The FILE / SKIP-IF-MISSING names of the suites and what they INCLUDE."""
    names, seen = set(), set()

    def scan(name):
        if name in seen:
            return
        seen.add(name)
        path = IPPTOOL_DIR / name
        if not path.exists():
            return
        for line in path.read_text(errors="replace").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("FILE", "SKIP-IF-MISSING"):
                names.add(words[1].strip('"'))
            elif len(words) >= 2 and words[0] == "INCLUDE":
                scan(words[1].strip('"<>'))

    for suite in suites:
        scan(suite)
    return names


def make_documents(directory, suites):
    """Writes into directory every sample document the suites name; returns how many."""
    count = 0
    for name in sorted(suite_files(suites)):
        if name.startswith("$") or name.startswith("<"):
            continue
        data = sample_document(name)
        if data is None:
            continue
        path = Path(directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        count += 1
    return count


def sample_document(name):
    base = os.path.basename(name)
    match = re.match(r"^(?:color\.jpg-4x6|gray\.jpg-4x6|document-a4|document-letter|"
                     r"onepage-a4|onepage-letter)-(black-1|sgray-8|srgb-8|srgb-16|cmyk-8)-"
                     r"(\d+)dpi\.pwg$", base)
    if match:
        page = "4x6" if "4x6" in base else "a4" if "-a4-" in base else "letter"
        return make_pwg_raster(page, int(match.group(2)), match.group(1))
    simple = {
        "document-a4.pdf": lambda: make_pdf(595, 842, "fakecups conformance A4"),
        "document-letter.pdf": lambda: make_pdf(612, 792, "fakecups conformance Letter"),
        "document-a4.ps": lambda: make_postscript(595, 842, "fakecups conformance A4"),
        "document-letter.ps": lambda: make_postscript(612, 792, "fakecups conformance Letter"),
        "color.jpg": lambda: make_jpeg(64, 48, 3),
        "gray.jpg": lambda: make_jpeg(64, 48, 1),
    }
    maker = simple.get(base)
    return maker() if maker else None


# ── Servers ──────────────────────────────────────────────────────────────────────────────

class Servers:
    """fakecups behind systemd-socket-activate, a private dbus-daemon and ippeveprinter."""

    def __init__(self, tmp, eve_command=None, fake_args=()):
        self.tmp = Path(tmp)
        self.eve_command = eve_command
        self.fake_args = list(fake_args)
        self.procs = []
        self.fake_port = self.eve_port = None
        self.fake_log = self.tmp / "fakecups-log" / "fakecups.log"
        self.fake_spool = self.tmp / "fakecups-state" / "spool"
        self.eve_spool = self.tmp / "ippeveprinter-spool"

    def _popen(self, argv, log_name, **kwargs):
        log = open(self.tmp / log_name, "ab")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    **kwargs)
        finally:
            log.close()
        self.procs.append(proc)
        return proc

    def start_fakecups(self):
        # fakecups opens its log as root, then runs as nobody, who makes the spool.
        (self.tmp / "fakecups-log").mkdir(mode=0o755, exist_ok=True)
        os.chmod(self.tmp / "fakecups-log", 0o755)
        (self.tmp / "fakecups-state").mkdir(exist_ok=True)
        os.chmod(self.tmp / "fakecups-state", 0o777)
        listener = fakecups_listener(self.tmp, "--persona", "printer", "--printer", PRINTER_NAME,
                                     "--spool", self.fake_spool, "--log", self.fake_log,
                                     "--format", "json", *self.fake_args,
                                     stderr_name="fakecups-listener.stderr")
        listener.start(START_TIMEOUT)
        self.procs.append(listener.proc)
        self.fake_port = listener.port
        return "ipp://127.0.0.1:%d/ipp/print" % listener.port

    def start_dbus(self):
        proc = subprocess.Popen([which("dbus-daemon"), "--session", "--nofork",
                                 "--print-address=1"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
        address = proc.stdout.readline().decode().strip() if ready else ""
        if not address:
            raise RuntimeError("dbus-daemon --session printed no address")
        return address

    def start_ippeveprinter(self):
        bus = self.start_dbus()
        self.eve_spool.mkdir(exist_ok=True)
        env = dict(os.environ, LC_ALL="C", DBUS_SESSION_BUS_ADDRESS=bus,
                   DBUS_SYSTEM_BUS_ADDRESS=bus, HOME=str(self.tmp))
        for _attempt in range(3):
            port = free_port()
            started = time.monotonic()
            command = ["-c", self.eve_command] if self.eve_command else []
            proc = self._popen([which("ippeveprinter"), "-p", str(port), "-f", EVE_FORMATS,
                                "-r", "off", "-n", "localhost", "-d", str(self.eve_spool)]
                               + command + [EVE_NAME], "ippeveprinter.log", cwd=str(self.tmp),
                               env=env)
            if wait_for_port(port, START_TIMEOUT, proc):
                self.eve_port = port
                # Its printer-up-time counts whole seconds from its start, and 0 fails
                # ipp-1.1's "printer-up-time WITH-VALUE >0": not a difference worth showing.
                # So: until a whole second (and a little) has passed since it started.
                wait_until(lambda: time.monotonic() - started >= 1.1, 2, 0.05)
                return "ipp://127.0.0.1:%d/ipp/print" % port
            stop_process(proc)
        raise RuntimeError("ippeveprinter did not listen (see %s)" % (self.tmp / "ippeveprinter.log"))

    def stop_all(self):
        for proc in reversed(self.procs):
            try:
                stop_process(proc)
            except Exception:           # keep ending the others
                pass


# ── ipptool runs and their reports ───────────────────────────────────────────────────────

class Run:
    """One ipptool run of one suite against one server."""

    def __init__(self, suite, server):
        self.suite = suite
        self.server = server
        self.results = {}          # (index, name) -> "PASS" | "FAIL" | "SKIP"
        self.details = {}          # (index, name) -> [report lines under the test]
        self.returncode = None
        self.seconds = None
        self.summary = ""
        self.errors = []           # ipptool's own complaints (a file it could not read, ...)
        self.report = ""


def parse_report(text):
    """{(index, name): status}, {(index, name): detail lines}, summary, ipptool errors."""
    results, details, errors = {}, {}, []
    summary = ""
    current = None
    for line in text.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            current = (len(results), match.group(1))
            results[current] = match.group(2)
            details[current] = []
            continue
        detail = DETAIL_LINE.match(line)
        if detail and current is not None:
            details[current].append(detail.group(1))
            continue
        if line.startswith("Summary:"):
            summary = line
        elif line.startswith("ipptool:"):
            errors.append(line)
    return results, details, summary, errors


def prepare_suites(suites, directory, pristine=False):
    """The directory the suite files are read from: IPPTOOL_DIR itself when pristine, else
    a copy of the suites and what they INCLUDE in which every test starts with
    `DELAY "0,%s"` (no delay before the test, as by default; REPEAT_INTERVAL seconds instead
    of 5 before a repeat, e.g. after server-error-busy).  ippeveprinter prints one job at a
    time and answers server-error-busy to a Print-Job that comes while it finishes the last
    one, which ipptool sends a few milliseconds after the last one's answer: with ipptool's
    5 s wait ipp-everywhere.test alone runs over RUN_TIMEOUT against it.  Tests, names and
    expectations are unchanged (fakecups never answers busy)."""
    if pristine:
        return IPPTOOL_DIR
    target = Path(directory)
    target.mkdir(exist_ok=True)
    todo, done = [name for name, _ in suites], set()
    while todo:
        name = todo.pop()
        if name in done or not (IPPTOOL_DIR / name).exists():
            continue
        done.add(name)
        lines = []
        for line in (IPPTOOL_DIR / name).read_text(errors="surrogateescape").splitlines(True):
            lines.append(line)
            words = line.split()
            if line.rstrip() == "{":
                lines.append('\tDELAY "0,%s"\n' % REPEAT_INTERVAL)
            elif len(words) >= 2 and words[0] == "INCLUDE":
                todo.append(words[1].strip('"<>'))
        (target / name).write_text("".join(lines), errors="surrogateescape")
    return target


def run_suite(suite, version, server, uri, workdir, outdir, documents=TINY_PDF,
              suite_dir=IPPTOOL_DIR):
    run = Run(suite, server)
    argv = [which("ipptool"), "-I", "-V", version, "-T", str(IO_TIMEOUT), "-t",
            "-f", str(documents), uri, str(Path(suite_dir) / suite)]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=str(workdir), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=RUN_TIMEOUT,
                              env=dict(os.environ, LC_ALL="C"))
        run.returncode = done.returncode
        output = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as timeout:
        run.returncode = "timeout"
        output = ((timeout.stdout or b"") + (timeout.stderr or b"")).decode("utf-8", "replace")
        output += "\nipptool: no end after %d s, killed\n" % RUN_TIMEOUT
    run.seconds = time.monotonic() - started
    run.report = output
    (Path(outdir) / ("%s.%s.txt" % (suite, server))).write_text(output)
    run.results, run.details, run.summary, run.errors = parse_report(output)
    return run


def compare(fake, eve):
    """Buckets of keys: both pass, failing only on fakecups, only on ippeveprinter, passing
    on ippeveprinter but skipped / not reported on fakecups, and the other combinations."""
    keys = sorted(set(fake.results) | set(eve.results))
    buckets = {"both-pass": [], "fakecups-only-fail": [], "eve-only-fail": [], "both-fail": [],
               "eve-pass-fakecups-skip": [], "eve-pass-fakecups-missing": [],
               "fakecups-pass-eve-skip": [], "both-skip": [], "other": []}
    for key in keys:
        f, e = fake.results.get(key), eve.results.get(key)
        if f == e == "PASS":
            bucket = "both-pass"
        elif f == "FAIL" and e == "FAIL":
            bucket = "both-fail"
        elif f == "FAIL" and e in ("PASS", "SKIP", None):
            bucket = "fakecups-only-fail"
        elif e == "FAIL":
            bucket = "eve-only-fail"
        elif e == "PASS" and f == "SKIP":
            bucket = "eve-pass-fakecups-skip"
        elif e == "PASS" and f is None:
            bucket = "eve-pass-fakecups-missing"
        elif f == "PASS" and e == "SKIP":
            bucket = "fakecups-pass-eve-skip"
        elif f == e == "SKIP":
            bucket = "both-skip"
        else:
            bucket = "other"
        buckets[bucket].append(key)
    return buckets


def regressions(fake, eve, buckets, strict=False):
    """Keys ippeveprinter passes that fakecups does not (FAIL, or absent from its report;
    with strict, also SKIP)."""
    keys = [k for k in buckets["fakecups-only-fail"] if eve.results.get(k) == "PASS"]
    keys += buckets["eve-pass-fakecups-missing"]
    if strict:
        keys += buckets["eve-pass-fakecups-skip"]
    return sorted(keys)


def counts(run):
    values = list(run.results.values())
    return "%d tests: %d PASS, %d FAIL, %d SKIP" % (
        len(values), values.count("PASS"), values.count("FAIL"), values.count("SKIP"))


def failure_lines(run, key, limit=12):
    wanted = [l for l in run.details.get(key, ())
              if l.startswith(("EXPECTED", "GOT", "status-code", "RECEIVED", "BAD", "WITH"))
              or "expected" in l.lower()]
    return (wanted or list(run.details.get(key, ())))[:limit]


def format_table(suite, fake, eve, buckets, strict=False, out=print):
    out("")
    out("== %s  (fakecups %.1f s, ippeveprinter %.1f s) ==" % (suite, fake.seconds, eve.seconds))
    rows = [("both PASS", "both-pass"), ("FAIL on fakecups only", "fakecups-only-fail"),
            ("FAIL on ippeveprinter only", "eve-only-fail"), ("FAIL on both", "both-fail"),
            ("PASS on ippeveprinter, SKIP on fakecups", "eve-pass-fakecups-skip"),
            ("PASS on ippeveprinter, absent on fakecups", "eve-pass-fakecups-missing"),
            ("PASS on fakecups, SKIP on ippeveprinter", "fakecups-pass-eve-skip"),
            ("SKIP on both", "both-skip"), ("other", "other")]
    for label, bucket in rows:
        if buckets[bucket] or bucket in ("both-pass", "fakecups-only-fail", "eve-only-fail"):
            out("  %-44s %4d" % (label, len(buckets[bucket])))
    out("  %-44s %s" % ("total fakecups", counts(fake)))
    out("  %-44s %s" % ("total ippeveprinter", counts(eve)))
    # ipptool's own Summary counts only the named file's tests, not those it INCLUDEs.
    out("  ipptool fakecups:      %s (exit %s)" % (fake.summary or "no summary", fake.returncode))
    out("  ipptool ippeveprinter: %s (exit %s)" % (eve.summary or "no summary", eve.returncode))
    for run in (fake, eve):
        for error in run.errors:
            out("  %s: %s" % (run.server, error))
    for label, bucket, shown in (("FAIL on fakecups only", "fakecups-only-fail", (fake,)),
                                 ("FAIL on ippeveprinter only", "eve-only-fail", (eve,)),
                                 ("FAIL on both", "both-fail", (fake, eve))):
        if buckets[bucket]:
            out("  -- %s:" % label)
            for key in buckets[bucket]:
                out("     #%d %s" % key)
                for run in shown:
                    if len(shown) > 1:
                        out("       %s:" % run.server)
                    for line in failure_lines(run, key):
                        out("         %s" % line)
    for label, bucket in (("PASS on ippeveprinter, SKIP on fakecups", "eve-pass-fakecups-skip"),
                          ("PASS on ippeveprinter, absent on fakecups", "eve-pass-fakecups-missing")):
        if buckets[bucket]:
            out("  -- %s%s:" % (label, "" if strict or "absent" in label else " (not counted; --strict counts them)"))
            for key in buckets[bucket]:
                out("     #%d %s" % key)


def run_comparison(suites=SUITES, keep=False, strict=False, pristine=False, out=print,
                   eve_command=None, fake_args=()):
    """Runs the suites against both servers and prints the tables.

    Returns (exit status, {suite: (fake Run, eve Run, buckets)}, [(suite, key), ...] that
    ippeveprinter passes and fakecups does not, the temporary directory or None)."""
    missing = missing_programs()
    if missing:
        out("missing: " + ", ".join(missing))
        return 2, {}, [], None
    tmp = tempfile.mkdtemp(prefix="fakecups-conformance-")
    os.chmod(tmp, 0o755)
    workdir = Path(tmp) / "documents"
    outdir = Path(tmp) / "reports"
    workdir.mkdir()
    outdir.mkdir()
    servers = Servers(tmp, eve_command, fake_args)
    results, bad = {}, []
    status = 0
    started = time.monotonic()
    try:
        made = make_documents(workdir, [name for name, _ in suites])
        suite_dir = prepare_suites(suites, Path(tmp) / "suites", pristine)
        try:
            fake_uri = servers.start_fakecups()
            eve_uri = servers.start_ippeveprinter()
        except RuntimeError as error:
            out("cannot start: %s" % error)
            return 2, {}, [], tmp
        out("fakecups       %s" % fake_uri)
        out("ippeveprinter  %s (%s)" % (eve_uri, "-c %s" % eve_command if eve_command
                                        else "no -c: each job takes 5-15 s, as people run it"))
        out("%d sample documents in %s; $filename = %s" % (made, workdir, TINY_PDF))
        out("suites from %s%s" % (suite_dir, "" if pristine else
                                  " (copies: %s s before a repeat, not 5)" % REPEAT_INTERVAL))
        for suite, version in suites:
            out("")
            out("ipptool -V %s %s" % (version, suite))
            runs = {}

            def one(server, uri):
                runs[server] = run_suite(suite, version, server, uri, workdir, outdir,
                                         suite_dir=suite_dir)

            threads = [threading.Thread(target=one, args=("fakecups", fake_uri)),
                       threading.Thread(target=one, args=("ippeveprinter", eve_uri))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            fake, eve = runs["fakecups"], runs["ippeveprinter"]
            buckets = compare(fake, eve)
            results[suite] = (fake, eve, buckets)
            format_table(suite, fake, eve, buckets, strict, out)
            bad += [(suite, key) for key in regressions(fake, eve, buckets, strict)]
        out("")
        out("total time %.1f s" % (time.monotonic() - started))
        if bad:
            status = 1
            out("%d test(s) pass against ippeveprinter but not against fakecups:" % len(bad))
            for suite, (index, name) in bad:
                out("  %s #%d %s: %s" % (suite, index, name,
                                         results[suite][0].results.get((index, name), "absent")))
        else:
            out("every test ippeveprinter passes also passes against fakecups%s"
                % ("" if strict else " (or is skipped by it for lack of an optional feature)"))
        return status, results, bad, tmp
    finally:
        servers.stop_all()
        if keep:
            out("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--strict", action="store_true",
                        help="count a test ippeveprinter passes and fakecups skips as a failure")
    parser.add_argument("--pristine", action="store_true",
                        help="run the suite files as installed (ipptool waits 5 s before "
                             "each repeat; ipp-everywhere then overruns against ippeveprinter)")
    parser.add_argument("--suite", action="append", metavar="NAME",
                        help="run only this suite (ipp-1.1.test, ...); may repeat")
    parser.add_argument("--eve-command", metavar="CMD",
                        help="ippeveprinter's -c print command (default none: it takes 5-15 s "
                             "a job, as people run it)")
    parser.add_argument("--v20", action="store_true",
                        help="run ipp-2.1 and ipp-2.2 with -V 2.0 rather than their own versions")
    options = parser.parse_args(argv)
    suites = SUITES_V20 if options.v20 else SUITES
    if options.suite:
        names = {name if name.endswith(".test") else name + ".test" for name in options.suite}
        suites = tuple(s for s in suites if s[0] in names)
        if not suites:
            parser.error("no such suite: %s" % ", ".join(options.suite))
    # A TERM or an INT ends the run through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    status, _results, _bad, _tmp = run_comparison(suites, options.keep, options.strict,
                                                  options.pristine,
                                                  eve_command=options.eve_command)
    return status


if __name__ == "__main__":
    sys.exit(main())
