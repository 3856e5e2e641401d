"""Shared test helpers: where the captures are, how to run fakecups, how to split responses.

Response parsing here is written independently of fakecups' own framing code, so the
golden tests do not grade fakecups with its own ruler.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FAKECUPS = ROOT / "fakecups.py"
CAPTURES = TESTS / "captures"


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


def run_fakecups(stdin, *args, timeout=20, env=None):
    """Run fakecups.py as xinetd would, with a file on stdin; returns CompletedProcess."""
    return subprocess.run([sys.executable, str(FAKECUPS), *args], input=stdin,
                          capture_output=True, timeout=timeout,
                          env=dict(os.environ if env is None else env))


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers          # [(name, value)] in wire order
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def is_ipp(self):
        return (self.header("Content-Type") or "").lower() == "application/ipp"

    def __repr__(self):
        return "Response(%s %d, %r, %d body bytes)" % (
            self.version, self.status, self.headers, len(self.body))


def split_responses(data, methods=()):
    """Every response in a server byte stream, interim 100s included, in order.

    methods are the request methods in order, so answers to HEAD are read without a body;
    once they run out every further response is taken as bodiless (cupsd 2.4 follows a
    HEAD with a stray 404 header block).  Raises ValueError on anything malformed.
    """
    methods = list(methods)
    responses = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            raise ValueError("unterminated response head at %d" % pos)
        lines = data[pos:end].decode("latin-1").split("\r\n")
        version, status, reason = lines[0].split(" ", 2)
        if version not in ("HTTP/1.0", "HTTP/1.1"):
            raise ValueError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ValueError("bad header line %r" % line)
            headers.append((name, value.strip()))
        pos = end + 4
        response = Response(version, int(status), reason, headers, b"")
        responses.append(response)
        if response.status == 100:
            continue
        method = methods.pop(0) if methods else "HEAD"
        if method == "HEAD":
            continue
        if (response.header("Transfer-Encoding") or "").lower() == "chunked":
            parts = []
            while True:
                line_end = data.index(b"\r\n", pos)
                size = int(data[pos:line_end].split(b";")[0], 16)
                pos = line_end + 2
                if size == 0:
                    pos = data.index(b"\r\n", pos) + 2      # no trailers in captures
                    break
                parts.append(data[pos:pos + size])
                if data[pos + size:pos + size + 2] != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
                pos += size + 2
            response.body = b"".join(parts)
        else:
            length = int(response.header("Content-Length") or 0)
            response.body = data[pos:pos + length]
            if len(response.body) != length:
                raise ValueError("body shorter than its Content-Length")
            pos += length
    return responses


def final_responses(data, methods=()):
    return [r for r in split_responses(data, methods) if r.status != 100]


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, seconds=10.0, process=None):
    """Whether 127.0.0.1:port accepts a connection within seconds (False at once if
    process, the listener being started, has exited)."""
    import socket
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


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
    import shutil
    path = os.environ.get("PATH", os.defpath) + os.pathsep + "/usr/sbin:/sbin:/usr/local/sbin"
    return shutil.which(program, path=path)


def missing_reason(program):
    return "%s not installed (apt-get install %s)" % (program, PACKAGES.get(program, program))
