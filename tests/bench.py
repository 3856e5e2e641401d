#!/usr/bin/env python3
"""Benchmark for fakecups.py (not a unit test: `python -m tests` does not collect it).

    python3 tests/bench.py [--quick] [--only 1,2,3,4,5,6,7|floor|report] [--runs N] [--floor-runs N]
                           [--what-if] [--spool-jobs N] [--report-mib N]

Parts, each skipped with a message when its tool is missing:
  1. start-up: CPU (user+sys of the child, from os.wait4) and wall time per connection for the
     captured lpstat-v and lp-pdf client streams on stdin, for three ways of starting fakecups,
     against bare `python3 -I -c pass` on the same interpreter; `-X importtime` of the launcher.
  2. `lpstat -h 127.0.0.1:PORT -v` wall time, fakecups behind systemd-socket-activate --inetd
     against a private real cupsd (when /usr/sbin/cupsd is installed).
  3. a 256 MiB (--quick 32 MiB) chunked Print-Job streamed through a pipe: fakecups wall, CPU and
     peak RSS against sha256sum of the same bytes streamed the same way.
  4. connections per second under a real xinetd, two client threads sending lpstat-v's bytes.
  5. (`--only floor`) fakecups against the floor, the least a per-connection Python server can do
     for the captured lpstat -v connection (cupsd's captured answers, written by this benchmark,
     run by the same `#!python3 -IS` launcher): CPU per connection on the captured requests (stdin
     a file, and a TCP connection) and `lpstat -v` wall time behind systemd-socket-activate, side
     by side, 21 interleaved runs each (as nobody when root, like the installed service; see
     --as-user); ratios against the targets (CPU ≤ 1.10×, wall ≤ 1.05×); `-X importtime` of both
     launchers; the .pyc's unmarshal, the module body's costliest statements and how much of the
     .pyc is code lpstat -v never runs.
  6. (`--only 6`) the printer persona's spool at scale (issue 11): Print-Job, Get-Printer-Attributes
     and Get-Jobs with limit, one connection each on stdin (the installed launcher, CPU and wall),
     against a spool of 100,000 finished jobs (--spool-jobs N) and an empty one, interleaved;
     target ≤ 1.5× the empty spool's time.  The big spool is written directly (records of
     ~500 bytes, no documents: about 400 MiB of 4 KiB blocks, removed afterwards).
  7. (`--only report`) `fakecups --report` over a generated JSON Lines log of --report-mib MiB
     (1 GiB; --quick 64 MiB) made of the records fakecups writes for every capture, in a temp
     directory deleted after: records per second (target ≥ 200,000) and peak RSS, against the
     same on an 8 MiB log (memory stays flat); json.loads alone for comparison.

Only 127.0.0.1 is ever contacted; every loop is bounded in count and time; every process the
benchmark starts is stopped in a finally block (Ctrl-C and SIGTERM included).  Python stdlib only.
"""

import argparse
import errno
import hashlib
import json
import marshal
import os
import platform
import pwd
import random
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKECUPS = os.path.join(ROOT, "fakecups.py")
CAPTURES = os.path.join(ROOT, "tests", "captures")
SYSTEM_PYTHON = "/usr/bin/python3"
CUPSD = "/usr/sbin/cupsd"
MiB = 1 << 20

# ── process bookkeeping: everything started here is stopped here ──────────────────────────

_popens = []            # long-running daemons, each in its own session (process group)
_pids = set()           # measured children (the spawner helper's), not yet reaped
_pids_lock = threading.Lock()


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def start_daemon(argv, **kwargs):
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    kwargs.setdefault("stderr", subprocess.DEVNULL)
    process = subprocess.Popen(argv, start_new_session=True, **kwargs)
    _popens.append(process)
    return process


def stop_daemon(process, timeout=5.0):
    """SIGTERM the daemon's process group (which holds the connections it spawned), then KILL."""
    if process is None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                process.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    try:                                    # stragglers spawned into its group
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process in _popens:
        _popens.remove(process)
    reap_adopted()


def become_subreaper():
    """Orphans of the daemons started here (a connection xinetd spawned, when xinetd is stopped
    first) come back to this process, which reaps them, instead of piling up as zombies."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0          # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError, ImportError):
        return False


def reap_adopted(seconds=3.0):
    """SIGTERM, then SIGKILL, and reap the children this process adopted as subreaper."""
    known = {process.pid for process in _popens}
    deadline = time.monotonic() + seconds
    signalled = {}
    while True:
        adopted = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in known:
                continue
            try:
                with open("/proc/%s/stat" % entry) as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == os.getpid():
                adopted.append(int(entry))
        with _pids_lock:
            adopted = [pid for pid in adopted if pid not in _pids]
        if not adopted:
            return
        for pid in adopted:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    continue
            except ChildProcessError:
                continue
            sig = signal.SIGKILL if time.monotonic() > deadline or signalled.get(pid) else signal.SIGTERM
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            signalled[pid] = True
        time.sleep(0.05)


def _kill_pid(pid):
    with _pids_lock:
        if pid in _pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def cleanup():
    with _pids_lock:
        pids = list(_pids)
    for pid in pids:                # measured children first (they are the spawner's)
        _kill_pid(pid)
    for process in reversed(list(_popens)):
        stop_daemon(process, timeout=2.0)


class Run:
    __slots__ = ("wall", "cpu", "user", "sys", "maxrss_kib", "status", "answer")

    def __init__(self, wall, user, system, maxrss_kib, status):
        self.wall = wall
        self.user = user
        self.sys = system
        self.cpu = user + system
        self.maxrss_kib = maxrss_kib
        self.status = status
        self.answer = None          # what the child wrote to its socket (Spawner.run's connect)

    @property
    def exit_code(self):
        return os.waitstatus_to_exitcode(self.status)


# The measured children are started by a small helper process, not by this one: Linux's
# ru_maxrss of a child that exec'ed counts the memory of whoever forked it (exec records the
# old mm's high-water mark), so children of this benchmark (20+ MiB) would all read as 20+ MiB.
# The helper is `python3 -I -S` with nothing but os, time and marshal; its own peak is the floor
# below which a child's peak RSS cannot be seen, and is printed.  It also takes the wall time,
# right around posix_spawn and wait4.  With "socket", the child's stdin and stdout are instead
# one end of a TCP connection on 127.0.0.1 whose other end has already sent those bytes and
# shut down its writing side (so they must fit in the socket buffers); what the child wrote is
# read back after it has ended.
SPAWNER = r"""
import os, time, marshal
def readn(n):
    data = b""
    while len(data) < n:
        more = os.read(0, n - len(data))
        if not more:
            raise SystemExit(0)
        data += more
    return data
def send(obj):
    data = marshal.dumps(obj)
    os.write(1, len(data).to_bytes(4, "big") + data)
def connection(feed):
    import _socket
    listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    client = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client.connect(listener.getsockname())
        served = listener._accept()[0]
    finally:
        listener.close()
    client.sendall(feed)
    client.shutdown(_socket.SHUT_WR)
    return client, served
while True:
    request = marshal.loads(readn(int.from_bytes(readn(4), "big")))
    actions = [(os.POSIX_SPAWN_OPEN, fd, path, flags, 0o600) for fd, path, flags in request["files"]]
    client = served = None
    try:
        if request.get("socket") is not None:
            client, served = connection(request["socket"])
            actions += [(os.POSIX_SPAWN_DUP2, served, 0), (os.POSIX_SPAWN_DUP2, served, 1)]
        started = time.perf_counter()
        pid = os.posix_spawn(request["argv"][0], request["argv"], request["env"], file_actions=actions)
    except OSError as error:
        if client is not None:
            client.close()
        send({"error": str(error)})
        continue
    finally:
        if served is not None:
            os.close(served)
    send({"pid": pid})
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    answer = b""
    while client is not None:
        more = client.recv(65536)
        if not more:
            client.close()
            break
        answer += more
    send({"wall": wall, "user": usage.ru_utime, "sys": usage.ru_stime,
          "maxrss": usage.ru_maxrss, "status": status, "answer": answer})
