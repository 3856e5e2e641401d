"""Shared test helpers, one home for each.

* where the captures are, and their streams;
* cutting client and server byte streams into HTTP requests and responses -- written apart
  from fakecups' own framing code, so that no test grades fakecups with its own ruler;
* reading the capture tool's own decode (ipp.txt), another oracle written apart from fakecups;
* running fakecups: as xinetd would (a pipe), in-process (serve_connection), and behind
  systemd-socket-activate (SocketActivated, ListenerCase);
* the real CUPS clients: finding them, their environment, running them;
* stopping processes and waiting for a condition, always bounded in time;
* needs_real_programs, the marker `python3 -m tests --quick` leaves out.

(tests/_codec_support.py used to hold the capture walkers, a request splitter framed with
fakecups' own code and the ipp.txt reader; they live here now, so that a test module has one
place to look and test_ipp's bodies no longer come out of the framing code it relies on.)
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FAKECUPS = ROOT / "fakecups.py"
CAPTURES = TESTS / "captures"
FILES = CAPTURES / "files"
COMMAND_TIMEOUT = 30          # seconds a real client may run before a test gives up on it


# ── The captures ─────────────────────────────────────────────────────────────────────────

def scenarios(state):
    """(name, folder) for every captured client command in captures/<state>/."""
    return sorted((p.name, p) for p in (CAPTURES / state).iterdir() if (p / "meta.json").exists())


def meta(folder):
    return json.loads((folder / "meta.json").read_text())


def connection_files(folder):
    """[(client bytes, server bytes)] per connection, in order."""
    if (folder / "client.bin").exists():
        return [((folder / "client.bin").read_bytes(), (folder / "server.bin").read_bytes())]
    pairs = []
    for n in range(1, 100):
        client = folder / ("conn%d-client.bin" % n)
        if not client.exists():
            break
        pairs.append((client.read_bytes(), (folder / ("conn%d-server.bin" % n)).read_bytes()))
    return pairs


def capture_streams():
    """[(label, client bytes, server bytes, ipp.txt path or None)] for every captured
    connection under captures/{empty,printer}, in a stable order (ipp.txt only where the
    command used one connection)."""
    streams = []
    for state in ("empty", "printer"):
        for name, folder in scenarios(state):
            label = "%s/%s" % (state, name)
            pairs = connection_files(folder)
            if (folder / "client.bin").exists():
                txt = folder / "ipp.txt"
                streams.append((label, *pairs[0], txt if txt.exists() else None))
                continue
            for n, (client, server) in enumerate(pairs, 1):
                streams.append(("%s#conn%d" % (label, n), client, server, None))
    return streams


# ── HTTP messages, framed independently of fakecups ──────────────────────────────────────

class Message:
    """What requests and responses share: header lines in wire order and a body."""

    headers = ()
    body = b""

    def header(self, name):
        """The first value of a header field, or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def is_ipp(self):
        content_type = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        return content_type == "application/ipp"


class Request(Message):
    """One request of a client stream: its head lines (str, latin-1) and its body, de-chunked."""

    def __init__(self, lines, body, chunked):
        self.lines = lines
        self.body = body
        self.chunked = chunked
        self.headers = [tuple(part.strip() for part in line.partition(":")[::2])
                        for line in lines[1:]]

    @property
    def method(self):
        return self.lines[0].split(" ", 1)[0]

    @property
    def target(self):
        parts = self.lines[0].split(" ")
        return parts[1] if len(parts) > 1 else ""

    @property
    def is_ipp(self):
        return self.method == "POST" and super().is_ipp


def _dechunk(data, pos):
    """(body, position after the last chunk) of a chunked body at pos; no trailers."""
    parts = []
    while True:
        line_end = data.index(b"\r\n", pos)
        size = int(data[pos:line_end].split(b";")[0], 16)
        pos = line_end + 2
        if size == 0:
            return b"".join(parts), data.index(b"\r\n", pos) + 2
        parts.append(data[pos:pos + size])
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        pos += size + 2


