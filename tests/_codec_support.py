"""Helpers for test_ipp and test_http: where the captures are, how to cut them into HTTP
messages, and how to read the capture tool's own human decode (ipp.txt).

Two kinds of splitter live here on purpose:

* split_requests() cuts a client.bin into requests with fakecups' own framing code
  (ByteReader / read_request_head / body_length / iter_body).  Only test_ipp uses it, to get
  at real IPP bodies; test_http grades those functions on hand-checked bytes instead.
* split_responses() cuts a server.bin into responses with code written here, independent of
  fakecups, so the response side is never graded with fakecups' own ruler.
"""

import io
import re
from pathlib import Path

import fakecups
from tests.support import final_responses

TESTS = Path(__file__).resolve().parent
CAPTURES = TESTS / "captures"
FILES = CAPTURES / "files"


def capture_streams():
    """[(label, client bytes, server bytes, ipp.txt path or None)] for every captured
    connection under captures/{empty,printer}, in a stable order."""
    streams = []
    for state in ("empty", "printer"):
        for folder in sorted(p for p in (CAPTURES / state).iterdir() if p.is_dir()):
            label = "%s/%s" % (state, folder.name)
            if (folder / "client.bin").exists():
                txt = folder / "ipp.txt"
                streams.append((label, (folder / "client.bin").read_bytes(),
                                (folder / "server.bin").read_bytes(),
                                txt if txt.exists() else None))
                continue
            n = 1
            while (folder / ("conn%d-client.bin" % n)).exists():
                streams.append(("%s#conn%d" % (label, n),
                                (folder / ("conn%d-client.bin" % n)).read_bytes(),
                                (folder / ("conn%d-server.bin" % n)).read_bytes(), None))
                n += 1
    return streams


# ── Requests, framed by fakecups itself (test_ipp only) ──────────────────────────────────

class Request:
    def __init__(self, head, body, chunked):
        self.head = head
        self.body = body
        self.chunked = chunked

    @property
    def is_ipp(self):
        content_type = (self.head.header("Content-Type") or "").split(";")[0].strip().lower()
        return self.head.method == "POST" and content_type == "application/ipp"


def split_requests(data):
    """Every request in a client byte stream, with its de-chunked body."""
    reader = fakecups.ByteReader(io.BytesIO(data).read, None)
    requests = []
    while True:
        head = fakecups.RequestHead(b"", "", "", "", [])
        if not fakecups.read_request_head(reader, head, fakecups.DEFAULT_MAX_HEADER_BYTES, None):
            return requests
        framing = fakecups.body_length(head)
        body = b"".join(fakecups.iter_body(reader, framing, fakecups.DEFAULT_MAX_BODY_BYTES,
                                           lambda: None))
        requests.append(Request(head, body, framing[0] == "chunked"))


# ── Responses, framed independently of fakecups ──────────────────────────────────────────

# ── Every IPP body in the captures ───────────────────────────────────────────────────────

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
        methods = [r.head.method for r in split_requests(client)]
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
    if tag in (0x10, 0x12, 0x13):
        return "None"
    if tag == fakecups.TAG_RANGE:
        return repr("%d-%d" % value)
    if tag == fakecups.TAG_DATETIME:
        return repr("%04d-%02d-%02dT%02d:%02d:%02d.%d%s%02d%02d" % value)
    if isinstance(value, (bool, int, str)):
        return repr(value)
    return repr(value)


def show_values(values, shown=12):
    """The capture tool's value list: the first 12, then "... (+N)"."""
    text = ", ".join(show_value(tag, value) for tag, value in values[:shown])
    if len(values) > shown:
        text += " ... (+%d)" % (len(values) - shown)
    return text