"""


class Spawner:
    """Runs one measured command at a time through the SPAWNER helper."""

    def __init__(self, python, **popen):
        """popen: more subprocess.Popen arguments for the helper, e.g. user and group."""
        self.process = start_daemon([python, "-I", "-S", "-c", SPAWNER], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=None, **popen)
        self._in = self.process.stdin.fileno()
        self._out = self.process.stdout.fileno()
        self.python = python

    def floor_kib(self):
        """The helper's own peak RSS (VmHWM), the floor of every child's ru_maxrss."""
        try:
            with open("/proc/%d/status" % self.process.pid) as status:
                for row in status:
                    if row.startswith("VmHWM:"):
                        return int(row.split()[1])
        except (OSError, ValueError):
            pass
        return None

    def _read(self, deadline):
        data = b""
        need = 4
        length = None
        while len(data) < need:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._out], [], [], remaining)
            if not ready:
                return None
            more = os.read(self._out, need - len(data))
            if not more:
                raise RuntimeError("spawner helper exited")
            data += more
            if length is None and len(data) == 4:
                length = int.from_bytes(data, "big")
                need = 4 + length
        return marshal.loads(data[4:])

    def run(self, argv, stdin=None, stdout_path=os.devnull, stderr_path=os.devnull, env=None,
            timeout=120.0, after_request=None, connect=None):
        """Run argv once with stdin from a path (a file or a FIFO) or /dev/null; or, with connect
        (bytes, at most 64 KiB), on a TCP connection from 127.0.0.1 that sends those bytes, then
        Run.answer is what the child wrote back."""
        write = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        request = {"argv": list(argv), "env": dict(os.environ if env is None else env),
                   "files": [(0, stdin or os.devnull, os.O_RDONLY), (1, stdout_path, write),
                             (2, stderr_path, write)]}
        if connect is not None:
            if len(connect) > 64 * 1024:
                raise ValueError("connect: the bytes must fit in the socket buffers")
            request["files"] = request["files"][2:]
            request["socket"] = connect
        data = marshal.dumps(request)
        os.write(self._in, len(data).to_bytes(4, "big") + data)
        if after_request is not None:
            after_request()
        deadline = time.monotonic() + timeout
        started = self._read(deadline)
        if started is None:
            raise RuntimeError("spawner did not start %s" % argv[0])
        if "error" in started:
            raise RuntimeError("cannot start %s: %s" % (argv[0], started["error"]))
        pid = started["pid"]
        with _pids_lock:
            _pids.add(pid)
        try:
            done = self._read(deadline)
            if done is None:                    # over time: kill it, then take its numbers
                _kill_pid(pid)
                done = self._read(time.monotonic() + 10)
                if done is None:
                    raise RuntimeError("%s did not end after SIGKILL" % argv[0])
        finally:
            with _pids_lock:
                _pids.discard(pid)
        run = Run(done["wall"], done["user"], done["sys"], done["maxrss"], done["status"])
        run.answer = done["answer"] if connect is not None else None
        return run


SPAWN = None        # the Spawner, set in main()


def rss_text(kib):
    """MiB, marked "≤" when it is the spawner's own peak (the child's is then not visible)."""
    floor = SPAWN.floor_kib() if SPAWN is not None else None
    return ("≤%.1f" if floor and kib <= floor + 64 else "%.1f") % (kib / 1024)


def spawn_measure(*args, **kwargs):
    return SPAWN.run(*args, **kwargs)


# ── small helpers ──────────────────────────────────────────────────────────────────────────

def interleave(jobs, runs, seed, measure):
    """{job: [measure(job) for each counted round]}: runs + 2 rounds (the first two are warm-up,
    not counted), every round all jobs once in a shuffled order, so drift in the machine's load
    reaches every job alike."""
    results = {job: [] for job in jobs}
    rng = random.Random(seed)
    for round_number in range(runs + 2):
        order = list(jobs)
        rng.shuffle(order)
        for job in order:
            run = measure(job)
            if round_number >= 2:
                results[job].append(run)
    return results


def out(text=""):
    print(text, flush=True)


def median(values):
    return statistics.median(values) if values else float("nan")


def ms(seconds):
    return "%.1f" % (seconds * 1000.0)


def ratio(a, b):
    return "%.2f×" % (a / b) if b else "n/a"


def verdict(value, limit, aim):
    if value != value:
        return "n/a"
    if value <= aim:
        return "ok (≤ aim %.1f)" % aim
    if value <= limit:
        return "ok (≤ %.1f, aim %.1f)" % (limit, aim)
    return "OVER (> %.1f)" % limit


def table(headers, rows):
    """A markdown table whose columns are padded so it also reads as plain text."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"
    text = [line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    text.extend(line(row) for row in cells[1:])
    return "\n".join(text)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port):
    """Whether something listens on 127.0.0.1:port, from /proc/net/tcp (no connection made,
    so no inetd child is spawned just to ask)."""
    try:
        with open("/proc/net/tcp") as table_file:
            next(table_file)
            for row in table_file:
                fields = row.split()
                local, state = fields[1], fields[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port and address in ("0100007F", "00000000"):
                    return True
        return False
    except (OSError, StopIteration, ValueError, IndexError):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False


def wait_listening(port, process, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if listening(port):
            return True
        time.sleep(0.02)
    return False


def read_text(path, limit=4000):
    try:
        with open(path, "rb") as handle:
            return handle.read()[-limit:].decode("utf-8", "replace")
    except OSError as error:
        return "(%s)" % error


def command_output(argv, timeout=10):
    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return (result.stdout + result.stderr).decode("utf-8", "replace").strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        return "(%s)" % error


def capture(scenario, name="client.bin"):
    with open(os.path.join(CAPTURES, "empty", scenario, name), "rb") as handle:
        return handle.read()


def answers(data):
    """[(interim, final)] for the complete answers at the start of data: each final (non-1xx)
    HTTP response, as bytes, with the bytes of the 1xx responses just before it."""
    pos = start = 0
    found = []
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return found
        lines = data[pos:end].decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            return found
        length = 0
        for header in lines[1:]:
            name, _, value = header.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body_end = end + 4 + (0 if 100 <= status < 200 else length)
        if len(data) < body_end:
            return found
        if status >= 200:
            found.append((data[start:pos], data[pos:body_end]))
            start = body_end
        pos = body_end


def final_responses(data):
    """How many complete final (non-1xx) HTTP responses are at the start of data."""
    return len(answers(data))


# ── machine facts ──────────────────────────────────────────────────────────────────────────

def machine_facts():
    facts = []
    which = shutil.which("python3")
    facts.append(("which python3", "%s → %s" % (which, os.path.realpath(which) if which else "-")))
    if path_python3() != which:
        facts.append(("python3 shim on PATH", "%s (measured as (c') in part 1)" % path_python3()))
    if which:
        facts.append(("python3 on PATH is", command_output(
            [which, "-c", "import sys; print(sys.executable, sys.version.split()[0])"])))
    facts.append(("bench interpreter (sys.executable)", "%s %s" % (sys.executable, platform.python_version())))
    if os.path.exists(SYSTEM_PYTHON):
        facts.append((SYSTEM_PYTHON, command_output([SYSTEM_PYTHON, "-VV"])))
    else:
        facts.append((SYSTEM_PYTHON, "missing"))
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    facts.append(("nproc", "%s (os.cpu_count %s)" % (affinity, os.cpu_count())))
    model = "?"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for row in cpuinfo:
                if row.startswith("model name"):
                    model = row.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    facts.append(("cpu", model))
    try:
        with open("/proc/meminfo") as meminfo:
            facts.append(("memory", meminfo.readline().split(":", 1)[1].strip()))
    except OSError:
        pass
    facts.append(("kernel", " ".join(platform.uname()[0:3:2])))
    facts.append(("load average", " ".join("%.2f" % x for x in os.getloadavg())))
    facts.append(("user", "uid %d%s" % (os.geteuid(), " (root: fakecups drops to nobody)" if os.geteuid() == 0 else "")))
    tools = []
    for tool in ("systemd-socket-activate", "lpstat", "xinetd", "sha256sum"):
        tools.append("%s=%s" % (tool, shutil.which(tool) or "missing"))
    tools.append("cupsd=%s" % (CUPSD if os.path.exists(CUPSD) else "missing"))
    facts.append(("tools", ", ".join(tools)))
    if shutil.which("dpkg-query"):
        versions = command_output(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n",
                                   "cups", "cups-client", "xinetd", "coreutils"])
        facts.append(("packages", "; ".join(versions.splitlines())))
    return facts


# ── the installed layout: a launcher and a byte-compiled copy ──────────────────────────────

def build_launcher(workdir, python=SYSTEM_PYTHON):
    libdir = os.path.join(workdir, "lib")
    os.makedirs(libdir)
    shutil.copy2(script_copy(workdir), os.path.join(libdir, "fakecups.py"))
    compile_module(python, os.path.join(libdir, "fakecups.py"))
    # The same two lines install.sh writes (launcher() there): -IS and os._exit.
    return write_launcher(workdir, "fakecups", python, "-IS", "os._exit", libdir)


def compile_module(python, path):
    """Byte-compile path into its __pycache__ with the interpreter that will import it, as
    install.sh does: no docstrings, no column tables, the plain .pyc name."""
    subprocess.run([python, "-I", "-X", "no_debug_ranges", "-c",
                    "import importlib.util, py_compile, sys; py_compile.compile(sys.argv[1], "
                    "cfile=importlib.util.cache_from_source(sys.argv[1]), doraise=True, optimize=2)",
                    path], check=True, timeout=60)


def write_launcher(workdir, name, python, flags, exit_call, libdir=None, module="fakecups"):
    libdir = libdir or os.path.join(workdir, "lib")
    launcher = os.path.join(workdir, name)
    with open(launcher, "w") as handle:
        handle.write("#!%s %s\nimport sys%s; sys.path.insert(0, %r); import %s; "
                     "%s(%s.main(sys.argv[1:]))\n"
                     % (python, flags, ", os" if exit_call == "os._exit" else "", libdir, module,
                        exit_call, module))
    os.chmod(launcher, 0o755)
    return launcher


def what_if_launchers(workdir):
    """Variants of the installed launcher, for --what-if: same byte-compiled module."""
    return [("(w1) launcher #!python3 -I + sys.exit (site and finalization kept)",
             write_launcher(workdir, "fakecups-I-sys-exit", SYSTEM_PYTHON, "-I", "sys.exit")),
            ("(w2) launcher #!python3 -I + os._exit (site kept)",
             write_launcher(workdir, "fakecups-I-exit", SYSTEM_PYTHON, "-I", "os._exit"))]


# ── part 1: start-up cost per connection ───────────────────────────────────────────────────

def path_python3():
    """The python3 a person gets on PATH: a pyenv shim directory wins even when pyenv exec has
    put its interpreter's own bin directory first for this process."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, "python3")
        if directory.rstrip("/").endswith("/shims") and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("python3")


def script_copy(workdir):
    """fakecups.py as of the start of the run (others may edit the work tree meanwhile)."""
    return os.path.join(workdir, "script", "fakecups.py")


def part_startup(args, workdir, launcher, summary):
    out("\n## 1. Start-up: CPU and wall per connection (median of %d runs, interleaved)\n" % args.runs)
    inputs = [("lpstat-v", os.path.join(CAPTURES, "empty", "lpstat-v", "client.bin")),
              ("lp-pdf", os.path.join(CAPTURES, "empty", "lp-pdf", "client.bin"))]
    log = os.path.join(workdir, "part1.log")
    fc_args = ["--log", log]

    # (key, label, argv prefix, baseline key, targeted)
    commands = {}
    baselines = {}
    system = os.path.exists(SYSTEM_PYTHON)
    if system:
        baselines["sys"] = ("%s -I -c pass" % SYSTEM_PYTHON, [SYSTEM_PYTHON, "-I", "-c", "pass"])
        commands["a"] = ("(a) %s -I fakecups.py" % SYSTEM_PYTHON, [SYSTEM_PYTHON, "-I", script_copy(workdir)], "sys", True)
        if launcher:
            commands["b"] = ("(b) installed launcher #!%s -IS + __pycache__" % SYSTEM_PYTHON, [launcher], "sys", True)
            if args.what_if:
                baselines["sys-S"] = ("%s -I -S -c pass (no site)" % SYSTEM_PYTHON,
                                      [SYSTEM_PYTHON, "-I", "-S", "-c", "pass"])
                for number, (label, path) in enumerate(what_if_launchers(workdir)):
                    commands["w%d" % number] = (label, [path], "sys", False)
    else:
        out("%s missing: (a) and (b) skipped" % SYSTEM_PYTHON)
    here = sys.executable
    baselines["exe"] = ("%s -I -c pass" % here, [here, "-I", "-c", "pass"])
    baselines["exe-site"] = ("%s -c pass (with site)" % here, [here, "-c", "pass"])
    commands["c"] = ("(c) %s fakecups.py" % here, [here, script_copy(workdir)], "exe", False)
    shim = path_python3()
    if shim and os.path.realpath(shim) != os.path.realpath(here) and not os.path.realpath(shim).startswith("/usr/bin/"):
        baselines["shim"] = ("%s -I -c pass (PATH)" % shim, [shim, "-I", "-c", "pass"])
        commands["c2"] = ("(c') %s fakecups.py (PATH)" % shim, [shim, script_copy(workdir)], "shim", False)

    jobs = [("base", key, None) for key in baselines]
    jobs += [("fc", key, name) for key in commands for name, _ in inputs]
    failures = {}
    failure_text = {}
    paths = dict(inputs)

    def measure(job):
        kind, key, name = job
        if kind == "base":
            return spawn_measure(baselines[key][1])
        err = os.path.join(workdir, "part1.err")
        run = spawn_measure(commands[key][1] + fc_args, stdin=paths[name], stderr_path=err)
        if run.exit_code != 0:
            failures[job] = failures.get(job, 0) + 1
            failure_text.setdefault(job, "exit %d, stderr %r" % (
                run.exit_code, read_text(err, 300).strip()[-300:]))
        return run
    results = interleave(jobs, args.runs, 631, measure)

    rows = []
    for key, (label, _) in baselines.items():
        runs = results[("base", key, None)]
        rows.append([label, "-", ms(median([r.wall for r in runs])), ms(median([r.cpu for r in runs])),
                     ms(min(r.cpu for r in runs)), "1.00×", "1.00×", "1.00×",
                     rss_text(max(r.maxrss_kib for r in runs)), ""])
    for key, (label, _, base_key, targeted) in commands.items():
        base = results[("base", base_key, None)]
        base_wall, base_cpu = median([r.wall for r in base]), median([r.cpu for r in base])
        base_min = min(r.cpu for r in base)
        for name, _ in inputs:
            runs = results[("fc", key, name)]
            wall, cpu = median([r.wall for r in runs]), median([r.cpu for r in runs])
            note = verdict(cpu / base_cpu, 1.5, 1.1) if targeted else (
                "what-if" if key.startswith("w") else "(not targeted)")
            if failures.get(("fc", key, name)):
                note += "; %d runs exited non-zero" % failures[("fc", key, name)]
            cpu_min = min(r.cpu for r in runs)
            rows.append([label, name, ms(wall), ms(cpu), ms(cpu_min), ratio(wall, base_wall),
                         ratio(cpu, base_cpu), ratio(cpu_min, base_min),
                         rss_text(max(r.maxrss_kib for r in runs)), note])
            if targeted:
                summary.append(("1 start-up CPU %s %s" % (label.split()[0], name), ratio(cpu, base_cpu),
                                "≤ 1.5× (aim 1.1×)", note))
                summary.append(("1 start-up wall %s %s" % (label.split()[0], name), ratio(wall, base_wall),
                                "≤ 1.5× (aim 1.1×)", verdict(wall / base_wall, 1.5, 1.1)))
    for (kind, key, name), text in failure_text.items():
        out("non-zero exit of %s on %s (first of %d): %s" % (commands[key][0], name, failures[(kind, key, name)], text))
    out(table(["command", "input", "wall ms", "CPU ms", "min CPU ms", "wall × bare", "CPU × bare",
               "min CPU × bare", "peak RSS MiB", "CPU verdict"], rows))
    out("\nbare = `-I -c pass` on the same interpreter; wall and CPU are medians, CPU = user+sys of the"
        " child (os.wait4), min = the best run; peak RSS = the largest ru_maxrss (\"≤\" = at the spawner's floor); the"
        " targets (≤ 1.5×, aim 1.1×) are for %s. Runs of all commands are interleaved in a"
        " shuffled order per round." % SYSTEM_PYTHON)
    if system and launcher:
        importtime(args, workdir, launcher, paths["lpstat-v"])


def parse_importtime(text):
    """{module: (self_us, cumulative_us, depth)} from -X importtime's stderr."""
    modules = {}
    for row in text.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", row)
        if match:
            modules[match.group(4)] = (int(match.group(1)), int(match.group(2)),
                                       len(match.group(3)) // 2)
    return modules


def merge_importtime(runs):
    """{module: (median self µs, median cumulative µs, depth, runs it was seen in)}."""
    names = set().union(*runs)
    result = {}
    for name in names:
        values = [run[name] for run in runs if name in run]
        result[name] = (median([v[0] for v in values]), median([v[1] for v in values]),
                        values[0][2], len(values))
    return result


def importtime(args, workdir, launcher, stdin_path):
    repeats = 5 if args.quick else 11
    log = os.path.join(workdir, "importtime.log")
    stderr_path = os.path.join(workdir, "importtime.err")
    samples, bare_samples = [], []
    for _ in range(repeats + 1):
        spawn_measure([SYSTEM_PYTHON, "-I", "-X", "importtime", launcher, "--log", log],
                      stdin=stdin_path, stderr_path=stderr_path)
        samples.append(parse_importtime(read_text(stderr_path, 1 << 20)))
        spawn_measure([SYSTEM_PYTHON, "-I", "-X", "importtime", "-c", "pass"], stderr_path=stderr_path)
        bare_samples.append(parse_importtime(read_text(stderr_path, 1 << 20)))
    samples, bare_samples = samples[1:], bare_samples[1:]       # first pair is a warm-up
    launched, bare = merge_importtime(samples), merge_importtime(bare_samples)

    def top_total(modules):
        return sum(v[1] for v in modules.values() if v[2] == 0)
    out("\n### `-X importtime` of the launcher on lpstat-v (median of %d runs, µs)\n" % repeats)
    out("all top-level imports: launcher %.0f µs, bare `-I -c pass` %.0f µs; %d modules vs %d."
        % (top_total(launched), top_total(bare), len(launched), len(bare)))
    rows = []
    for name, (self_us, cumulative, depth, seen) in sorted(launched.items(), key=lambda kv: -kv[1][1])[:args.top]:
        rows.append([name, "%.0f" % cumulative, "%.0f" % self_us, depth,
                     "also bare" if name in bare else "fakecups", "" if seen == repeats else "%d/%d runs" % (seen, repeats)])
    out(table(["module", "cumulative µs", "self µs", "depth", "imported by", "note"], rows))
    extra = sorted(((v[1], k) for k, v in launched.items() if k not in bare and v[2] == 0), reverse=True)
    out("\nmodules beyond bare python (top level, cumulative µs): "
        + (", ".join("%s %.0f" % (k, c) for c, k in extra) or "none"))


# ── part 2: lpstat against fakecups (socket activation) and a real cupsd ──────────────────

CUPSD_CONF = """Listen 127.0.0.1:{port}
LogLevel warn
MaxLogSize 0
Browsing No
WebInterface No
DefaultAuthType Basic
<Location />
  Order allow,deny
  Allow all
</Location>
"""

CUPS_FILES_CONF = """ServerRoot {root}/conf
RequestRoot {root}/spool
TempDir {root}/spool/tmp
CacheDir {root}/cache
StateDir {root}/state
AccessLog {root}/log/access_log
ErrorLog {root}/log/error_log
PageLog {root}/log/page_log
FileDevice No
{user}"""


def start_cupsd(workdir):
    root = os.path.join(workdir, "cupsd")
    for sub in ("conf", "spool/tmp", "cache", "state", "log"):
        os.makedirs(os.path.join(root, sub))
    port = free_port()
    conf = os.path.join(root, "conf", "cupsd.conf")
    files_conf = os.path.join(root, "conf", "cups-files.conf")
    with open(conf, "w") as handle:
        handle.write(CUPSD_CONF.format(port=port))
    user = "User lp\nGroup lp\n" if os.geteuid() == 0 else ""
    with open(files_conf, "w") as handle:
        handle.write(CUPS_FILES_CONF.format(root=root, user=user))
    stderr = open(os.path.join(root, "log", "stderr"), "wb")
    try:
        process = start_daemon([CUPSD, "-f", "-c", conf, "-s", files_conf], stderr=stderr)
    finally:
        stderr.close()
    if not wait_listening(port, process, 15):
        problem = "cupsd did not listen: %s %s" % (read_text(os.path.join(root, "log", "stderr")),
                                                    read_text(os.path.join(root, "log", "error_log")))
        stop_daemon(process)
        raise RuntimeError(problem)
    return process, port


def start_socket_activate(workdir, server_argv, tag, **popen):
    port = free_port()
    log = os.path.join(workdir, "activate-%s.log" % tag)
    process = start_daemon(["systemd-socket-activate", "--inetd", "-a", "-l", "127.0.0.1:%d" % port]
                           + server_argv + ["--log", log], **popen)
    if not wait_listening(port, process, 10):
        stop_daemon(process)
        raise RuntimeError("systemd-socket-activate did not listen on %d" % port)
    return process, port


def lpstat_env(workdir):
    home = os.path.join(workdir, "home")
    os.makedirs(home, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "LANG": "C"}


def lpstat_rounds(workdir, lpstat, env, servers, runs, seed):
    """Interleaved `lpstat -h 127.0.0.1:PORT -v` runs against servers [(label, process, port)]:
    ({label: [Run]}, {label: {"exit N: what lpstat printed"}})."""
    listeners = {label: (process, port) for label, process, port in servers}
    outputs = {}
    stdout_path = os.path.join(workdir, "lpstat.out")
    stderr_path = os.path.join(workdir, "lpstat.err")

    def measure(label):
        process, port = listeners[label]
        if process.poll() is not None:
            raise RuntimeError("%s exited early" % label)
        run = spawn_measure([lpstat, "-h", "127.0.0.1:%d" % port, "-v"], env=env,
                            stdout_path=stdout_path, stderr_path=stderr_path, timeout=30)
        said = (read_text(stdout_path) + read_text(stderr_path)).strip()
        outputs.setdefault(label, set()).add("exit %d: %s" % (run.exit_code, said))
        time.sleep(0.02)            # let the previous server process finish its record
        return run
    return interleave(list(listeners), runs, seed, measure), outputs


def lpstat_missing():
    """Why lpstat cannot be run behind socket activation here, or None."""
    if not shutil.which("lpstat"):
        return "lpstat not installed (apt-get install cups-client)"
    if not shutil.which("systemd-socket-activate"):
        return "systemd-socket-activate not installed (apt-get install systemd)"
    if not os.path.exists(SYSTEM_PYTHON):
        return "%s missing" % SYSTEM_PYTHON
    return None


def part_lpstat(args, workdir, launcher, summary):
    runs = args.lpstat_runs
    out("\n## 2. `lpstat -h 127.0.0.1:PORT -v` wall time (median of %d, interleaved)\n" % runs)
    missing = lpstat_missing()
    if missing:
        out("skipped: " + missing)
        return
    lpstat = shutil.which("lpstat")
    servers = []            # (label, process, port, kind)
    env = lpstat_env(workdir)
    try:
        servers_wanted = []
        if launcher:
            servers_wanted.append(("fakecups (launcher, socket-activate)", [SYSTEM_PYTHON, "-I", launcher], "launcher"))
        servers_wanted.append(("fakecups (fakecups.py, socket-activate)", [SYSTEM_PYTHON, "-I", script_copy(workdir)], "script"))
        if launcher and args.what_if:
            for number, (label, path) in enumerate(what_if_launchers(workdir)):
                servers_wanted.append(("what-if %s, exec'd by socket-activate" % label.split()[0], [path], "w%d" % number))
        for label, argv, tag in servers_wanted:
            process, port = start_socket_activate(workdir, argv, tag)
            servers.append((label, process, port, "fakecups"))
        if os.path.exists(CUPSD):
            try:
                process, port = start_cupsd(workdir)
                servers.append(("real cupsd %s" % cups_version(), process, port, "cupsd"))
            except RuntimeError as error:
                out("real cupsd: could not start: %s" % error)
        else:
            out("real cupsd: not installed (apt-get install cups)")
        results, outputs = lpstat_rounds(workdir, lpstat, env, [server[:3] for server in servers],
                                         runs, 9631)
        real = [label for label, *_, kind in servers if kind == "cupsd"]
        real_wall = median([r.wall for r in results[real[0]]]) if real else None
        rows = []
        for label, *_ in servers:
            walls = [r.wall for r in results[label]]
            wall = median(walls)
            rel = ratio(wall, real_wall) if real_wall else "n/a"
            rows.append([label, ms(wall), ms(min(walls)), ms(max(walls)), rel,
                         " / ".join(sorted(outputs[label]))])
            if real_wall and label not in real and not label.startswith("what-if"):
                summary.append(("2 lpstat -v %s" % label, rel, "≤ 2.5× cupsd (aim 2.0×)",
                                verdict(wall / real_wall, 2.5, 2.0)))
        out(table(["server", "median ms", "min ms", "max ms", "× real cupsd", "lpstat said"], rows))
        if not real:
            summary.append(("2 lpstat -v vs cupsd", "n/a", "≤ 2.5×", "real cupsd not measured"))
    finally:
        for _, process, _, _ in servers:
            stop_daemon(process)


def cups_version():
    if shutil.which("dpkg-query"):
        version = command_output(["dpkg-query", "-W", "-f", "${Version}", "cups"])
        if version and not version.startswith("("):
            return version
    return ""


# ── part 3: a large chunked Print-Job through a pipe ───────────────────────────────────────

def print_job_stream(size):
    """(prefix, framed block pool, count, expected document sha256) for a chunked Print-Job of
    `size` document bytes: the captured ipptool Print-Job's HTTP head and IPP attribute chunk,
    then 64 KiB chunks cycling through 16 pseudo-random blocks (random.Random(631))."""
    data = capture("ipptool-print-job")
    head_end = data.index(b"\r\n\r\n") + 4
    line_end = data.index(b"\r\n", head_end)
    first_size = int(data[head_end:line_end], 16)
    first = data[head_end:line_end + 2 + first_size + 2]
    if not first.endswith(b"\x03\r\n"):
        raise RuntimeError("first chunk of the captured Print-Job does not end the IPP attributes")
    prefix = data[:head_end] + first
    rng = random.Random(631)
    block_size = 64 * 1024
    blocks = [rng.randbytes(block_size) for _ in range(16)]
    count = size // block_size
    framed = [b"%x\r\n" % block_size + block + b"\r\n" for block in blocks]
    digest = hashlib.sha256()
    for i in range(count):
        digest.update(blocks[i % 16])
    return prefix, framed, count, digest.hexdigest()


def open_fifo_for_writing(path, seconds=30.0):
    """Open a FIFO's write end once the reader has opened it (bounded: no reader → error)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as error:
            if error.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.0005)
    os.set_blocking(fd, True)
    return fd


def feed(fifo, prefix, framed, count, result):
    """Write the whole request into the FIFO, then close it (runs in a thread)."""
    fd = None
    try:
        fd = open_fifo_for_writing(fifo)
        view = memoryview(prefix)
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
        for i in range(count):
            view = memoryview(framed[i % 16])
            done = 0
            while done < len(view):
                done += os.write(fd, view[done:])
        os.write(fd, b"0\r\n\r\n")
        result["ok"] = True
    except OSError as error:
        result["error"] = str(error)
    finally:
        if fd is not None:
            os.close(fd)


def stream_into(workdir, argv, prefix, framed, count, stdout_path=os.devnull, timeout=600):
    """Run argv with its stdin on a fresh FIFO (a pipe) that a feeder thread fills."""
    fifo = os.path.join(workdir, "stdin.fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo, 0o600)
    result = {}
    thread = threading.Thread(target=feed, args=(fifo, prefix, framed, count, result), daemon=True)
    try:
        run = spawn_measure(argv, stdin=fifo, stdout_path=stdout_path, timeout=timeout,
                            after_request=thread.start)
    except BaseException:
        with _pids_lock:
            pids = list(_pids)
        for pid in pids:            # the reader goes first, so the feeder ends on EPIPE
            _kill_pid(pid)
        raise
    finally:
        thread.join(60)
        os.unlink(fifo)
    return run, result


def part_bigjob(args, workdir, launcher, summary):
    size = (32 if args.quick else 256) * MiB
    repeats = 3
    out("\n## 3. %d MiB chunked Print-Job through a pipe (median of %d; peak RSS = max)\n"
        % (size // MiB, repeats))
    sha256sum = shutil.which("sha256sum")
    if not sha256sum:
        out("skipped comparison: sha256sum not installed (coreutils)")
    prefix, framed, count, expected = print_job_stream(size)
    total = len(prefix) + count * len(framed[0]) + 5
    out("stream: %d bytes (HTTP head + IPP chunk %d bytes, %d × 64 KiB document chunks); document"
        " sha256 %s…" % (total, len(prefix), count, expected[:16]))
    where = os.path.dirname(script_copy(workdir))
    sys.path.insert(0, where)
    sys.dont_write_bytecode, write_bytecode = True, sys.dont_write_bytecode
    try:
        import fakecups
        personas = sorted(fakecups.PERSONAS)
    finally:
        sys.path.remove(where)
        sys.dont_write_bytecode = write_bytecode
    python = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
    base = [launcher] if launcher else [python, "-I", script_copy(workdir)]
    candidates = [("fakecups --persona empty", base, "empty")]
    if "printer" in personas:
        candidates.append(("fakecups --persona printer", base, "printer"))
    if sha256sum:
        candidates.append(("sha256sum (same bytes, same pipe)", [sha256sum], None))
    results = {label: [] for label, *_ in candidates}
    checks = {}
    for _ in range(repeats):
        for label, argv, persona in candidates:
            if persona is not None:
                log = os.path.join(workdir, "bigjob-%s.log" % persona)
                if os.path.exists(log):
                    os.unlink(log)
                argv = argv + ["--log", log, "--persona", persona,
                               "--max-body-bytes", str(size + MiB), "--idle-timeout", "30"]
                if persona == "printer":
                    # the captured Print-Job names labprinter; the spool must be writable by
                    # the user fakecups drops to, and a fresh one for every run
                    spool_parent = tempfile.mkdtemp(dir=workdir)
                    os.chmod(spool_parent, 0o777)
                    argv += ["--printer", "labprinter", "--spool", os.path.join(spool_parent, "spool"),
                             "--max-job-bytes", str(size + MiB)]
            response = os.path.join(workdir, "bigjob.out")
            run, fed = stream_into(workdir, argv, prefix, framed, count, stdout_path=response)
            results[label].append(run)
            problems = []
            if not fed.get("ok"):
                problems.append("feeder: %s" % fed.get("error", "did not finish"))
            if run.exit_code != 0:
                problems.append("exit %d" % run.exit_code)
            if persona is not None:
                record = read_text(log, 1 << 16)
                if ("%d bytes sha256 %s" % (size, expected)) not in record:
                    problems.append("record lacks document size/sha256")
                answer = read_text(response, 4096)
                status = re.findall(r"HTTP/1\.1 (\d+)", answer)
                problems.append("answers %s" % ",".join(status)) if status != ["100", "200"] else None
            checks.setdefault(label, set()).update(problems or ["ok"])
    sha = [r for r in results.get("sha256sum (same bytes, same pipe)", [])]
    sha_wall = median([r.wall for r in sha]) if sha else None
    rows = []
    for label, *_ in candidates:
        runs = results[label]
        wall, cpu = median([r.wall for r in runs]), median([r.cpu for r in runs])
        rss_kib = max(r.maxrss_kib for r in runs)
        rss = rss_kib / 1024
        rel = ratio(wall, sha_wall) if sha_wall else "n/a"
        rows.append([label, ms(wall), ms(cpu), "%.0f" % (size / MiB / wall), rel, rss_text(rss_kib),
                     "; ".join(sorted(checks[label]))])
        if label.startswith("fakecups"):
            if sha_wall:
                summary.append(("3 Print-Job %d MiB time %s" % (size // MiB, label), rel,
                                "≤ 2× sha256sum (aim 1×)", verdict(wall / sha_wall, 2.0, 1.0)))
            summary.append(("3 Print-Job %d MiB peak RSS %s" % (size // MiB, label), "%.1f MiB" % rss,
                            "≤ 48 MiB (aim 24)", verdict(rss, 48, 24)))
    out(table(["reader", "wall ms", "CPU ms", "MiB/s", "wall × sha256sum", "peak RSS MiB", "check"], rows))
    if "printer" not in personas:
        out("\nprinter persona: not built yet (fakecups.PERSONAS = %s)" % ", ".join(personas))
    out("\nfakecups runs as %s with --max-body-bytes %d; the same feeder thread writes the same"
        " bytes into a fresh pipe for every reader." % (" ".join(os.path.basename(a) for a in base), size + MiB))


# ── part 4: connections per second under xinetd ───────────────────────────────────────────

XINETD_DEFAULTS = {"cps": "1000 1", "instances": "UNLIMITED", "per_source": "UNLIMITED"}


def repo_xinetd_values():
    path = os.path.join(ROOT, "xinetd.d", "fakecups")
    if not os.path.exists(path):
        return None, dict(XINETD_DEFAULTS)
    values = dict(XINETD_DEFAULTS)
    with open(path) as handle:
        for row in handle:
            match = re.match(r"\s*(cps|instances|per_source)\s*=\s*(.+?)\s*$", row)
            if match:
                values[match.group(1)] = match.group(2)
    return path, values


def client_loop(port, payload, expected, deadline, limit, tally, lock):
    done = errors = 0
    latencies = []
    reasons = {}
    while time.monotonic() < deadline and done + errors < limit:
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(payload)
                data = b""
                while final_responses(data) < expected:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("EOF after %d of %d answers" % (final_responses(data), expected))
                    data += chunk
            done += 1
            latencies.append(time.perf_counter() - started)
        except (OSError, ValueError) as error:
            errors += 1
            reason = type(error).__name__ + (": %s" % error if isinstance(error, ConnectionError) else "")
            reasons[reason] = reasons.get(reason, 0) + 1
            time.sleep(0.01)
    with lock:
        tally["done"] += done
        tally["errors"] += errors
        tally["latencies"].extend(latencies)
        for reason, n in reasons.items():
            tally["reasons"][reason] = tally["reasons"].get(reason, 0) + n


def cpu_times():
    """(busy, total) jiffies of the whole machine from /proc/stat, or None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields[:8]) - idle, sum(fields[:8])
    except (OSError, ValueError, IndexError):
        return None


def part_xinetd(args, workdir, launcher, summary):
    seconds = 2.0 if args.quick else 5.0
    clients = 2
    out("\n## 4. Connections per second under xinetd (%d client threads, %.0f s, lpstat-v bytes)\n"
        % (clients, seconds))
    xinetd = shutil.which("xinetd")
    if not xinetd:
        out("skipped: xinetd not installed (apt-get install xinetd)")
        return
    if not launcher:
        out("skipped: no launcher (needs %s)" % SYSTEM_PYTHON)
        return
    source, values = repo_xinetd_values()
    out("rate limits used: cps = %s, instances = %s, per_source = %s (%s); user = %s,"
        " server_args = --log FILE --user nobody"
        % (values["cps"], values["instances"], values["per_source"],
           "from %s" % os.path.relpath(source, ROOT) if source else
           "the brief's defaults: the repo has no xinetd.d/fakecups",
           "root" if os.geteuid() == 0 else "(not set: not root)"))
    servers = [("launcher", launcher)]
    if args.what_if:
        servers += [("what-if " + label.split()[0], path) for label, path in what_if_launchers(workdir)]
    rows = []
    for label, server in servers:
        row = xinetd_run(args, workdir, xinetd, server, values, clients, seconds)
        if isinstance(row, str):
            out("%s: skipped: %s" % (label, row))
            continue
        rows.append([label] + row[:-1])
        if not label.startswith("what-if"):
            summary.append(("4 xinetd conns/s (%d clients)" % clients, row[4], "(no target)",
                            "%s errors" % row[3]))
        if row[-1]:
            out("%s errors: %s" % (label, row[-1]))
    out(table(["server", "clients", "seconds", "completed", "errors", "conns/s", "latency p50 ms",
               "p95 ms", "machine CPU busy"], rows))
    out("\nmachine CPU busy = all processes on all %d CPUs during the run (/proc/stat), including"
        " other work on the machine; each connection is one fakecups process started by xinetd."
        % os.cpu_count())


def xinetd_run(args, workdir, xinetd, server, values, clients, seconds):
    """One xinetd with the server; returns a table row (+ error text) or a reason to skip."""
    port = free_port()
    conf = os.path.join(workdir, "xinetd.conf")
    log = os.path.join(workdir, "xinetd-fakecups.log")
    xlog = os.path.join(workdir, "xinetd.log")
    user = "\tuser        = root\n" if os.geteuid() == 0 else ""
    with open(conf, "w") as handle:
        handle.write("defaults\n{\n\tlog_type = FILE %s\n}\n\n" % xlog)
        handle.write("service fakecups-bench\n{\n"
                     "\ttype        = UNLISTED\n\tport        = %d\n\tbind        = 127.0.0.1\n"
                     "\tsocket_type = stream\n\tprotocol    = tcp\n\twait        = no\n%s"
                     "\tserver      = %s\n\tserver_args = --log %s --user nobody\n"
                     "\tinstances   = %s\n\tcps         = %s\n\tper_source  = %s\n}\n"
                     % (port, user, server, log, values["instances"], values["cps"], values["per_source"]))
    payload = capture("lpstat-v")
    expected = final_responses(capture("lpstat-v", "server.bin"))
    process = None
    try:
        process = start_daemon([xinetd, "-dontfork", "-f", conf, "-pidfile", os.path.join(workdir, "xinetd.pid")])
        if not wait_listening(port, process, 10):
            return "xinetd did not listen: %s" % read_text(xlog)
        # one connection first: proves the service answers before the clock starts
        warm = {"done": 0, "errors": 0, "latencies": [], "reasons": {}}
        client_loop(port, payload, expected, time.monotonic() + 10, 1, warm, threading.Lock())
        if warm["done"] != 1:
            return "first connection failed: %s; xinetd log: %s" % (warm["reasons"], read_text(xlog))
        tally = {"done": 0, "errors": 0, "latencies": [], "reasons": {}}
        lock = threading.Lock()
        limit = int(seconds * 2000)                 # per client: far above what one core can spawn
        threads = [threading.Thread(target=client_loop, daemon=True,
                                    args=(port, payload, expected, time.monotonic() + seconds,
                                          limit, tally, lock))
                   for _ in range(clients)]
        busy_before = cpu_times()
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 30)
        elapsed = time.monotonic() - started
        busy_after = cpu_times()
        busy = "n/a"
        if busy_before and busy_after and busy_after[1] > busy_before[1]:
            busy = "%.0f%%" % (100.0 * (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]))
        rate = tally["done"] / elapsed
        lat = sorted(tally["latencies"])
        p50 = lat[len(lat) // 2] if lat else float("nan")
        p95 = lat[int(len(lat) * 0.95)] if lat else float("nan")
        errors = ", ".join("%s × %d" % kv for kv in sorted(tally["reasons"].items()))
        return [clients, "%.2f" % elapsed, tally["done"], tally["errors"], "%.1f" % rate, ms(p50),
                ms(p95), busy, errors]
    finally:
        stop_daemon(process)


# ── part 5: fakecups against the floor ─────────────────────────────────────────────────────

# The least a per-connection Python server can do for the captured `lpstat -v` connection:
# read each request (head to CRLFCRLF, then a Content-Length body) and write cupsd's captured
# answer to it.  The answers are bytes literals in the module, as a minimal real server would
# carry fixed answers: they arrive with the .pyc's unmarshal, with no file to open or parse.
# It runs behind the same launcher as fakecups (#!python3 -IS, os._exit), so what fakecups
# costs above it is what fakecups does beyond answering: parsing, records, its log, privileges.
FLOOR = "fakecups_floor"
FLOOR_SOURCE = '''"""The floor: cupsd's captured answers to lpstat -v, one a request (from tests/bench.py)."""
import os

ANSWERS = ()            # (interim 100 Continue, final response) per request, in order


def main(argv=None):
    data = b""
    for interim, final in ANSWERS:
        while b"\\r\\n\\r\\n" not in data:
            more = os.read(0, 65536)
            if not more:
                return 0
            data += more
        head, _, data = data.partition(b"\\r\\n\\r\\n")
        at = head.lower().find(b"\\r\\ncontent-length:")
        length = int(head[at + 17:].split(b"\\r\\n", 1)[0]) if at >= 0 else 0
        if len(data) < length:          # the client waits for the 100 before its body
            os.write(1, interim)
            interim = b""
            while len(data) < length:
                more = os.read(0, 65536)
                if not more:
                    return 0
                data += more
        data = data[length:]
        os.write(1, interim + final)
    os.read(0, 1)                       # the client's close ends a keep-alive connection
    return 0
'''
FLOOR_CPU_TARGET = 1.10
FLOOR_WALL_TARGET = 1.05
NOISY = 0.15        # a series whose p25–p75 is wider than this share of its median


def build_floor(workdir, python=SYSTEM_PYTHON):
    """(module path, launcher) of the floor, byte-compiled like fakecups in build_launcher."""
    server = capture("lpstat-v", "server.bin")
    pairs = tuple(answers(server))
    if sum(len(interim) + len(final) for interim, final in pairs) != len(server):
        raise RuntimeError("lpstat-v/server.bin does not split into whole answers")
    libdir = os.path.join(workdir, "floor-lib")
    os.makedirs(libdir)
    path = os.path.join(libdir, FLOOR + ".py")
    with open(path, "w") as handle:
        handle.write(FLOOR_SOURCE.replace("ANSWERS = ()", "ANSWERS = %r" % (pairs,), 1))
    compile_module(python, path)
    return path, write_launcher(workdir, "floor", python, "-IS", "os._exit", libdir, FLOOR)


def quartiles(values):
    return statistics.quantiles(values, n=4)[::2] if len(values) > 1 else [values[0]] * 2


def spread_ms(values):
    low, high = quartiles(values)
    return "%s–%s" % (ms(low), ms(high))


def against(value, target):
    if value != value:
        return "n/a"
    return ("ok (≤ %.2f×)" if value <= target else "OVER (> %.2f×)") % target


def paired(runs, floor_runs, key):
    """Per-round ratios runs[i]/floor_runs[i] (the two ran in the same round)."""
    return [key(a) / key(b) for a, b in zip(runs, floor_runs) if key(b)]


def ratio_row(name, runs, floor_runs, key, target):
    """A table row of fakecups/floor ratios for one measure, ending in its verdict."""
    values, floor_values = [key(r) for r in runs], [key(r) for r in floor_runs]
    by_median = median(values) / median(floor_values)
    pairs = paired(runs, floor_runs, key)
    low, high = quartiles(pairs)
    verdict_text = against(by_median, target)
    wide = [label for label, series in (("fakecups", values), ("floor", floor_values))
            if (quartiles(series)[1] - quartiles(series)[0]) > NOISY * median(series)]
    if wide:
        verdict_text += "; NOISY (p25–p75 of %s > %d%% of the median: rerun)" % (
            " and ".join(wide), NOISY * 100)
    return [name, "%.3f×" % by_median, "%.3f×" % (min(values) / min(floor_values)),
            "%.3f×" % median(pairs), "%.3f–%.3f×" % (low, high), "≤ %.2f×" % target, verdict_text]


def part_floor(args, workdir, launcher, summary):
    runs = args.floor_runs
    out("\n## 5. fakecups against the floor: lpstat-v, %d interleaved runs each\n" % runs)
    if not launcher:
        out("skipped: no launcher (needs %s)" % SYSTEM_PYTHON)
        return
    module, floor = build_floor(workdir)
    with open(module) as handle:
        lines = handle.read().count("\n")
    out("floor: %s (%d lines, %d answers from captures/empty/lpstat-v/server.bin as bytes"
        " literals), run by %s, the same two-line launcher shape as fakecups':\n\n    %s\n"
        % (FLOOR + ".py", lines, final_responses(capture("lpstat-v", "server.bin")), floor,
           read_text(floor).strip().replace("\n", "\n    ")))
    # The installed service runs as its own user (User=fakecups, xinetd's user = fakecups), so
    # the servers run unprivileged here too; started as root, fakecups would first drop its
    # privileges (pre-imports, a passwd lookup), which `--as-user root` measures.
    rundir = os.path.join(workdir, "part5")
    os.makedirs(rundir)
    popen = {}
    if os.geteuid() == 0 and args.as_user != "root":
        entry = pwd.getpwnam(args.as_user)
        os.chown(rundir, entry.pw_uid, entry.pw_gid)
        popen = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    uid = popen.get("user", os.geteuid())
    out("servers run as %s (uid %d)%s; their logs and answers go to %s.\n"
        % (pwd.getpwuid(uid).pw_name, uid, ", as root fakecups first drops privileges" if uid == 0 else "",
           rundir))
    runner = Spawner(SYSTEM_PYTHON, **popen) if popen else SPAWN
    try:
        rows = []
        cpu_gap = floor_cpu(args, rundir, launcher, floor, rows, runner)
        floor_wall(args, rundir, launcher, floor, rows, popen)
        out("\n### fakecups / floor\n")
        out(table(["measure", "median / median", "min / min", "per-round median", "per-round p25–p75",
                   "target", "verdict"], rows))
        out("\nper-round = fakecups's run divided by the floor's in the same round (the two are"
            " interleaved in a shuffled order per round, after 2 warm-up rounds); the verdict"
            " is on median / median.")
        for row in rows:
            summary.append(("5 %s, fakecups/floor" % row[0], row[1], row[5], row[6]))
        if len(rows) < 3:
            summary.append(("5 lpstat -v wall, fakecups/floor", "n/a", "≤ %.2f×" % FLOOR_WALL_TARGET,
                            "not measured"))
        merged, extra = floor_importtime(args, rundir, launcher, floor, runner)
        floor_where(args, workdir, module, merged, summary)
        code_run(args, rundir, workdir, runner)
    finally:
        if runner is not SPAWN:
            stop_daemon(runner.process)
    import_gap = merged["fakecups"].get("fakecups", (float("nan"),))[0] - merged["floor"].get(FLOOR, (0,))[0]
    lazy = sum(cumulative for cumulative, _ in extra)
    out("\nfakecups' %s ms of CPU above the floor on the socket, roughly: %s ms importing fakecups.py"
        " (importtime self, less the floor module's), %s ms importing the modules the floor does not"
        " import, and the rest, %s ms, serving: reading and parsing the requests, the records and"
        " the log, the answers%s.  importtime is wall time, so the split is approximate."
        % (ms(cpu_gap), ms(import_gap / 1e6), ms(lazy / 1e6), ms(cpu_gap - import_gap / 1e6 - lazy / 1e6),
           ", dropping privileges" if uid == 0 else ""))


def floor_cpu(args, rundir, launcher, floor, rows, runner):
    """CPU per connection on the captured lpstat-v stream, on stdin as a file and as a TCP
    connection; returns fakecups's median CPU less the floor's on the socket, in seconds."""
    stdin = os.path.join(CAPTURES, "empty", "lpstat-v", "client.bin")
    client, server = capture("lpstat-v"), capture("lpstat-v", "server.bin")
    log = os.path.join(rundir, "part5.log")
    servers = {"fakecups": [launcher, "--log", log], "floor": [floor, "--log", log]}
    jobs = [(label, how) for how in ("file", "socket") for label in servers] + [("bare", "-")]
    checks = {job: set() for job in jobs}
    answer = os.path.join(rundir, "part5.out")

    def measure(job):
        label, how = job
        if label == "bare":
            return runner.run([SYSTEM_PYTHON, "-I", "-S", "-c", "pass"])
        if how == "socket":
            run = runner.run(servers[label], connect=client)
            written = run.answer
        else:
            run = runner.run(servers[label], stdin=stdin, stdout_path=answer)
            with open(answer, "rb") as handle:
                written = handle.read()
        problems = ["exit %d" % run.exit_code] if run.exit_code else []
        if label == "floor" and written != server:
            problems.append("answer differs from server.bin")
        if label == "fakecups" and final_responses(written) != final_responses(server):
            problems.append("%d answers" % final_responses(written))
        checks[job].update(problems or ["ok"])
        return run
    results = interleave(jobs, args.floor_runs, 8631, measure)
    out("### CPU per connection on lpstat-v's requests: stdin a file (client.bin; the answers to a"
        " file), and stdin/stdout one TCP connection on 127.0.0.1, as under inetd (the requests"
        " already sent and the client's side shut for writing)\n")
    table_rows = []
    for job in jobs:
        runs = results[job]
        cpu = [r.cpu for r in runs]
        command = "%s -I -S -c pass" % SYSTEM_PYTHON if job[0] == "bare" else " ".join(
            os.path.basename(a) for a in servers[job[0]])
        table_rows.append([command, job[1], ms(median(cpu)), ms(min(cpu)), spread_ms(cpu),
                           ms(median([r.user for r in runs])), ms(median([r.sys for r in runs])),
                           ms(median([r.wall for r in runs])), "; ".join(sorted(checks[job]))])
    out(table(["command", "stdin", "CPU ms", "min CPU ms", "CPU p25–p75 ms", "user ms", "sys ms", "wall ms",
               "check"], table_rows))
    cpu = {job: median([r.cpu for r in results[job]]) for job in jobs}
    bare = cpu[("bare", "-")]
    for how in ("file", "socket"):
        rows.append(ratio_row("CPU, stdin a %s" % how, results[("fakecups", how)], results[("floor", how)],
                              lambda r: r.cpu, FLOOR_CPU_TARGET))
    gap = cpu[("fakecups", "socket")] - cpu[("floor", "socket")]
    out("\nCPU = user+sys of the child (os.wait4); their sum is exact, the split between them is"
        " sampled at the kernel's tick.  Above bare `python3 -I -S -c pass`, on the socket: the floor"
        " %s ms, fakecups %s ms.  fakecups costs %s ms (file: %s ms) a connection above the floor;"
        " the %.2f× target allows %s ms."
        % (ms(cpu[("floor", "socket")] - bare), ms(cpu[("fakecups", "socket")] - bare), ms(gap),
           ms(cpu[("fakecups", "file")] - cpu[("floor", "file")]), FLOOR_CPU_TARGET,
           ms(cpu[("floor", "socket")] * (FLOOR_CPU_TARGET - 1))))
    return gap


def floor_wall(args, rundir, launcher, floor, rows, popen):
    """`lpstat -v` wall time behind systemd-socket-activate --inetd, both launchers exec'd."""
    out("\n### `lpstat -h 127.0.0.1:PORT -v` wall time, each server exec'd by"
        " systemd-socket-activate --inetd\n")
    missing = lpstat_missing()
    if missing:
        out("skipped: " + missing)
        return
    meta = json.loads(capture("lpstat-v", "meta.json"))
    expected = "exit %d: %s" % (meta["exit_code"], (meta["stdout"] + meta["stderr"]).strip())
    servers = []
    try:
        for label, path in (("fakecups", launcher), ("floor", floor)):
            process, port = start_socket_activate(rundir, [path], "floor-" + label, **popen)
            servers.append((label, process, port))
        results, outputs = lpstat_rounds(rundir, shutil.which("lpstat"), lpstat_env(rundir),
                                         servers, args.floor_runs, 9632)
    finally:
        for _, process, _ in servers:
            stop_daemon(process)
    table_rows = []
    for label, *_ in servers:
        walls = [r.wall for r in results[label]]
        said = sorted(outputs[label])
        table_rows.append([label, ms(median(walls)), ms(min(walls)), spread_ms(walls), ms(max(walls)),
                           " / ".join(said), "as captured" if said == [expected] else "DIFFERS from capture"])
    out(table(["server", "median ms", "min ms", "p25–p75 ms", "max ms", "lpstat said", "check"], table_rows))
    fc, fl = (median([r.wall for r in results[label]]) for label in ("fakecups", "floor"))
    out("\ncaptured against cupsd (meta.json): %s; fakecups takes %s ms longer than the floor;"
        " the %.2f× target allows %s ms." % (expected, ms(fc - fl), FLOOR_WALL_TARGET,
                                             ms(fl * (FLOOR_WALL_TARGET - 1))))
    rows.append(ratio_row("lpstat -v wall", results["fakecups"], results["floor"],
                          lambda r: r.wall, FLOOR_WALL_TARGET))


def importtime_owners(text):
    """{module: the top-level import it was imported under (itself at depth 0)}."""
    owners, pending = {}, []
    for row in text.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)", row)
        if not match:
            continue
        pending.append(match.group(2))
        if len(match.group(1)) < 2:         # children are printed before their parent
            owners.update((name, match.group(2)) for name in pending)
            pending = []
    return owners