def split_requests(stream):
    """Every request in a client byte stream (captured, or built by a test), in order."""
    requests = []
    pos = 0
    while pos < len(stream):
        end = stream.index(b"\r\n\r\n", pos)
        lines = stream[pos:end].decode("latin-1").split("\r\n")
        pos = end + 4
        request = Request(lines, b"", False)
        if (request.header("Transfer-Encoding") or "").lower() == "chunked":
            request.body, pos = _dechunk(stream, pos)
            request.chunked = True
        else:
            length = int(request.header("Content-Length") or "0")
            request.body = stream[pos:pos + length]
            pos += length
        requests.append(request)
    return requests


def reframe(lines, body):
    """A request's head lines with another body, framed by Content-Length."""
    kept = [line for line in lines
            if line.split(":", 1)[0].strip().lower() not in ("content-length", "transfer-encoding")]
    kept.insert(1, "Content-Length: %d" % len(body))
    return ("\r\n".join(kept) + "\r\n\r\n").encode("latin-1") + body


class Response(Message):
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # [(name, value)] in wire order
        self.body = body

    def __repr__(self):
        return "Response(%s %d, %r, %d body bytes)" % (
            self.version, self.status, self.headers, len(self.body))


STATUS_LINE = re.compile(rb"(HTTP/1\.[01]) ([1-5][0-9][0-9]) ([\x20-\x7e]+)\Z")
TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
HEADER_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def split_responses(data, methods=(), strict=False, then="HEAD"):
    """Every response in a server byte stream, interim 100s included, in order.

    methods: the request methods in order, so that answers to HEAD are read without a body;
    answers past the list are taken as answers to `then` (by default HEAD: cupsd 2.4 follows
    a HEAD with a stray 404 header block).  strict, for what fakecups sends: the status line
    and header names must be exact RFC 9112 syntax, no header value may hold a control byte,
    no header may repeat, every final answer must have a Content-Length and no coded body,
    and a 100 Continue must be followed by a final answer.
    Raises ValueError on anything malformed."""
    methods = list(methods)
    responses = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError("unterminated response head at byte %d: %r" % (pos, data[pos:pos + 80]))
        lines = data[pos:end].split(b"\r\n")
        match = STATUS_LINE.match(lines[0])
        if strict and not match:
            raise ValueError("bad status line %r" % lines[0])
        version, status, reason = lines[0].decode("latin-1").split(" ", 2)
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            raise ValueError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip() or (strict and not TOKEN.match(name)):
                raise ValueError("bad header line %r" % line)
            if strict and HEADER_CONTROL.search(value):
                raise ValueError("control byte in header value %r" % line)
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        if strict and len({k.lower() for k, _ in headers}) != len(headers):
            raise ValueError("a header repeats: %r" % headers)
        pos = end + 4
        response = Response(version, int(status), reason, headers, b"")
        responses.append(response)
        if response.status == 100:
            continue
        method = methods.pop(0) if methods else then
        coded = response.header("Transfer-Encoding")
        length = response.header("Content-Length")
        if strict and coded is not None:
            raise ValueError("fakecups never sends a coded body: %r" % headers)
        if strict and (length is None or not length.isdigit()):
            raise ValueError("final answer without a valid Content-Length: %r" % headers)
        if method == "HEAD":
            continue
        if (coded or "").lower() == "chunked":
            response.body, pos = _dechunk(data, pos)
        else:
            response.body = data[pos:pos + int(length or 0)]
            if len(response.body) != int(length or 0):
                raise ValueError("body shorter than its Content-Length %s" % length)
            pos += len(response.body)
    if strict and responses and responses[-1].status == 100:
        raise ValueError("100 Continue with no final answer after it")
    return responses


def final_responses(data, methods=(), **options):
    return [r for r in split_responses(data, methods, **options) if r.status != 100]