def floor_importtime(args, rundir, launcher, floor, runner):
    """`python3 -X importtime -IS LAUNCHER` on a TCP connection that sends lpstat-v's requests,
    for both; prints, and returns the merged rows of each and [(cumulative µs, module)] of the
    modules fakecups imports beyond the floor at top level."""
    repeats = 5 if args.quick else 11
    client = capture("lpstat-v")
    log = os.path.join(rundir, "part5-importtime.log")
    stderr_path = os.path.join(rundir, "part5-importtime.err")
    launchers = {"fakecups": launcher, "floor": floor}
    texts = {label: [] for label in launchers}

    def measure(label):
        runner.run([SYSTEM_PYTHON, "-X", "importtime", "-IS", launchers[label], "--log", log],
                   connect=client, stderr_path=stderr_path)
        texts[label].append(read_text(stderr_path, 1 << 20))
    interleave(list(launchers), repeats, 7631, measure)
    merged = {label: merge_importtime([parse_importtime(t) for t in texts[label]]) for label in launchers}
    owners = importtime_owners(texts["fakecups"][-1])
    out("\n### `%s -X importtime -IS LAUNCHER` on a connection with lpstat-v's requests"
        " (__pycache__ warm; median of %d, µs)\n" % (SYSTEM_PYTHON, repeats))
    rows = []
    for label, module in (("fakecups", "fakecups"), ("floor", FLOOR)):
        self_us, cumulative, _, _ = merged[label].get(module, (float("nan"),) * 4)
        rows.append([label, module, "%.0f" % self_us, "%.0f" % cumulative, len(merged[label])])
    out(table(["launcher", "module", "self µs", "cumulative µs", "modules imported in all"], rows))
    extra = sorted(((v[1], k) for k, v in merged["fakecups"].items()
                    if k not in merged["floor"] and k != "fakecups"), reverse=True)
    if extra:
        def where(name):
            owner = owners.get(name, "?")
            return {"fakecups": "fakecups' module body", name: "at run time (imported in a function)"}.get(
                owner, "under " + owner)
        out("\nmodules fakecups imports and the floor does not:\n")
        out(table(["module", "cumulative µs", "self µs", "imported"],
                  [[k, "%.0f" % c, "%.0f" % merged["fakecups"][k][0], where(k)] for c, k in extra]))
    return merged, [(c, k) for c, k in extra if merged["fakecups"][k][2] == 0]