def captured_requests(scenario, state="empty"):
    """The IPP requests a real client sent in captures/<state>/<scenario>/client.bin."""
    client = (CAPTURES / state / scenario / "client.bin").read_bytes()
    return [request for request in split_requests(client) if request.is_ipp]


def captured_request(scenario, index=0, state="empty"):
    """The index-th IPP request of a capture, decoded (a fakecups.Message): a real client's
    request to start a test's own from, rather than hand-written IPP bytes."""
    import fakecups
    return fakecups.decode_message(captured_requests(scenario, state)[index].body)


def ipp_request_bodies():
    """[(label, request index, body)] for every IPP request in every client stream."""
    found = []
    for label, client, _, _ in capture_streams():
        for index, request in enumerate(split_requests(client)):
            if request.is_ipp:
                found.append((label, index, request.body))
    return found


def ipp_response_bodies():
    """[(label, response index, body)] for every IPP response in every server stream."""
    found = []
    for label, client, server, _ in capture_streams():
        methods = [r.method for r in split_requests(client)]
        for index, response in enumerate(final_responses(server, methods)):
            if response.is_ipp:
                found.append((label, index, response.body))
    return found


# ── The capture tool's decode (ipp.txt), an oracle written apart from fakecups ──────────

_MESSAGE = re.compile(r"^(>>>|<<<)   IPP version=(\d+)\.(\d+) (?:operation|status)=(\S+)\((0x[0-9a-f]{4})\)"
                      r" request-id=(-?\d+)$")
_GROUP = re.compile(r"^(>>>|<<<)   -- ([a-z-]+) \((\d+) attributes\)$")
_ATTRIBUTE = re.compile(r"^(>>>|<<<)      (\S+) \(([A-Za-z-]+)\) = (.*)$")
_DOCUMENT = re.compile(r"^(>>>|<<<)   -- document data: (\d+) bytes")


def parse_ipp_txt(path):
    """{">>>": [message, ...], "<<<": [...]} where a message is a dict with version, code,
    code_name, request_id, groups = [(group name, count, [(name, syntax, shown values)])]
    and document_bytes (None when no document line)."""
    messages = {">>>": [], "<<<": []}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _MESSAGE.match(line)
        if match:
            current = {"version": (int(match.group(2)), int(match.group(3))),
                       "code_name": match.group(4), "code": int(match.group(5), 16),
                       "request_id": int(match.group(6)), "groups": [], "document_bytes": None}
            messages[match.group(1)].append(current)
            continue
        match = _GROUP.match(line)
        if match:
            current["groups"].append((match.group(2), int(match.group(3)), []))
            continue
        match = _ATTRIBUTE.match(line)
        if match and current is not None and current["groups"]:
            current["groups"][-1][2].append((match.group(2), match.group(3), match.group(4)))
            continue
        match = _DOCUMENT.match(line)
        if match:
            current["document_bytes"] = int(match.group(2))
    return messages


def show_value(tag, value):
    """A decoded value as the capture tool printed it in ipp.txt."""
    import fakecups
    if tag in (0x10, 0x12, 0x13):
        return "None"
    if tag == fakecups.TAG_RANGE:
        return repr("%d-%d" % value)
    if tag == fakecups.TAG_DATETIME:
        return repr("%04d-%02d-%02dT%02d:%02d:%02d.%d%s%02d%02d" % value)
    return repr(value)


def show_values(values, shown=12):
    """The capture tool's value list: the first 12, then "... (+N)"."""
    text = ", ".join(show_value(tag, value) for tag, value in values[:shown])
    if len(values) > shown:
        text += " ... (+%d)" % (len(values) - shown)
    return text


# ── Running fakecups ─────────────────────────────────────────────────────────────────────

def run_fakecups(stdin, *args, timeout=20, env=None):
    """Run fakecups.py as xinetd would, with a file on stdin; returns CompletedProcess."""
    return subprocess.run([sys.executable, str(FAKECUPS), *args], input=stdin,
                          capture_output=True, timeout=timeout,
                          env=dict(os.environ if env is None else env))


def json_records(path):
    """The records of a --format json log, in order ([] when there is no log)."""
    try:
        with open(path, "rb") as log:
            return [json.loads(line) for line in log.read().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def run_fakecups_logged(stdin, *args, timeout=20):
    """run_fakecups with its JSON records in a temporary log: (CompletedProcess, [records])."""
    with tempfile.TemporaryDirectory(prefix="fakecups-run-") as tmp:
        log = os.path.join(tmp, "log")
        result = run_fakecups(stdin, "--log", log, "--format", "json", *args, timeout=timeout)
        return result, json_records(log)


def serve_in_process(reader, config, fmt="json", recorder_args=(), started=None, peer="-"):
    """fakecups.serve_connection on one connection in this process: reader is the
    ByteReader over the client's bytes, records go to a temporary log in fmt.  Returns
    ([every send], the log's bytes).  Whatever serve_connection raises is the caller's."""
    import fakecups
    with tempfile.TemporaryDirectory(prefix="fakecups-serve-") as tmp:
        path = os.path.join(tmp, "log")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        sends = []
        try:
            recorder = fakecups.Recorder(fmt, fd, path, *recorder_args)
            connection = fakecups.ConnectionRecord(time.time() if started is None else started,
                                                   peer, 1)
            fakecups.serve_connection(reader, sends.append, connection, config, recorder)
        finally:
            os.close(fd)
        with open(path, "rb") as log:
            return sends, log.read()


# ── Processes, ports, waiting ────────────────────────────────────────────────────────────

def stop_process(proc, grace=5.0, kill=False):
    """End one process started here -- SIGTERM (SIGKILL at once with kill=True), SIGKILL
    after grace seconds -- and close its pipes.  None and ended processes are fine."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            if kill:
                proc.kill()
            else:
                proc.terminate()
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        except ProcessLookupError:
            pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def wait_until(condition, seconds, interval=0.02):
    """Call condition() until it returns something true or seconds have passed; returns its
    last value (false when the time ran out).  condition must itself be bounded."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, seconds=10.0, process=None):
    """Whether 127.0.0.1:port accepts a connection within seconds (False at once if
    process, the listener being started, has exited)."""
    def accepts():
        if process is not None and process.poll() is not None:
            return "exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return "accepts"
        except OSError:
            return None
    return wait_until(accepts, seconds, 0.05) == "accepts"


# ── Real programs ────────────────────────────────────────────────────────────────────────

# Which Debian package provides each program the tests drive (for skip reasons).
PACKAGES = {
    "lpstat": "cups-client", "lp": "cups-client", "cancel": "cups-client",
    "lpoptions": "cups-client", "lpinfo": "cups-client", "lpadmin": "cups-client",
    "lpq": "cups-bsd", "ipptool": "cups-ipp-utils", "ippeveprinter": "cups-ipp-utils",
    "cupsd": "cups-daemon", "dbus-daemon": "dbus-daemon", "curl": "curl",
    "systemd-socket-activate": "systemd",
}


def which(program):
    """Full path of a program, also looking in the sbin directories (lpinfo, cupsd and
    ippeveprinter live there), or None."""
    path = os.environ.get("PATH", os.defpath) + os.pathsep + "/usr/sbin:/sbin:/usr/local/sbin"
    return shutil.which(program, path=path)


def missing_reason(program):
    return "%s not installed (apt-get install %s)" % (program, PACKAGES.get(program, program))


def require(program):
    """Full path of program; the test is skipped, naming the package, when it is missing."""
    path = which(program)
    if path is None:
        raise unittest.SkipTest(missing_reason(program))
    return path


def needs_real_programs(*programs):
    """Marks a class or a method as driving real clients or daemons: `python3 -m tests
    --quick` leaves it out.  A whole module says so with a global tuple instead,
    needs_real_programs = ("cupsd", ...).  The names say which programs, for the reader."""
    def mark(thing):
        thing.needs_real_programs = programs or ("?",)
        return thing
    return mark


def long_running(seconds):
    """Marks a test class that takes about that many seconds by design (it waits out
    timeouts, runs install.sh or many processes): `python3 -m tests --quick` starts such
    classes first, longest first, so that the run takes little more than its longest."""
    def mark(cls):
        cls.long_running = seconds
        return cls
    return mark


def client_env(home, **extra):
    """The environment for a real CUPS client: C locale, HOME an empty directory (no
    ~/.cups/lpoptions or client.conf), nothing from CUPS_*, IPP_*, LC_*, LANG*.
    CUPS_STATEDIR: libcups looks there for a local cupsd's certificate (certs/0) and, finding
    one, answers a 401 with "Local" logins over and over; the captures' clients found none.
    An empty directory keeps a cupsd running on this machine out of it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CUPS_", "IPP_", "LC_", "LANG"))}
    env.update(LC_ALL="C", HOME=str(home), CUPS_STATEDIR=str(home))
    env.update(extra)
    return env


def run_client(argv, env, cwd, stdin=None, timeout=COMMAND_TIMEOUT):
    """Run a real program; argv[0] a bare name (clients print it in their messages), the
    test skipped when it is missing.  stdin: bytes to pipe, else /dev/null.  Returns the
    CompletedProcess (bytes), with .wall = its wall time in seconds."""
    executable = require(argv[0])
    started = time.monotonic()
    result = subprocess.run(list(argv), executable=executable, input=stdin,
                            stdin=None if stdin is not None else subprocess.DEVNULL,
                            capture_output=True, timeout=timeout, env=env, cwd=str(cwd))
    result.wall = time.monotonic() - started
    return result


# ── fakecups behind systemd-socket-activate ──────────────────────────────────────────────

# What systemd-socket-activate itself writes to stderr; anything else came from its children.
SSA_LINE = re.compile(
    r"^(Listening on \S+ as \d+\.|Communication attempt on fd \d+\.|Connection from \S+ to \S+"
    r"|Spawned .* as PID \d+\.|Execing .*|Child \d+ died with .*)$")
SSA_SPAWNED = re.compile(r"^Spawned .* as PID (\d+)\.$", re.M)
SSA_DIED = re.compile(r"^Child (\d+) died with (\w+) (\S+)$", re.M)


class SocketActivated:
    """`systemd-socket-activate --inetd -a -l 127.0.0.1:PORT ARGV...`: one process per
    connection, as xinetd runs one.  Its stderr, which names every child and how it ended,
    goes to a file in directory.  start() waits for its "Listening on" line rather than
    probing the port: a probe would be a server process (and a record) of its own."""

    def __init__(self, directory, argv, env=None, stderr_name="ssa-stderr"):
        self.directory = str(directory)
        self.argv = [str(arg) for arg in argv]
        self.env = dict(os.environ, LC_ALL="C") if env is None else env
        self.stderr_path = os.path.join(self.directory, stderr_name)
        self.proc = None
        self.port = None

    def start(self, seconds=10.0):
        ssa = require("systemd-socket-activate")
        for _attempt in range(3):           # a fresh port if another process took ours
            self.port = free_port()
            with open(self.stderr_path, "ab") as err:
                self.proc = subprocess.Popen(
                    [ssa, "--inetd", "-a", "-l", "127.0.0.1:%d" % self.port, *self.argv],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    cwd=self.directory, env=self.env)
            line = b"Listening on 127.0.0.1:%d " % self.port
            wait_until(lambda: self.proc.poll() is not None or line in self.stderr_bytes(),
                       seconds)
            if self.proc.poll() is None and line in self.stderr_bytes():
                return self
            self.stop()
        raise RuntimeError("systemd-socket-activate did not listen on 127.0.0.1:\n"
                           + self.stderr_text()[-2000:])

    def stop(self):
        stop_process(self.proc)

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    def stderr_bytes(self):
        try:
            with open(self.stderr_path, "rb") as err:
                return err.read()
        except FileNotFoundError:
            return b""

    def stderr_text(self):
        return self.stderr_bytes().decode("utf-8", "replace")

    def children(self, text=None):
        """(pids spawned, {pid: (how, value)} of those that died), from the stderr lines."""
        text = self.stderr_text() if text is None else text
        return set(SSA_SPAWNED.findall(text)), {pid: (how, value)
                                                for pid, how, value in SSA_DIED.findall(text)}

    def wait_children(self, seconds=5.0):
        """Until every process spawned so far has ended (bounded); returns the stderr text
        that says so (or the last one read)."""
        last = []

        def all_ended():
            last[:] = [self.stderr_text()]
            spawned, died = self.children(last[0])
            return spawned <= set(died)
        wait_until(all_ended, seconds)
        return last[0]

    def check_children(self, test, served=False):
        """Every process spawned so far ended with exit code 0, and nothing but
        systemd-socket-activate's own lines is on its stderr (no traceback);
        served: and at least one connection was served.  (Waits up to 10 s for the last
        ones to end: on a loaded machine a python process can take seconds to start.)  A
        connection systemd-socket-activate has not yet taken is left to the next check."""
        text = self.wait_children(10.0)
        foreign = [line for line in text.splitlines() if line and not SSA_LINE.match(line)]
        test.assertEqual(foreign, [], "written to stderr by the served program:\n" + text)
        spawned, died = self.children(text)
        if served:
            test.assertTrue(spawned, "no connection was served")
        test.assertLessEqual(spawned, set(died), "served processes still running")
        test.assertEqual({pid: v for pid, v in died.items() if v != ("code", "0")}, {})


def fakecups_listener(directory, *args, python_flags=(), stderr_name="ssa-stderr"):
    """SocketActivated running `python3 fakecups.py ARGS` per connection."""
    return SocketActivated(directory, [sys.executable, *python_flags, FAKECUPS, *args],
                           stderr_name=stderr_name)


@needs_real_programs("systemd-socket-activate")
class ListenerCase(unittest.TestCase):
    """One fakecups listener (systemd-socket-activate) for the whole class, in a temporary
    directory tmp (0755: started as root, fakecups opens its log, then runs as nobody) with
    an empty home for the clients.  After every test, every fakecups process the test
    caused must have exited 0 without a word on stderr (check_children).  fakecups_args
    says how fakecups runs; its JSON log is cls.log."""

    maxDiff = None
    listener = None

    @classmethod
    def fakecups_args(cls):
        return ("--log", cls.log, "--format", "json")

    @classmethod
    def setUpClass(cls):
        require("systemd-socket-activate")
        cls.tmp = tempfile.mkdtemp(prefix="fakecups-listener-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        os.chmod(cls.tmp, 0o755)
        cls.home = os.path.join(cls.tmp, "home")
        os.mkdir(cls.home)
        cls.log = os.path.join(cls.tmp, "fakecups.log")
        cls.listener = fakecups_listener(cls.tmp, *cls.fakecups_args())
        cls.addClassCleanup(cls.listener.stop)
        cls.listener.start()

    def tearDown(self):
        self.listener.check_children(self)

    @property
    def host(self):
        return self.listener.host

    def run_client(self, *argv, stdin=None):
        """A real client against anything (-h HOST is the caller's business)."""
        return run_client(argv, client_env(self.home), self.home, stdin)


class ServedCleanly:
    """Mixed into a ListenerCase subclass: a test of its own for what each test's tearDown
    checks, which holds whatever order the tests run in (a mixin, so that ListenerCase
    itself has no test to run)."""

    def test_server_stderr_clean(self):
        """Every fakecups process the class's listener ran, this test's lpstat -r
        connection included, exited 0 and wrote nothing to stderr."""
        before = len(self.listener.children()[0])
        self.assertEqual(self.run_client("lpstat", "-h", self.host, "-r").returncode, 0)
        # its connection is served once systemd-socket-activate takes it: wait for that
        wait_until(lambda: len(self.listener.children()[0]) > before, 10)
        self.listener.check_children(self, served=True)