# Run by SYSTEM_PYTHON -IS after `import os` (as the launcher does): time reading the .pyc,
# unmarshalling it, and executing the module body, either whole ("whole") or each top-level
# statement alone ("split": the statements come pre-compiled one by one from SPLIT_MODULE,
# which prints "lineno label" for each, so the timed process has imported nothing else).
# Prints "pyc_bytes read_s unmarshal_s body_s", then in "split" "lineno seconds" a statement.
MODULE_COST = r"""
import marshal, os, sys, time
mode, pyc, items_path, source, name = sys.argv[1:6]
clock = time.perf_counter
with open(items_path, "rb") as handle:
    items = marshal.load(handle)
started = clock()
with open(pyc, "rb") as handle:
    data = handle.read()
read = clock()
code = marshal.loads(memoryview(data)[16:])
loaded = clock()
module = type(sys)(name)
module.__file__ = source
sys.modules[name] = module
times = []
if mode == "whole":
    exec(code, module.__dict__)
else:
    for lineno, label, code in items:
        before = clock()
        exec(code, module.__dict__)
        times.append((lineno, clock() - before))
print(len(data), read - started, loaded - read, clock() - loaded)
for row in times:
    print(*row)
"""

SPLIT_MODULE = r"""
import ast, marshal, sys
source, items_path = sys.argv[1:3]
with open(source, "rb") as handle:
    tree = ast.parse(handle.read(), source)
items = []
for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        label = ("class " if isinstance(node, ast.ClassDef) else "def ") + node.name
    elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        label = ", ".join(ast.unparse(t) for t in targets) + " ="
    else:
        label = ast.unparse(node).split("\n")[0][:60]
    items.append((node.lineno, label, compile(ast.Module([node], []), source, "exec")))
    print(node.lineno, label)
with open(items_path, "wb") as handle:
    marshal.dump(items, handle)
"""


# Run by SYSTEM_PYTHON -IS on a connection with lpstat-v's requests: imports fakecups as the
# launcher does, runs main() with a profile hook that notes every function called, then prints
# to stderr "pyc_bytes" and "bytes ran name" for each function and class the module defines at
# top level (marshalled size; a class ran when any of its methods did).
CODE_RUN = r"""
import marshal, os, sys
libdir, pyc, log = sys.argv[1:4]
sys.path.insert(0, libdir)
import fakecups
ran = set()
def note(frame, event, arg):
    if event == "call":
        code = frame.f_code
        ran.add(getattr(code, "co_qualname", code.co_name).split(".")[0])
report = os.dup(2)
sys.setprofile(note)
status = fakecups.main(["--log", log])
sys.setprofile(None)
with open(pyc, "rb") as handle:
    data = handle.read()
rows = ["%d" % len(data)]
for const in marshal.loads(memoryview(data)[16:]).co_consts:
    if hasattr(const, "co_code"):
        name = getattr(const, "co_qualname", const.co_name)
        rows.append("%d %d %s" % (len(marshal.dumps(const)), name in ran, name))
os.write(report, ("\n".join(rows) + "\n").encode())
os._exit(status)
"""


def code_run(args, rundir, workdir, runner):
    """How much of fakecups' .pyc is code that lpstat -v's connection runs."""
    source = os.path.join(workdir, "lib", "fakecups.py")
    cache = os.path.join(os.path.dirname(source), "__pycache__")
    pyc = [os.path.join(cache, entry) for entry in os.listdir(cache) if entry.startswith("fakecups.")][0]
    report = os.path.join(rundir, "code-run.txt")
    run = runner.run([SYSTEM_PYTHON, "-I", "-S", "-c", CODE_RUN, os.path.dirname(source), pyc,
                      os.path.join(rundir, "code-run.log")], connect=capture("lpstat-v"), stderr_path=report)
    rows = read_text(report, 1 << 20).split()
    if run.exit_code or not rows:
        out("\n(which code ran: not measured, exit %d)" % run.exit_code)
        return
    total = int(rows[0])
    defs = [(int(size), ran == "1", name) for size, ran, name in zip(rows[1::3], rows[2::3], rows[3::3])]
    ran = sum(size for size, used, _ in defs if used)
    idle = sorted(((size, name) for size, used, name in defs if not used), reverse=True)
    out("\nof fakecups' %d-byte .pyc, the functions and classes lpstat -v's connection runs are %d"
        " bytes (marshalled), those it never runs %d bytes (%.0f%%) in %d definitions, the rest"
        " (module-level code and constants, marshal framing) %d; the largest never run: %s."
        % (total, ran, sum(size for size, _ in idle), 100.0 * sum(size for size, _ in idle) / total,
           len(idle), total - ran - sum(size for size, _ in idle),
           ", ".join("%s %d" % (name, size) for size, name in idle[:args.top // 2])))


def module_cost(args, workdir, source, name):
    """{"pyc": bytes, "read": s, "unmarshal": s, "statements": [(lineno, label, s)]} by medians."""
    items = os.path.join(workdir, name + ".items")
    labels = subprocess.run([SYSTEM_PYTHON, "-I", "-S", "-c", SPLIT_MODULE, source, items], check=True,
                            timeout=60, capture_output=True, text=True).stdout.splitlines()
    cache = os.path.join(os.path.dirname(source), "__pycache__")
    pyc = [os.path.join(cache, entry) for entry in os.listdir(cache) if entry.startswith(name + ".")]
    samples = {"whole": [], "split": []}
    stdout_path = os.path.join(workdir, name + ".cost")

    def measure(mode):
        run = spawn_measure([SYSTEM_PYTHON, "-I", "-S", "-c", MODULE_COST, mode, pyc[0], items, source,
                             name], stdout_path=stdout_path)
        if run.exit_code:
            raise RuntimeError("timing %s's module body failed: exit %d" % (name, run.exit_code))
        samples[mode].append([row.split() for row in read_text(stdout_path, 1 << 20).splitlines()])
    interleave(list(samples), 3 if args.quick else 7, 6631, measure)
    whole = samples["whole"] + samples["split"]
    cost = {"pyc": int(whole[0][0][0]), "read": median([float(s[0][1]) for s in whole]),
            "unmarshal": median([float(s[0][2]) for s in whole]),
            "body": median([float(s[0][3]) for s in samples["whole"]]), "statements": []}
    for index, label in enumerate(labels):
        lineno, _, text = label.partition(" ")
        seconds = median([float(sample[index + 1][1]) for sample in samples["split"]])
        cost["statements"].append((int(lineno), text, seconds))
    return cost


def floor_where(args, workdir, floor_module, merged, summary):
    """Where fakecups' import goes beside the floor's: .pyc size, unmarshal, module body."""
    fakecups_module = os.path.join(workdir, "lib", "fakecups.py")
    costs = {"fakecups": module_cost(args, workdir, fakecups_module, "fakecups"),
             "floor": module_cost(args, workdir, floor_module, FLOOR)}
    out("\n### Where the import goes (%s -I -S, median of %d processes, µs)\n"
        % (SYSTEM_PYTHON, 3 if args.quick else 7))
    rows = []
    for label, module in (("fakecups", "fakecups"), ("floor", FLOOR)):
        cost = costs[label]
        self_us = merged[label].get(module, (float("nan"),))[0]
        rows.append([label, cost["pyc"], "%.0f" % (cost["read"] * 1e6), "%.0f" % (cost["unmarshal"] * 1e6),
                     "%.0f" % (cost["body"] * 1e6), "%.0f" % (sum(s[2] for s in cost["statements"]) * 1e6),
                     len(cost["statements"]), "%.0f" % self_us])
        if label == "fakecups":
            floor_self = merged["floor"].get(FLOOR, (float("nan"),))[0]
            summary.append(("5 importtime self of fakecups", "%.0f µs" % self_us, "(note)",
                            "floor's module %.0f µs; .pyc %d bytes" % (floor_self, cost["pyc"])))
    out(table(["module", ".pyc bytes", "read µs", "unmarshal µs", "body exec µs", "Σ statements µs",
               "top-level statements", "importtime self µs"], rows))
    out("\nimporttime self = finding the module + reading + unmarshalling the .pyc + running its body"
        " (wall clock); Σ statements = the body run one top-level statement at a time, which adds"
        " a little to each.")
    statements = sorted(costs["fakecups"]["statements"], key=lambda s: -s[2])[:args.top]
    out("\nfakecups' module body, the costliest top-level statements (each timed alone, in order):\n")
    out(table(["line", "statement", "µs"], [[n, text, "%.1f" % (t * 1e6)] for n, text, t in statements]))
    kinds = {}
    for _, text, seconds in costs["fakecups"]["statements"]:
        kind = text.split()[0] if text.split()[0] in ("def", "class") else "other"
        kinds[kind] = kinds.get(kind, 0) + seconds
    out("\nby kind: " + ", ".join("%s %.0f µs" % kv for kv in sorted(((k, v * 1e6) for k, v in kinds.items()),
                                                                   key=lambda kv: -kv[1])))


# ── part 7: --report over a large log ──────────────────────────────────────────────────────

REPORT_TARGET = 200000           # records per second (issue 10)
REPORT_HOSTS = 5000              # distinct sources in the generated log


def report_templates(workdir):
    """[[record line, ...] per connection]: the JSON records fakecups writes for every captured
    client stream (--decode), and one UDP browse-packet record made by fakecups' own code."""
    python = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
    connections = []
    for state in ("empty", "printer"):
        for scenario in sorted(os.listdir(os.path.join(CAPTURES, state))):
            folder = os.path.join(CAPTURES, state, scenario)
            for name in sorted(n for n in os.listdir(folder) if n.endswith("client.bin")):
                argv = [python, "-I", script_copy(workdir), "--decode", os.path.join(folder, name),
                        "--format", "json", "--persona", state]
                if state == "printer":
                    argv += ["--printer", "labprinter"]
                lines = subprocess.run(argv, capture_output=True, timeout=60).stdout.splitlines()
                if lines:
                    connections.append(lines)
    where = os.path.dirname(script_copy(workdir))
    sys.path.insert(0, where)
    try:
        import fakecups
        packet = fakecups.plain_packet(fakecups.parse_browse_packet(
            b"0 3 http://203.0.113.66:4444/printers/probe\n"), "203.0.113.66")
        udp = fakecups.plain_datagram(time.time(), "-", 1, 1, packet)
    finally:
        sys.path.remove(where)
    udp["alerts"] = []
    return connections, json.dumps(udp, separators=(",", ":")).encode()


def write_report_log(path, size, connections, udp):
    """About size bytes of JSON Lines: the captured connections again and again, each from one
    of REPORT_HOSTS sources with its own pid, times 7 ms apart; every 150th connection with an
    alert, every 100th followed by a UDP record.  Returns the number of records."""
    rng = random.Random(631)
    hosts = [b"%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256),
                               rng.randrange(1, 255)) for _ in range(REPORT_HOSTS)]
    parts = [[line.partition(b',"seq":')[2] for line in lines] for lines in connections]
    udp_rest = udp.partition(b',"seq":')[2]
    start = 1795392000                                  # 2026-11-23
    written = records = pid = 0
    milliseconds = 0
    with open(path, "wb", buffering=1 << 20) as log:
        while written < size:
            block = []
            for _ in range(1000):
                pid += 1
                host = rng.choice(hosts)
                peer = b"%s:%d" % (host, rng.randrange(1024, 65536))
                tails = parts[rng.randrange(len(parts))]
                for index, tail in enumerate(tails):
                    milliseconds += 7
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + milliseconds // 1000))
                    if index == 0 and pid % 150 == 0:
                        tail = tail.replace(b'"alerts":[]', b'"alerts":["slow-head"]', 1)
                    block.append(b'{"time":"%s.%03dZ","peer":"%s","pid":%d,"seq":%s' % (
                        stamp.encode(), milliseconds % 1000, peer, pid, tail))
                if pid % 100 == 0:
                    block.append(b'{"time":"%s.%03dZ","peer":"%s:5353","pid":%d,"seq":%s' % (
                        stamp.encode(), milliseconds % 1000, host, pid, udp_rest))
            data = b"\n".join(block) + b"\n"
            log.write(data)
            written += len(data)
            records += len(block)
    return records


def part_report(args, workdir, launcher, summary):
    size = (64 if args.quick else args.report_mib) * MiB
    small = 8 * MiB
    out("\n## 7. --report over a generated %d MiB JSON Lines log\n" % (size // MiB))
    free = shutil.disk_usage(workdir).free
    if free < 2 * size + 256 * MiB:
        out("skipped: %d MiB free in %s, the log wants %d MiB and room to spare" % (free // MiB, workdir, size // MiB))
        summary.append(("7 --report records/s", "n/a", "≥ %d" % REPORT_TARGET, "skipped: disk space"))
        return
    connections, udp = report_templates(workdir)
    lines = [line for lines in connections for line in lines]
    out("templates: %d records of %d captured connections (fakecups --decode --format json, mean"
        " %d bytes a line) and one UDP record; sources from %d hosts, a pid per connection, every"
        " 150th connection with an alert, every 100th followed by a UDP record."
        % (len(lines), len(connections), sum(map(len, lines)) // len(lines), REPORT_HOSTS))
    python = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
    base = [launcher] if launcher else [python, "-I", script_copy(workdir)]
    rows = []
    log = os.path.join(workdir, "report.log")
    try:
        for label, target in (("small", small), ("large", size)):
            started = time.monotonic()
            records = write_report_log(log, target, connections, udp)
            actual = os.path.getsize(log)
            out("%s log: %d records, %.1f MiB, written in %.1f s" % (label, records, actual / MiB,
                                                                  time.monotonic() - started))
            runs = []
            for _ in range(1 if args.quick else 3):
                answer = os.path.join(workdir, "report.json")
                run = spawn_measure(base + ["--report", "--report-format", "json", log],
                                    stdout_path=answer, timeout=1800)
                with open(answer) as handle:
                    counted = json.load(handle)["records"]
                runs.append((run, counted))
            wall = median([run.wall for run, _ in runs])
            rate = records / wall
            peak = max(run.maxrss_kib for run, _ in runs)
            check = "ok" if all(c == records and r.exit_code == 0 for r, c in runs) else \
                "records counted %s, exit %s" % ({c for _, c in runs}, {r.exit_code for r, _ in runs})
            rows.append([label, "%.1f" % (actual / MiB), records, "%.2f" % wall,
                         "%.2f" % median([run.cpu for run, _ in runs]), "%.0f" % rate,
                         "%.0f" % (actual / MiB / wall), rss_text(peak), check])
            if label == "large":
                summary.append(("7 --report records/s, %d MiB log" % (actual // MiB), "%.0f" % rate,
                                "≥ %d" % REPORT_TARGET, "ok" if rate >= REPORT_TARGET else "UNDER"))
                summary.append(("7 --report peak RSS, %d MiB log" % (actual // MiB), "%.1f MiB" % (peak / 1024),
                                "flat", "%s MiB on the %d MiB log" % (rows[0][7], small // MiB)))
    finally:
        if os.path.exists(log):
            os.unlink(log)
    out(table(["log", "MiB", "records", "wall s", "CPU s", "records/s", "MiB/s", "peak RSS MiB", "check"], rows))
    sample = lines * max(1, 20000 // len(lines))
    started = time.perf_counter()
    for line in sample:
        json.loads(line)
    loads = len(sample) / (time.perf_counter() - started)
    out("\nfor comparison, json.loads alone on the template lines, in this process (%s): %.0f records/s;"
        " --report finds a request record's fields by position (one regular expression for the"
        " head, then find() for the rest) and parses only other lines with json."
        % (platform.python_version(), loads))


# ── main ───────────────────────────────────────────────────────────────────────────────────

# ── part 6: the printer persona's spool at scale ───────────────────────────────────────────

SCALE_TARGET = 1.5


def ipp_request(operation, request_id, attributes, document=b""):
    """An IPP/2.0 request (operation attributes only) as HTTP POST bytes."""
    tags = {"charset": 0x47, "language": 0x48, "uri": 0x45, "name": 0x42, "keyword": 0x44,
            "integer": 0x21, "mime": 0x49}
    body = bytearray(b"\x02\x00" + operation.to_bytes(2, "big") + request_id.to_bytes(4, "big"))
    body.append(0x01)
    for tag, name, value in attributes:
        raw = value.to_bytes(4, "big") if tag == "integer" else value.encode()
        body += bytes([tags[tag]]) + len(name).to_bytes(2, "big") + name.encode()
        body += len(raw).to_bytes(2, "big") + raw
    body.append(0x03)
    body += document
    head = ("POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    return head.encode() + bytes(body)


def fill_spool(directory, count):
    """count finished jobs, written as the printer persona writes them, and its index."""
    os.makedirs(directory)
    template = ('{"printer":"bench","user":"user%%d","peer":"127.0.0.1:40000","name":"job %%d",'
                '"hold":false,"attributes":"","hold-until":"no-hold","priority":50,"copies":1,'
                '"job-id":%%d,"state":9,"reasons":"job-completed-successfully","created":%(t)s,'
                '"processing":%(t)s,"completed":%(t)s,"documents":[{"document-format":'
                '"application/pdf","document-name":null,"compression":null,"number":1,'
                '"bytes":1000,"file":null,"sha256":null,"pages":1}],"ready":%(t)s,"seconds":3.0,'
                '"pages":1,"updated":%(t)s}\n' % {"t": repr(time.time() - 86400)})
    for job_id in range(1, count + 1):
        with open(os.path.join(directory, "%d.json" % job_id), "w") as handle:
            handle.write(template % (job_id % 7, job_id, job_id))
    with open(os.path.join(directory, "index"), "w") as handle:
        handle.write('{"next":%d,"bytes":0,"active":{},"free":0,"seq":0,"events":[]}\n' % (count + 1))
    if os.geteuid() == 0:
        for name in os.listdir(directory):
            os.chown(os.path.join(directory, name), 65534, 65534)
        os.chown(directory, 65534, 65534)


def part_scale(args, workdir, launcher, summary):
    out("\n## 6. The printer persona with %d jobs in its spool against an empty spool\n" % args.spool_jobs)
    if launcher is None:
        out("skipped: %s is missing" % SYSTEM_PYTHON)
        return
    spools = {"empty": os.path.join(workdir, "spool-empty"),
              "%d jobs" % args.spool_jobs: os.path.join(workdir, "spool-full")}
    started = time.monotonic()
    fill_spool(spools["empty"], 0)
    fill_spool(spools["%d jobs" % args.spool_jobs], args.spool_jobs)
    out("spool of %d jobs written in %.1f s" % (args.spool_jobs, time.monotonic() - started))
    uri = ("uri", "printer-uri", "ipp://localhost/ipp/print")
    base = [("charset", "attributes-charset", "utf-8"), ("language", "attributes-natural-language", "en"),
            uri, ("name", "requesting-user-name", "bench")]
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n"
    requests = {
        "Print-Job": ipp_request(0x0002, 1, base + [("mime", "document-format", "application/pdf")], pdf),
        "Get-Printer-Attributes": ipp_request(0x000B, 1, base),
        "Get-Jobs limit 10 completed": ipp_request(0x000A, 1, base + [
            ("keyword", "which-jobs", "completed"), ("integer", "limit", 10)]),
        "Get-Jobs limit 10 all": ipp_request(0x000A, 1, base + [
            ("keyword", "which-jobs", "all"), ("integer", "limit", 10)]),
    }
    files = {}
    for name, data in requests.items():
        files[name] = os.path.join(workdir, "scale-%s.bin" % name.replace(" ", "-"))
        with open(files[name], "wb") as handle:
            handle.write(data)
    log = os.path.join(workdir, "scale.log")
    jobs = [(name, label) for name in requests for label in spools]
    runs = args.scale_runs

    def measure(job):
        name, label = job
        argv = [launcher, "--persona", "printer", "--printer", "bench", "--spool", spools[label],
                "--log", log, "--pages-per-minute", "0"]
        return spawn_measure(argv, stdin=files[name])

    results = interleave(jobs, runs, 6, measure)
    rows = []
    for name in requests:
        empty, full = (results[(name, label)] for label in spools)
        cpu_e, cpu_f = median([r.cpu for r in empty]), median([r.cpu for r in full])
        wall_e, wall_f = median([r.wall for r in empty]), median([r.wall for r in full])
        rows.append([name, ms(cpu_e), ms(cpu_f), ratio(cpu_f, cpu_e), ms(wall_e), ms(wall_f),
                     ratio(wall_f, wall_e), verdict(wall_f / wall_e, SCALE_TARGET, SCALE_TARGET)])
        summary.append(("6 %s wall, %d jobs / empty" % (name, args.spool_jobs), ratio(wall_f, wall_e),
                        "≤ %.1f×" % SCALE_TARGET, verdict(wall_f / wall_e, SCALE_TARGET, SCALE_TARGET)))
    out(table(["request", "CPU empty", "CPU full", "ratio", "wall empty", "wall full", "ratio",
               "verdict"], rows))
    out("\n(medians of %d interleaved runs each; one connection = one process, as under xinetd)" % runs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, 32 MiB job, 2 s of xinetd")
    parser.add_argument("--only", default="1,2,3,4,5", help="parts to run, e.g. 1,3 (floor = 5, report = 7)")
    parser.add_argument("--report-mib", type=int, default=1024,
                        help="size of part 7's generated log in MiB (1024; --quick 64)")
    parser.add_argument("--runs", type=int, help="runs per command in part 1 (30; --quick 10)")
    parser.add_argument("--floor-runs", type=int, help="runs per server in part 5 (21; --quick 7)")
    parser.add_argument("--as-user", default="nobody",
                        help="when root, the user part 5's servers run as, like the installed"
                             " service (nobody; root = keep root, so fakecups drops privileges)")
    parser.add_argument("--what-if", action="store_true",
                        help="also measure launcher variants (os._exit, -IS) in parts 1, 2 and 4")
    parser.add_argument("--top", type=int, default=20, help="importtime rows to print")
    parser.add_argument("--spool-jobs", type=int, default=100000,
                        help="jobs in part 6's big spool (100000)")
    args = parser.parse_args(argv)
    args.runs = args.runs or (10 if args.quick else 30)
    args.lpstat_runs = 10 if args.quick else 20
    args.floor_runs = args.floor_runs or (7 if args.quick else 21)
    args.scale_runs = 7 if args.quick else 21
    parts = {part.strip().replace("floor", "5").replace("report", "7") for part in args.only.split(",")}
    become_subreaper()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)

    out("# fakecups benchmark%s\n" % (" (--quick)" if args.quick else ""))
    out("date: %s; fakecups.py: %s" % (time.strftime("%Y-%m-%d %H:%M:%S %z"), FAKECUPS))
    out(table(["fact", "value"], machine_facts()))
    summary = []
    workdir = tempfile.mkdtemp(prefix="fakecups-bench-")
    os.chmod(workdir, 0o755)        # fakecups runs as nobody after opening its log
    started = time.monotonic()
    try:
        global SPAWN
        SPAWN = Spawner(SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable)
        spawn_measure([SPAWN.python, "-I", "-S", "-c", "pass"])      # the helper's warm-up
        floor = SPAWN.floor_kib()
        out("\nmeasured commands are started by a `%s -I -S` helper whose peak RSS is %s: a"
            " child's peak RSS (ru_maxrss from wait4) reads at least that much."
            % (SPAWN.python, "%.1f MiB" % (floor / 1024) if floor else "unknown"))
        os.makedirs(os.path.dirname(script_copy(workdir)))
        shutil.copy2(FAKECUPS, script_copy(workdir))
        with open(script_copy(workdir), "rb") as handle:
            source = handle.read()
        head = command_output(["git", "-C", ROOT, "log", "-1", "--format=%h %cs"]) if shutil.which("git") else "?"
        dirty = command_output(["git", "-C", ROOT, "status", "--porcelain", "--", "fakecups.py"]) if shutil.which("git") else ""
        out("fakecups.py measured: %d bytes, %d lines, sha256 %s…, repo HEAD %s%s (a copy taken now is"
            " what every part runs)" % (len(source), source.count(b"\n"), hashlib.sha256(source).hexdigest()[:16],
                                         head, ", fakecups.py modified in the work tree" if dirty else ""))
        launcher = None
        if os.path.exists(SYSTEM_PYTHON):
            launcher = build_launcher(workdir)
        for number, part in (("1", part_startup), ("2", part_lpstat), ("3", part_bigjob), ("4", part_xinetd),
                             ("5", part_floor), ("6", part_scale),
                             ("7", part_report)):
            if number in parts:
                try:
                    before = os.getloadavg()[0]
                    part(args, workdir, launcher, summary)
                    out("\n(load average 1 min: %.2f before this part, %.2f after; other work on the"
                        " machine shows up as noise here)" % (before, os.getloadavg()[0]))
                except KeyboardInterrupt:
                    raise
                except Exception as error:
                    out("\npart %s failed: %s: %s" % (number, type(error).__name__, error))
                    summary.append(("part %s" % number, "failed", "", str(error)[:80]))
        out("\n## Summary against the targets\n")
        out(table(["measurement", "value", "target", "verdict"], summary))
        out("\ntotal bench time %.0f s" % (time.monotonic() - started))
        return 0
    except KeyboardInterrupt:
        out("\ninterrupted: stopping everything started")
        return 130
    finally:
        cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
