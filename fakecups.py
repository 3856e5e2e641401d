#!/usr/bin/python3 -I
"""fakecups: a stand-in for the CUPS daemon on port 631, one connection per process.

Run by xinetd, by systemd socket activation (Accept=yes) or by anything that hands over a
connected socket as stdin and stdout, it reads every HTTP/1.1 request the client sends on that
connection, records exactly what was asked (peer, headers, every IPP attribute, the document's
size and sha256), and answers as a real cupsd with no printers answers, so no client hangs.
With --persona printer it is instead a virtual IPP Everywhere printer that keeps every job.

    python3 fakecups.py [--log PATH] [--format text|json|classic] [--syslog] ...
    python3 fakecups.py --decode client.bin        # look inside a captured request stream
    python3 fakecups.py --help

stdout carries nothing but HTTP responses.  stderr is never written while it is the client's
socket (under xinetd it is).  Exit status: 0 after a connection that ended normally or on a
client error, 1 when fakecups itself failed, 2 for bad options.

Limits (all options): request head 16 KiB and 30 s, body 1 GiB, idle 10 s between bytes.
It speaks no TLS, no HTTP/2 and no Upgrade; such clients are recorded and the connection closed.

Sections, in order: limits → protocol tables → small utilities → errors → IPP codec (sans I/O,
one table of value syntaxes) → HTTP/1.1 framing → personas (the Persona base, then empty, then
printer and its spool) → the UDP half (browse packets) → indicators of known attacks → records
and log formats (and --report's reader) → sinks → the connection loop and the datagram loop →
options and main.  Import cost is start-up cost here, so only cheap built-in modules are imported at the
top; the rest is imported where it is first needed.
"""

import gc
import os
import sys
import time

__version__ = "1.0"

# The import makes some 40,000 objects that live as long as the process; collections run
# while it does would walk them again and again (about 0.4 ms a connection, measured), so
# the collector waits for the end of this file, which freezes what the import made.
_GC_WAS_ENABLED = gc.isenabled()
gc.disable()

# ── Limits and constants ─────────────────────────────────────────────────────────────────

DEFAULT_LOG = "/var/log/fakecups/fakecups.log"
DEFAULT_SPOOL = "/var/spool/fakecups"
DEFAULT_PRINTER = "fakecups"
DEFAULT_MAX_SPOOL_BYTES = 4 << 30
DEFAULT_PAGES_PER_MINUTE = 20        # an office laser printer's: a one-page job takes 3 s
DEFAULT_IDLE_TIMEOUT = 10.0          # cupsd's own KeepAliveTimeout / Timeout scale
DEFAULT_HEADER_TIMEOUT = 30.0        # a slow-drip client cannot hold a slot longer than this
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_BODY_BYTES = 1 << 30
DEFAULT_UDP_LIFETIME = 60.0          # the UDP sensor's bounded life; its super-server restarts it
MAX_REQUEST_LINE = 8 * 1024          # longer → 414, as a target that long is never a CUPS URI
MAX_HEADER_COUNT = 100               # more → 431; CUPS clients send fewer than ten
MAX_EMPTY_LINES = 16                 # before a request line; more is a flood, answered 400
MAX_CHUNK_LINE = 1024                # a chunk-size line with extensions; longer → 400
MAX_IPP_ATTRIBUTE_BYTES = 4 << 20    # attributes before the document; beyond → 413
MAX_COLLECTION_DEPTH = 32            # deeper nesting is hostile, not a real media-col
READ_SIZE = 64 * 1024
LOG_VALUE_CHARS = 512                # longer values are cut in records, their length noted
LOG_VALUES_PER_ATTRIBUTE = 64
LOG_ATTRIBUTES_PER_GROUP = 1000      # a record stays readable when a client sends 50,000
SERVER_HEADER = "CUPS/2.4 IPP/2.1"
IDENT = "fakecups"

# ── IPP tables (RFC 8010, RFC 8011, CUPS extensions); keys are wire codes ────────────────

def code_table(text):
    """{code: name} from whitespace-separated "0xCODE name" pairs, laid out as the RFCs list them."""
    words = text.split()
    return {int(code, 16): name for code, name in zip(words[::2], words[1::2])}


GROUP_TAGS = code_table("""
    0x01 operation-attributes-tag   0x02 job-attributes-tag   0x03 end-of-attributes-tag
    0x04 printer-attributes-tag   0x05 unsupported-attributes-tag   0x06 subscription-attributes-tag
    0x07 event-notification-attributes-tag   0x08 resource-attributes-tag
    0x09 document-attributes-tag   0x0A system-attributes-tag""")
TAG_OPERATION, TAG_JOB, TAG_END, TAG_PRINTER = 0x01, 0x02, 0x03, 0x04
TAG_UNSUPPORTED_GROUP, TAG_SUBSCRIPTION, TAG_EVENT_NOTIFICATION = 0x05, 0x06, 0x07

# Value tags by name; what each one means on the wire is the SYNTAXES table in the codec.
TAG_UNSUPPORTED, TAG_UNKNOWN, TAG_NO_VALUE = 0x10, 0x12, 0x13
TAG_NOT_SETTABLE, TAG_DELETE_ATTRIBUTE, TAG_ADMIN_DEFINE = 0x15, 0x16, 0x17
TAG_INTEGER, TAG_BOOLEAN, TAG_ENUM = 0x21, 0x22, 0x23
TAG_OCTETS, TAG_DATETIME, TAG_RESOLUTION, TAG_RANGE = 0x30, 0x31, 0x32, 0x33
TAG_BEGIN_COLLECTION, TAG_TEXT_LANG, TAG_NAME_LANG, TAG_END_COLLECTION = 0x34, 0x35, 0x36, 0x37
TAG_TEXT, TAG_NAME, TAG_KEYWORD, TAG_URI, TAG_URI_SCHEME = 0x41, 0x42, 0x44, 0x45, 0x46
TAG_CHARSET, TAG_LANGUAGE, TAG_MIME_TYPE, TAG_MEMBER_NAME = 0x47, 0x48, 0x49, 0x4A
TAG_EXTENSION = 0x7F

OPERATIONS = code_table("""
    0x0002 Print-Job   0x0003 Print-URI   0x0004 Validate-Job   0x0005 Create-Job
    0x0006 Send-Document   0x0007 Send-URI   0x0008 Cancel-Job   0x0009 Get-Job-Attributes
    0x000A Get-Jobs   0x000B Get-Printer-Attributes   0x000C Hold-Job   0x000D Release-Job
    0x000E Restart-Job   0x0010 Pause-Printer   0x0011 Resume-Printer   0x0012 Purge-Jobs
    0x0013 Set-Printer-Attributes   0x0014 Set-Job-Attributes
    0x0015 Get-Printer-Supported-Values   0x0016 Create-Printer-Subscriptions
    0x0017 Create-Job-Subscriptions   0x0018 Get-Subscription-Attributes
    0x0019 Get-Subscriptions   0x001A Renew-Subscription   0x001B Cancel-Subscription
    0x001C Get-Notifications   0x001E Get-Resource-Attributes   0x0020 Get-Resources
    0x0022 Enable-Printer   0x0023 Disable-Printer   0x0024 Pause-Printer-After-Current-Job
    0x0025 Hold-New-Jobs   0x0026 Release-Held-New-Jobs   0x0027 Deactivate-Printer
    0x0028 Activate-Printer   0x0029 Restart-Printer   0x002A Shutdown-Printer
    0x002B Startup-Printer   0x002C Reprocess-Job   0x002D Cancel-Current-Job
    0x002E Suspend-Current-Job   0x002F Resume-Job   0x0030 Promote-Job
    0x0031 Schedule-Job-After   0x0033 Cancel-Document   0x0034 Get-Document-Attributes
    0x0035 Get-Documents   0x0036 Delete-Document   0x0037 Set-Document-Attributes
    0x0038 Cancel-Jobs   0x0039 Cancel-My-Jobs   0x003A Resubmit-Job   0x003B Close-Job
    0x003C Identify-Printer   0x003D Validate-Document   0x003E Add-Document-Images
    0x003F Acknowledge-Document   0x0040 Acknowledge-Identify-Printer   0x0041 Acknowledge-Job
    0x0042 Fetch-Document   0x0043 Fetch-Job   0x0044 Get-Output-Device-Attributes
    0x0045 Update-Active-Jobs   0x0046 Deregister-Output-Device   0x0047 Update-Document-Status
    0x0048 Update-Job-Status   0x0049 Update-Output-Device-Attributes
    0x004A Get-Next-Document-Data   0x004B Allocate-Printer-Resources   0x004C Create-Printer
    0x004D Deallocate-Printer-Resources   0x004E Delete-Printer   0x004F Get-Printers
    0x0050 Shutdown-One-Printer   0x0051 Startup-One-Printer   0x0052 Cancel-Resource
    0x0053 Create-Resource   0x0054 Install-Resource   0x0055 Send-Resource-Data
    0x0056 Set-Resource-Attributes   0x0057 Create-Resource-Subscriptions
    0x0058 Create-System-Subscriptions   0x0059 Disable-All-Printers
    0x005A Enable-All-Printers   0x005B Get-System-Attributes
    0x005C Get-System-Supported-Values   0x005D Pause-All-Printers
    0x005E Pause-All-Printers-After-Current-Job   0x005F Register-Output-Device
    0x0060 Restart-System   0x0061 Resume-All-Printers   0x0062 Set-System-Attributes
    0x0063 Shutdown-All-Printers   0x0064 Startup-All-Printers   0x4001 CUPS-Get-Default
    0x4002 CUPS-Get-Printers   0x4003 CUPS-Add-Modify-Printer   0x4004 CUPS-Delete-Printer
    0x4005 CUPS-Get-Classes   0x4006 CUPS-Add-Modify-Class   0x4007 CUPS-Delete-Class
    0x4008 CUPS-Accept-Jobs   0x4009 CUPS-Reject-Jobs   0x400A CUPS-Set-Default
    0x400B CUPS-Get-Devices   0x400C CUPS-Get-PPDs   0x400D CUPS-Move-Job
    0x400E CUPS-Authenticate-Job   0x400F CUPS-Get-PPD   0x4027 CUPS-Get-Document
    0x4028 CUPS-Create-Local-Printer
""")
OP = {name: code for code, name in OPERATIONS.items()}

STATUS_CODES = code_table("""
    0x0000 successful-ok   0x0001 successful-ok-ignored-or-substituted-attributes
    0x0002 successful-ok-conflicting-attributes   0x0400 client-error-bad-request
    0x0401 client-error-forbidden   0x0402 client-error-not-authenticated
    0x0403 client-error-not-authorized   0x0404 client-error-not-possible
    0x0405 client-error-timeout   0x0406 client-error-not-found   0x0407 client-error-gone
    0x0408 client-error-request-entity-too-large   0x0409 client-error-request-value-too-long
    0x040A client-error-document-format-not-supported
    0x040B client-error-attributes-or-values-not-supported
    0x040C client-error-uri-scheme-not-supported   0x040D client-error-charset-not-supported
    0x040E client-error-conflicting-attributes   0x040F client-error-compression-not-supported
    0x0410 client-error-compression-error   0x0411 client-error-document-format-error
    0x0412 client-error-document-access-error   0x0413 client-error-attributes-not-settable
    0x0500 server-error-internal-error   0x0501 server-error-operation-not-supported
    0x0502 server-error-service-unavailable   0x0503 server-error-version-not-supported
    0x0504 server-error-device-error   0x0505 server-error-temporary-error
    0x0506 server-error-not-accepting-jobs   0x0507 server-error-busy
    0x0508 server-error-job-canceled   0x0509 server-error-multiple-document-jobs-not-supported
""")
STATUS = {name: code for code, name in STATUS_CODES.items()}

JOB_STATES = {3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped",
              7: "canceled", 8: "aborted", 9: "completed"}
JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED = 3, 4, 5, 6
JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
JOB_ACTIVE = frozenset((JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED))   # not-completed
PRINTER_IDLE, PRINTER_PROCESSING = 3, 4                             # printer-state
FINISHINGS_NONE, PORTRAIT = 3, 3                                    # finishings, orientation
QUALITY_DRAFT, QUALITY_NORMAL, QUALITY_HIGH = 3, 4, 5               # print-quality
RESOLUTION_DPI = 3                                                  # resolution units

HTTP_REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
    413: "Request Entity Too Large", 414: "URI Too Long", 417: "Expectation Failed",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 505: "HTTP Version Not Supported",
}


def code_name(table, code):
    """Unknown wire codes are shown, never dropped: 0x4042 is as telling as a name."""
    return table.get(code) or "0x%04x" % code


# ── Small utilities: writing, hashing, escaping, dates ───────────────────────────────────

def write_all(fd, data):
    while data:
        written = os.write(fd, data)
        data = data[written:]


def new_sha256():
    """sha256 without hashlib's 10 ms import where the interpreter has _sha256 built in."""
    try:
        from _sha256 import sha256
    except ImportError:
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256
    return sha256()


class DocumentDigest:
    """Size and sha256 of a document as it streams by.  Small documents use the built-in
    _sha256 (no import); past 1 MiB, OpenSSL's hashlib is worth its import (about five times
    faster), so the first MiB is held and handed over.  Memory stays under 1 MiB + a chunk."""

    SWITCH_AT = 1 << 20

    def __init__(self):
        self.size = 0
        self._held = []
        self._hasher = None

    def update(self, chunk):
        self.size += len(chunk)
        if self._hasher is not None:
            self._hasher.update(chunk)
            return
        self._held.append(chunk)
        if self.size > self.SWITCH_AT:
            try:
                from hashlib import sha256
                self._hasher = sha256()
            except ImportError:             # unreadable after dropping privileges
                self._hasher = new_sha256()
            for held in self._held:
                self._hasher.update(held)
            self._held = None

    def hexdigest(self):
        if not self.size:
            return None
        if self._hasher is None:
            hasher = new_sha256()
            for held in self._held:
                hasher.update(held)
            return hasher.hexdigest()
        return self._hasher.hexdigest()


_CONTROL_ESCAPES = None     # escape()'s str.translate table, made by control_escapes()


def control_escapes():
    """The table escape() translates with, built on first use: what most clients send has
    nothing to escape, so most connections never pay the ~10 µs it costs to build."""
    global _CONTROL_ESCAPES
    if _CONTROL_ESCAPES is None:
        table = {c: "\\x%02x" % c for c in list(range(0x20)) + list(range(0x7F, 0xA0))}
        table.update({c: "\\u%04x" % c for c in (0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D,
                                                0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF)})
        table.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x5C: "\\\\"})
        _CONTROL_ESCAPES = table
    return _CONTROL_ESCAPES


def escape(text, limit=LOG_VALUE_CHARS):
    """Client text made safe for a terminal: control bytes escaped, bad UTF-8 as \\xNN,
    long values cut with their length noted."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if len(text) <= limit and text.isascii() and text.isprintable() and "\\" not in text:
        return text                     # most of what clients send: nothing to escape
    clipped = text[:limit]
    safe = (clipped.translate(control_escapes()).encode("utf-8", "surrogateescape")
            .decode("utf-8", "backslashreplace"))
    if len(text) > limit:
        safe += "...[%d chars]" % len(text)
    return safe


def hex_clipped(data):
    """Binary client data for a record: hex, cut like text with its length noted."""
    return data[:LOG_VALUE_CHARS].hex() + ("...[%d bytes]" % len(data)
                                           if len(data) > LOG_VALUE_CHARS else "")


_JSON_ESCAPES = None        # to_json's str.translate table, made by json_escapes()


def json_escapes():
    """The table to_json translates strings with, built on first use: the text log format
    (the default) writes no JSON, so its connections never build it."""
    global _JSON_ESCAPES
    if _JSON_ESCAPES is None:
        table = {c: "\\u%04x" % c for c in list(range(0x20)) + list(range(0x7F, 0xA0))}
        table.update({0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})
        _JSON_ESCAPES = table
    return _JSON_ESCAPES


def to_json(value):
    """Compact JSON for plain data (the json module would cost a `re` import per process)."""
    if isinstance(value, str):
        return '"%s"' % value.translate(json_escapes())
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{%s}" % ",".join("%s:%s" % (to_json(str(k)), to_json(v)) for k, v in value.items())
    return "[%s]" % ",".join(to_json(v) for v in value)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(timestamp):
    """IMF-fixdate (RFC 9110 5.6.7) without importing email.utils."""
    t = time.gmtime(timestamp)
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def rfc3339(timestamp):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + (
        ".%03dZ" % (int(timestamp * 1000) % 1000))


def c_locale_date(timestamp):
    """The date as `date` prints it in the C locale."""
    return time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(timestamp))


def atoi(text):
    """C's atoi: leading digits, 0 when there are none (cupsd parses numbers with it)."""
    text = text.lstrip(" \t\n\v\f\r")
    sign = -1 if text[:1] == "-" else 1
    digits = ""
    for char in text[1:] if text[:1] in "+-" and text else text:
        if char not in "0123456789" or len(digits) > 9:
            break
        digits += char
    return sign * int(digits) if digits else 0


def percent_decode(text):
    parts = text.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:2]
        if len(code) == 2 and all(c in "0123456789abcdefABCDEF" for c in code):
            out.append(chr(int(code, 16)) + part[2:])
        else:
            out.append("%" + part)
    return "".join(out)


def uri_path(uri):
    """The path of ipp://host:port/path?query, "" if uri is not absolute."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return ""
    path = rest[rest.find("/"):] if "/" in rest else "/"
    return path.split("?", 1)[0]


# ── Errors ───────────────────────────────────────────────────────────────────────────────

class ParseError(ValueError):
    """An IPP message that does not decode; offset is where in the body it went wrong."""

    def __init__(self, message, offset):
        super().__init__("%s at byte %d" % (message, offset))
        self.reason = message
        self.offset = offset


class Truncated(ParseError):
    """The message ends early: with more of the body it might still decode."""


class HttpError(Exception):
    """A request that gets an HTTP error answer; every one of them ends the connection."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status


class IppError(Exception):
    """A request a persona refuses with an IPP status; the dispatcher turns it into the answer.
    echo=False answers in utf-8/en, as cupsd does before the request's charset is checked."""

    def __init__(self, status, message=None, groups=(), echo=True):
        super().__init__(message or status)
        self.status = status
        self.message = message
        self.groups = groups
        self.echo = echo


class ClientGone(Exception):
    """EOF, a reset or a timeout: the connection is over and nothing more can be sent."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived; raised through the I/O so the record is still written."""


# ── IPP codec (RFC 8010), sans I/O: bytes in, values out, and back ──────────────────────

class Attribute:
    """One attribute in wire order; values are (value-tag, value) pairs as tags may differ."""

    __slots__ = ("name", "values")

    def __init__(self, name, values):
        self.name = name
        self.values = values

    def __repr__(self):
        return "Attribute(%r, %r)" % (self.name, self.values)

    def __eq__(self, other):
        return (isinstance(other, Attribute) and self.name == other.name
                and self.values == other.values)

    @property
    def first(self):
        return self.values[0][1] if self.values else None

    @property
    def first_tag(self):
        return self.values[0][0] if self.values else None


class Group:
    __slots__ = ("tag", "attributes")

    def __init__(self, tag, attributes=None):
        self.tag = tag
        self.attributes = [] if attributes is None else attributes

    def __repr__(self):
        return "Group(0x%02x, %r)" % (self.tag, self.attributes)

    def __eq__(self, other):
        return (isinstance(other, Group) and self.tag == other.tag
                and self.attributes == other.attributes)

    def get(self, name):
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None


class Message:
    """A request (code = operation-id) or response (code = status-code), groups in order."""

    __slots__ = ("version", "code", "request_id", "groups", "data")

    def __init__(self, version, code, request_id, groups=None, data=b""):
        self.version = version
        self.code = code
        self.request_id = request_id
        self.groups = [] if groups is None else groups
        self.data = data

    def __repr__(self):
        return "Message(%r, 0x%04x, %d, %r, %d data bytes)" % (
            self.version, self.code, self.request_id, self.groups, len(self.data))

    def __eq__(self, other):
        return (isinstance(other, Message) and self.version == other.version
                and self.code == other.code and self.request_id == other.request_id
                and self.groups == other.groups and self.data == other.data)

    def find(self, name, group_tag=None):
        """First attribute called name (in group_tag only, if given), or None."""
        for group in self.groups:
            if group_tag is None or group.tag == group_tag:
                attribute = group.get(name)
                if attribute is not None:
                    return attribute
        return None


def all_attributes(attributes):
    """Every attribute, the members of collections included, in wire order."""
    for attribute in attributes:
        yield attribute
        for tag, value in attribute.values:
            if tag == TAG_BEGIN_COLLECTION:
                yield from all_attributes(value)


# Value syntaxes: how each value tag's bytes decode, encode and show in a record.  Wire strings
# keep every byte (invalid UTF-8 survives as surrogates and re-encodes); values that are tuples
# keep their fields so every value re-encodes byte for byte.

def _int32(raw, offset=0):
    return int.from_bytes(raw[offset:offset + 4], "big", signed=True)


def _pack32(*numbers):
    return b"".join(n.to_bytes(4, "big", signed=True) for n in numbers)


def _decode_text(raw, offset):
    return raw.decode("utf-8", "surrogateescape")


def _encode_text(value):
    return value.encode("utf-8", "surrogateescape")


def _decode_with_language(raw, offset):
    if len(raw) < 4:
        raise ParseError("value with language shorter than 4 bytes", offset)
    end = 2 + int.from_bytes(raw[:2], "big")
    if end + 2 > len(raw):
        raise ParseError("language length past the value", offset)
    if end + 2 + int.from_bytes(raw[end:end + 2], "big") != len(raw):
        raise ParseError("text length does not match the value length", offset)
    return _decode_text(raw[2:end], offset), _decode_text(raw[end + 2:], offset)


def _encode_with_language(value):
    language, text = (_encode_text(part) for part in value)
    return b"".join((len(language).to_bytes(2, "big"), language, len(text).to_bytes(2, "big"), text))


def _decode_datetime(raw, offset):
    """RFC 2579 DateAndTime, kept as its fields."""
    return (int.from_bytes(raw[:2], "big"),) + tuple(raw[2:8]) + (chr(raw[8]),) + tuple(raw[9:11])


def _encode_datetime(value):
    return value[0].to_bytes(2, "big") + bytes(value[1:7]) + value[7].encode("latin-1") + bytes(value[8:10])


def _plain_collection(members):
    return {escape(m.name): [plain_value(t, v) for t, v in m.values] for m in members}


def _plain_bytes(value):
    return hex_clipped(value) if isinstance(value, bytes) else value


class Syntax:
    """One row of the value-syntax table; size is the fixed value length or None."""

    __slots__ = ("name", "size", "decode", "encode", "plain")

    def __init__(self, name, size, decode, encode, plain):
        self.name, self.size, self.decode, self.encode, self.plain = name, size, decode, encode, plain


_raw = (lambda raw, offset: bytes(raw), bytes, _plain_bytes)
_string = (_decode_text, _encode_text, escape)
_integer = (lambda raw, offset: _int32(raw), _pack32, int)
_with_language = (_decode_with_language, _encode_with_language,
                  lambda v: {"language": escape(v[0]), "text": escape(v[1])})
# Out-of-band values (RFC 8010 3.5.2) and octetString keep the bytes sent; strings are text.
SYNTAXES = {tag: Syntax(name, None, *_raw) for tag, name in code_table("""
    0x10 unsupported   0x12 unknown   0x13 no-value   0x15 not-settable   0x16 delete-attribute
    0x17 admin-define   0x30 octetString   0x37 endCollection""").items()}
SYNTAXES.update((tag, Syntax(name, None, *_string)) for tag, name in code_table("""
    0x41 textWithoutLanguage   0x42 nameWithoutLanguage   0x44 keyword   0x45 uri   0x46 uriScheme
    0x47 charset   0x48 naturalLanguage   0x49 mimeMediaType   0x4A memberAttrName""").items())
SYNTAXES.update({
    TAG_INTEGER: Syntax("integer", 4, *_integer),
    TAG_ENUM: Syntax("enum", 4, *_integer),
    TAG_BOOLEAN: Syntax("boolean", 1, lambda raw, offset: raw[0] != 0 if raw[0] in (0, 1) else raw[0],
                        lambda value: bytes((value if type(value) is int else int(bool(value)),)),
                        lambda value: value),          # neither 0 nor 1: kept as the number
    TAG_DATETIME: Syntax("dateTime", 11, _decode_datetime, _encode_datetime,
                         lambda v: escape("%04d-%02d-%02dT%02d:%02d:%02d.%d%s%02d:%02d" % v)),
    TAG_RESOLUTION: Syntax("resolution", 9, lambda raw, offset: (_int32(raw), _int32(raw, 4), raw[8]),
                           lambda v: _pack32(v[0], v[1]) + bytes((v[2],)),
                           lambda v: {"x": v[0], "y": v[1], "units": {3: "dpi", 4: "dpcm"}.get(v[2], v[2])}),
    TAG_RANGE: Syntax("rangeOfInteger", 8, lambda raw, offset: (_int32(raw), _int32(raw, 4)),
                      lambda v: _pack32(*v), lambda v: {"lower": v[0], "upper": v[1]}),
    TAG_TEXT_LANG: Syntax("textWithLanguage", None, *_with_language),
    TAG_NAME_LANG: Syntax("nameWithLanguage", None, *_with_language),
    TAG_BEGIN_COLLECTION: Syntax("collection", None, None, None, _plain_collection),
    TAG_EXTENSION: Syntax("extension", None, lambda raw, offset: bytes(raw), lambda v: v[1],
                          lambda v: {"tag": "0x%08x" % v[0], "hex": v[1][:LOG_VALUE_CHARS].hex()}),
})
UNKNOWN_SYNTAX = Syntax(None, None, *_raw)          # a tag no RFC defines: kept as sent
VALUE_TAGS = {tag: syntax.name for tag, syntax in SYNTAXES.items()}
STRUCTURE_TAGS = frozenset((TAG_BEGIN_COLLECTION, TAG_END_COLLECTION, TAG_MEMBER_NAME,
                            TAG_EXTENSION))         # the grammar, not decode_value, reads these


def decode_value(tag, raw, offset):
    """One value by its tag; unknown tags and out-of-band values stay raw bytes."""
    syntax = SYNTAXES.get(tag, UNKNOWN_SYNTAX)
    if syntax.size is not None and len(raw) != syntax.size:
        raise ParseError("%s value of %d bytes, not %d" % (syntax.name, len(raw), syntax.size), offset)
    return syntax.decode(raw, offset)


def plain_value(tag, value):
    """A value as JSON-ready data for records: str, int, bool, dict or list; binary as hex."""
    return SYNTAXES.get(tag, UNKNOWN_SYNTAX).plain(value)


def syntax_name(tag, value=None):
    """How a value's syntax is shown in records: RFC names, extension tags by number."""
    if tag == TAG_EXTENSION and value is not None:
        return "extension(0x%08x)" % value[0]
    return SYNTAXES.get(tag, UNKNOWN_SYNTAX).name or "0x%02x" % tag


class _Cursor:
    """A bounded view of the body: every read past the end raises Truncated with its offset."""

    __slots__ = ("data", "pos")

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def take(self, size, what):
        start = self.pos
        end = start + size
        if end > len(self.data):
            raise Truncated("%s runs past the end (%d bytes wanted)" % (what, size), start)
        self.pos = end
        return self.data[start:end]

    def number(self, size, what, signed=False):
        return int.from_bytes(self.take(size, what), "big", signed=signed)


def _read_tag(cursor):
    """A tag byte, or for 0x7F the 32-bit extension tag that follows it (as libcups reads)."""
    data, pos = cursor.data, cursor.pos
    if pos < len(data):                 # inline: this runs once per value of every request
        tag = data[pos]
        cursor.pos = pos + 1
    else:
        tag = cursor.number(1, "tag")   # raises Truncated
    if tag != TAG_EXTENSION:
        return tag, None
    offset = cursor.pos
    extended = cursor.number(4, "extension tag")
    if extended & 0x80000000:
        raise ParseError("extension tag larger than 0x7FFFFFFF", offset)
    return tag, extended


def _read_name_and_value(cursor):
    data, start = cursor.data, cursor.pos
    name_end = start + 2 + int.from_bytes(data[start:start + 2], "big")
    value_start = name_end + 2
    value_end = value_start + int.from_bytes(data[name_end:value_start], "big")
    if value_end <= len(data):          # all there (a short length field lands past the end)
        cursor.pos = value_end
        return data[start + 2:name_end], data[value_start:value_end], value_start
    name_length = cursor.number(2, "name length")       # the cursor says what ran short
    name = cursor.take(name_length, "name")
    value_length = cursor.number(2, "value length")
    offset = cursor.pos
    return name, cursor.take(value_length, "value"), offset


def _read_value(cursor, tag, extended, raw, offset, depth):
    if tag not in STRUCTURE_TAGS:
        return decode_value(tag, raw, offset)
    if tag == TAG_EXTENSION:
        return (extended, bytes(raw))
    if tag == TAG_BEGIN_COLLECTION:
        if raw:
            raise ParseError("begCollection value not 0 bytes", offset)
        return _read_collection(cursor, depth + 1)
    raise ParseError("%s outside a collection" % VALUE_TAGS[tag], offset)


def _read_collection(cursor, depth):
    """Members up to endCollection; returns them as a list of Attributes."""
    if depth > MAX_COLLECTION_DEPTH:
        raise ParseError("collections nested deeper than %d" % MAX_COLLECTION_DEPTH, cursor.pos)
    members = []
    while True:
        start = cursor.pos
        tag, extended = _read_tag(cursor)
        if tag < 0x10:
            raise ParseError("group tag 0x%02x inside a collection" % tag, start)
        name, raw, offset = _read_name_and_value(cursor)
        if name:
            raise ParseError("named attribute inside a collection", start)
        if tag == TAG_END_COLLECTION:
            if raw:
                raise ParseError("endCollection value not 0 bytes", offset)
            return members
        if tag == TAG_MEMBER_NAME:
            if not raw:
                raise ParseError("memberAttrName value is empty", offset)
            members.append(Attribute(_decode_text(raw, offset), []))
            continue
        if not members:
            raise ParseError("collection value before any memberAttrName", start)
        members[-1].values.append((tag, _read_value(cursor, tag, extended, raw, offset, depth)))


def decode_message(data):
    """Decode a whole IPP message; bytes after end-of-attributes are the document data.

    Raises Truncated when the attributes run past the end of data (more may come) and
    ParseError for anything no amount of further data can mend.
    """
    cursor = _Cursor(data)
    version = tuple(cursor.take(2, "version"))
    code = cursor.number(2, "operation-id or status-code")
    request_id = cursor.number(4, "request-id", signed=True)
    message = Message(version, code, request_id)
    group = None
    while True:
        start = cursor.pos
        tag, extended = _read_tag(cursor)
        if tag == TAG_END:
            message.data = data[cursor.pos:]
            return message
        if tag < 0x10:
            if tag == 0:
                raise ParseError("invalid group tag 0x00", start)
            group = Group(tag)
            message.groups.append(group)
            continue
        name, raw, offset = _read_name_and_value(cursor)
        if group is None:
            raise ParseError("attribute before any group tag", start)
        if name:
            attribute = Attribute(_decode_text(name, start), [])
            group.attributes.append(attribute)
        elif group.attributes:
            attribute = group.attributes[-1]
        else:
            raise ParseError("additional value with no attribute before it", start)
        attribute.values.append((tag, _read_value(cursor, tag, extended, raw, offset, 0)))


def _encode_item(parts, tag, name, value):
    """Append one tag/name/value item; a collection appends its members and endCollection."""
    if tag == TAG_EXTENSION:
        parts.append(bytes((TAG_EXTENSION,)) + value[0].to_bytes(4, "big"))
    else:
        parts.append(bytes((tag,)))
    parts.append(len(name).to_bytes(2, "big"))
    parts.append(name)
    if tag == TAG_BEGIN_COLLECTION:
        parts.append(b"\x00\x00")
        for member in value:
            _encode_item(parts, TAG_MEMBER_NAME, b"", member.name)
            for member_tag, member_value in member.values:
                _encode_item(parts, member_tag, b"", member_value)
        parts.append(bytes((TAG_END_COLLECTION, 0, 0, 0, 0)))
        return
    raw = SYNTAXES.get(tag, UNKNOWN_SYNTAX).encode(value)
    if len(raw) > 0xFFFF:
        raise ValueError("IPP value of %d bytes does not fit a 16-bit length" % len(raw))
    parts.append(len(raw).to_bytes(2, "big"))
    parts.append(raw)


def encode_attributes(parts, attributes):
    for attribute in attributes:
        name = _encode_text(attribute.name)
        for tag, value in attribute.values:
            _encode_item(parts, tag, name, value)
            name = b""


def encode_message(message):
    """The wire form of message; parts are collected and joined once."""
    parts = [bytes(message.version), message.code.to_bytes(2, "big"),
             message.request_id.to_bytes(4, "big", signed=True)]
    for group in message.groups:
        parts.append(bytes((group.tag,)))
        encode_attributes(parts, group.attributes)
    parts.append(bytes((TAG_END,)))
    parts.append(message.data)
    return b"".join(parts)


# ── HTTP/1.1 framing over a byte source ──────────────────────────────────────────────────

class ByteReader:
    """One read buffer over recv(n) -> bytes; each wait is bounded by idle time and a deadline.

    recv returns b"" at EOF.  wait(seconds) -> bool says whether bytes are ready; None means
    the source never blocks (a file or BytesIO in tests and --decode).
    """

    def __init__(self, recv, wait=None, idle_timeout=DEFAULT_IDLE_TIMEOUT, clock=time.monotonic):
        self._recv = recv
        self._wait = wait
        self.clock = clock                 # deadlines are on this clock
        self.idle_timeout = idle_timeout
        self.buffer = b""
        self.eof = False
        self.received = 0
        self.before_wait = None          # called once before the next read that would block

    def fill(self, deadline=None):
        """Read more into the buffer; False at EOF.  Raises ClientGone on a timeout."""
        if self.eof:
            return False
        if self.before_wait is not None and self._wait is not None and not self._wait(0):
            hook, self.before_wait = self.before_wait, None
            hook()                              # e.g. a held-back 100 Continue goes out now
        if self._wait is not None:
            timeout = self.idle_timeout
            if deadline is not None:
                timeout = min(timeout, deadline - self.clock())
            if timeout <= 0 or not self._wait(timeout):
                raise ClientGone("timeout" if timeout > 0 or deadline is None else "deadline")
        try:
            data = self._recv(READ_SIZE)
        except (ConnectionError, OSError) as error:
            raise ClientGone("read failed: %s" % error.strerror) from None
        if not data:
            self.eof = True
            return False
        self.received += len(data)
        self.buffer = self.buffer + data if self.buffer else data
        return True

    def readline(self, limit, deadline=None):
        """A line with its ending, at most limit bytes; b"" at EOF before any byte."""
        while True:
            end = self.buffer.find(b"\n", 0, limit)
            if end >= 0:
                line, self.buffer = self.buffer[:end + 1], self.buffer[end + 1:]
                return line
            if len(self.buffer) >= limit:
                return None
            if not self.fill(deadline):
                line, self.buffer = self.buffer, b""
                return line

    def read(self, size, deadline=None):
        """Up to size bytes, at least one unless at EOF."""
        if not self.buffer and not self.fill(deadline):
            return b""
        chunk, self.buffer = self.buffer[:size], self.buffer[size:]
        return chunk


class RequestHead:
    """The request line and headers as sent (header names kept as the client spelled them)."""

    __slots__ = ("line", "method", "target", "version", "headers")

    def __init__(self, line, method, target, version, headers):
        self.line = line
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers

    def header(self, name):
        """The value of the last header called name (any case), or None."""
        name = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == name:
                found = value
        return found

    def header_values(self, name):
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    @property
    def keep_alive(self):
        tokens = {t.strip().lower() for v in self.header_values("Connection") for t in v.split(",")}
        if "close" in tokens:
            return False
        return self.version != "HTTP/1.0" or "keep-alive" in tokens


TLS_HANDSHAKE = 0x16


def _strip_eol(line):
    if line.endswith(b"\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(b"\n") else line


def read_request_head(reader, head, max_header_bytes, deadline):
    """Fill head from a request line and headers; False at a clean EOF before any byte.

    Raises HttpError for a request that gets an error answer and ClientGone for bytes that
    are not HTTP at all (TLS, binary garbage), which get no answer.
    """
    first = _skip_empty_lines(reader, head, deadline)
    if first is None:
        return False
    if first == TLS_HANDSHAKE or first < 0x20 or first > 0x7E:
        head.line = reader.buffer[:MAX_REQUEST_LINE]
        raise ClientGone("not HTTP (first byte 0x%02x%s)" % (
            first, ", a TLS handshake" if first == TLS_HANDSHAKE else ""))
    _read_request_line(reader, head, deadline)
    _check_version(head.version)
    _read_headers(reader, head, max_header_bytes, deadline)
    return True


def _skip_empty_lines(reader, head, deadline):
    """RFC 9112 2.2: a few empty lines before the request line are ignored.  The first byte
    of the request, or None at a clean EOF."""
    for empty_lines in range(MAX_EMPTY_LINES + 1):
        if not reader.buffer and not reader.fill(deadline):
            return None
        first = reader.buffer[0]
        if first not in b"\r\n":
            return first
        line = reader.readline(2, deadline)
        if line not in (b"\r\n", b"\n") or empty_lines == MAX_EMPTY_LINES:
            head.line = line or b""
            raise HttpError(400, "stray CR before the request line")
    return None


def _read_request_line(reader, head, deadline):
    try:
        line = reader.readline(MAX_REQUEST_LINE + 2, deadline)
    except (ClientGone, Terminated):
        head.line = reader.buffer[:MAX_REQUEST_LINE]     # what came of it is still recorded
        raise
    if line is not None:
        head.line = _strip_eol(line)
    if line is None or len(head.line) > MAX_REQUEST_LINE:
        head.line = head.line or reader.buffer[:MAX_REQUEST_LINE]
        raise HttpError(414, "request line longer than %d bytes" % MAX_REQUEST_LINE)
    if not line.endswith(b"\n"):
        raise ClientGone("connection closed inside the request line")
    parts = head.line.split(b" ")
    if len(parts) != 3 or not all(parts) or b"\x00" in head.line or b"\r" in head.line:
        raise HttpError(400, "malformed request line")
    head.method, head.target, head.version = (p.decode("latin-1") for p in parts)


def _check_version(version):
    """HTTP/x.y with one digit each; 1.x is read as 1.1 (RFC 9110 2.5), others get 505."""
    number = version[5:]
    digits = number.split(".")
    if (version[:5] != "HTTP/" or len(digits) > 2
            or not all(len(d) == 1 and d in "0123456789" for d in digits)):
        raise HttpError(400, "bad HTTP version")
    if digits == ["1"]:
        raise HttpError(400, "bad HTTP version")
    if len(digits) != 2 or digits[0] != "1":
        raise HttpError(505, "HTTP version %s not supported" % number)


def _read_headers(reader, head, max_header_bytes, deadline):
    size = 0
    while True:
        line = reader.readline(max_header_bytes + 2, deadline)
        if line is None:
            raise HttpError(431, "a header line longer than %d bytes" % max_header_bytes)
        if not line.endswith(b"\n"):
            raise ClientGone("connection closed inside the headers")
        size += len(line)
        if size > max_header_bytes:
            raise HttpError(431, "headers larger than %d bytes" % max_header_bytes)
        field = _strip_eol(line)
        if not field:
            return
        if len(head.headers) >= MAX_HEADER_COUNT:
            raise HttpError(431, "more than %d header fields" % MAX_HEADER_COUNT)
        name, colon, value = field.partition(b":")
        head.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        if (not colon or not name or name != name.strip() or field[:1] in b" \t"
                or b"\x00" in field or b"\r" in field):
            raise HttpError(400, "malformed header field")


def body_length(head):
    """The framing of the body: ("length", n), ("chunked", None); HttpError when ambiguous."""
    lengths = head.header_values("Content-Length")
    codings = [t.strip().lower() for v in head.header_values("Transfer-Encoding") for t in v.split(",")]
    if codings and lengths:
        raise HttpError(400, "both Content-Length and Transfer-Encoding")
    if codings:
        if codings[-1] != "chunked":            # RFC 9112 6.3: the length is unknowable
            raise HttpError(400, "transfer coding %s without chunked last" % ",".join(codings))
        if len(codings) > 1:
            raise HttpError(501, "transfer coding %s not supported" % ",".join(codings[:-1]))
        return "chunked", None
    values = {v.strip() for value in lengths for v in value.split(",")}
    if len(values) > 1:
        raise HttpError(400, "conflicting Content-Length values")
    if not values:
        return "length", 0
    text = values.pop()
    if not text.isdigit() or not text.isascii() or len(text) > 19:
        raise HttpError(400, "bad Content-Length")
    return "length", int(text)


def iter_body(reader, framing, max_body_bytes, deadline_for):
    """Yield the body's bytes as they come; HttpError(413) before reading past the limit.

    deadline_for() gives the current deadline, so a body may take as long as it keeps moving.
    """
    kind, length = framing
    if kind == "length":
        if length > max_body_bytes:
            raise HttpError(413, "Content-Length %d over the %d byte limit" % (length, max_body_bytes))
        yield from _read_exactly(reader, length, deadline_for, "the body")
        return
    total = 0
    while True:
        size = _read_chunk_size(reader, deadline_for())
        if size == 0:
            break
        total += size
        if total > max_body_bytes:
            raise HttpError(413, "chunked body over the %d byte limit" % max_body_bytes)
        yield from _read_exactly(reader, size, deadline_for, "a chunk")
        ending = reader.readline(3, deadline_for())
        if ending is not None and not ending.endswith(b"\n") and reader.eof:
            raise ClientGone("connection closed after a chunk")
        if ending not in (b"\r\n", b"\n"):
            raise HttpError(400, "chunk not followed by CRLF")
    _skip_trailers(reader, deadline_for)


def _read_exactly(reader, size, deadline_for, what):
    while size:
        chunk = reader.read(min(size, READ_SIZE), deadline_for())
        if not chunk:
            raise ClientGone("connection closed inside %s" % what)
        size -= len(chunk)
        yield chunk


def _read_chunk_size(reader, deadline):
    line = reader.readline(MAX_CHUNK_LINE, deadline)
    if line is None:
        raise HttpError(400, "chunk-size line too long")
    if not line.endswith(b"\n"):
        raise ClientGone("connection closed inside a chunk header")
    size_text = _strip_eol(line).split(b";", 1)[0].strip(b" \t")
    if not size_text or len(size_text) > 16 or size_text.strip(b"0123456789abcdefABCDEF"):
        raise HttpError(400, "bad chunk size")
    return int(size_text, 16)


def _skip_trailers(reader, deadline_for):
    """A chunked body's trailer fields are read and dropped, within the header limit."""
    trailer_bytes = 0
    while True:
        line = reader.readline(DEFAULT_MAX_HEADER_BYTES, deadline_for())
        if line is not None and not line.endswith(b"\n"):
            raise ClientGone("connection closed inside the chunked trailer")
        if line is None:
            raise HttpError(431, "chunked trailer line too long")
        trailer_bytes += len(line)
        if trailer_bytes > DEFAULT_MAX_HEADER_BYTES:
            raise HttpError(431, "chunked trailer too large")
        if not _strip_eol(line):
            return


def format_response(status, headers, body=b"", head_only=False, version="HTTP/1.1"):
    """Status line, headers and body as one bytes value, ready for a single write.
    cupsd answers in the request's version; anything but 1.0 is answered as 1.1."""
    if version != "HTTP/1.0":
        version = "HTTP/1.1"
    lines = ["%s %d %s" % (version, status, HTTP_REASONS.get(status, "Unknown"))]
    lines.extend("%s: %s" % pair for pair in headers)
    lines.append("\r\n")
    data = "\r\n".join(lines).encode("latin-1")
    return data if head_only else data + body


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def cupsd_headers(now, keep_alive, idle_timeout, content_length, content_type, extra=(),
                  last_modified=None, http10=False, server=SERVER_HEADER):
    """Response headers in the order cupsd 2.4 sends them (libcups' field enum order);
    HTTP/1.0 answers carry no Connection or Keep-Alive header, as cupsd's do not."""
    headers = [] if http10 else [("Connection", "Keep-Alive" if keep_alive else "close")]
    headers.append(("Content-Language", "en"))
    if content_length is not None:
        headers.append(("Content-Length", str(content_length)))
    if content_type:
        headers.append(("Content-Type", content_type))
    headers.append(("Date", http_date(now)))
    if keep_alive and not http10:
        headers.append(("Keep-Alive", "timeout=%d" % idle_timeout))
    if last_modified is not None:
        headers.append(("Last-Modified", http_date(last_modified)))
    headers.extend(extra)
    headers.extend((("Accept-Encoding", "gzip, deflate, identity"), ("Server", server),
                    ("X-Frame-Options", "DENY"),
                    ("Content-Security-Policy", "frame-ancestors 'none'")))
    return headers


# ── Personas: what to answer, given what was asked (no bytes, no files) ─────────────────

class IppRequest:
    """What a persona sees of one IPP request."""

    __slots__ = ("message", "path", "host", "peer")

    def __init__(self, message, path="/", host="localhost", peer="-"):
        self.message = message
        self.path = path
        self.host = host
        self.peer = peer


class Answer:
    """An IPP response (http_status 200 with message) or a bare HTTP status such as 401."""

    __slots__ = ("http_status", "message", "close")

    def __init__(self, http_status=200, message=None, close=False):
        self.http_status = http_status
        self.message = message
        self.close = close

    @property
    def ipp_status(self):
        return None if self.message is None else self.message.code

    @property
    def status_message(self):
        if self.message is None or not self.message.groups:
            return None
        attribute = self.message.groups[0].get("status-message")
        return attribute.first if attribute is not None else None


def _leading(message, index, name, value_tag):
    """The value of the index-th attribute if it is name with value_tag in the operation group."""
    groups = message.groups
    if groups and groups[0].tag == TAG_OPERATION and index < len(groups[0].attributes):
        attribute = groups[0].attributes[index]
        if attribute.name == name and attribute.first_tag == value_tag:
            return attribute.first
    return None


def ipp_answer(request, status, text=None, groups=(), echo=True, version=None):
    """A response as cupsd builds one: version and request-id echoed; the request's charset
    and language echoed once they passed the checks (echo), else utf-8 and en; then
    status-message, then any further groups."""
    message = request.message
    charset = language = None
    if echo:
        charset = _leading(message, 0, "attributes-charset", TAG_CHARSET)
        language = _leading(message, 1, "attributes-natural-language", TAG_LANGUAGE)
    operation = Group(TAG_OPERATION, [
        Attribute("attributes-charset", [(TAG_CHARSET, charset or "utf-8")]),
        Attribute("attributes-natural-language", [(TAG_LANGUAGE, language or "en")])])
    if text is not None:
        operation.attributes.append(Attribute("status-message", [(TAG_TEXT, text[:1023])]))
    return Answer(200, Message(version or message.version, STATUS[status], message.request_id,
                               [operation] + list(groups)))


def unauthorized():
    """cupsd's answer where its policy wants a login nobody here can give."""
    return Answer(401, None, close=True)


def not_found(text="The printer or class does not exist."):
    return IppError("client-error-not-found", text)


def bad_request(text):
    return IppError("client-error-bad-request", text)


def unsupported_value(text, attribute):
    return IppError("client-error-attributes-or-values-not-supported", text,
                    [Group(TAG_UNSUPPORTED_GROUP, [attribute])])


def libcups_rejects(message):
    """What cupsd's ippRead() refuses although our codec decodes it: a second operation
    group, names or values of 32 KiB and more, a 1setOf mixing incompatible value tags.
    cupsd answers those with HTTP 400."""
    for index, group in enumerate(message.groups):
        if group.tag == TAG_OPERATION and index > 0:
            return "operation-attributes-tag after another group"
        problem = _rejected_attributes(group.attributes)
        if problem is not None:
            return problem
    return None


def _rejected_attributes(attributes):
    for attribute in all_attributes(attributes):
        if len(attribute.name) >= 0x8000:
            return "attribute name of 32 KiB or more"
        if mixes_value_tags(attribute.values):
            return "1setOf %s with incompatible value tags" % escape(attribute.name, 64)
        if any(isinstance(value, (str, bytes)) and len(value) >= 0x8000 for _, value in attribute.values):
            return "attribute value of 32 KiB or more"
    return None


STRING_FAMILY = frozenset((TAG_TEXT_LANG, TAG_NAME_LANG) + tuple(range(TAG_TEXT, TAG_MIME_TYPE + 1)))
OUT_OF_BAND = frozenset(range(TAG_UNSUPPORTED, TAG_ADMIN_DEFINE + 1))


def mixes_value_tags(values):
    """Whether ippRead() (CUPS 2.4.2 cups/ipp.c) refuses these values as one attribute: strings
    mix with strings and no-value, integer with rangeOfInteger, anything else only with its own
    tag; each accepted change of tag converts the attribute as ippSetValueTag() does."""
    current = None
    for tag, value in values:
        tag = value[0] if tag == TAG_EXTENSION else tag
        if current is None or current == tag:
            current = tag
        elif current in STRING_FAMILY:
            if tag not in STRING_FAMILY and tag != TAG_NO_VALUE:
                return True
            current = _converted(current, tag)
        elif current in (TAG_INTEGER, TAG_RANGE):
            if tag not in (TAG_INTEGER, TAG_RANGE):
                return True
            current = TAG_RANGE
        else:
            return True
    return False


def _converted(current, tag):
    """The attribute's tag after ippSetValueTag(attr, tag); unchanged where it refuses."""
    if tag in OUT_OF_BAND:
        return tag
    if (tag == TAG_NAME and current == TAG_KEYWORD) or (
            tag == TAG_NAME_LANG and current in (TAG_NAME, TAG_KEYWORD)) or (
            tag == TAG_TEXT_LANG and current == TAG_TEXT):
        return TAG_NAME_LANG if tag != TAG_NAME else TAG_NAME
    return current


URI_OPTIONAL = frozenset((OP["CUPS-Get-Default"], OP["CUPS-Get-Printers"], OP["CUPS-Get-Classes"],
                          OP["CUPS-Get-Devices"], OP["CUPS-Get-PPDs"]))


def check_request(message):
    """The checks cupsd 2.4's cupsdProcessIPPRequest makes before looking at the operation;
    raises IppError when one fails."""
    major, minor = message.version
    if major not in (1, 2):
        raise IppError("server-error-version-not-supported",
                       "Bad request version number %d.%d." % (major, minor), echo=False)
    if message.request_id < 1:
        raise IppError("client-error-bad-request", "Bad request ID %d." % message.request_id,
                       echo=False)
    tags = [g.tag for g in message.groups for _ in g.attributes]
    if not tags:
        raise IppError("client-error-bad-request", "No attributes in request.", echo=False)
    for previous, tag in zip(tags, tags[1:]):
        if tag < previous:
            raise IppError("client-error-bad-request",
                           "Attribute groups are out of order (%x < %x)." % (tag, previous),
                           echo=False)
    charset = _leading(message, 0, "attributes-charset", TAG_CHARSET)
    language = _leading(message, 1, "attributes-natural-language", TAG_LANGUAGE)
    if charset is not None and charset.lower() not in ("us-ascii", "utf-8"):
        raise IppError("client-error-charset-not-supported",
                       "Unsupported character set \"%s\"." % charset)
    if charset is None or language is None or (
            operation_uri(message) is None and message.code not in URI_OPTIONAL):
        raise bad_request("Missing required attributes.")
    user = message.find("requesting-user-name")
    if user is not None and user.first_tag not in (TAG_NAME, TAG_NAME_LANG):
        raise unsupported_value("\"requesting-user-name\" attribute with wrong syntax.", user)


def operation_uri(message):
    """(name, value) of printer-uri, else job-uri, else (CUPS-Get-PPD) ppd-name, each only
    with its proper syntax in the operation group; None if there is none."""
    candidates = [("printer-uri", TAG_URI), ("job-uri", TAG_URI)]
    if message.code == OP["CUPS-Get-PPD"]:
        candidates.append(("ppd-name", TAG_NAME))
    for name, tag in candidates:
        attribute = message.find(name)
        if attribute is not None and attribute.first_tag == tag:
            if message.find(name, TAG_OPERATION) is attribute:
                return name, attribute.first
    return None


def resource(request):
    """(attribute name, URI, path) of the request's target; ("", "", "") when it has none."""
    name, uri = operation_uri(request.message) or ("", "")
    return name, uri, uri_path(uri)


def integer_value(message, name):
    attribute = message.find(name)
    if attribute is None or attribute.first_tag != TAG_INTEGER:
        return None
    return attribute.first


def name_ok(text):
    """What libcups' ippValidateAttribute accepts as a name: UTF-8, no controls, < 256 bytes."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return 0 < len(raw) < 256 and not any(c < 0x20 or c == 0x7F for c in raw)


def text_of(attribute):
    """An attribute's first value as text ("" when it is not text); language dropped."""
    value = attribute.first
    if isinstance(value, tuple):
        value = value[1]
    return value if isinstance(value, str) else ""


def requesting_user(request):
    attribute = request.message.find("requesting-user-name")
    if attribute is None:
        return "anonymous"
    user = text_of(attribute)
    return user if name_ok(user) else "anonymous"


def handles(*names):
    """Marks a persona method as the handler of the named IPP operations."""
    def mark(method):
        method.operations = names
        return method
    return mark


class Persona:
    """What one kind of server answers.  Subclasses mark a method per operation with
    @handles(...); the table of {operation code: method name} is built from the marks, and
    operations-supported is that table.  The web side (pages, Server header) is here too."""

    handlers = {}
    modules = ()                       # imported before privileges are dropped
    server_header = SERVER_HEADER
    home_text = "CUPS is the standards-based, open source printing system developed by OpenPrinting."
    cgi_texts = {"/admin": ("Administration", "No printers or classes are configured."),
                 "/classes": ("Classes", "No classes."), "/help": ("Help", "No help pages."),
                 "/jobs": ("Jobs", "No jobs."), "/printers": ("Printers", "No printers.")}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        table = dict(cls.handlers)
        for attribute, member in vars(cls).items():
            for name in getattr(member, "operations", ()):
                table[OP[name]] = attribute
        cls.handlers = table

    @classmethod
    def from_options(cls, options, environ):
        return cls()

    @classmethod
    def for_decoding(cls, options):
        """The persona --decode runs: the same answers, nothing written anywhere."""
        return cls.from_options(options, {})

    @classmethod
    def prepare(cls, options, environ, user):
        """Run as root before privileges are dropped: make what the service user needs."""

    @property
    def operations_supported(self):
        return sorted(self.handlers)

    def __call__(self, request, document=None):
        """The answer to one IPP request: cupsd's generic checks, then the handler."""
        if libcups_rejects(request.message) is not None:
            return Answer(400, None, close=True)
        try:
            check_request(request.message)
            return self.answer(request, document)
        except IppError as error:
            return ipp_answer(request, error.status, error.message, error.groups, error.echo)

    def answer(self, request, document):
        """The marked handler's answer, once the request passed cupsd's generic checks."""
        handler = self.handlers.get(request.message.code)
        if handler is None:
            raise IppError("server-error-operation-not-supported", "%s not supported."
                           % code_name(OPERATIONS, request.message.code))
        self.check_target(request)
        return getattr(self, handler)(request, document)

    def check_target(self, request):
        """Hook: refuse (raise IppError) a request aimed at something this persona is not."""

    # The web side: what cupsd's web interface answers with these pages.

    def path_problem(self, path):
        """403 for what cupsd's is_path_absolute() refuses, 401 for its login locations."""
        if not path.startswith("/") or any(c in path for c in "<\"'") or "/../" in path + "/":
            return 403
        if path.startswith(LOGIN_PREFIXES):
            return 401
        return None

    def web(self, method, path):
        """(status, page or None, is a static file) for GET, HEAD and non-IPP POST."""
        cgi = next((p for p in self.cgi_texts if path == p or path.startswith(p + "/")), None)
        if cgi is not None and not path.endswith((".ppd", ".png")):
            title, text = self.cgi_texts[cgi]
            return 200, WEB_PAGE % {"title": title, "text": text}, False
        if path in ("/", "/index.html"):
            if method == "POST":
                return 401, None, True
            return 200, WEB_PAGE % {"title": "Home", "text": self.home_text}, True
        return 404, None, False

    def error_page(self, status):
        """cupsdSendError()'s page: same template, same sizes (401 → 521 bytes)."""
        title = HTTP_REASONS.get(status, "Unknown")
        return (ERROR_PAGE % {"title": title, "text": ERROR_TEXTS.get(status, "")}).encode()


LOGIN_PREFIXES = ("/admin/conf", "/admin/log")
WEB_PAGE = """<!DOCTYPE HTML>
<html>
  <head>
    <link rel="stylesheet" href="/cups.css" type="text/css">
    <meta charset="utf-8">
    <title>%(title)s - CUPS 2.4.2</title>
  </head>
  <body>
    <h1>%(title)s</h1>
    <p>%(text)s</p>
    <p><a href="/printers/">Printers</a> &middot; <a href="/classes/">Classes</a> &middot;
      <a href="/jobs/">Jobs</a> &middot; <a href="/admin/">Administration</a></p>
  </body>
</html>
"""
ERROR_PAGE = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" \
"http://www.w3.org/TR/html4/loose.dtd">
<HTML>
<HEAD>
\t<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=utf-8">
\t<TITLE>%(title)s - CUPS v2.4.2</TITLE>
\t<LINK REL="STYLESHEET" TYPE="text/css" HREF="/cups.css">
</HEAD>
<BODY>
<H1>%(title)s</H1>
<P>%(text)s</P>
</BODY>
</HTML>
"""
ERROR_TEXTS = {
    401: "Enter your username and password or the root username and password to access this "
         "page. If you are using Kerberos authentication, make sure you have a valid Kerberos "
         "ticket.",
    403: "You cannot access this page.",
}


# ── The empty persona: cupsd 2.4 with no printers ────────────────────────────────────────

WHICH_JOBS = frozenset(("not-completed", "completed", "aborted", "all", "canceled", "pending",
                        "pending-held", "processing", "processing-stopped"))
CUPSD_EVENTS = frozenset((        # cupsdEventValue()'s names; others count as none
    "all", "printer-restarted", "printer-shutdown", "printer-stopped", "printer-finishings-changed",
    "printer-media-changed", "printer-added", "printer-deleted", "printer-modified",
    "printer-queue-order-changed", "printer-state-changed", "printer-config-changed",
    "printer-changed", "job-created", "job-completed", "job-stopped", "job-config-changed",
    "job-progress", "job-state-changed", "server-restarted", "server-started", "server-stopped",
    "server-audit"))
NOTIFIERS = ("dbus", "mailto", "rss")     # Debian's /usr/lib/cups/notifier: the schemes cupsd knows


def server_wide(path, jobs=False):
    """The resources cupsd takes for the whole server: "/", "/printers" or "/classes" and one
    more character (it compares prefixes and lengths), and "/jobs" so for some operations."""
    return (path == "/" or (path[:9] == "/printers" and len(path) <= 10)
            or (path[:8] == "/classes" and len(path) <= 9) or (jobs and path[:5] == "/jobs" and len(path) <= 6))


def subscription_segments(message):
    """The attributes cupsd reads as each subscription: from the first subscription group on,
    split where a group repeats the one before it (where ippRead() puts a separator)."""
    segments, previous = [], None
    for group in message.groups:
        if segments or group.tag == TAG_SUBSCRIPTION:
            if not segments or group.tag == previous:
                segments.append([])
            segments[-1].extend(group.attributes)
        previous = group.tag
    return segments


def subscription_error(status, text, code):
    """A refused subscription, with the notify-status-code cupsd adds for it."""
    return IppError(status, text, [Group(TAG_SUBSCRIPTION, [
        Attribute("notify-status-code", [(TAG_ENUM, STATUS[code])])])])


def check_recipient(uri):
    """cupsd's checks of notify-recipient-uri: a URI, whose scheme has a notifier."""
    scheme = uri_scheme(uri)
    if scheme is None:
        raise subscription_error("client-error-not-possible", "Bad notify-recipient-uri \"%s\"." % uri,
                                 "client-error-uri-scheme-not-supported")
    if scheme not in NOTIFIERS:
        raise subscription_error("client-error-not-possible", "notify-recipient-uri URI \"%s\" uses "
                                 "unknown scheme." % uri, "client-error-uri-scheme-not-supported")


def uri_scheme(uri):
    """The scheme httpSeparateURI() finds, or None for a URI it refuses."""
    scheme, colon, rest = uri.partition(":")
    if not colon or not scheme or scheme.strip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."):
        return None
    return scheme.lower()


def _is_destination(path):
    """/printers/NAME or /classes/NAME with a non-empty NAME."""
    for prefix in ("/printers/", "/classes/"):
        if path.startswith(prefix) and len(path) > len(prefix):
            return True
    return False


class EmptyPersona(Persona):
    """cupsd 2.4 with no printers, no jobs and Debian's default policy, to a client on
    loopback that has not logged in; every rule here follows scheduler/ipp.c of CUPS 2.4.2
    and is cited in the README."""

    @handles("CUPS-Get-Default")
    def no_default(self, request, document):
        raise not_found("No default printer.")

    @handles("CUPS-Get-Printers", "CUPS-Get-Classes")
    def no_destinations(self, request, document):
        raise not_found("No destinations added.")

    @handles("Print-Job")
    def print_job(self, request, document):
        if document is None or not document.has_data():
            raise bad_request("No file in print request.")
        raise not_found()

    @handles("Validate-Job", "Create-Job", "Get-Printer-Attributes",
             "Get-Printer-Supported-Values", "Pause-Printer", "Resume-Printer",
             "Set-Printer-Attributes", "Enable-Printer", "Disable-Printer", "Hold-New-Jobs",
             "Release-Held-New-Jobs", "CUPS-Delete-Printer", "CUPS-Delete-Class",
             "CUPS-Accept-Jobs", "CUPS-Reject-Jobs", "CUPS-Set-Default")
    def destination_operation(self, request, document):
        """Operations that look the printer up first: there is none."""
        raise not_found()

    @handles("Send-Document", "Cancel-Job", "Get-Job-Attributes", "Hold-Job", "Release-Job",
             "Restart-Job", "Set-Job-Attributes", "Close-Job", "CUPS-Authenticate-Job",
             "CUPS-Get-Document")
    def job_operation(self, request, document):
        """Operations on one job: there are no jobs, so every job is missing."""
        name, uri, path = resource(request)
        if name == "job-uri":
            if not path.startswith("/jobs/"):
                raise bad_request("Bad job-uri \"%s\"." % uri)
            if request.message.code == OP["Close-Job"]:
                raise bad_request("Close-Job doesn't support the job-uri attribute.")
            raise not_found("Job #%d does not exist." % atoi(path[6:]))
        job_id = integer_value(request.message, "job-id")
        if job_id is None:
            raise bad_request("Got a printer-uri attribute but no job-id.")
        if job_id == 0 and request.message.code == OP["Cancel-Job"]:
            raise not_found()
        raise not_found("Job #%d does not exist." % job_id)

    @handles("Get-Jobs")
    def get_jobs(self, request, document):
        name, uri, path = resource(request)
        if name != "printer-uri":
            raise bad_request("No printer-uri in request.")
        if not (server_wide(path) or path == "/jobs"):
            raise not_found()
        message = request.message
        job_ids = message.find("job-ids")
        which = message.find("which-jobs")
        if which is not None and which.first_tag == TAG_KEYWORD:
            if job_ids is not None:
                raise IppError("client-error-conflicting-attributes",
                               "The which-jobs attribute cannot be provided with job-ids.")
            if which.first not in WHICH_JOBS:
                raise unsupported_value("The which-jobs value \"%s\" is not supported."
                                        % which.first, which)
        if job_ids is not None and job_ids.first_tag == TAG_INTEGER:
            raise not_found("Job #%d does not exist." % job_ids.first)
        return ipp_answer(request, "successful-ok")

    @handles("Purge-Jobs", "Cancel-Jobs", "Cancel-My-Jobs")
    def cancel_all_jobs(self, request, document):
        message = request.message
        my_jobs = message.find("my-jobs")
        wants_own = message.code == OP["Cancel-My-Jobs"] or (
            my_jobs is not None and my_jobs.values[0] == (TAG_BOOLEAN, True))
        user = message.find("requesting-user-name")
        if wants_own and (user is None or user.first_tag != TAG_NAME):
            raise bad_request("Missing requesting-user-name attribute.")
        name, uri, path = resource(request)
        if name != "printer-uri":
            raise bad_request("The printer-uri attribute is required.")
        if _is_destination(path):
            raise not_found()
        return unauthorized()

    @handles("Create-Printer-Subscriptions", "Create-Job-Subscriptions")
    def create_subscriptions(self, request, document):
        """cupsd's create_subscriptions() for the server itself (there are no printers): each
        subscription is checked as cupsd checks it; the ids made are not kept."""
        name, uri, path = resource(request)
        if not server_wide(path):
            raise not_found()
        if request.message.code == OP["Create-Job-Subscriptions"] and requesting_user(request) != "root":
            return unauthorized()               # Debian's policy: @OWNER @SYSTEM (root is @SYSTEM)
        segments = subscription_segments(request.message)
        if not segments:
            raise bad_request("No subscription attributes in request.")
        status, made = "client-error-bad-request", []
        for attributes in segments:
            try:
                if not self.subscription(attributes):
                    break                       # neither recipient nor pull method: cupsd stops
            except IppError as error:
                return self.refused_subscription(request, error, made)
            made.append(Group(TAG_SUBSCRIPTION, [Attribute("notify-subscription-id",
                                                           [(TAG_INTEGER, len(made) + 1)])]))
            status = "successful-ok"
        return ipp_answer(request, status, groups=made)

    @staticmethod
    def subscription(attributes):
        """Check one subscription as cupsd does; False when it has no recipient or pull method."""
        recipient = pull = events = job = None
        for attribute in attributes:
            name, tag, value = attribute.name, attribute.first_tag, attribute.first
            if name == "notify-recipient-uri" and tag == TAG_URI:
                recipient = value
                check_recipient(value)
            elif name == "notify-pull-method" and tag == TAG_KEYWORD:
                pull = value
                if value != "ippget":
                    raise subscription_error("client-error-not-possible", "Bad notify-pull-method \"%s\"."
                                             % value, "client-error-attributes-or-values-not-supported")
            elif name == "notify-charset" and tag == TAG_CHARSET and value not in ("us-ascii", "utf-8"):
                raise IppError("client-error-charset-not-supported", "Character set \"%s\" not supported." % value)
            elif name == "notify-natural-language" and (tag != TAG_LANGUAGE or value != "en"):
                raise IppError("client-error-charset-not-supported", "Language \"%s\" not supported."
                               % text_of(attribute))
            elif name == "notify-user-data" and tag == TAG_OCTETS and (
                    len(attribute.values) > 1 or len(value) > 63):
                raise IppError("client-error-request-value-too-long", "The notify-user-data value is "
                               "too large (%d > 63 octets)." % len(value))
            elif name == "notify-events" and tag == TAG_KEYWORD:
                events = attribute
            elif name == "notify-job-id" and tag == TAG_INTEGER:
                job = value
        if recipient is None and pull is None:
            return False
        if not job and not (events and any(v in CUPSD_EVENTS for t, v in events.values)):
            raise bad_request("notify-events not specified.")
        if job:
            raise not_found("Job #%d does not exist." % job)
        return True

    @staticmethod
    def refused_subscription(request, error, made):
        """As send_ipp_status() builds it: the status-message is appended after the
        subscriptions already made, then the failed one's notify-status-code."""
        groups = list(made)
        if made and error.message is not None:
            groups.append(Group(TAG_OPERATION, [Attribute("status-message", [(TAG_TEXT, error.message)])]))
        groups.extend(error.groups)
        return ipp_answer(request, error.status, None if made else error.message, groups)

    @handles("Get-Subscription-Attributes", "Renew-Subscription", "Cancel-Subscription")
    def subscription_operation(self, request, document):
        value = integer_value(request.message, "notify-subscription-id")
        raise not_found("Subscription #%d does not exist." % (value or 0))

    @handles("Get-Subscriptions")
    def get_subscriptions(self, request, document):
        name, uri, path = resource(request)
        if server_wide(path, jobs=True):
            raise not_found("No subscriptions found.")
        if path.startswith("/jobs/"):
            raise not_found("Job #%d does not exist." % atoi(path[6:]))
        raise not_found()

    @handles("Get-Notifications")
    def get_notifications(self, request, document):
        ids = request.message.find("notify-subscription-ids")
        if ids is None or ids.first_tag != TAG_INTEGER:
            raise bad_request("Missing notify-subscription-ids attribute.")
        raise not_found("Subscription #%d does not exist." % ids.first)

    @handles("CUPS-Add-Modify-Printer", "CUPS-Add-Modify-Class")
    def add_destination(self, request, document):
        """A well-formed new queue needs an administrator."""
        kind = "printers" if request.message.code == OP["CUPS-Add-Modify-Printer"] else "classes"
        name, uri, path = resource(request)
        prefix = "/%s/" % kind
        if not path.startswith(prefix) or len(path) == len(prefix):
            singular = "printer" if kind == "printers" else "class"
            raise bad_request("The printer-uri must be of the form "
                              "\"ipp://HOSTNAME/%s/%sNAME\"." % (kind, singular.upper()))
        queue = percent_decode(path[len(prefix):])
        if len(queue) >= 128 or any(c <= " " or c in "\x7f/#" for c in queue):
            raise bad_request("The printer-uri \"%s\" contains invalid characters." % uri)
        return unauthorized()

    @handles("CUPS-Get-Devices")
    def get_devices(self, request, document):
        return unauthorized()

    @handles("CUPS-Get-PPDs")
    def get_ppds(self, request, document):
        """cups-driverd with no drivers: IPP 1.1, en-US, not-found and no status-message."""
        answer = ipp_answer(request, "client-error-not-found", version=(1, 1), echo=False)
        answer.message.groups[0].attributes[1].values[0] = (TAG_LANGUAGE, "en-US")
        return answer

    @handles("CUPS-Get-PPD")
    def get_ppd(self, request, document):
        name, value, path = resource(request)
        if name == "ppd-name" and "../" in value:
            raise IppError("client-error-attributes-or-values-not-supported", "Invalid ppd-name value.")
        raise not_found("The PPD file \"%s\" could not be found." % value)

    @handles("CUPS-Move-Job")
    def move_job(self, request, document):
        target = request.message.find("job-printer-uri")
        if target is None or target.first_tag != TAG_URI:
            raise bad_request("job-printer-uri attribute missing.")
        raise not_found()

    @handles("CUPS-Create-Local-Printer")
    def create_local_printer(self, request, document):
        for name, tag in (("printer-name", TAG_NAME), ("device-uri", TAG_URI)):
            attribute = request.message.find(name)
            if attribute is None:
                raise bad_request("Missing required attribute \"%s\"." % name)
            if request.message.find(name, TAG_PRINTER) is not attribute:
                raise bad_request("Attribute \"%s\" is in the wrong group." % name)
            if attribute.first_tag != tag:
                raise bad_request("Attribute \"%s\" is the wrong value type." % name)
        raise IppError("client-error-forbidden", "Only local users can create a local printer.")


# ── The printer persona: a virtual IPP Everywhere printer that keeps every job ──────────

DOCUMENT_FORMATS = ("application/pdf", "application/postscript", "image/pwg-raster", "image/urf",
                    "image/jpeg", "text/plain", "application/octet-stream")
# (media keyword, width, length) in hundredths of millimetres, as PWG 5101.1 names them
MEDIA = (("iso_a4_210x297mm", 21000, 29700), ("na_letter_8.5x11in", 21590, 27940),
         ("na_legal_8.5x14in", 21590, 35560), ("iso_a5_148x210mm", 14800, 21000),
         ("na_index-4x6_4x6in", 10160, 15240))
COMPRESSIONS = ("none", "deflate", "gzip")
NUMBER_UP = (1, 2, 4, 6, 9, 16)
NOTIFY_EVENTS = ("job-completed", "job-created", "job-state-changed")
NOTIFY_LEASE_DEFAULT, NOTIFY_LEASE_MAX = 86400, 1 << 26
IPPGET_EVENT_LIFE = 300              # seconds a job event stays for Get-Notifications
MAX_SUBSCRIPTIONS = 100
JOB_SHEETS = ("none", "standard")    # standard: one banner page before the job's pages
MARGIN = 423                         # 1/6 inch, as many office printers have
MULTIPLE_OPERATION_TIME_OUT = 60     # a job left open this long is processed as it is
JOB_TEMPLATE = frozenset((
    "copies", "finishings", "job-hold-until", "job-priority", "job-sheets", "media", "media-col",
    "multiple-document-handling", "number-up", "orientation-requested", "output-bin",
    "overrides", "page-ranges", "print-color-mode", "print-content-optimize", "print-quality",
    "print-rendering-intent", "print-scaling", "printer-resolution", "sides"))
CUPS_PRINTER_TYPE = 0x220DC          # local, b/w + colour, duplex, copies, collate, medium, default
RESOLUTIONS = ((300, 300, RESOLUTION_DPI), (600, 600, RESOLUTION_DPI))


def _a(name, tag, *values):
    return Attribute(name, [(tag, v) for v in values])


def date_time(timestamp):
    """An RFC 2579 dateTime value (UTC) for a Unix time."""
    t = time.gmtime(timestamp)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, 0, "+", 0, 0)


def _media_col(keyword, width, length):
    size = [_a("x-dimension", TAG_INTEGER, width), _a("y-dimension", TAG_INTEGER, length)]
    return [_a("media-size", TAG_BEGIN_COLLECTION, size),
            _a("media-bottom-margin", TAG_INTEGER, MARGIN), _a("media-left-margin", TAG_INTEGER, MARGIN),
            _a("media-right-margin", TAG_INTEGER, MARGIN), _a("media-top-margin", TAG_INTEGER, MARGIN),
            _a("media-source", TAG_KEYWORD, "main"), _a("media-type", TAG_KEYWORD, "stationery")]


def printer_uuid(name):
    """urn:uuid from the printer name, the same in every process (RFC 4122 layout)."""
    digest = new_sha256()
    digest.update(("fakecups printer " + name).encode("utf-8", "surrogateescape"))
    h = digest.hexdigest()
    return "urn:uuid:%s-%s-5%s-%x%s-%s" % (h[:8], h[8:12], h[13:16], 8 | int(h[16], 16) & 3,
                                           h[17:20], h[20:32])


class PrinterView:
    """What the printer's attribute values depend on, for the table's computed rows."""

    def __init__(self, name, host, since, now, queued, everywhere, operations, printing=None,
                 pages_per_minute=DEFAULT_PAGES_PER_MINUTE):
        self.name, self.host, self.since, self.now = name, host, since, now
        self.queued, self.operations = queued, operations
        self.printing, self.pages_per_minute = printing, pages_per_minute
        self.uri = ("ipp://%s/ipp/print" % host if everywhere
                    else "ipp://%s/printers/%s" % (host, name))
        self.page = "http://%s/printers/%s" % (host, name)


def media_cols():
    """The media-col collections of MEDIA, made on first use: about a thousand objects that
    connections to the empty persona never need."""
    global _MEDIA_COLS
    if _MEDIA_COLS is None:
        _MEDIA_COLS = tuple(_media_col(*m) for m in MEDIA)
    return _MEDIA_COLS


_MEDIA_COLS = None

# The printer's attributes in the order they are sent: PWG 5100.14 (IPP Everywhere) and what
# CUPS clients read (printer-type, device-uri).  A row is (name, value tag, values), values
# being a tuple or a function of the PrinterView.  One printer-uri-supported: the form the
# client used (libcups joins several into one unusable resource).
PRINTER_ATTRIBUTES = (
    ("printer-uri-supported", TAG_URI, lambda p: (p.uri,)),
    ("uri-security-supported", TAG_KEYWORD, ("none",)),
    ("uri-authentication-supported", TAG_KEYWORD, ("none",)),
    ("printer-name", TAG_NAME, lambda p: (p.name,)),
    ("printer-info", TAG_TEXT, lambda p: ("fakecups virtual printer %s" % p.name,)),
    ("printer-location", TAG_TEXT, ("",)),
    ("printer-make-and-model", TAG_TEXT, ("fakecups IPP Everywhere Printer",)),
    ("printer-device-id", TAG_TEXT,
     ("MFG:fakecups;MDL:IPP Everywhere Printer;CMD:PDF,PS,PWGRaster,URF,JPEG;",)),
    ("printer-more-info", TAG_URI, lambda p: (p.page,)),
    ("printer-uuid", TAG_URI, lambda p: (printer_uuid(p.name),)),
    ("device-uri", TAG_URI, ("file:///dev/null",)),
    ("printer-type", TAG_ENUM, (CUPS_PRINTER_TYPE,)),
    ("printer-state", TAG_ENUM, lambda p: (PRINTER_IDLE if p.printing is None else PRINTER_PROCESSING,)),
    ("printer-state-reasons", TAG_KEYWORD, ("none",)),
    ("printer-state-message", TAG_TEXT,
     lambda p: ("" if p.printing is None else "Printing job %d." % p.printing,)),
    ("printer-state-change-time", TAG_INTEGER, lambda p: (int(p.since),)),
    ("printer-state-change-date-time", TAG_DATETIME, lambda p: (date_time(p.since),)),
    ("printer-config-change-time", TAG_INTEGER, lambda p: (int(p.since),)),
    ("printer-config-change-date-time", TAG_DATETIME, lambda p: (date_time(p.since),)),
    ("printer-up-time", TAG_INTEGER, lambda p: (max(1, int(p.now - p.since)),)),
    ("printer-current-time", TAG_DATETIME, lambda p: (date_time(p.now),)),
    ("printer-is-accepting-jobs", TAG_BOOLEAN, (True,)),
    ("color-supported", TAG_BOOLEAN, (True,)),
    ("pages-per-minute", TAG_INTEGER, lambda p: (p.pages_per_minute,)),
    ("pages-per-minute-color", TAG_INTEGER, lambda p: (p.pages_per_minute,)),
    ("printer-is-shared", TAG_BOOLEAN, (True,)),
    ("queued-job-count", TAG_INTEGER, lambda p: (p.queued,)),
    ("ipp-versions-supported", TAG_KEYWORD, ("1.1", "2.0", "2.1", "2.2")),
    ("ipp-features-supported", TAG_KEYWORD, ("ipp-everywhere",)),
    ("operations-supported", TAG_ENUM, lambda p: p.operations),
    ("charset-configured", TAG_CHARSET, ("utf-8",)),
    ("charset-supported", TAG_CHARSET, ("us-ascii", "utf-8")),
    ("natural-language-configured", TAG_LANGUAGE, ("en",)),
    ("generated-natural-language-supported", TAG_LANGUAGE, ("en",)),
    ("document-format-default", TAG_MIME_TYPE, ("application/octet-stream",)),
    ("document-format-supported", TAG_MIME_TYPE, DOCUMENT_FORMATS),
    ("compression-supported", TAG_KEYWORD, COMPRESSIONS),
    ("multiple-document-jobs-supported", TAG_BOOLEAN, (True,)),
    ("multiple-operation-time-out", TAG_INTEGER, (MULTIPLE_OPERATION_TIME_OUT,)),
    ("multiple-operation-time-out-action", TAG_KEYWORD, ("process-job",)),
    ("job-ids-supported", TAG_BOOLEAN, (True,)),
    ("which-jobs-supported", TAG_KEYWORD, lambda p: tuple(WHICH_JOBS_SUPPORTED)),
    ("job-settable-attributes-supported", TAG_KEYWORD, lambda p: JOB_SETTABLE),
    ("notify-events-default", TAG_KEYWORD, ("job-completed",)),
    ("notify-events-supported", TAG_KEYWORD, NOTIFY_EVENTS),
    ("notify-lease-duration-default", TAG_INTEGER, (NOTIFY_LEASE_DEFAULT,)),
    ("notify-lease-duration-supported", TAG_RANGE, ((0, NOTIFY_LEASE_MAX),)),
    ("notify-max-events-supported", TAG_INTEGER, (len(NOTIFY_EVENTS),)),
    ("notify-pull-method-supported", TAG_KEYWORD, ("ippget",)),
    ("ippget-event-life", TAG_INTEGER, (IPPGET_EVENT_LIFE,)),
    ("printer-settable-attributes-supported", TAG_KEYWORD, ("none",)),
    ("printer-message-from-operator", TAG_TEXT, ("",)),
    ("pdl-override-supported", TAG_KEYWORD, ("attempted",)),
    ("job-creation-attributes-supported", TAG_KEYWORD, tuple(sorted(JOB_TEMPLATE))),
    ("copies-default", TAG_INTEGER, (1,)),
    ("copies-supported", TAG_RANGE, ((1, 999),)),
    ("finishings-default", TAG_ENUM, (FINISHINGS_NONE,)),
    ("finishings-supported", TAG_ENUM, (FINISHINGS_NONE,)),
    ("job-hold-until-default", TAG_KEYWORD, ("no-hold",)),
    ("job-hold-until-supported", TAG_KEYWORD, lambda p: JOB_HOLD_UNTIL),
    ("job-priority-default", TAG_INTEGER, (50,)),
    ("job-priority-supported", TAG_INTEGER, (100,)),
    ("job-sheets-default", TAG_KEYWORD, ("none",)),
    ("job-sheets-supported", TAG_KEYWORD, JOB_SHEETS),
    ("media-default", TAG_KEYWORD, (MEDIA[0][0],)),
    ("media-supported", TAG_KEYWORD, tuple(m[0] for m in MEDIA)),
    ("media-ready", TAG_KEYWORD, (MEDIA[0][0], MEDIA[1][0])),
    ("media-col-default", TAG_BEGIN_COLLECTION, lambda p: media_cols()[:1]),
    ("media-col-ready", TAG_BEGIN_COLLECTION, lambda p: media_cols()[:2]),
    ("media-col-database", TAG_BEGIN_COLLECTION, lambda p: media_cols()),
    ("media-col-supported", TAG_KEYWORD, ("media-bottom-margin", "media-left-margin",
                                          "media-right-margin", "media-size", "media-source",
                                          "media-top-margin", "media-type")),
    ("media-size-supported", TAG_BEGIN_COLLECTION,
     lambda p: tuple([_a("x-dimension", TAG_INTEGER, w), _a("y-dimension", TAG_INTEGER, h)]
                     for _, w, h in MEDIA)),
    ("media-bottom-margin-supported", TAG_INTEGER, (MARGIN,)),
    ("media-left-margin-supported", TAG_INTEGER, (MARGIN,)),
    ("media-right-margin-supported", TAG_INTEGER, (MARGIN,)),
    ("media-top-margin-supported", TAG_INTEGER, (MARGIN,)),
    ("media-source-supported", TAG_KEYWORD, ("main",)),
    ("media-type-supported", TAG_KEYWORD, ("stationery",)),
    ("multiple-document-handling-supported", TAG_KEYWORD,
     ("separate-documents-uncollated-copies", "separate-documents-collated-copies")),
    ("number-up-default", TAG_INTEGER, (1,)),
    ("number-up-supported", TAG_INTEGER, NUMBER_UP),
    ("orientation-requested-default", TAG_ENUM, (PORTRAIT,)),
    ("orientation-requested-supported", TAG_ENUM, (3, 4, 5, 6)),
    ("output-bin-default", TAG_KEYWORD, ("face-down",)),
    ("output-bin-supported", TAG_KEYWORD, ("face-down",)),
    ("page-ranges-supported", TAG_BOOLEAN, (True,)),
    ("print-color-mode-default", TAG_KEYWORD, ("auto",)),
    ("print-color-mode-supported", TAG_KEYWORD, ("auto", "color", "monochrome")),
    ("print-content-optimize-default", TAG_KEYWORD, ("auto",)),
    ("print-content-optimize-supported", TAG_KEYWORD,
     ("auto", "graphic", "photo", "text", "text-and-graphic")),
    ("print-quality-default", TAG_ENUM, (QUALITY_NORMAL,)),
    ("print-quality-supported", TAG_ENUM, (QUALITY_DRAFT, QUALITY_NORMAL, QUALITY_HIGH)),
    ("print-rendering-intent-default", TAG_KEYWORD, ("auto",)),
    ("print-rendering-intent-supported", TAG_KEYWORD, ("auto", "perceptual", "relative")),
    ("print-scaling-default", TAG_KEYWORD, ("auto",)),
    ("print-scaling-supported", TAG_KEYWORD, ("auto", "auto-fit", "fill", "fit", "none")),
    ("printer-resolution-default", TAG_RESOLUTION, RESOLUTIONS[:1]),
    ("printer-resolution-supported", TAG_RESOLUTION, RESOLUTIONS),
    ("sides-default", TAG_KEYWORD, ("one-sided",)),
    ("sides-supported", TAG_KEYWORD, ("one-sided", "two-sided-long-edge", "two-sided-short-edge")),
    ("pwg-raster-document-resolution-supported", TAG_RESOLUTION, RESOLUTIONS),
    ("pwg-raster-document-sheet-back", TAG_KEYWORD, ("normal",)),
    ("pwg-raster-document-type-supported", TAG_KEYWORD, ("black_1", "sgray_8", "srgb_8")),
    ("urf-supported", TAG_KEYWORD, ("V1.4", "CP1", "W8", "SRGB24", "RS300-600", "DM1", "IS1")),
    ("identify-actions-default", TAG_KEYWORD, ("sound",)),
    ("identify-actions-supported", TAG_KEYWORD, ("sound", "display")),
    ("printer-get-attributes-supported", TAG_KEYWORD, ("document-format",)),
    ("overrides-supported", TAG_KEYWORD, ("document-number", "document-numbers", "pages")),
    ("preferred-attributes-supported", TAG_BOOLEAN, (False,)),
    ("printer-geo-location", TAG_UNKNOWN, (b"",)),
    ("printer-icons", TAG_URI, lambda p: ("http://%s/images/printer.png" % p.host,)),
    ("printer-organization", TAG_TEXT, ("",)),
    ("printer-organizational-unit", TAG_TEXT, ("",)),
    ("printer-supply", TAG_OCTETS, (b"index=1;class=receptacleThatIsFilled;type=wasteToner;"
                                    b"unit=percent;maxcapacity=100;level=2;colorantname=unknown;",)),
    ("printer-supply-description", TAG_TEXT, ("Waste Toner Box",)),
    ("printer-supply-info-uri", TAG_URI, lambda p: (p.page,)),
    ("printer-kind", TAG_KEYWORD, ("document",)),
)


NO_VALUE = (TAG_NO_VALUE, b"")       # a computed row's value that is not there (RFC 8010 3.5.2)


def build_attributes(rows, view):
    """Attributes from (name, tag, values or function of view) rows, in row order."""
    return [Attribute(name, [v if v is NO_VALUE else (tag, v)
                             for v in (values(view) if callable(values) else values)])
            for name, tag, values in rows]


def printer_attributes(name, host, since, now, queued, everywhere=False, operations=None,
                       printing=None, pages_per_minute=DEFAULT_PAGES_PER_MINUTE):
    if operations is None:
        operations = PrinterPersona.handlers
    view = PrinterView(name, host, since, now, queued, everywhere, tuple(sorted(operations)),
                       printing, pages_per_minute)
    return build_attributes(PRINTER_ATTRIBUTES, view)


def spool_directory(options, environ):
    return options.spool or environ.get("STATE_DIRECTORY", "").split(":")[0] or DEFAULT_SPOOL


def _attribute_groups(name):
    base = name
    for suffix in ("-default", "-supported", "-ready", "-database"):
        if name.endswith(suffix):
            base = name[:-len(suffix)]
            break
    if name == "media-col-database":
        return ("media-col-database",)
    if base in JOB_TEMPLATE or name == "media-col-ready":
        return ("all", "job-template")
    return ("all", "printer-description")


def _job_attribute_groups(name):
    return ("all", "job-template" if name in JOB_TEMPLATE else "job-description")


def requested(message, default=("all",)):
    """The names and groups in requested-attributes, or default when there are none."""
    attribute = message.find("requested-attributes", TAG_OPERATION)
    if attribute is None:
        return frozenset(default)
    return frozenset(v for t, v in attribute.values if isinstance(v, str))


def filter_attributes(attributes, wanted, groups_of=_attribute_groups):
    """What requested-attributes selects, in table order (RFC 8011 4.2.5.1)."""
    return [a for a in attributes if a.name in wanted or wanted.intersection(groups_of(a.name))]


HOLD_PERIODS = ("day-time", "evening", "night", "second-shift", "third-shift", "weekend")
JOB_HOLD_UNTIL = ("no-hold", "indefinite") + HOLD_PERIODS
JOB_SETTABLE = ("copies", "job-hold-until", "job-name", "job-priority")
# which-jobs values and the job states each selects; proof-print selects none (no job is one)
WHICH_JOBS_SUPPORTED = {
    "completed": frozenset((JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED)),
    "not-completed": JOB_ACTIVE, "all": frozenset(JOB_STATES),
    "aborted": frozenset((JOB_ABORTED,)), "canceled": frozenset((JOB_CANCELED,)),
    "pending": frozenset((JOB_PENDING,)), "pending-held": frozenset((JOB_HELD,)),
    "processing": frozenset((JOB_PROCESSING,)), "processing-stopped": frozenset((JOB_STOPPED,)),
    "proof-print": frozenset()}


def job_changes(attributes):
    """The record fields job template attributes set: hold-until, priority, copies, number-up,
    name; a value out of range raises IppError (attributes-or-values-not-supported)."""
    changes = {}
    for attribute in attributes:
        name, value = attribute.name, attribute.first
        if name == "job-hold-until":
            keyword = text_of(attribute)
            if attribute.first_tag not in (TAG_KEYWORD, TAG_NAME) or keyword not in JOB_HOLD_UNTIL:
                raise unsupported_value("Bad job-hold-until value.", attribute)
            changes["hold-until"] = keyword
        elif name in ("job-priority", "copies", "number-up"):
            low, high = {"job-priority": (1, 100), "copies": (1, 999), "number-up": (1, 16)}[name]
            if attribute.first_tag != TAG_INTEGER or len(attribute.values) != 1 or \
                    not low <= value <= high or (name == "number-up" and value not in NUMBER_UP):
                raise unsupported_value("Bad %s value." % name, attribute)
            changes["priority" if name == "job-priority" else name] = value
        elif name == "job-sheets":
            sheets = [text_of(Attribute(name, [v])) for v in attribute.values]
            if attribute.first_tag not in (TAG_KEYWORD, TAG_NAME) or len(sheets) > 2 or \
                    any(sheet not in JOB_SHEETS for sheet in sheets):
                raise unsupported_value("Bad job-sheets value.", attribute)
            changes["banner-pages"] = sum(1 for sheet in sheets if sheet != "none")
        elif name == "page-ranges":
            if any(tag != TAG_RANGE or not 1 <= v[0] <= v[1] for tag, v in attribute.values):
                raise unsupported_value("Bad page-ranges value.", attribute)
            changes["page-ranges"] = [list(v) for _, v in attribute.values]
        elif name == "job-name":
            if attribute.first_tag not in (TAG_NAME, TAG_NAME_LANG) or not name_ok(text_of(attribute)):
                raise unsupported_value("Bad job-name value.", attribute)
            changes["name"] = text_of(attribute)
    return changes


JOB_ANSWER_ATTRIBUTES = frozenset(("job-id", "job-uri", "job-state", "job-state-reasons",
                                   "job-state-message"))


class PrinterPersona(Persona):
    """One virtual printer; jobs live in a Spool because every connection is a new process.
    Clients address it as ipp://HOST/printers/NAME (CUPS) or ipp://HOST/ipp/print
    (IPP Everywhere); URIs in answers use the Host the client sent, as cupsd does."""

    modules = ("fcntl", "json")
    DESTINATION_LISTS = frozenset((OP["CUPS-Get-Printers"], OP["CUPS-Get-Default"],
                                   OP["CUPS-Get-Classes"]))

    def __init__(self, name, spool, clock=time.time):
        self.name = name
        self.spool = spool
        self.clock = clock
        self.cgi_texts = dict(Persona.cgi_texts)
        self.cgi_texts["/printers"] = ("Printers", "%s: fakecups virtual printer, idle." % name)
        self.cgi_texts["/admin"] = ("Administration", "One printer: %s." % name)

    @classmethod
    def from_options(cls, options, environ):
        """The spool is opened here, after privileges were dropped, so what it creates
        belongs to the user that serves."""
        return cls(options.printer, Spool(spool_directory(options, environ), options.max_job_bytes,
                                          options.max_spool_bytes,
                                          pages_per_minute=options.pages_per_minute))

    @classmethod
    def for_decoding(cls, options):
        return cls(options.printer, MemorySpool(options.max_job_bytes, options.max_spool_bytes,
                                                pages_per_minute=options.pages_per_minute))

    @classmethod
    def prepare(cls, options, environ, user):
        """A spool that does not exist yet is made for the service user (root's 0750
        directory would lock it out); an existing one is left as its owner made it."""
        directory = spool_directory(options, environ)
        if os.path.lexists(directory):
            return
        import pwd
        entry = pwd.getpwnam(user)
        os.makedirs(os.path.dirname(directory.rstrip("/")) or "/", 0o755, exist_ok=True)
        os.mkdir(directory, 0o750)
        os.chown(directory, entry.pw_uid, entry.pw_gid)

    def is_me(self, path):
        return path in ("/printers/" + self.name, "/ipp/print", "/ipp/print/")

    def check_target(self, request):
        code = request.message.code
        if code in self.DESTINATION_LISTS:
            return
        name, uri, path = resource(request)
        if name == "printer-uri" and not self.is_me(path) and not (
                code == OP["Get-Jobs"] and path in ("/", "/jobs", "/printers", "/printers/")):
            raise not_found()

    # Printer operations

    def printer_group(self, request, wanted):
        """From the spool's index alone: no job record is read, however many there are."""
        active = self.spool.refresh()["active"]
        printing = next((int(k) for k, e in active.items() if e["state"] == JOB_PROCESSING), None)
        name, uri, path = resource(request)
        attributes = printer_attributes(self.name, request.host, self.spool.created, self.clock(),
                                        len(active), path.startswith("/ipp/print"), self.handlers,
                                        printing, self.spool.pages_per_minute)
        return Group(TAG_PRINTER, filter_attributes(attributes, wanted))

    @handles("Get-Printer-Attributes", "CUPS-Get-Printers", "CUPS-Get-Default")
    def get_printer_attributes(self, request, document):
        return ipp_answer(request, "successful-ok",
                          groups=[self.printer_group(request, requested(request.message))])

    @handles("CUPS-Get-Classes")
    def get_classes(self, request, document):
        raise not_found("No destinations added.")

    @handles("Identify-Printer")
    def identify_printer(self, request, document):
        return ipp_answer(request, "successful-ok")

    # Jobs

    def check_format(self, request):
        compression = request.message.find("compression", TAG_OPERATION)
        if compression is not None and (compression.first_tag != TAG_KEYWORD or len(
                compression.values) != 1 or compression.first not in COMPRESSIONS):
            raise IppError("client-error-compression-not-supported",
                           "Unsupported compression \"%s\"." % escape(text_of(compression), 64),
                           [Group(TAG_UNSUPPORTED_GROUP, [compression])])
        format_attribute = request.message.find("document-format", TAG_OPERATION)
        if format_attribute is not None and format_attribute.first not in DOCUMENT_FORMATS:
            raise IppError("client-error-document-format-not-supported",
                           "Unsupported document-format \"%s\"." % format_attribute.first,
                           [Group(TAG_UNSUPPORTED_GROUP, [format_attribute])])

    @handles("Validate-Job")
    def validate_job(self, request, document):
        self.check_format(request)
        return ipp_answer(request, "successful-ok")

    @handles("Print-Job")
    def print_job(self, request, document):
        self.check_format(request)
        if document is None or not document.has_data():
            raise bad_request("No file in print request.")
        job = self.spool.new_job(self.job_record(request))
        outcome = self.spool.add_document(job, self.document_record(request), document, last=True)
        return self.job_answer(request, job, outcome)

    @handles("Create-Job")
    def create_job(self, request, document):
        job = self.spool.new_job(self.job_record(request))
        return self.job_answer(request, job)

    @handles("Send-Document")
    def send_document(self, request, document):
        job = self.find_job(request)
        self.check_format(request)
        if job["state"] not in JOB_ACTIVE:
            raise IppError("client-error-not-possible",
                           "Job #%d is finished and cannot be altered." % job["job-id"])
        last = request.message.find("last-document", TAG_OPERATION)
        if last is None or last.first_tag != TAG_BOOLEAN:
            raise bad_request("Missing last-document attribute in request.")
        outcome = self.spool.add_document(job, self.document_record(request), document,
                                          last=last.first is True)
        return self.job_answer(request, job, outcome)

    @handles("Close-Job")
    def close_job(self, request, document):
        job = self.find_job(request)
        self.spool.finish(job)
        return self.job_answer(request, job)

    @handles("Hold-Job")
    def hold_job(self, request, document):
        job = self.find_job(request)
        if job["state"] not in (JOB_PENDING, JOB_HELD):
            raise IppError("client-error-not-possible", "Job #%d is %s and cannot be held."
                           % (job["job-id"], JOB_STATES[job["state"]]))
        until = request.message.find("job-hold-until", TAG_OPERATION)
        keyword = self.hold_keyword(until) if until is not None else "indefinite"
        if keyword == "no-hold":
            raise unsupported_value("Bad job-hold-until value \"no-hold\".", until)
        self.spool.update_job(job, lambda job, line, now: self.hold(job, keyword, now))
        return ipp_answer(request, "successful-ok")

    @handles("Release-Job")
    def release_job(self, request, document):
        job = self.find_job(request)
        if job["state"] != JOB_HELD:
            raise IppError("client-error-not-possible", "Job #%d is not held." % job["job-id"])
        self.spool.update_job(job, lambda job, line, now: self.hold(job, "no-hold", now))
        return ipp_answer(request, "successful-ok")

    @handles("Set-Job-Attributes")
    def set_job_attributes(self, request, document):
        """What `lp -i ID` changes: -H hold|resume|immediate|PERIOD (job-hold-until,
        job-priority), -q (job-priority), -t (job-name), -n (copies)."""
        job = self.find_job(request)
        attributes = [a for g in request.message.groups if g.tag == TAG_JOB for a in g.attributes]
        refused = [a for a in attributes if a.name not in JOB_SETTABLE]
        if refused:
            raise IppError("client-error-attributes-not-settable",
                           "Attribute \"%s\" cannot be changed." % escape(refused[0].name, 64),
                           [Group(TAG_UNSUPPORTED_GROUP, refused)])
        changes = job_changes(attributes)
        if "hold-until" in changes and job["state"] not in (JOB_PENDING, JOB_HELD):
            raise IppError("client-error-not-possible", "Job #%d is %s and cannot be held or "
                           "released." % (job["job-id"], JOB_STATES[job["state"]]))

        def change(job, line, now):
            hold = changes.pop("hold-until", None)
            job.update(changes)
            if hold is not None and job["state"] in (JOB_PENDING, JOB_HELD):
                self.hold(job, hold, now)
        self.spool.update_job(job, change)
        return ipp_answer(request, "successful-ok")

    # Subscriptions (RFC 3995) with the ippget pull method (RFC 3996): kept in the spool's
    # index, answered from its job events.

    @handles("Create-Printer-Subscriptions", "Create-Job-Subscriptions")
    def create_subscriptions(self, request, document):
        wanted = [g for g in request.message.groups if g.tag == TAG_SUBSCRIPTION]
        if not wanted:
            raise bad_request("No subscription attributes in request.")
        for_jobs = request.message.code == OP["Create-Job-Subscriptions"]
        user = requesting_user(request)
        answers = []

        def change(index, now):
            subscriptions = index.setdefault("subscriptions", {})
            for group in wanted:
                problem, values = subscription_values(group, for_jobs)
                if problem is None and values["job"] is not None and \
                        str(values["job"]) not in index["active"]:
                    problem = "client-error-not-possible"       # no such job, or finished
                if problem is None and len(subscriptions) >= MAX_SUBSCRIPTIONS:
                    problem = "server-error-busy"
                if problem is not None:
                    answers.append(Group(TAG_SUBSCRIPTION, [
                        _a("notify-status-code", TAG_ENUM, STATUS[problem])]))
                    continue
                number = index.get("next-subscription", 1)
                index["next-subscription"] = number + 1
                values.update(user=user, created=now, seq=index["seq"])
                subscriptions[str(number)] = values
                answers.append(Group(TAG_SUBSCRIPTION, [
                    _a("notify-subscription-id", TAG_INTEGER, number)]))
        self.spool.transaction(change)
        return ipp_answer(request, "successful-ok", groups=answers)

    def subscription(self, request, index):
        number = integer_value(request.message, "notify-subscription-id")
        if number is None:
            raise bad_request("Missing notify-subscription-id attribute.")
        found = self.live_subscriptions(index).get(str(number))
        if found is None:
            raise not_found("Subscription #%d does not exist." % number)
        return number, found

    def live_subscriptions(self, index):
        now = self.clock()
        return {k: v for k, v in index.get("subscriptions", {}).items()
                if not v["lease"] or v["created"] + v["lease"] > now}

    def subscription_group(self, request, number, values):
        attributes = [_a("notify-subscription-id", TAG_INTEGER, number),
                      _a("notify-printer-uri", TAG_URI, "ipp://%s/printers/%s" % (request.host, self.name)),
                      _a("notify-subscriber-user-name", TAG_NAME, values["user"]),
                      _a("notify-events", TAG_KEYWORD, *values["events"]),
                      _a("notify-pull-method", TAG_KEYWORD, "ippget")]
        if values["job"] is not None:
            attributes.append(_a("notify-job-id", TAG_INTEGER, values["job"]))
        else:
            attributes.append(_a("notify-lease-duration", TAG_INTEGER, values["lease"]))
        return Group(TAG_SUBSCRIPTION, attributes)

    @handles("Get-Subscription-Attributes")
    def get_subscription_attributes(self, request, document):
        number, values = self.subscription(request, self.spool.refresh())
        return ipp_answer(request, "successful-ok",
                          groups=[self.subscription_group(request, number, values)])

    @handles("Get-Subscriptions")
    def get_subscriptions(self, request, document):
        job_id = integer_value(request.message, "notify-job-id")
        found = sorted((int(k), v) for k, v in self.live_subscriptions(self.spool.refresh()).items()
                       if job_id is None or v["job"] == job_id)
        if not found:
            raise not_found("No subscriptions found.")
        return ipp_answer(request, "successful-ok",
                          groups=[self.subscription_group(request, n, v) for n, v in found])

    @handles("Renew-Subscription", "Cancel-Subscription")
    def renew_or_cancel_subscription(self, request, document):
        number, values = self.subscription(request, self.spool.refresh())
        cancel = request.message.code == OP["Cancel-Subscription"]
        lease = integer_value(request.message, "notify-lease-duration")
        if not cancel and values["job"] is not None:
            raise IppError("client-error-not-possible", "Job subscriptions cannot be renewed.")
        if not cancel and lease is not None and not 0 <= lease <= NOTIFY_LEASE_MAX:
            raise unsupported_value("Bad notify-lease-duration value.",
                                    request.message.find("notify-lease-duration"))

        def change(index, now):
            subscriptions = index.setdefault("subscriptions", {})
            if cancel:
                subscriptions.pop(str(number), None)
            elif str(number) in subscriptions:
                subscriptions[str(number)].update(created=now, lease=NOTIFY_LEASE_DEFAULT
                                                  if lease is None else lease)
        self.spool.transaction(change)
        return ipp_answer(request, "successful-ok")

    @handles("Get-Notifications")
    def get_notifications(self, request, document):
        """The job events each subscription asked for, after the sequence numbers given;
        answered at once (notify-wait is not waited for: notify-get-interval says when to
        ask again)."""
        message = request.message
        ids = message.find("notify-subscription-ids", TAG_OPERATION)
        if ids is None or ids.first_tag != TAG_INTEGER:
            raise bad_request("Missing notify-subscription-ids attribute.")
        after = message.find("notify-sequence-numbers", TAG_OPERATION)
        after = [v for t, v in after.values if t == TAG_INTEGER] if after is not None else []
        index = self.spool.refresh()
        live = self.live_subscriptions(index)
        up_time = max(1, int(self.clock() - self.spool.created))
        events = []
        for position, (tag, number) in enumerate(ids.values):
            values = live.get(str(number))
            if values is None:
                raise not_found("Subscription #%d does not exist." % number)
            since = max(values["seq"], after[position] - 1 if position < len(after) else 0)
            for event in index["events"]:
                seq, when, job_id, state, reasons, name, kind = (event + [None])[:7]
                if seq <= since or (values["job"] is not None and values["job"] != job_id):
                    continue
                if kind not in values["events"] and "job-state-changed" not in values["events"]:
                    continue
                events.append(Group(TAG_EVENT_NOTIFICATION, [
                    _a("notify-subscription-id", TAG_INTEGER, number),
                    _a("notify-sequence-number", TAG_INTEGER, seq),
                    _a("notify-subscribed-event", TAG_KEYWORD, kind),
                    _a("notify-text", TAG_TEXT, "Job #%d %s." % (job_id, JOB_STATES[state])),
                    _a("notify-charset", TAG_CHARSET, "utf-8"),
                    _a("notify-natural-language", TAG_LANGUAGE, "en"),
                    _a("notify-printer-uri", TAG_URI,
                       "ipp://%s/printers/%s" % (request.host, self.name)),
                    _a("printer-up-time", TAG_INTEGER, max(1, int(when - self.spool.created))),
                    _a("job-id", TAG_INTEGER, job_id),
                    _a("job-state", TAG_ENUM, state),
                    _a("job-state-reasons", TAG_KEYWORD, reasons),
                    _a("job-name", TAG_NAME, name)]))
        answer = ipp_answer(request, "successful-ok", groups=events)
        answer.message.groups[0].attributes += [_a("notify-get-interval", TAG_INTEGER, 10),
                                                _a("printer-up-time", TAG_INTEGER, up_time)]
        return answer

    def hold(self, job, keyword, now):
        """Hold (keyword: a period, or "indefinite") or release ("no-hold") a job that has
        not started; the spool reschedules it from the record."""
        if job["state"] not in (JOB_PENDING, JOB_HELD):
            return
        release = hold_release_time(keyword, now) if keyword != "no-hold" else now
        job["hold-until"] = keyword
        if release is not None and release <= now:
            if job.pop("release", None) is not None and job.get("ready") is not None:
                job["ready"] = max(job["ready"], now)       # it prints from now on, not before
            job.update(state=JOB_PENDING, reasons="none" if job.get("ready") is not None
                       else "job-incoming")
        else:
            job["release"] = "indefinite" if release is None else release
            job.update(state=JOB_HELD, reasons="job-hold-until-specified")

    def hold_keyword(self, attribute):
        keyword = text_of(attribute)
        if attribute.first_tag not in (TAG_KEYWORD, TAG_NAME) or len(attribute.values) != 1 or \
                keyword not in JOB_HOLD_UNTIL:
            raise unsupported_value("Bad job-hold-until value.", attribute)
        return keyword

    @handles("Cancel-Job")
    def cancel_job(self, request, document):
        job = self.find_job(request)
        if job["state"] not in JOB_ACTIVE:
            raise IppError("client-error-not-possible", "Job #%d is already %s - can't cancel."
                           % (job["job-id"], JOB_STATES[job["state"]]))
        self.spool.set_state(job, JOB_CANCELED, "job-canceled-by-user")
        return ipp_answer(request, "successful-ok")

    @handles("Cancel-Jobs", "Cancel-My-Jobs")
    def cancel_jobs(self, request, document):
        user = requesting_user(request)
        mine = request.message.code == OP["Cancel-My-Jobs"]
        active = self.spool.refresh()["active"]
        for job in self.spool.jobs(sorted(int(k) for k in active)):
            if job["state"] in JOB_ACTIVE and (not mine or job["user"] == user):
                self.spool.set_state(job, JOB_CANCELED, "job-canceled-by-user")
        return ipp_answer(request, "successful-ok")

    @handles("Get-Job-Attributes")
    def get_job_attributes(self, request, document):
        job = self.find_job(request)
        wanted = requested(request.message)
        return ipp_answer(request, "successful-ok",
                          groups=[Group(TAG_JOB, self.job_attributes(request, job, wanted))])

    @handles("Get-Jobs")
    def get_jobs(self, request, document):
        message = request.message
        which = message.find("which-jobs", TAG_OPERATION)
        which = which.first if which is not None else "not-completed"
        if which not in WHICH_JOBS_SUPPORTED:
            raise unsupported_value("The which-jobs value \"%s\" is not supported." % which,
                                    message.find("which-jobs"))
        my_jobs = message.find("my-jobs", TAG_OPERATION)
        user = requesting_user(request) if my_jobs is not None and my_jobs.first is True else None
        limit = integer_value(message, "limit") or 0
        wanted = requested(message, ("job-id", "job-uri"))
        index = self.spool.refresh()
        active = index["active"]
        states = WHICH_JOBS_SUPPORTED[which]
        # Read only the records that can be in the answer: the active jobs come from the
        # index; finished ones newest first (completed) or oldest first (all), up to limit.
        if states <= JOB_ACTIVE:
            ids = sorted(int(k) for k, e in active.items()
                         if e["state"] in states and (user is None or e["user"] == user))
        elif which == "all":
            ids = range(1, index["next"])
        else:
            ids = (i for i in range(index["next"] - 1, 0, -1) if str(i) not in active)
        jobs = (job for job in self.spool.jobs(ids)
                if job["state"] in states and (user is None or job["user"] == user))
        if limit > 0:
            jobs = (job for _, job in zip(range(limit), jobs))
        jobs = list(jobs)
        return ipp_answer(request, "successful-ok",
                          groups=[Group(TAG_JOB, self.job_attributes(request, job, wanted))
                                  for job in jobs])

    def find_job(self, request):
        """The job a request names by job-uri or printer-uri + job-id; IppError if none."""
        name, uri, path = resource(request)
        if name == "job-uri":
            if not path.startswith("/jobs/"):
                raise bad_request("Bad job-uri \"%s\"." % uri)
            job_id = atoi(path.rsplit("/", 1)[-1])
        else:
            job_id = integer_value(request.message, "job-id")
            if job_id is None:
                raise bad_request("Got a printer-uri attribute but no job-id.")
        job = self.spool.load(job_id)
        if job is None:
            raise not_found("Job #%d does not exist." % job_id)
        return job

    def job_record(self, request):
        message = request.message
        held = message.find("job-hold-until", TAG_JOB)
        if held is not None:
            self.hold_keyword(held)
        name = message.find("job-name", TAG_OPERATION)
        job_attributes = [a for g in message.groups if g.tag == TAG_JOB for a in g.attributes]
        record = {"printer": self.name, "user": requesting_user(request), "peer": request.peer,
                  "name": text_of(name) if name is not None else "Untitled",
                  "hold": held is not None and text_of(held) not in ("no-hold", ""),
                  "attributes": stored_attributes(job_attributes),
                  "hold-until": "no-hold", "priority": 50, "copies": 1}
        record.update(job_changes(job_attributes))
        return record

    def document_record(self, request):
        values = {}
        for key in ("document-format", "document-name", "compression"):
            attribute = request.message.find(key, TAG_OPERATION)
            values[key] = text_of(attribute) if attribute is not None else None
        return values

    def job_answer(self, request, job, refused=None):
        """The job group after a job operation; refused = (status, reason) from a limit."""
        status, text = refused or ("successful-ok", None)
        return ipp_answer(request, status, text, groups=[
            Group(TAG_JOB, self.job_attributes(request, job, JOB_ANSWER_ATTRIBUTES))])

    def job_attributes(self, request, job, wanted):
        now = self.clock()
        view = JobView(job, request.host, self.name, max(1, int(now - self.spool.created)), now)
        attributes = build_attributes(JOB_ATTRIBUTES, view)
        attributes += [a for a in submitted_attributes(job) if a.name in JOB_TEMPLATE
                       and a.name not in ("copies", "job-hold-until", "job-priority")]
        if job["documents"] and job["documents"][0]["document-format"]:
            attributes.append(_a("document-format", TAG_MIME_TYPE,
                                 job["documents"][0]["document-format"]))
        if job["documents"] and job["documents"][0].get("compression") in COMPRESSIONS:
            attributes.append(_a("compression-supplied", TAG_KEYWORD,
                                 job["documents"][0]["compression"]))
        return filter_attributes(attributes, wanted, _job_attribute_groups)


def subscription_values(group, for_jobs):
    """(None, what to keep) for a subscription group the printer can serve, else (IPP
    status, None): only ippget, events among NOTIFY_EVENTS; a job subscription (for_jobs)
    names its job in notify-job-id."""
    if group.get("notify-recipient-uri") is not None:
        return "client-error-uri-scheme-not-supported", None
    method = group.get("notify-pull-method")
    if method is not None and method.first != "ippget":
        return "client-error-attributes-or-values-not-supported", None
    events = group.get("notify-events")
    events = [v for _, v in events.values] if events is not None else ["job-completed"]
    if not events or len(events) > len(NOTIFY_EVENTS) or any(e not in NOTIFY_EVENTS for e in events):
        return "client-error-attributes-or-values-not-supported", None
    lease = group.get("notify-lease-duration")
    lease = lease.first if lease is not None and lease.first_tag == TAG_INTEGER else NOTIFY_LEASE_DEFAULT
    if not 0 <= lease <= NOTIFY_LEASE_MAX:
        return "client-error-attributes-or-values-not-supported", None
    job_id = group.get("notify-job-id")
    job_id = job_id.first if job_id is not None and job_id.first_tag == TAG_INTEGER else None
    if for_jobs != (job_id is not None):
        return "client-error-bad-request", None
    return None, {"events": events, "job": job_id, "lease": 0 if job_id is not None else lease}


def submitted_attributes(job):
    """The job attributes the client sent, from the record's stored_attributes()."""
    raw = bytes.fromhex(job.get("attributes") or "")
    if not raw:
        return []
    try:
        # the job group inside the smallest message: version 2.0, code 0, request-id 1
        message = decode_message(bytes((2, 0, 0, 0, 0, 0, 0, 1, TAG_JOB)) + raw + bytes((TAG_END,)))
    except ParseError:
        return []
    return [a for g in message.groups for a in g.attributes]


class JobView:
    """What a job's attribute values depend on, for JOB_ATTRIBUTES' computed rows."""

    def __init__(self, job, host, printer, up_time, now=None):
        self.job, self.host, self.printer, self.up_time = job, host, printer, up_time
        self.octets = sum(d["bytes"] for d in job["documents"])
        self.impressions = job.get("pages", 0) * job.get("copies", 1)
        state = job["state"]
        if state == JOB_COMPLETED:
            self.done = self.impressions
        elif state == JOB_PROCESSING and job.get("seconds") and now is not None:
            share = min(1.0, max(0.0, (now - job["processing"]) / job["seconds"]))
            self.done = int(self.impressions * share)
        else:
            self.done = 0


def _time_or_no_value(key):
    """A job time, or the out-of-band no-value while it has not happened yet."""
    return lambda v: (int(v.job[key]),) if v.job[key] is not None else (NO_VALUE,)


JOB_ATTRIBUTES = (
    ("job-id", TAG_INTEGER, lambda v: (v.job["job-id"],)),
    ("job-uri", TAG_URI, lambda v: ("ipp://%s/jobs/%d" % (v.host, v.job["job-id"]),)),
    ("job-printer-uri", TAG_URI, lambda v: ("ipp://%s/printers/%s" % (v.host, v.printer),)),
    ("job-name", TAG_NAME, lambda v: (v.job["name"],)),
    ("job-originating-user-name", TAG_NAME, lambda v: (v.job["user"],)),
    ("job-state", TAG_ENUM, lambda v: (v.job["state"],)),
    ("job-state-reasons", TAG_KEYWORD, lambda v: (v.job["reasons"],)),
    ("job-state-message", TAG_TEXT, lambda v: (JOB_STATES[v.job["state"]].capitalize() + ".",)),
    ("job-k-octets", TAG_INTEGER, lambda v: ((v.octets + 1023) // 1024,)),
    ("number-of-documents", TAG_INTEGER, lambda v: (len(v.job["documents"]),)),
    ("job-printer-up-time", TAG_INTEGER, lambda v: (v.up_time,)),
    ("time-at-creation", TAG_INTEGER, lambda v: (int(v.job["created"]),)),
    ("time-at-processing", TAG_INTEGER, _time_or_no_value("processing")),
    ("time-at-completed", TAG_INTEGER, _time_or_no_value("completed")),
    ("date-time-at-creation", TAG_DATETIME, lambda v: (date_time(v.job["created"]),)),
    ("job-priority", TAG_INTEGER, lambda v: (v.job.get("priority", 50),)),
    ("job-hold-until", TAG_KEYWORD, lambda v: (
        v.job.get("hold-until", "indefinite" if v.job["hold"] else "no-hold"),)),
    ("copies", TAG_INTEGER, lambda v: (v.job.get("copies", 1),)),
    ("job-impressions", TAG_INTEGER, lambda v: (v.impressions,)),
    ("job-media-sheets", TAG_INTEGER, lambda v: (v.impressions,)),
    ("job-media-sheets-completed", TAG_INTEGER, lambda v: (v.done,)),
    ("job-impressions-completed", TAG_INTEGER, lambda v: (v.done,)),
)


# ── Spool: the printer persona's jobs on disk ───────────────────────────────────────────

def stored_attributes(attributes):
    """Job attributes as the spool keeps them: their own IPP wire encoding in hex, lossless
    and independent of how records render (or cut) values."""
    parts = []
    encode_attributes(parts, attributes)
    return b"".join(parts).hex()


class PageCounter:
    """An estimate of a document's pages as it streams by, for how long it prints: PDF
    counts its "/Type /Page" objects, PostScript its "%%Page:" comments, PWG raster reads
    TotalPageCount and URF its page count from the header, JPEG is one page, text/plain 60
    lines a page; anything else (and a PDF whose pages hide in compressed object streams)
    one page per 64 KiB.  Never fewer than one page."""

    TAIL = 48                           # longer than a match: matches across chunks count once
    HEAD = 460                          # PWG raster's TotalPageCount is at bytes 456-459
    BYTES_PER_PAGE = 64 * 1024
    LINES_PER_PAGE = 60
    PATTERNS = {"pdf": rb"/Type\s{0,4}/Page(?![A-Za-z])", "ps": rb"(?m)^%%Page:"}

    def __init__(self, document_format=None):
        self.format = document_format
        self.head = b""
        self.kind = None
        self.buffer = b""
        self.count = 0
        self.size = 0

    def update(self, chunk):
        self.size += len(chunk)
        if len(self.head) < self.HEAD:
            self.head += chunk[:self.HEAD - len(self.head)]
        if self.kind is None and len(self.head) >= 8:
            self.kind = self._sniff()
        if self.kind in self.PATTERNS:
            self.buffer += chunk
            cut = len(self.buffer) - self.TAIL
            if cut > 0:
                self.count += self._matches(cut)
                self.buffer = self.buffer[cut:]
        elif self.kind == "text":
            self.count += chunk.count(b"\n")

    def _sniff(self):
        head = self.head
        for prefix, kind in ((b"%PDF", "pdf"), (b"%!", "ps"), (b"RaS2", "pwg"), (b"RaS3", "pwg"),
                             (b"UNIRAST\x00", "urf"), (b"\xff\xd8\xff", "jpeg")):
            if head.startswith(prefix):
                return kind
        return "text" if self.format == "text/plain" else "bytes"

    def _matches(self, end):
        import re
        return sum(1 for m in re.finditer(self.PATTERNS[self.kind], self.buffer) if m.start() < end)

    @property
    def pages(self):
        if self.kind is None:
            self.kind = self._sniff()
        count = self.count
        if self.kind in self.PATTERNS:
            count += self._matches(len(self.buffer))
        elif self.kind == "pwg" and len(self.head) >= 460:
            count = int.from_bytes(self.head[456:460], "big")
        elif self.kind == "urf" and len(self.head) >= 12:
            count = int.from_bytes(self.head[8:12], "big")
        elif self.kind == "jpeg":
            count = 1
        elif self.kind == "text":
            count = -(-(count + 1) // self.LINES_PER_PAGE)
        if count < 1:
            count = -(-self.size // self.BYTES_PER_PAGE)
        return max(1, count)


class DocumentContent:
    """What a document holds once decompressed, as it streams by: size, sha256 (of the
    decompressed bytes, when compressed) and pages.  gzip and deflate (RFC 1952, RFC 1951)
    are inflated by zlib one bounded step at a time, so a decompression bomb costs no memory
    and stops at limit (--max-job-bytes), however small it is on the wire."""

    STEP = 1 << 20

    def __init__(self, compression, document_format, limit):
        self.compression = compression if compression in ("gzip", "deflate") else None
        self.pages = PageCounter(document_format)
        self.limit = limit
        self.size = 0
        self.error = None
        self.digest = DocumentDigest() if self.compression else None
        if self.compression:
            import zlib
            self._zlib = zlib
            self._inflate = zlib.decompressobj(31 if self.compression == "gzip" else -15)

    def feed(self, chunk):
        """False once the content is over the limit or not valid compressed data."""
        if not self.compression:
            return self._take(chunk)
        try:
            while chunk and not self._inflate.eof:
                if not self._take(self._inflate.decompress(chunk, self.STEP)):
                    return False
                chunk = self._inflate.unconsumed_tail
        except self._zlib.error as error:
            self.error = "not valid %s data: %s" % (self.compression, error)
            return False
        return True

    def end(self):
        """False when compressed data stopped before its end."""
        if self.compression and not self._inflate.eof:
            self.error = "%s data cut short" % self.compression
            return False
        return True

    def _take(self, data):
        self.size += len(data)
        if self.size > self.limit:
            return False
        self.pages.update(data)
        if self.digest is not None:
            self.digest.update(data)
        return True


def store_chunks(document, limit, content, write):
    """(bytes as received, stopped): each chunk goes to write() as received while limit (on
    those bytes) and content (its limit on the decompressed bytes, its data checks) allow."""
    size = 0
    for chunk in (document if document is not None else ()):
        if size + len(chunk) > limit:
            return size, True
        write(chunk)
        size += len(chunk)
        if not content.feed(chunk):
            return size, True
    return size, not content.end()


def hold_release_time(keyword, now):
    """When a job held until the named period (RFC 2911 job-hold-until) may print: now when
    the period is on, else its next start, in local time as cupsd computes it; None for
    "indefinite" (and any other name: held until released)."""
    t = time.localtime(now)
    hour = t.tm_hour

    def at(days, hour_of_day):
        return time.mktime((t.tm_year, t.tm_mon, t.tm_mday + days, hour_of_day, 0, 0, 0, 0, -1))

    if keyword == "day-time":
        return now if 6 <= hour < 18 else at(0 if hour < 6 else 1, 6)
    if keyword in ("evening", "night"):
        return at(0, 18) if 6 <= hour < 18 else now
    if keyword == "second-shift":
        return at(0, 16) if hour < 16 else now
    if keyword == "third-shift":
        return at(1, 0) if hour >= 8 else now
    if keyword == "weekend":
        return now if t.tm_wday >= 5 else at(5 - t.tm_wday, 0)
    return None


JOB_REASONS = {JOB_PENDING: "none", JOB_HELD: "job-hold-until-specified",
               JOB_PROCESSING: "job-printing", JOB_COMPLETED: "job-completed-successfully"}


class Spool:
    """Jobs as files, shared by every connection's process.

    DIR/index          what every request needs without reading every job: the next job id,
                       the bytes stored, the jobs not yet finished (their state, priority,
                       hold, when they were ready and how long they print) and the last job
                       events (for Get-Notifications); changed only under an exclusive lock
                       on DIR/lock, so its size follows the active jobs, not the spool's
    DIR/N.json         a job's record: attributes, user, peer, documents, state, times
    DIR/N-K.data       document K of job N, byte for byte as received
    No process stays resident: every operation first brings the jobs up to date (update)
    from the index's timestamps, printing one job at a time at pages_per_minute (0: a job
    completes the moment it is complete), highest job-priority first, then oldest.
    Nothing a client sends becomes part of a path.  What touches the disk is in the methods
    from _lock on, so that MemorySpool can keep the same jobs without a disk.
    """

    EVENTS_KEPT = 100

    def __init__(self, directory, max_job_bytes, max_spool_bytes, clock=time.time,
                 pages_per_minute=DEFAULT_PAGES_PER_MINUTE):
        self.directory = directory
        self.max_job_bytes = max_job_bytes
        self.max_spool_bytes = max_spool_bytes
        self.clock = clock
        self.pages_per_minute = pages_per_minute
        self.index = None
        self.created = self._open()

    def _open(self):
        """Make the directory and the lock; the printer's up-since time is the lock's."""
        os.makedirs(self.directory, 0o750, exist_ok=True)
        lock = os.path.join(self.directory, "lock")
        self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
        return os.fstat(self._lock_fd).st_mtime

    # Transactions: lock, read the index, bring jobs up to date, change, write, unlock.

    def transaction(self, change=None):
        """Runs change(index, now) with the spool locked and up to date; returns its result.
        self.index is left as the index was at the end, for reading without the lock."""
        self._lock(True)
        try:
            index = self._load_index()
            before = to_json(index)
            now = self.clock()
            self._advance(index, now)
            result = change(index, now) if change is not None else None
            self._advance(index, now)
            text = to_json(index)
            if text != before:
                self._write_index(text + "\n")
            self.index = index
            return result
        finally:
            self._lock(False)

    def refresh(self):
        """The index, with the jobs brought up to date."""
        self.transaction()
        return self.index

    def _load_index(self):
        import json
        try:
            index = json.loads(self._read_index())
        except OSError:
            return self._rebuild_index()
        except ValueError:
            return self._rebuild_index()
        return index

    def _rebuild_index(self):
        """A spool without an index (made before there was one, or the index lost): one
        reading of every record, then never again."""
        import json
        index = {"next": self._legacy_next_id(), "bytes": self.used_bytes(), "active": {},
                 "free": 0, "seq": 0, "events": []}
        for job_id in self._record_ids():
            index["next"] = max(index["next"], job_id + 1)
            try:
                job = json.loads(self._read_record(job_id))
            except (OSError, ValueError):
                continue
            if job["state"] in JOB_ACTIVE:
                index["active"][str(job_id)] = self._entry(job)
        return index

    @staticmethod
    def _entry(job):
        """A job's line in the index: what scheduling needs."""
        hold = job.get("release")
        if hold is None and "hold-until" not in job and job.get("hold") and job["state"] == JOB_HELD:
            hold = "indefinite"             # a record from before hold-until was kept
        return {"state": job["state"], "user": job["user"], "priority": job.get("priority", 50),
                "hold": hold,
                "ready": job.get("ready"), "touched": job.get("updated", job["created"]),
                "seconds": job.get("seconds", 0), "start": job.get("processing")
                if job["state"] == JOB_PROCESSING else None}

    def _advance(self, index, now):
        """Every state change due by now, at the time it was due: timed holds released,
        open jobs past multiple-operation-time-out closed, then the printer's queue run one
        job after another.  Each job changes at most a few times: the loop is bounded."""
        active = index["active"]
        for key, entry in list(active.items()):
            hold = entry["hold"]
            if isinstance(hold, (int, float)) and hold <= now:
                entry["hold"] = None
                if entry["ready"] is not None:
                    entry["ready"] = max(entry["ready"], hold)
            if entry["ready"] is None and entry["touched"] + MULTIPLE_OPERATION_TIME_OUT <= now:
                entry["ready"] = entry["touched"] + MULTIPLE_OPERATION_TIME_OUT
            self._sync_state(index, key, entry, now)
        for _ in range(2 * len(active) + 2):
            running = [k for k, e in active.items() if e["start"] is not None]
            if running:
                entry = active[running[0]]
                end = entry["start"] + entry["seconds"]
                if end > now:
                    break
                index["free"] = end
                self._finish_entry(index, running[0], end)
                continue
            ready = [(k, e) for k, e in active.items()
                     if e["ready"] is not None and e["hold"] is None and e["state"] == JOB_PENDING]
            if not ready:
                break
            start = max(index["free"], min(e["ready"] for k, e in ready))
            if start > now:
                break
            key, entry = min(((k, e) for k, e in ready if e["ready"] <= start),
                             key=lambda item: (-item[1]["priority"], int(item[0])))
            entry["start"] = start
            self._sync_state(index, key, entry, start)

    def _sync_state(self, index, key, entry, when):
        """Record the state the index entry implies, if the record says otherwise."""
        if entry["state"] not in (JOB_PENDING, JOB_HELD, JOB_PROCESSING):
            return
        state = (JOB_PROCESSING if entry["start"] is not None
                 else JOB_HELD if entry["hold"] is not None else JOB_PENDING)
        if state == entry["state"]:
            return
        entry["state"] = state
        changes = {"state": state, "reasons": JOB_REASONS[state]}
        if state == JOB_PROCESSING:
            changes["processing"] = when
        self._change_record(index, int(key), changes, when)

    def _finish_entry(self, index, key, when):
        del index["active"][key]
        self._change_record(index, int(key), {"state": JOB_COMPLETED,
                                              "reasons": "job-completed-successfully",
                                              "completed": when}, when)

    def _change_record(self, index, job_id, changes, when):
        import json
        try:
            job = json.loads(self._read_record(job_id))
        except (OSError, ValueError):
            return
        job.update(changes)
        self._event(index, job, when)
        self._save(job, when)

    def _event(self, index, job, when, kind=None):
        """A job event for Get-Notifications: (sequence number, time, job id, state,
        reasons, job name, event); those of the last IPPGET_EVENT_LIFE seconds are kept,
        at most EVENTS_KEPT."""
        index["seq"] += 1
        kind = kind or ("job-completed" if job["state"] not in JOB_ACTIVE else "job-state-changed")
        index["events"].append([index["seq"], when, job["job-id"], job["state"], job["reasons"],
                                job["name"], kind])
        events = index["events"]
        old = next((n for n, e in enumerate(events) if e[1] > when - IPPGET_EVENT_LIFE), len(events))
        del events[:max(old, len(events) - self.EVENTS_KEPT)]

    # What the printer persona asks.

    def new_job(self, record):
        hold = record.get("hold-until") or ("indefinite" if record.get("hold") else "no-hold")

        def change(index, now):
            job_id = index["next"]
            index["next"] = job_id + 1
            release = hold_release_time(hold, now) if hold != "no-hold" else now
            held = release is None or release > now
            job = dict(record, **{"job-id": job_id, "state": JOB_HELD if held else JOB_PENDING,
                                  "reasons": "job-hold-until-specified" if held else "job-incoming",
                                  "created": now, "processing": None, "completed": None,
                                  "documents": [], "ready": None, "seconds": 0, "pages": 0})
            if held:
                job["release"] = "indefinite" if release is None else release
            self._event(index, job, now, "job-created")
            self._save(job, now)
            index["active"][str(job_id)] = self._entry(job)
            return job
        return self.transaction(change)

    def add_document(self, job, document_record, document, last):
        """Stream the document to its file; None when stored, else (IPP status, reason)
        when a limit stopped it (the job is then aborted and its record says why)."""
        number = len(job["documents"]) + 1
        name = "%d-%d.data" % (job["job-id"], number)
        used = self.refresh()["bytes"]
        job_left = self.max_job_bytes - sum(d.get("decompressed-bytes", d["bytes"])
                                            for d in job["documents"])
        spool_left = self.max_spool_bytes - used
        content = DocumentContent(document_record.get("compression"),
                                  document_record.get("document-format"), job_left)
        size, over = self._store(name, document, min(job_left, spool_left), content)
        digest = document.digest if document is not None else DocumentDigest()
        entry = dict(document_record, number=number, bytes=size, file=None if over else name,
                     sha256=None if over else digest.hexdigest(), pages=content.pages.pages)
        if content.compression:
            entry.update({"decompressed-bytes": content.size,
                          "decompressed-sha256": None if over else content.digest.hexdigest()})
        if over:
            self._discard(name)
            if content.error:
                status, reason = "client-error-compression-error", content.error
            elif content.size > job_left or spool_left >= job_left:
                status, reason = "client-error-request-entity-too-large", "job over --max-job-bytes"
            else:
                status, reason = "server-error-busy", "spool over --max-spool-bytes"

            def abort(job, line, now):
                job["documents"].append(entry)
                self._end_job(job, JOB_ABORTED, "aborted-by-system", now, reason)
            self.update_job(job, abort)
            return status, reason

        def add(job, line, now):
            job["documents"].append(entry)
            self.index["bytes"] += size
            self._estimate(job)
            if last:
                self._close(job, line, now)
        self.update_job(job, add)
        return None

    def finish(self, job):
        """Close-Job: no more documents; the job prints when its turn comes."""
        self.update_job(job, self._close)

    def _close(self, job, line, now):
        if job["state"] not in JOB_ACTIVE or line is None or line["ready"] is not None:
            return
        job["ready"] = now
        if job["state"] == JOB_PENDING and job["reasons"] == "job-incoming":
            job["reasons"] = "none"

    def _estimate(self, job):
        """Pages (the documents' estimates, number-up applied) and seconds to print them."""
        up = max(1, job.get("number-up", 1))
        ranges = job.get("page-ranges")

        def printed(pages):
            if ranges:
                pages = sum(max(0, min(high, pages) - low + 1) for low, high in ranges)
            return -(-pages // up)
        job["pages"] = sum(printed(d.get("pages", 1)) for d in job["documents"])
        sheets = (job["pages"] + job.get("banner-pages", 0)) * max(1, job.get("copies", 1))
        job["seconds"] = sheets * 60.0 / self.pages_per_minute if self.pages_per_minute else 0

    def set_state(self, job, state, reasons, note=None):
        """Cancel (or abort) a job that has not finished."""
        self.update_job(job, lambda job, line, now: self._end_job(job, state, reasons, now, note))

    def _end_job(self, job, state, reasons, now, note=None):
        job.update({"state": state, "reasons": reasons, "completed": now})
        if note:
            job["note"] = note
        line = self.index["active"].pop(str(job["job-id"]), None)
        if line is not None and line["start"] is not None:
            self.index["free"] = now            # the printer stops printing it now

    def update_job(self, job, change):
        """change(job, index line or None, now) on the job's current record, under the lock;
        the job dict is updated in place to what was saved."""
        def run(index, now):
            self.index = index
            current = self._load_record(job["job-id"]) or job
            line = index["active"].get(str(job["job-id"]))
            before = (current["state"], current["reasons"])
            result = change(current, line, now)
            self._save(current, now)
            if line is not None and str(job["job-id"]) in index["active"]:
                line.update({k: v for k, v in self._entry(current).items() if k != "start"})
            if (current["state"], current["reasons"]) != before:
                self._event(index, current, now)
            job.clear()
            job.update(current)
            return result
        result = self.transaction(run)
        fresh = self._load_record(job["job-id"])
        if fresh is not None:
            job.clear()
            job.update(fresh)
        return result

    def save(self, job):
        self._save(job, self.clock())

    def _save(self, job, now):
        job["updated"] = now
        self._write_record(job["job-id"], to_json(job) + "\n")

    def load(self, job_id):
        """A job's record as it is now (jobs brought up to date first); None if none."""
        if not isinstance(job_id, int) or job_id < 1:
            return None
        self.refresh()
        return self._load_record(job_id)

    def _load_record(self, job_id):
        import json
        try:
            return json.loads(self._read_record(job_id))
        except (OSError, ValueError):
            return None

    def jobs(self, ids=None):
        """Records in the order of ids (default: every job), read one at a time as asked."""
        if ids is None:
            ids = self._record_ids()
        return (job for job in map(self._load_record, ids) if job is not None)

    # Storage: the disk.

    def _path(self, name):
        return os.path.join(self.directory, name)

    def _lock(self, take):
        import fcntl
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX if take else fcntl.LOCK_UN)

    def _read_index(self):
        with open(self._path("index")) as file:
            return file.read()

    def _write_index(self, text):
        self._write_atomic(self._path("index"), text)

    def _legacy_next_id(self):
        """The counter file spools had before the index (or 1)."""
        try:
            with open(self._path("next-job-id")) as file:
                return int(file.read().strip() or 1)
        except (OSError, ValueError):
            return 1

    def _store(self, name, document, limit, content):
        """(bytes written as received, whether a limit or bad compressed data stopped it)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self._path(name), flags, 0o640)
        try:
            return store_chunks(document, limit, content, lambda chunk: write_all(fd, chunk))
        finally:
            os.close(fd)

    def _discard(self, name):
        os.unlink(self._path(name))

    def _write_record(self, job_id, text):
        self._write_atomic(self._path("%d.json" % job_id), text)

    def _read_record(self, job_id):
        with open(self._path("%d.json" % job_id)) as file:
            return file.read()

    def _record_ids(self):
        return sorted(int(name[:-5]) for name in os.listdir(self.directory)
                      if name.endswith(".json") and name[:-5].isdigit())

    def used_bytes(self):
        total = 0
        for name in os.listdir(self.directory):
            if name.endswith(".data"):
                try:
                    total += os.lstat(self._path(name)).st_size
                except OSError:
                    pass
        return total

    def _write_atomic(self, path, text):
        temporary = "%s.%d.tmp" % (path, os.getpid())
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o640)
        try:
            write_all(fd, text.encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)
        os.replace(temporary, path)


class MemorySpool(Spool):
    """The same jobs kept in memory, documents counted and hashed but stored nowhere:
    --decode shows what the printer would answer and writes nothing but stdout."""

    def __init__(self, max_job_bytes, max_spool_bytes, clock=time.time,
                 pages_per_minute=DEFAULT_PAGES_PER_MINUTE):
        super().__init__(None, max_job_bytes, max_spool_bytes, clock, pages_per_minute)

    def _open(self):
        self._records = {}
        self._sizes = {}
        self._index_text = None
        return self.clock()

    def _lock(self, take):
        pass

    def _read_index(self):
        if self._index_text is None:
            raise OSError("no index yet")
        return self._index_text

    def _write_index(self, text):
        self._index_text = text

    def _legacy_next_id(self):
        return 1

    def _store(self, name, document, limit, content):
        size, over = store_chunks(document, limit, content, lambda chunk: None)
        self._sizes[name] = size
        return size, over

    def _discard(self, name):
        self._sizes.pop(name, None)

    def _write_record(self, job_id, text):
        self._records[job_id] = text

    def _read_record(self, job_id):
        if job_id not in self._records:
            raise OSError("no job %d" % job_id)
        return self._records[job_id]

    def _record_ids(self):
        return sorted(self._records)

    def used_bytes(self):
        return sum(self._sizes.values())


class UnavailablePersona(Persona):
    """Stands in for a persona that could not start (its spool unusable, say): every IPP
    request is answered server-error-service-unavailable with the reason, which the record
    keeps, rather than a misleading "printer does not exist"."""

    def __init__(self, reason):
        self.reason = reason

    def answer(self, request, document):
        raise IppError("server-error-service-unavailable", self.reason)


PERSONAS = {"empty": EmptyPersona, "printer": PrinterPersona}


# ── The UDP half: cups-browsed's browse packets, recorded and never acted on ────────────

# cups_ptype_t bits (CUPS cups.h) and printer-state values, as a browse packet carries them.
PRINTER_TYPE_BITS = (
    "class", "remote", "bw", "color", "duplex", "staple", "copies", "collate", "punch", "cover",
    "bind", "sort", "small", "medium", "large", "variable", "implicit", "default", "fax",
    "rejecting", "delete", "not-shared", "authenticated", "commands", "discovered", "scanner",
    "mfp", "3d")
PRINTER_STATES = {3: "idle", 4: "processing", 5: "stopped"}
MAX_DATAGRAM_RECORDED = 2048         # cups-browsed reads 2047 bytes; longer ones are cut here
IPP_SCHEMES = ("ipp", "ipps")
# RFC 1918, shared address space (RFC 6598), link-local, unique local: inside someone's network
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                    "169.254.0.0/16", "fc00::/7", "fe80::/10")


class BrowsePacket:
    """What one datagram says, read as cups-browsed reads it: sscanf("%x%x%1023s") for type,
    state and URI, then quoted location, info and make-and-model, then key=value options.
    problem says why it is not a browse packet; the raw bytes are always kept."""

    def __init__(self, data, size):
        self.data, self.size = data, size
        self.type = self.state = self.uri = self.problem = None
        self.quoted, self.options, self.rest = [], {}, ""


def parse_browse_packet(data, size=None):
    """A BrowsePacket from the bytes of a datagram (data may be cut; size is its length)."""
    packet = BrowsePacket(data, len(data) if size is None else size)
    words = _browse_words(data.decode("latin-1"))
    try:
        packet.type, packet.state = int(words[0], 16), int(words[1], 16)
        packet.uri = words[2]
    except (IndexError, ValueError):
        packet.problem = "not a browse packet: wants hex type, hex state and a URI"
        return packet
    rest = words[3:]
    while rest and rest[0].startswith('"') and len(packet.quoted) < 3:
        word = rest.pop(0)
        packet.quoted.append(word[1:-1] if len(word) > 1 and word.endswith('"') else word[1:])
    for word in rest:
        key, equals, value = word.partition("=")
        if not equals or not key:
            packet.rest = " ".join(rest[rest.index(word):])
            break
        packet.options[key] = value
    return packet


def _browse_words(text):
    """Whitespace-separated words; a word starting with a quote runs to the next quote."""
    words, position = [], 0
    while True:
        while position < len(text) and text[position] in " \t\r\n\v\f":
            position += 1
        if position >= len(text):
            return words
        if text[position] == '"':
            end = text.find('"', position + 1)
            end = len(text) if end < 0 else end + 1
        else:
            end = position
            while end < len(text) and text[end] not in " \t\r\n\v\f":
                end += 1
        words.append(text[position:end])
        position = end


def split_uri(uri):
    """scheme, host, port and path of scheme://host:port/path, as far as they are there."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return {"scheme": None, "host": None, "port": None, "path": uri}
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        host, _, port = authority[1:].partition("]")
        port = port[1:] if port.startswith(":") else ""
    else:
        host, _, port = authority.partition(":")
    return {"scheme": scheme.lower(), "host": host, "port": int(port) if port.isdigit() else None,
            "path": slash + path}


def uri_flags(parts, source_host):
    """What a sensor's owner wants to see at once about an advertised URI: it aims elsewhere
    than the sender (reflection, a third party), at a private or loopback address, or is
    not IPP at all.  Nothing is resolved: a host name is compared as written."""
    import ipaddress
    flags = []
    host = parts["host"]
    if parts["scheme"] not in IPP_SCHEMES:
        flags.append("non-ipp-scheme")
    if not host:
        return flags
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        address = None
        if host.lower().rstrip(".") == "localhost":
            flags.append("loopback-target")
    if address is not None and getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    if address is not None and address.is_loopback:
        flags.append("loopback-target")
    elif address is not None and any(address.version == network.version and address in network
                                     for network in map(ipaddress.ip_network, PRIVATE_NETWORKS)):
        flags.append("private-target")
    if host.lower() != source_host.lower() and (address is None or str(address) != source_host):
        flags.append("callback-elsewhere")
    return flags


def plain_packet(packet, source_host):
    """The udp part of a record: the packet decoded, or what it is when it does not decode."""
    text = escape(packet.data, MAX_DATAGRAM_RECORDED)
    plain = {"bytes": packet.size, "cut": packet.size > len(packet.data), "packet": text,
             "problem": packet.problem}
    if packet.problem is not None:
        return plain
    parts = split_uri(packet.uri)
    bits = [name for bit, name in enumerate(PRINTER_TYPE_BITS) if packet.type >> bit & 1]
    quoted = packet.quoted + [None] * (3 - len(packet.quoted))
    plain.update({
        "type": {"value": "0x%x" % packet.type, "bits": bits or ["local"]},
        "state": {"value": packet.state, "name": PRINTER_STATES.get(packet.state, "unknown")},
        "uri": dict(parts, text=escape(packet.uri)),
        "location": escape(quoted[0]) if quoted[0] is not None else None,
        "info": escape(quoted[1]) if quoted[1] is not None else None,
        "make_and_model": escape(quoted[2]) if quoted[2] is not None else None,
        "options": {escape(k, 64): escape(v) for k, v in packet.options.items()},
        "rest": escape(packet.rest) if packet.rest else None,
        "flags": uri_flags(parts, source_host),
    })
    plain["uri"]["host"] = escape(parts["host"]) if parts["host"] is not None else None
    plain["uri"]["path"] = escape(parts["path"])
    plain["uri"]["scheme"] = escape(parts["scheme"]) if parts["scheme"] is not None else None
    return plain


class FloodGate:
    """One source's datagrams beyond the first few are counted, not recorded one by one:
    a summary goes out every SUMMARY_EVERY datagrams or SUMMARY_SECONDS, and at the end."""

    FULL_RECORDS = 20
    SUMMARY_EVERY = 1000
    SUMMARY_SECONDS = 10.0

    def __init__(self):
        self.sources = {}            # host -> [recorded, counted, bytes, first, last]

    def admit(self, host, size, now):
        """True when this datagram gets its own record; else it is counted."""
        entry = self.sources.setdefault(host, [0, 0, 0, now, now])
        if entry[0] < self.FULL_RECORDS:
            entry[0] += 1
            return True
        entry[1] += 1
        entry[2] += size
        entry[4] = now
        return False

    def due(self, now, final=False):
        """(host, count, bytes, first, last) for every summary that should go out now."""
        for host, entry in self.sources.items():
            if entry[1] and (final or entry[1] >= self.SUMMARY_EVERY
                             or now - entry[3] >= self.SUMMARY_SECONDS):
                yield host, entry[1], entry[2], entry[3], entry[4]
                entry[1:] = [0, 0, now, now]


def plain_datagram(time, peer, pid, seq, udp):
    """A UDP record: who sent it, when, and the udp part (a packet, or a flood summary)."""
    return {"time": rfc3339(time), "peer": peer, "pid": pid, "seq": seq, "transport": "udp",
            "udp": udp}


def plain_flood(count, size, first, last):
    return {"flood": {"datagrams": count, "bytes": size, "first": rfc3339(first),
                      "last": rfc3339(last)}}


# ── Indicators: known attacks on CUPS, one row each ──────────────────────────────────────
#
# A row: the id records carry, the advisory it points to, one line on why, the kind of record
# it reads and its test.  "request" rows test the Exchange of one HTTP request: exchange.head
# (RequestHead, or None), exchange.ipp (the decoded Message, or None), exchange.peer,
# exchange.seq and exchange.head_timing().  "udp" rows test a UDP record's plain data
# (record["udp"] as plain_packet made it).  The Recorder adds the ids of the rows whose test
# passes to every record, so each format and --report see the same alerts.  Adding an
# indicator is one row.

SLOW_HEAD_SECONDS = 2.0              # longer than a lost segment's first retransmission (1 s)
SLOW_HEAD_BYTES_PER_SECOND = 100     # drip tools send a header line per 10-15 s: under 10 B/s
PPD_KEYWORDS = ("foomaticripcommandline", "cupsfilter2")
# Characters no notification recipient has (RFC 5322 allows some in a local part, a shell acts
# on all of them): ? starts mailto parameters, a comma adds addresses, the rest are the shell's.
MAILTO_EXTRAS = frozenset("?,;|&$`<>()'\"\\*{}[]!#~")


class Indicator:
    __slots__ = ("id", "advisory", "kind", "why", "test")

    def __init__(self, id, advisory, kind, why, test):
        self.id, self.advisory, self.kind, self.why, self.test = id, advisory, kind, why, test


def alerts_for(kind, subject):
    """The ids of the rows of this kind whose test the subject passes, in table order."""
    return [row.id for row in INDICATORS if row.kind == kind and row.test(subject)]


def request_attributes(exchange):
    """Every attribute of the request, collection members included (worked out once)."""
    if exchange.indicator_cache is None:
        message = exchange.ipp
        exchange.indicator_cache = [] if message is None else [
            attribute for group in message.groups for attribute in all_attributes(group.attributes)]
    return exchange.indicator_cache


def client_text(exchange):
    """Every string the client chose, joined by spaces: attribute names and string values
    (a value with a language gives its text; octetString its bytes read as latin-1).  Worked
    out once: two rows read it on every request."""
    if exchange.text_cache is None:
        texts = []
        for attribute in request_attributes(exchange):
            texts.append(attribute.name)
            for tag, value in attribute.values:
                if tag in (TAG_TEXT_LANG, TAG_NAME_LANG):
                    texts.append(value[1])
                elif tag in STRING_FAMILY:
                    texts.append(value)
                elif tag == TAG_OCTETS:
                    texts.append(value.decode("latin-1"))
        exchange.text_cache = " ".join(texts)
    return exchange.text_cache


def has_control_character(text):
    return not text.isprintable() and any(c < " " or c == "\x7f" for c in text)


def carries_ppd(text):
    lowered = text.lower()
    return "\n*" in text or any(keyword in lowered for keyword in PPD_KEYWORDS)


def values_of(exchange, name):
    """The string values of every attribute called name."""
    return [value for attribute in request_attributes(exchange) if attribute.name == name
            for tag, value in attribute.values if isinstance(value, str)]


def rss_traversal(uri):
    return uri[:4].lower() == "rss:" and ".." in percent_decode(uri)


def mailto_beyond_address(uri):
    """A mailto: recipient with more than an address: what sendmail would read as options."""
    if uri[:7].lower() != "mailto:":
        return False
    address = percent_decode(uri[7:])
    return (not address or address[0] == "-"
            or any(c.isspace() or c < " " or c in MAILTO_EXTRAS for c in address))


def auth_scheme(exchange):
    value = exchange.head.header("Authorization") if exchange.head is not None else None
    return (value.split(None, 1) or [""])[0].lower() if value else ""


def operation_is(exchange, name):
    return exchange.ipp is not None and exchange.ipp.code == OP[name]


def slow_head(exchange):
    """The first request of a connection (its wait began as the client connected) whose head
    took SLOW_HEAD_SECONDS or more at under SLOW_HEAD_BYTES_PER_SECOND."""
    size, seconds = exchange.head_timing()
    return (exchange.seq == 1 and seconds >= SLOW_HEAD_SECONDS
            and size < SLOW_HEAD_BYTES_PER_SECOND * seconds)


INDICATORS = [
    Indicator("ppd-injection", "CVE-2024-47076, CVE-2024-47175, CVE-2024-47177", "request",
              "PPD text in a value (a newline then *, FoomaticRIPCommandLine, cupsFilter2): copied "
              "into a PPD unchecked, foomatic-rip runs it as lp",
              lambda e: carries_ppd(client_text(e))),
    Indicator("control-character", "CVE-2026-34980", "request",
              "a C0 control character or DEL in a string value or attribute name: a newline in "
              "page-border became a scheduler control record (code execution as lp)",
              lambda e: has_control_character(client_text(e))),
    Indicator("rss-traversal", "CVE-2026-34978", "request",
              "notify-recipient-uri rss: with .. in it: the RSS notifier writes outside "
              "CacheDir/rss (job.cache overwritten, queued jobs lost)",
              lambda e: any(rss_traversal(uri) for uri in values_of(e, "notify-recipient-uri"))),
    Indicator("mailto-injection", "CVE-2026-105326", "request",
              "notify-recipient-uri mailto: with more than an address (whitespace, a leading -, ?, "
              "shell metacharacters): argument injection into the mailto notifier's sendmail",
              lambda e: any(mailto_beyond_address(uri)
                            for uri in values_of(e, "notify-recipient-uri"))),
    Indicator("local-token", "CVE-2026-34990", "request",
              "Authorization: Local or PeerCred from a peer that is not this machine: a replayed "
              "cupsd local token, which only local clients ever hold",
              lambda e: auth_scheme(e) in ("local", "peercred") and not is_loopback(e.peer)),
    Indicator("basic-admin", "CVE-2025-58060", "request",
              "Authorization: Basic on /admin: cupsd accepted Basic where another AuthType "
              "(Negotiate) was configured, without checking the password that way",
              lambda e: auth_scheme(e) == "basic"
              and _target_path(e.head.target).startswith("/admin")),
    Indicator("extension-tag", "CVE-2025-58364", "request",
              "a value with the extension tag 0x7F: libcups' ipp_read_io() mishandled it "
              "(NULL dereference, remote denial of service)",
              lambda e: any(tag == TAG_EXTENSION
                            for a in request_attributes(e) for tag, _ in a.values)),
    Indicator("mixed-tags", "CVE-2010-2941", "request",
              "a 1setOf whose values mix incompatible tags: cupsd's ipp.c freed such values wrongly "
              "(use-after-free); fakecups, like cupsd now, answers it 400",
              lambda e: any(mixes_value_tags(a.values) for a in request_attributes(e))),
    Indicator("get-document", "CVE-2023-32360", "request",
              "CUPS-Get-Document: the data of someone's print job, which a too broad default "
              "policy gave without authentication",
              lambda e: operation_is(e, "CUPS-Get-Document")),
    Indicator("local-file-printer", "CVE-2026-34990", "request",
              "CUPS-Create-Local-Printer naming a file: device: a queue that writes any file as "
              "root once shared, the second step after a replayed Local token",
              lambda e: operation_is(e, "CUPS-Create-Local-Printer") and any(
                  uri[:5].lower() == "file:" for uri in values_of(e, "device-uri"))),
    Indicator("slow-head", "CVE-2025-58436", "request",
              "a first request's head dripped in (%d s or more at under %d bytes/s): clients this "
              "slow made cupsd before 2.4.15 unresponsive"
              % (SLOW_HEAD_SECONDS, SLOW_HEAD_BYTES_PER_SECOND),
              slow_head),
    Indicator("browse-packet", "CVE-2024-47176", "udp",
              "a CUPS browse packet to UDP 631: unpatched cups-browsed (2.0.1 and earlier) fetches printer "
              "attributes from the URL it advertises, the first step of the 2024 RCE chain",
              lambda record: "uri" in record["udp"]),
    Indicator("browse-reflection", "CVE-2024-47176", "udp",
              "a browse packet whose URL points elsewhere than its sender: a third party aimed "
              "at (reflection, DDoS) or a callback collector",
              lambda record: "callback-elsewhere" in record["udp"].get("flags", ())),
]


# ── Records: one value per request, rendered as plain data, then by a log format ─────────

def monotonic():
    """time.monotonic() where a parameter called time hides the module (Exchange.__init__)."""
    return time.monotonic()


class Exchange:
    """One HTTP request on the connection and the answer it got; filled in as it goes."""

    def __init__(self, time, seq, peer="-"):
        self.waited_from = monotonic()   # fakecups begins waiting for the request ...
        self.head_done_at = None         # ... and its head is complete (head_timing)
        self.time = time
        self.seq = seq
        self.peer = peer
        self.head = None
        self.body_bytes = 0
        self.ipp = None                  # the decoded request Message, data stripped
        self.ipp_error = None
        self.document_bytes = 0
        self.document_sha256 = None
        self.http_status = None
        self.answer = None
        self.error = None
        self.alerts = []                 # the ids of the indicators it tripped, once recorded
        self.indicator_cache = None      # request_attributes() and client_text(), once each
        self.text_cache = None

    def head_done(self, now):
        """The head is complete: the record's time is now, and the head's timing ends."""
        self.time = now
        self.head_done_at = monotonic()

    def head_timing(self):
        """(bytes, seconds) of the request head: its request line and header fields as parsed,
        with their CRLFs, and the time from when fakecups began waiting for it until it was
        complete (until now, if it never was).  For a later request on a keep-alive
        connection that time includes the pause before it."""
        head = self.head
        size = 0
        if head is not None and head.line:
            size = len(head.line) + 2 + sum(len(k) + len(v) + 4 for k, v in head.headers)
        if self.head_done_at is not None:
            size += 2
        return size, (self.head_done_at or monotonic()) - self.waited_from


class ConnectionRecord:
    def __init__(self, time, peer, pid):
        self.time = time
        self.peer = peer
        self.pid = pid
        self.exchanges = []
        self.error = None
        self.local = None                # (address, port) fakecups was reached on, if known
        self.sensor = None               # this sensor's name (--sensor), if given

    @property
    def first_line(self):
        first = self.exchanges[0].head if self.exchanges else None
        return first.line if first is not None else None

    @property
    def needs_own_record(self):
        """A connection with no request, or one that failed, is a record of its own."""
        return not self.exchanges or self.error is not None


def parse_authorization(value):
    """(scheme, user, secret given?) from an Authorization value; the secret is never kept."""
    scheme, credentials = (value.split(None, 1) + ["", ""])[:2]
    credentials = credentials.strip()
    if scheme.lower() != "basic":
        return scheme, None, bool(credentials)
    import binascii
    try:
        decoded = binascii.a2b_base64(credentials.encode("latin-1")).decode("utf-8", "surrogateescape")
    except (ValueError, UnicodeEncodeError):
        return scheme, None, bool(credentials)
    user, _, password = decoded.partition(":")
    return scheme, user, bool(password)


SECRET_HEADERS = ("authorization", "proxy-authorization")


def _redact(headers):
    return [(k, (v.split(None, 1) or [""])[0] + " [redacted]") if k.lower() in SECRET_HEADERS
            else (k, v) for k, v in headers]


def _plain_attribute(attribute):
    values = attribute.values[:LOG_VALUES_PER_ATTRIBUTE]
    syntaxes = []
    for tag, value in values:
        name = syntax_name(tag, value)
        if name not in syntaxes:
            syntaxes.append(name)
    result = {"name": escape(attribute.name), "syntax": "|".join(syntaxes),
              "values": [plain_value(tag, value) for tag, value in values]}
    if len(attribute.values) > len(values):
        result["values_omitted"] = len(attribute.values) - len(values)
    return result


def _plain_group(group):
    shown = group.attributes[:LOG_ATTRIBUTES_PER_GROUP]
    result = {"tag": code_name(GROUP_TAGS, group.tag),
              "attributes": [_plain_attribute(a) for a in shown]}
    if len(group.attributes) > len(shown):
        result["attributes_omitted"] = len(group.attributes) - len(shown)
    return result


def _plain_ipp(exchange):
    if exchange.ipp is None:
        return {"error": exchange.ipp_error} if exchange.ipp_error is not None else None
    message = exchange.ipp
    return {"version": "%d.%d" % message.version,
            "operation": code_name(OPERATIONS, message.code),
            "operation_id": "0x%04x" % message.code,
            "request_id": message.request_id,
            "groups": [_plain_group(g) for g in message.groups],
            "document_bytes": exchange.document_bytes,
            "document_sha256": exchange.document_sha256}


def _plain_auth(head):
    authorization = head.header("Authorization") if head else None
    if authorization is None:
        return None
    scheme, user, secret = parse_authorization(authorization)
    return {"scheme": escape(scheme), "user": None if user is None else escape(user),
            "password_given": secret}


def _plain_response(exchange):
    answer = exchange.answer
    ipp_status = answer.ipp_status if answer is not None else None
    text = answer.status_message if answer is not None else None
    return {"http_status": exchange.http_status,
            "ipp_status": code_name(STATUS_CODES, ipp_status) if ipp_status is not None else None,
            "status_message": escape(text) if text else None}


def plain_exchange(connection, exchange):
    """Everything a record says about one request, as plain data (JSON-ready)."""
    head = exchange.head
    return {
        "time": rfc3339(exchange.time), "peer": connection.peer, "pid": connection.pid,
        "seq": exchange.seq,
        "request": escape(head.line) if head else None,
        "method": escape(head.method) if head else None,
        "target": escape(head.target) if head else None,
        "version": escape(head.version) if head else None,
        "headers": [[escape(k), escape(v)] for k, v in _redact(head.headers)] if head else [],
        "auth": _plain_auth(head),
        "body_bytes": exchange.body_bytes,
        "ipp": _plain_ipp(exchange),
        "response": _plain_response(exchange),
        "error": escape(exchange.error) if exchange.error else None,
        "alerts": alerts_for("request", exchange),
    } | _plain_head_timing(exchange)


def _plain_head_timing(exchange):
    """How fast the request head came: bytes, seconds, bytes per second (None when too fast
    to time)."""
    size, seconds = exchange.head_timing()
    return {"head_bytes": size, "head_seconds": round(seconds, 3),
            "head_bytes_per_second": int(size / seconds) if seconds >= 0.001 else None}


def plain_connection(connection):
    """The record of a connection that carried no complete request (e.g. lpstat -r)."""
    return {"time": rfc3339(connection.time), "peer": connection.peer, "pid": connection.pid,
            "seq": 0, "request": None, "method": None, "target": None, "version": None,
            "headers": [], "auth": None, "body_bytes": 0, "ipp": None,
            "response": {"http_status": None, "ipp_status": None, "status_message": None},
            "error": escape(connection.error or "no request"), "alerts": []}


def alert_tag(ids):
    """The short tag of a record's alerts for one-line forms (classic, syslog); "" if none."""
    return "alerts=" + ",".join(ids) if ids else ""


def summary(plain):
    """One line for syslog and the text format: what was asked and what it got."""
    if plain.get("transport") == "udp":
        return " ".join(filter(None, ("%s udp %s" % (plain["peer"], _udp_summary(plain["udp"])),
                                      alert_tag(plain.get("alerts")))))
    ipp = plain["ipp"] or {}
    response = plain["response"]
    parts = [plain["peer"], plain["request"] or "-"]
    if ipp.get("operation"):
        parts.append("%s request-id=%s" % (ipp["operation"], ipp["request_id"]))
    if plain["auth"]:
        parts.append("auth=%s user=%s" % (plain["auth"]["scheme"], plain["auth"]["user"]))
    parts.append("-> %s" % (response["http_status"] or "no answer"))
    if response["ipp_status"]:
        parts.append(response["ipp_status"])
    if plain["error"]:
        parts.append("error: %s" % plain["error"])
    if plain.get("alerts"):
        parts.append(alert_tag(plain["alerts"]))
    return " ".join(str(p) for p in parts)


def _udp_summary(udp):
    if "flood" in udp:
        return "flood of %d datagrams" % udp["flood"]["datagrams"]
    if udp["problem"]:
        return "%d bytes, %s" % (udp["bytes"], udp["problem"])
    return "browse %s %s%s" % (udp["uri"]["text"], udp["state"]["name"],
                               " flags=" + ",".join(udp["flags"]) if udp["flags"] else "")


class LogFormat:
    """One log format: the text written as each request is answered (exchange) and when the
    connection ends (connection), and the line syslog gets.  One instance per connection."""

    def exchange(self, connection, plain):
        return ""

    def connection(self, connection):
        return ""

    def datagram(self, plain):
        """What one UDP record (a browse packet or a flood summary) writes."""
        return ""

    def syslog_line(self, plain):
        return summary(plain)


class JsonFormat(LogFormat):
    """JSON Lines: one object per request as soon as it is answered, so a killed connection
    keeps what it answered; one for a connection that carried none or failed."""

    def exchange(self, connection, plain):
        return to_json(plain) + "\n"

    def connection(self, connection):
        return to_json(plain_connection(connection)) + "\n" if connection.needs_own_record else ""

    def datagram(self, plain):
        return to_json(plain) + "\n"

    def syslog_line(self, plain):
        return to_json(plain)


class ClassicFormat(LogFormat):
    """The original logger's three lines: Connection, the date, the first request line
    (for a datagram: Datagram, the date, the packet's first line); a fourth, the alert tag,
    only when an indicator matched."""

    def connection(self, connection):
        lines = ["Connection", c_locale_date(connection.time)]
        if connection.first_line is not None:
            lines.append(escape(connection.first_line, MAX_REQUEST_LINE))
        ids = []
        for exchange in connection.exchanges:
            ids.extend(i for i in exchange.alerts if i not in ids)
        if ids:
            lines.append(alert_tag(ids))
        return "\n".join(lines) + "\n"

    def datagram(self, plain):
        udp = plain["udp"]
        first = udp.get("packet", "").split("\\n", 1)[0] if "flood" not in udp else \
            "flood: %d datagrams" % udp["flood"]["datagrams"]
        tag = alert_tag(plain.get("alerts"))
        return "Datagram\n%s\n%s\n%s" % (plain["time"], first, tag + "\n" if tag else "")


class TextFormat(ClassicFormat):
    """The classic lines, then every request indented below them, in one write per
    connection; each request is formatted when answered, so memory stays flat."""

    def __init__(self):
        self.requests = []

    def exchange(self, connection, plain):
        self.requests.append(_text_request(plain))
        return ""

    def datagram(self, plain):
        lines = _text_datagram(plain) + _text_alerts(plain.get("alerts"), "")
        return "Datagram\n" + "".join("  %s\n" % line for line in lines)

    def connection(self, connection):
        text = super().connection(connection) + "  peer %s pid %d\n" % (connection.peer, connection.pid)
        text += "".join(self.requests)
        if connection.error or not connection.exchanges:
            text += "  connection: %s\n" % escape(connection.error or "no request")
        return text


def _text_datagram(plain):
    udp = plain["udp"]
    lines = ["udp from %s at %s, pid %d, seq %d" % (plain["peer"], plain["time"], plain["pid"], plain["seq"])]
    if "flood" in udp:
        flood = udp["flood"]
        return lines + ["flood: %d more datagrams, %d bytes, %s to %s (not recorded one by one)"
                        % (flood["datagrams"], flood["bytes"], flood["first"], flood["last"])]
    lines.append("packet: %d bytes%s: '%s'" % (udp["bytes"], " (cut)" if udp["cut"] else "", udp["packet"]))
    if udp["problem"]:
        return lines + [udp["problem"]]
    uri = udp["uri"]
    lines.append("browse: type %s (%s), state %s (%s)" % (
        udp["type"]["value"], ", ".join(udp["type"]["bits"]), udp["state"]["value"], udp["state"]["name"]))
    lines.append("uri: %s (scheme %s, host %s, port %s, path %s)" % (
        uri["text"], uri["scheme"] or "-", uri["host"] or "-", uri["port"] or "-", uri["path"]))
    for key in ("location", "info", "make_and_model", "rest"):
        if udp[key] is not None:
            lines.append("%s: '%s'" % (key.replace("_", "-"), udp[key]))
    lines.extend("option %s = '%s'" % item for item in udp["options"].items())
    if udp["flags"]:
        lines.append("flags: %s" % ", ".join(udp["flags"]))
    return lines


def _text_value(plain):
    if isinstance(plain, str):
        return "'%s'" % plain
    if isinstance(plain, (dict, list)):
        return to_json(plain)
    return str(plain).lower() if isinstance(plain, bool) else str(plain)


def _text_ipp(ipp):
    if "error" in ipp:
        return ["    ipp: undecodable: %s" % ipp["error"]]
    lines = ["    ipp %s %s (%s) request-id %s" % (
        ipp["version"], ipp["operation"], ipp["operation_id"], ipp["request_id"])]
    for group in ipp["groups"]:
        lines.append("      %s" % group["tag"])
        for attribute in group["attributes"]:
            values = ", ".join(_text_value(v) for v in attribute["values"])
            if attribute.get("values_omitted"):
                values += " ... (+%d more)" % attribute["values_omitted"]
            lines.append("        %s (%s) = %s" % (attribute["name"], attribute["syntax"], values))
        if group.get("attributes_omitted"):
            lines.append("        ... (+%d more attributes)" % group["attributes_omitted"])
    if ipp["document_bytes"]:
        lines.append("    document: %d bytes sha256 %s" % (ipp["document_bytes"], ipp["document_sha256"]))
    return lines


def _text_request(plain):
    """The indented lines of one request in the text format."""
    lines = ["  request %d at %s: %s" % (plain["seq"], plain["time"], plain["request"] or "-")]
    lines.extend("    %s: %s" % (k, v) for k, v in plain["headers"])
    if plain["auth"]:
        lines.append("    auth: %s user %s, password %s" % (
            plain["auth"]["scheme"], plain["auth"]["user"],
            "given (not recorded)" if plain["auth"]["password_given"] else "not given"))
    lines.append("    body: %d bytes" % plain["body_bytes"])
    if plain["ipp"]:
        lines.extend(_text_ipp(plain["ipp"]))
    response = plain["response"]
    answer = "    answer: HTTP %s" % (response["http_status"] or "none")
    if response["ipp_status"]:
        answer += ", IPP %s" % response["ipp_status"]
    if response["status_message"]:
        answer += " \"%s\"" % response["status_message"]
    lines.append(answer)
    if plain["error"]:
        lines.append("    error: %s" % plain["error"])
    lines.extend(_text_alerts(plain["alerts"], "    "))
    return "\n".join(lines) + "\n"


def _text_alerts(ids, indent):
    """The alerts: line of the text format, each id with its advisory."""
    if not ids:
        return []
    advisories = {row.id: row.advisory for row in INDICATORS}
    return [indent + "alerts: " + ", ".join("%s (%s)" % (i, advisories.get(i, "?")) for i in ids)]


class IpphoneyFormat(LogFormat):
    """The JSON events of ipphoney, the IPP honeypot T-Pot runs, field for field, so that
    fakecups takes its place with no change to T-Pot's pipeline: one event per request,
    ipphoney.<operation> for IPP requests and ipphoney.connect for the rest (and for a
    connection that sent no request).  UDP records, which ipphoney has no event for, are
    written as JSON records."""

    def exchange(self, connection, plain):
        return to_json(ipphoney_event(connection, plain)) + "\n"

    def connection(self, connection):
        if connection.exchanges:
            return ""
        return to_json(ipphoney_event(connection, plain_connection(connection))) + "\n"

    def datagram(self, plain):
        return to_json(plain) + "\n"


def ipphoney_event(connection, plain):
    """An ipphoney event (its core/protocol.py report_event) from a record's plain data:
    keys in its order, its operation, group and syntax names, its value formats."""
    names = _ipphoney_names()
    ipp = plain["ipp"] if plain["ipp"] and "version" in plain["ipp"] else None
    operation = names.get(int(ipp["operation_id"], 16)) if ipp else None
    event = {"eventid": "ipphoney." + operation.lower() if operation else "ipphoney.connect"}
    if operation:
        event["operation"] = operation
    event["timestamp"] = plain["time"][:-1] + "000Z"     # isoformat(): microseconds
    if plain["target"] is not None:
        target = plain["target"]
        event["url"] = escape(percent_decode(target)) if "%" in target else target
    event["src_ip"], event["src_port"] = _host_and_port(connection.peer)
    local_ip, local_port = connection.local or ("127.0.0.1", 631)    # ipphoney's own fallbacks
    event.update(dst_port=local_port, sensor=connection.sensor or os.uname().nodename)
    if plain["method"] is not None:
        event["request"] = plain["method"]
    if ipp and ipp["document_bytes"]:
        event.update(filename=ipp["document_sha256"], filesize=ipp["document_bytes"],
                     sha256=ipp["document_sha256"])
    if ipp:
        event["query"] = _ipphoney_query(ipp, operation, names)
    agents = [v for k, v in plain["headers"] if k.lower() == "user-agent"]
    if agents:
        event["user_agent"] = agents[-1]
    event["dst_ip"] = local_ip
    return event


def _ipphoney_names():
    """ipphoney's operation names (core/data.py): CUPS's, Print-Uri and Send-Uri spelled so,
    and three more."""
    names = dict(OPERATIONS)
    names.update({0x0003: "Print-Uri", 0x0007: "Send-Uri", 0x001D: "Send-Notifications",
                  0x001F: "Get-Resource-Data", 0x0021: "Get-Printer-Support-Files"})
    return names


def _host_and_port(peer):
    """("1.2.3.4", 5678) from "1.2.3.4:5678" or "[::1]:5678"; port 0 when there is none."""
    if peer.startswith("["):
        host, _, port = peer[1:].partition("]")
        port = port[1:]
    elif peer.count(":") == 1:
        host, _, port = peer.partition(":")
    else:
        host, port = peer, ""
    return host, int(port) if port.isdigit() else 0


def _ipphoney_query(ipp, operation, names):
    query = {"version": ipp["version"], "request_id": "%08X" % (ipp["request_id"] & 0xFFFFFFFF)}
    if operation is None:
        return query                    # ipphoney stops at an operation it does not know
    query["operation"] = operation
    query["groups"] = [
        {"group_type": "-".join(word.capitalize() for word in group["tag"].split("-")),
         "attributes": [_ipphoney_attribute(a, names) for a in group["attributes"]]}
        for group in ipp["groups"]]
    return query


IPPHONEY_SYNTAXES = {"naturalLanguage": "language", "delete-attribute": "deleteAttribute",
                     "admin-define": "adminDefine"}


def _ipphoney_attribute(attribute, names):
    syntax = attribute["syntax"].split("|")[0]
    return {"attribute_type": IPPHONEY_SYNTAXES.get(syntax, syntax),
            "attribute_name": attribute["name"],
            "attribute_value": [_ipphoney_value(syntax, v, names) for v in attribute["values"]]}


def _ipphoney_value(syntax, value, names):
    """A value as ipphoney writes it: integers unsigned, booleans, ranges, resolutions and
    dates as text, enums through its operation table (as it does), "''" for an empty string."""
    if isinstance(value, bool) or syntax == "boolean":
        return "true" if value else "false"
    if isinstance(value, int):
        value &= 0xFFFFFFFF
        return (names.get(value) or "%04X" % value) if syntax == "enum" else value
    if isinstance(value, dict):
        if "lower" in value:
            return "%d-%d" % (value["lower"] & 0xFFFFFFFF, value["upper"] & 0xFFFFFFFF)
        if "units" in value:
            return "%d%s" % (value["x"] & 0xFFFFFFFF, "dpi" if value["units"] == "dpi" else "dpcm")
        if "text" in value and "language" in value:      # the value's bytes, lengths and all
            return "".join(_length_prefixed(value[key]) for key in ("language", "text"))
        return "{%s}" % " ".join("%s=%s" % (name, ",".join(str(_ipphoney_value(None, v, names))
                                                             for v in values))
                                 for name, values in value.items())
    if syntax in ("unknown", "no-value"):
        return syntax
    if syntax == "dateTime":
        return value[:19] + "Z"
    if syntax == "octetString" and "." not in value:     # the bytes as text, unless cut
        value = bytes.fromhex(value).decode("utf-8", "replace")
    return value or "''"


def _length_prefixed(text):
    size = len(text.encode("utf-8", "surrogateescape"))
    return chr(size >> 8) + chr(size & 0xFF) + text


FORMATS = {"text": TextFormat, "json": JsonFormat, "classic": ClassicFormat, "ipphoney": IpphoneyFormat}


# Records read back (--report): JSON Lines as --format json writes them, one line at a time.
# Only --report runs this code and every connection would pay to unmarshal it (about 0.1 ms of
# start-up), so it is kept as source text and compiled into the module when --report starts
# (load_report); its lines keep their numbers in this file for tracebacks.
#
# A request record is read by position, the way to_json lays it out: inside a JSON string
# every quote is escaped, so `,"key":` can only ever be a key, and the keys come in
# plain_exchange's order.  Anything laid out otherwise (UDP records, other versions, other
# writers) is parsed with json.  Values stay the JSON-escaped bytes of the line until printed.

REPORT_LINE = sys._getframe().f_lineno + 1
REPORT_SOURCE = r'''
import re

REPORT_TOP = 10                      # rows per table
REPORT_MAX_KEYS = 100000             # distinct values kept per table; later ones count as others
REPORT_MAX_DIGESTS = 1000000         # distinct documents told apart; beyond, "at least"


def record_fields(line):
    """(kind, time, peer, source host, pid, seq, target, user agent, operation, document bytes,
    sha256, alert ids, udp callback host) of a JSON record line, as the JSON-escaped bytes the
    line holds (pid and seq as digits); None if the line is not a record."""
    return _fields_by_position(line) or _fields_parsed(line)


_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
REQUEST_PREFIX = re.compile(
    rb'\{"time":"([^"]{24})","peer":"((\[[^\]"]*\]|[^":]*)[^"]*)","pid":(\d+),"seq":(\d+),'
    rb'"request":(?:null|%s),"method":(?:null|%s),"target":(?:null|"([^"\\]*(?:\\.[^"\\]*)*)"),'
    rb'"version":(?:null|%s),"headers":\[' % (_STRING, _STRING, _STRING))


def _fields_by_position(line):
    match = REQUEST_PREFIX.match(line)
    if match is None:
        return None
    find = line.find
    headers_at = match.end()
    auth_at = find(b'],"auth":', headers_at)
    ipp_at = find(b',"ipp":', auth_at)
    response_at = line.rfind(b',"response":{')
    if auth_at < 0 or ipp_at < 0 or response_at < ipp_at:
        return None
    agent = line.rfind(b'["User-Agent","', headers_at, auth_at)
    if agent < 0:                       # spelt otherwise, or none
        agent = line.lower().rfind(b'["user-agent","', headers_at, auth_at)
    if agent >= 0:
        end = find(b'"],["', agent, auth_at)
        agent = line[agent + 15:end if end >= 0 else auth_at - 2]
    else:
        agent = None
    operation, size, digest = None, 0, None
    if line[ipp_at + 7:ipp_at + 19] == b'{"version":"':
        at = find(b'","operation":"', ipp_at) + 15
        operation = line[at:find(b'"', at)]
        at = line.rfind(b',"document_bytes":', ipp_at, response_at) + 18
        if line[at] != 48:                              # not 0
            end = find(b',"document_sha256":', at)
            size = int(line[at:end])
            digest = line[end + 20:find(b'"', end + 20)] if line[end + 19] == 34 else None
    ids = ()
    alerts_at = find(b',"alerts":["', response_at)
    if alerts_at >= 0:
        ids = tuple(line[alerts_at + 12:find(b'"]', alerts_at)].split(b'","'))
    return (b"tcp",) + match.groups() + (agent, operation, size, digest, ids, None)


def _fields_parsed(line):
    import json
    try:
        record = json.loads(line)
        time, peer, pid, seq = record["time"], record["peer"], int(record["pid"]), int(record["seq"])
        ipp = record.get("ipp") if isinstance(record.get("ipp"), dict) else {}
        headers = record.get("headers") or ()
        agents = [v for k, v in headers if k == "User-Agent"] or [
            v for k, v in headers if str(k).lower() == "user-agent"]
        udp = record.get("udp") if isinstance(record.get("udp"), dict) else None
        uri = udp.get("uri") if udp is not None and isinstance(udp.get("uri"), dict) else {}
        size = int(ipp.get("document_bytes") or 0)
        ids = tuple(_as_in_line(i) for i in record.get("alerts") or () if isinstance(i, str))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(time, str) or not isinstance(peer, str):
        return None
    peer = _as_in_line(peer)
    host = peer[:peer.find(b"]") + 1] if peer[:1] == b"[" else peer.partition(b":")[0]
    return (b"udp" if udp is not None else b"tcp", _as_in_line(time), peer, host, b"%d" % pid,
            b"%d" % seq, _as_in_line(record.get("target")), _as_in_line(agents[-1]) if agents else None,
            _as_in_line(ipp.get("operation")), size, _as_in_line(ipp.get("document_sha256")), ids,
            _as_in_line(uri.get("host")))


def _as_in_line(text):
    """A string as a record line holds it (JSON-escaped bytes), None for anything else."""
    return to_json(text)[1:-1].encode("utf-8", "surrogateescape") if isinstance(text, str) else None


def _tally_key(table, key):
    """Count key in table unless the table is full; whether it was counted."""
    if key in table:
        table[key] += 1
    elif len(table) < REPORT_MAX_KEYS:
        table[key] = 1
    else:
        return False
    return True


class ReportTally:
    """What --report counts, folded one record at a time; every table is bounded."""

    def __init__(self):
        self.lines = self.records = self.connections = self.requests = self.datagrams = 0
        self.first, self.last = b"\xff", b""
        self.sources = {}            # host -> [connections, requests, datagrams]
        self.operations, self.paths, self.agents, self.callbacks = {}, {}, {}, {}
        self.others = {}             # table name -> records counted as others
        self.alerts = {}             # id -> [count, first seen, last seen]
        self.documents = self.document_bytes = 0
        self.digests = set()
        self.recent, self.older = set(), set()   # (pid, peer) of connections that had requests

    def other(self, table):
        self.others[table] = self.others.get(table, 0) + 1

    def add(self, fields):
        kind, time, peer, host, pid, seq, target, agent, operation, size, digest, ids, callback = fields
        self.records += 1
        if time > self.last:
            self.last = time
        if time < self.first:
            self.first = time
        source = self.sources.get(host)
        if source is None:
            source = [0, 0, 0]
            if len(self.sources) < REPORT_MAX_KEYS:
                self.sources[host] = source
            else:
                self.other("sources")
        if ids:
            self.add_alerts(ids, time)
        if kind == b"udp":
            self.datagrams += 1
            source[2] += 1
            if callback is not None:
                _tally_key(self.callbacks, callback) or self.other("udp callbacks")
            return
        if seq == b"0":              # a connection's own record: new unless it had requests
            if (pid, peer) not in self.recent and (pid, peer) not in self.older:
                self.connections += 1
                source[0] += 1
            return
        if seq == b"1":
            self.connections += 1
            source[0] += 1
            self.recent.add((pid, peer))
            if len(self.recent) > 4096:
                self.older, self.recent = self.recent, set()
        self.requests += 1
        source[1] += 1
        if target is not None:
            _tally_key(self.paths, target.partition(b"?")[0]) or self.other("paths")
        if agent is not None:
            _tally_key(self.agents, agent) or self.other("user agents")
        if operation is not None:
            _tally_key(self.operations, operation) or self.other("operations")
        if size:
            self.documents += 1
            self.document_bytes += size
            if digest is not None and len(self.digests) < REPORT_MAX_DIGESTS:
                self.digests.add(int(digest[:16], 16))

    def add_alerts(self, ids, time):
        for alert in ids:
            seen = self.alerts.get(alert)
            if seen is None:
                self.alerts[alert] = [1, time, time]
            else:
                seen[0] += 1
                seen[1] = min(seen[1], time)
                seen[2] = max(seen[2], time)


def _shown(raw):
    """A JSON-escaped value from a record line as text."""
    import json
    try:
        return json.loads(b'"' + raw + b'"')
    except ValueError:
        return raw.decode("utf-8", "replace")


def _top(table, key=None):
    return sorted(table.items(), key=key or (lambda item: -item[1]))[:REPORT_TOP]


def report_summary(tally, files):
    """What --report says, as plain data (the json form prints it as it is)."""
    advisories = {row.id: row.advisory for row in INDICATORS}
    by_counts = _top(tally.sources, lambda item: [-n for n in item[1]])
    summary = {"files": files, "lines": tally.lines, "records": tally.records,
               "not_records": tally.lines - tally.records,
               "first": _shown(tally.first) if tally.records else None,
               "last": _shown(tally.last) if tally.records else None,
               "connections": tally.connections, "requests": tally.requests,
               "datagrams": tally.datagrams, "distinct_sources": len(tally.sources),
               "sources": [{"host": _shown(host).strip("[]"), "connections": c, "requests": r,
                            "datagrams": d} for host, (c, r, d) in by_counts]}
    for name, table in (("operations", tally.operations), ("paths", tally.paths),
                        ("user_agents", tally.agents)):
        summary["distinct_" + name] = len(table)
        summary[name] = [{"name": _shown(key), "count": n} for key, n in _top(table)]
    summary["alerts"] = [
        {"id": _shown(key), "advisory": advisories.get(_shown(key)), "count": n,
         "first_seen": _shown(first), "last_seen": _shown(last)}
        for key, (n, first, last) in sorted(tally.alerts.items(), key=lambda item: -item[1][0])]
    summary["documents"] = {"count": tally.documents, "bytes": tally.document_bytes,
                            "distinct_sha256": len(tally.digests),
                            "distinct_at_least": len(tally.digests) >= REPORT_MAX_DIGESTS}
    summary["udp_callbacks"] = [{"host": _shown(key), "datagrams": n} for key, n in _top(tally.callbacks)]
    summary["counted_as_others"] = dict(tally.others)
    return summary


def report_text(summary):
    """The summary as plain aligned text."""
    lines = ["fakecups report: " + ", ".join(
        "%s (%s lines%s)" % (f["path"], _n(f["lines"]), "; " + f["problem"] if f["problem"] else "")
        for f in summary["files"])]
    if summary["not_records"]:
        lines.append("%s lines were not records and were skipped" % _n(summary["not_records"]))
    lines.append("time span    %s to %s" % (summary["first"] or "-", summary["last"] or "-"))
    lines.append("connections  %s   requests  %s   udp datagrams  %s" % (
        _n(summary["connections"]), _n(summary["requests"]), _n(summary["datagrams"])))
    lines += _text_table("top sources (%s)" % _n(summary["distinct_sources"]),
                         ["connections", "requests", "datagrams"],
                         [(s["host"], s["connections"], s["requests"], s["datagrams"])
                          for s in summary["sources"]])
    for name, title in (("operations", "operations"), ("paths", "paths"), ("user_agents", "user agents")):
        lines += _text_table("%s (%s)" % (title, _n(summary["distinct_" + name])), ["requests"],
                             [(row["name"], row["count"]) for row in summary[name]])
    lines += _text_table("alerts", ["count", "first seen", "last seen", "advisory"],
                         [(a["id"], a["count"], a["first_seen"], a["last_seen"], a["advisory"] or "?")
                          for a in summary["alerts"]]) or ["", "alerts: none"]
    documents = summary["documents"]
    lines += ["", "documents    %s, %s bytes, %s%s distinct sha256" % (
        _n(documents["count"]), _n(documents["bytes"]),
        "at least " if documents["distinct_at_least"] else "", _n(documents["distinct_sha256"]))]
    lines += _text_table("udp callbacks by target host", ["datagrams"],
                         [(row["host"], row["datagrams"]) for row in summary["udp_callbacks"]])
    for table, count in summary["counted_as_others"].items():
        lines.append("(%s: %s records beyond %s distinct values were counted as others)"
                     % (table, _n(count), _n(REPORT_MAX_KEYS)))
    return "\n".join(lines) + "\n"


def _n(number):
    return "{:,}".format(number)


def _text_table(title, headers, rows):
    """A blank line, the title and the column headers, then the rows indented: numbers to the
    right, text to the left; nothing when there are no rows.  Record text is escaped."""
    if not rows:
        return []
    cells = [[escape(str(row[0]), 60)] + [_n(c) if isinstance(c, int) else escape(str(c), 60)
                                          for c in row[1:]] for row in rows]
    widths = [max(len(title) - 2, *(len(row[0]) for row in cells))]
    widths += [max(len(h), *(len(row[i + 1]) for row in cells)) for i, h in enumerate(headers)]
    numeric = [isinstance(value, int) for value in rows[0][1:]]

    def line(first, rest):
        return first.ljust(widths[0] + 2) + "".join(
            "  " + (c.rjust(w) if right else c.ljust(w)) for c, w, right in zip(rest, widths[1:], numeric))
    return [""] + [line(title, headers).rstrip()] + [line("  " + row[0], row[1:]).rstrip() for row in cells]


def read_log(path, tally):
    """Fold every record of the log at path into tally; None, or why it could not be read."""
    try:
        with open(path, "rb") as raw:
            if raw.read(2) == b"\x1f\x8b":
                import gzip
                raw.seek(0)
                with gzip.open(raw) as lines:
                    return _fold_lines(lines, tally)
            raw.seek(0)
            return _fold_lines(raw, tally)
    except (OSError, EOFError) as error:
        return "cannot read: %s" % (os_error_text(error) if isinstance(error, OSError) else error)


def _fold_lines(lines, tally):
    add, fields_of = tally.add, record_fields
    read = 0
    for line in lines:
        read += 1
        fields = fields_of(line)
        if fields is not None:
            add(fields)
        elif read == 1 and not line.lstrip().startswith(b"{"):
            tally.lines += read
            return ("not JSON Lines (the text or classic format?): --report reads what "
                    "--format json writes")
    tally.lines += read
    return None
'''


def load_report():
    """Define the report's functions and ReportTally in this module, once."""
    if "ReportTally" not in globals():
        exec(compile("\n" * (REPORT_LINE - 1) + REPORT_SOURCE, __file__, "exec"), globals())


# ── Sinks: each record is one write(); a failing sink never stops the answer ────────────

def open_log(path):
    """The log fd: appended to, never through a symlink, only a regular file."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                 | os.O_NOCTTY | os.O_NONBLOCK, 0o640)
    mode = os.fstat(fd).st_mode
    if mode & 0o170000 != 0o100000:
        os.close(fd)
        raise OSError("%s is not a regular file" % path)
    return fd


class Recorder:
    """Sends what the log format writes where the options say: a log fd, syslog, or both.
    A write that fails is reported to syslog together with the record, so no record is
    lost silently."""

    def __init__(self, fmt, log_fd=None, log_name=None, use_syslog=False, log_error=None):
        self.format = FORMATS[fmt]() if isinstance(fmt, str) else fmt
        self.log_fd = log_fd
        self.log_name = log_name
        self.use_syslog = use_syslog
        self.pending_error = log_error

    def _write(self, text):
        if not text:
            return
        if self.log_fd is None:
            if self.pending_error is not None:
                self._syslog_failure(self.pending_error, text)
            return
        try:
            write_all(self.log_fd, text.encode("utf-8", "surrogateescape"))
        except OSError as error:
            self._syslog_failure("cannot write %s: %s" % (self.log_name, error.strerror or error), text)

    def _syslog_failure(self, problem, text):
        _syslog(3, "%s; record follows: %s" % (problem, text.rstrip("\n").replace("\n", " | ")))

    def exchange_done(self, connection, exchange):
        plain = plain_exchange(connection, exchange)
        exchange.alerts = plain["alerts"]
        if self.use_syslog:
            _syslog(6, self.format.syslog_line(plain))
        self._write(self.format.exchange(connection, plain))
        exchange.ipp = None     # keep the rendered record, not the message: memory stays flat

    def datagram_done(self, plain):
        plain["alerts"] = alerts_for("udp", plain)
        if self.use_syslog:
            _syslog(6, self.format.syslog_line(plain))
        self._write(self.format.datagram(plain))

    def connection_done(self, connection):
        if self.use_syslog and connection.needs_own_record:
            _syslog(6, self.format.syslog_line(plain_connection(connection)))
        self._write(self.format.connection(connection))


_syslog_open = False


def _syslog(priority, text):
    """priority 3 = err, 6 = info, facility daemon; syslog is imported only when used."""
    global _syslog_open
    import syslog
    if not _syslog_open:
        syslog.openlog(IDENT, syslog.LOG_PID, syslog.LOG_DAEMON)
        _syslog_open = True
    syslog.syslog(priority, text.replace("\x00", "\\x00"))


# ── One connection: read, decode, decide, answer, record ────────────────────────────────

class Config:
    """What the options decide for a connection."""

    def __init__(self, persona=None, idle_timeout=DEFAULT_IDLE_TIMEOUT,
                 header_timeout=DEFAULT_HEADER_TIMEOUT, max_header_bytes=DEFAULT_MAX_HEADER_BYTES,
                 max_body_bytes=DEFAULT_MAX_BODY_BYTES, clock=time.time,
                 local_peer=True):
        self.persona = persona or EmptyPersona()
        self.local_peer = local_peer            # loopback client: cupsd's 401 hint differs
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.clock = clock


class Document:
    """The bytes after the IPP attributes, streamed once to whoever asks (a persona may store
    them); counted and hashed on the way, and drained if nobody asked."""

    def __init__(self, first, rest):
        self._first = first
        self._rest = rest
        self.digest = DocumentDigest()

    def __iter__(self):
        if self._first:
            chunk, self._first = self._first, b""
            self.digest.update(chunk)
            yield chunk
        for chunk in self._rest:
            self.digest.update(chunk)
            yield chunk

    def has_data(self):
        """Whether any document byte follows, reading no more than one chunk ahead."""
        if not self._first:
            self._first = next(iter(self._rest), b"")
        return bool(self._first)

    def drain(self):
        for _ in self:
            pass


def _counted(body, exchange):
    for chunk in body:
        exchange.body_bytes += len(chunk)
        yield chunk


def read_ipp(body):
    """Decode the attributes at the head of the body; returns the message, whose data is
    the document bytes that came with them.  Tries again on doubling sizes, so a large
    attribute block is parsed a few times, not once per chunk; the attributes must end
    within MAX_IPP_ATTRIBUTE_BYTES whatever the read sizes were."""
    parts = []
    size = 0
    attempt_at = 0
    for chunk in body:
        parts.append(chunk)
        size += len(chunk)
        if size < attempt_at:
            continue
        data = b"".join(parts)
        parts = [data]
        try:
            return _within_limit(decode_message(data), size)
        except Truncated:
            if size > MAX_IPP_ATTRIBUTE_BYTES:
                raise HttpError(413, "IPP attributes over %d bytes" % MAX_IPP_ATTRIBUTE_BYTES) from None
            attempt_at = min(size * 2, MAX_IPP_ATTRIBUTE_BYTES + 1)
    return _within_limit(decode_message(b"".join(parts)), size)


def _within_limit(message, size):
    if size - len(message.data) > MAX_IPP_ATTRIBUTE_BYTES:
        raise HttpError(413, "IPP attributes over %d bytes" % MAX_IPP_ATTRIBUTE_BYTES)
    return message


def _target_path(target):
    if "://" in target:
        target = uri_path(target)
    return target.split("?", 1)[0] or "/"


def _wants_ipp(head):
    content_type = (head.header("Content-Type") or "").split(";", 1)[0].strip().lower()
    return head.method == "POST" and content_type == "application/ipp"


def _send(send, data, exchange):
    try:
        send(data)
    except OSError as error:
        exchange.error = "answer not delivered: %s" % (error.strerror or error)
        raise ClientGone(exchange.error) from None


class Reply:
    """Builds the bytes of the answer to one request: the version, keep-alive and peer
    decide the headers; any pending 100 Continue goes out in the same write."""

    def __init__(self, head, config):
        self.head = head
        self.config = config
        self.preface = b""

    def __call__(self, status, payload=b"", content_type="text/html; charset=utf-8",
                 keep_alive=None, extra=(), last_modified=None):
        head, config = self.head, self.config
        if keep_alive is None:
            keep_alive = head.keep_alive and status < 400
        if status == 401:
            extra = [("WWW-Authenticate", self.challenge())]
        headers = cupsd_headers(config.clock(), keep_alive, config.idle_timeout, len(payload),
                                content_type, extra, last_modified, head.version == "HTTP/1.0",
                                config.persona.server_header)
        return self.preface + format_response(status, headers, payload, head.method == "HEAD",
                                              head.version)

    def error(self, status, keep_alive=None):
        return self(status, self.config.persona.error_page(status), keep_alive=keep_alive)

    def challenge(self):
        """Basic realm="CUPS", plus cupsd's ", Local trc="y"" hint for a non-browser on
        loopback (its login rules all name @SYSTEM)."""
        agent = self.head.header("User-Agent") or ""
        if self.config.local_peer and not agent.startswith("Mozilla/"):
            return 'Basic realm="CUPS", Local trc="y"'
        return 'Basic realm="CUPS"'


def serve_request(reader, send, exchange, config):
    """Read one request and answer it; returns whether the connection goes on."""
    head = exchange.head = RequestHead(b"", "", "", "", [])
    reply = Reply(head, config)
    try:
        if not read_request_head(reader, head, config.max_header_bytes,
                                 reader.clock() + config.header_timeout):
            exchange.head = None
            return False
        exchange.head_done(config.clock())
        framing = _check_request_head(head, config)
        _expect_continue(reader, send, head, exchange, reply)
        body = _counted(iter_body(reader, framing, config.max_body_bytes, lambda: None), exchange)
        if _wants_ipp(head):
            return _answer_ipp(body, head, exchange, config, send, reply)
        for _ in body:
            pass
        return _answer_web(head, exchange, config, send, reply)
    except HttpError as error:
        exchange.http_status = error.status
        exchange.error = str(error)
        _send(send, reply.error(error.status), exchange)
        return False
    finally:
        reader.before_wait = None           # a 100 Continue belongs to this request only


def _check_request_head(head, config):
    """What cupsd refuses before reading a body; returns the body's framing."""
    framing = body_length(head)
    if framing[0] == "length" and framing[1] > config.max_body_bytes:
        raise HttpError(413, "Content-Length %d over the %d byte limit"
                        % (framing[1], config.max_body_bytes))
    if not head.header("Host"):         # cupsd's valid_host() refuses an empty Host, any version
        raise HttpError(400, "request without Host")
    path = _target_path(head.target)
    problem = config.persona.path_problem(path) if head.method != "OPTIONS" else None
    if problem is not None:
        raise HttpError(problem, "path %s refused" % path[:200])
    return framing


def _expect_continue(reader, send, head, exchange, reply):
    """cupsd answers Expect: 100 with 100 Continue and refuses other numbers with 417.

    The 100 Continue is held back while the body keeps arriving without waiting (CUPS clients
    send it at once) and goes out with the answer in one write: a separate small write would
    stall 40 ms on Nagle's algorithm and delayed ACKs.  The moment a read would block (the
    client waits for it, as ipptool does before a document), it is sent on its own."""
    expect = head.header("Expect")
    if expect is None or head.version == "HTTP/1.0" or head.method not in ("POST", "PUT"):
        return
    number = atoi(expect)
    if number == 100:
        reply.preface = CONTINUE

        def send_continue():
            reply.preface = b""
            _send(send, CONTINUE, exchange)
        reader.before_wait = send_continue
    elif number:
        raise HttpError(417, "Expect: %s" % expect[:100])


def _answer_ipp(body, head, exchange, config, send, reply):
    try:
        message = read_ipp(body)
    except ParseError as error:
        exchange.ipp_error = str(error)
        raise HttpError(400, "IPP message does not decode: %s" % error) from None
    document = Document(message.data, body)
    message.data = b""
    exchange.ipp = message
    request = IppRequest(message, _target_path(head.target), head.header("Host") or "localhost",
                         exchange.peer)
    try:
        answer = exchange.answer = config.persona(request, document)
        document.drain()
    finally:
        exchange.document_bytes = document.digest.size
        exchange.document_sha256 = document.digest.hexdigest()
    exchange.http_status = answer.http_status
    if answer.message is None:
        _send(send, reply.error(answer.http_status), exchange)
        return False
    keep_alive = head.keep_alive and not answer.close
    _send(send, reply(200, encode_message(answer.message), "application/ipp", keep_alive), exchange)
    return keep_alive


PAGE_TIME = 1795392000          # 2026-11-23, when the built-in pages last changed


def _answer_web(head, exchange, config, send, reply):
    """OPTIONS, GET, HEAD, non-IPP POST and PUT, as cupsd's web side answers them."""
    method = head.method
    if method == "OPTIONS":
        status, data = 200, reply(200, b"", None)
    elif method in ("GET", "HEAD", "POST"):
        status, page, static = config.persona.web(method, _target_path(head.target))
        if page is None:
            raise HttpError(status, "%s %s" % (method, "refused" if status == 401 else "not found"))
        data = reply(status, page.encode(), last_modified=PAGE_TIME if static else None)
    elif method == "PUT":
        raise HttpError(403, "PUT refused")
    else:
        raise HttpError(501, "method %s not implemented" % method[:40])
    exchange.http_status = status
    _send(send, data, exchange)
    return head.keep_alive


def serve_connection(reader, send, connection, config, recorder):
    """Answer every request on the connection until it ends; always records it."""
    try:
        while True:
            exchange = Exchange(config.clock(), len(connection.exchanges) + 1, connection.peer)
            keep_going = False
            try:
                keep_going = serve_request(reader, send, exchange, config)
            except ClientGone as error:
                _note(connection, exchange, str(error))
            except (Terminated, KeyboardInterrupt):
                _note(connection, exchange, "terminated by signal")
            except Exception as error:        # our own bug: record it, answer 500 if we can
                _note(connection, exchange, "internal error: %s: %s" % (type(error).__name__, error))
                _answer_internal_error(send, exchange, config)
            finally:
                if exchange.head is not None and (exchange.head.line or exchange.error):
                    connection.exchanges.append(exchange)
                    recorder.exchange_done(connection, exchange)
            if not keep_going:
                return
    except (Terminated, KeyboardInterrupt):
        connection.error = connection.error or "terminated by signal"
    finally:
        recorder.connection_done(connection)


def _answer_internal_error(send, exchange, config):
    if exchange.http_status is None and exchange.head is not None:
        exchange.http_status = 500
        try:
            send(Reply(exchange.head, config).error(500, keep_alive=False))
        except OSError:
            pass


def serve_datagrams(receive, recorder, idle_timeout, lifetime, pid=0, clock=time.monotonic,
                    wall=time.time):
    """Record every datagram receive() brings until none came for idle_timeout or lifetime is
    over; a flood from one source is summarised.  Nothing is ever sent.  receive(timeout)
    gives (bytes, length, host, port) or None."""
    gate = FloodGate()
    end = clock() + lifetime
    seq = 0
    try:
        while True:
            timeout = min(idle_timeout, end - clock())
            got = receive(timeout) if timeout > 0 else None
            if got is None:
                return seq
            data, size, host, port = got
            seq += 1
            if gate.admit(host, size, clock()):
                udp = plain_packet(parse_browse_packet(data, size), host)
                recorder.datagram_done(plain_datagram(wall(), peer_text(host, str(port)), pid, seq, udp))
            _summaries(gate.due(clock()), recorder, pid, seq, clock, wall)
    except (Terminated, KeyboardInterrupt):
        return seq
    finally:
        _summaries(gate.due(clock(), final=True), recorder, pid, seq, clock, wall)


def _summaries(due, recorder, pid, seq, clock, wall):
    """Flood summaries as records; their times are on the wall clock like every record's."""
    offset = wall() - clock()
    for host, count, size, first, last in due:
        recorder.datagram_done(plain_datagram(wall(), peer_text(host), pid, seq,
                                              plain_flood(count, size, first + offset, last + offset)))


def _note(connection, exchange, text):
    if exchange.head is not None and exchange.head.line:
        exchange.error = exchange.error or text
    else:
        exchange.head = None
        connection.error = text


# ── Command line and main ────────────────────────────────────────────────────────────────

class UsageError(Exception):
    pass


def _positive_number(kind, zero=False):
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise UsageError("not a number: %r" % text) from None
        if not (value >= 0 if zero else value > 0):
            raise UsageError("must be %s 0: %r" % ("at least" if zero else "more than", text))
        return value
    return convert


def _queue_name(text):
    """A printer name as CUPS allows one: printable, no space, "/" or "#", under 128 bytes."""
    if not text or len(text.encode("utf-8", "surrogateescape")) >= 128 or any(
            c <= " " or c in "/#\x7f" for c in text):
        raise UsageError("%r is not a valid printer name" % text)
    return text


def _choice(table):
    """A converter accepting the keys of table as they are when the option is parsed."""
    def convert(text):
        if text not in table:
            raise UsageError("%r is not one of %s" % (text, ", ".join(table)))
        return text
    return convert


# Every option once: (names, value name or None for a flag, converter, default, help).
OPTIONS = (
    (("--log",), "PATH", str, None, "append records here (default $LOGS_DIRECTORY/fakecups.log, "
     "else %s); '-' = stderr, refused when stderr is the client's socket" % DEFAULT_LOG),
    (("--format",), "FORMAT", _choice(FORMATS), "text",
     "the log format: %(formats)s (json = one object per request)"),
    (("--syslog",), None, None, False, "also send each record to syslog (daemon, ident fakecups)"),
    (("--user",), "NAME", str, "nobody", "when started as root, serve as NAME after opening the log"),
    (("--persona",), "NAME", _choice(PERSONAS), "empty", "what to imitate: %(personas)s (empty = "
     "cupsd with no printers; printer = a virtual IPP Everywhere printer that keeps every job)"),
    (("--printer",), "NAME", _queue_name, DEFAULT_PRINTER, "the printer persona's queue name"),
    (("--spool",), "DIR", str, None,
     "where the printer keeps jobs (default $STATE_DIRECTORY, else %s)" % DEFAULT_SPOOL),
    (("--max-job-bytes",), "N", _positive_number(int), DEFAULT_MAX_BODY_BYTES,
     "a larger job is aborted: client-error-request-entity-too-large"),
    (("--max-spool-bytes",), "N", _positive_number(int), DEFAULT_MAX_SPOOL_BYTES,
     "a fuller spool refuses documents: server-error-busy"),
    (("--pages-per-minute",), "N", _positive_number(int, zero=True), DEFAULT_PAGES_PER_MINUTE,
     "how fast the printer persona prints (its pages-per-minute): a job is pending, then "
     "processing for its pages' time, then completed; 0 = completed the moment it arrives"),
    (("--idle-timeout",), "SEC", _positive_number(float), DEFAULT_IDLE_TIMEOUT,
     "end the connection after SEC seconds with no byte"),
    (("--header-timeout",), "SEC", _positive_number(float), DEFAULT_HEADER_TIMEOUT,
     "deadline for a whole request head"),
    (("--max-header-bytes",), "N", _positive_number(int), DEFAULT_MAX_HEADER_BYTES,
     "request head limit, answered with 431"),
    (("--max-body-bytes",), "N", _positive_number(int), DEFAULT_MAX_BODY_BYTES,
     "request body limit, answered with 413"),
    (("--udp",), None, None, False, "serve fd 0 as the UDP 631 browse-packet sensor: record every "
     "datagram, answer none (automatic when fd 0 is a datagram socket)"),
    (("--udp-lifetime",), "SEC", _positive_number(float), DEFAULT_UDP_LIFETIME,
     "the UDP sensor exits after this long even under a steady trickle (and after --idle-timeout "
     "without a datagram); xinetd or systemd start it again"),
    (("--sensor",), "NAME", str, None, "the sensor name --format ipphoney writes (default the "
     "host name, as ipphoney's)"),
    (("--decode",), "FILE", str, None,
     "read a captured client byte stream, print its records, answer nothing"),
    (("--report",), None, None, False, "summarise the JSON Lines logs named after the options "
     "(default the log above; .gz too) and exit: sources, operations, alerts, documents"),
    (("--report-format",), "FORMAT", _choice(("text", "json")), "text",
     "the summary as aligned text or as JSON"),
    (("-h", "--help"), None, None, False, "show this help and exit"),
    (("-V", "--version"), None, None, False, "print the version and exit"),
)
OPTION_NAMES = {name: row for row in OPTIONS for name in row[0]}


def usage():
    """The --help text, made from OPTIONS so that every option and default is in it."""
    import textwrap
    lines = ["usage: fakecups.py [options]        serve one connection on stdin/stdout (inetd style)",
             "       fakecups.py --decode FILE    print the records of a captured request stream",
             "       fakecups.py --report [LOG ...]  summarise JSON Lines logs", ""]
    tables = {"formats": ", ".join(FORMATS), "personas": ", ".join(PERSONAS)}
    for names, value, convert, default, text in OPTIONS:
        flag = ", ".join(names) + (" " + value if value else "")
        text = text % tables if "%(" in text else text
        if default not in (None, False):
            text += " (default %s)" % default
        wrapped = textwrap.wrap(text, 66) or [""]
        lines.append("  %-22s %s" % (flag, wrapped[0]))
        lines.extend(" " * 25 + more for more in wrapped[1:])
    return "\n".join(lines) + "\n"


class Options:
    """The parsed command line: one attribute per option, named after its long form."""

    def __init__(self):
        for names, value, convert, default, text in OPTIONS:
            setattr(self, _attribute(names), default)


def _attribute(names):
    return names[-1][2:].replace("-", "_")


def parse_options(argv):
    """--name value and --name=value; argparse would cost more than a connection's work."""
    options = Options()
    options.logs = []                    # --report's LOG arguments
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, equals, value = arg.partition("=")
        if name not in OPTION_NAMES and not arg.startswith("-"):
            options.logs.append(arg)
            continue
        if name not in OPTION_NAMES:
            raise UsageError("unknown option %r" % arg)
        names, value_name, convert, default, text = OPTION_NAMES[name]
        if convert is None:
            if equals:
                raise UsageError("%s takes no value" % name)
            setattr(options, _attribute(names), True)
            continue
        if not equals:
            if not args:
                raise UsageError("%s needs a value" % name)
            value = args.pop(0)
        setattr(options, _attribute(names), convert(value))
    if options.logs and not options.report:
        raise UsageError("unexpected argument %r (LOG arguments go with --report)" % options.logs[0])
    return options


def _is_socket(fd):
    try:
        return os.fstat(fd).st_mode & 0o170000 == 0o140000
    except OSError:
        return False


def _stderr_is_client():
    """Whether fd 2 is the client's socket: the very socket fd 0 is (xinetd and systemd's
    StandardError=socket hand over one socket three times), or a TCP connection.  A journal
    stream or a terminal is not, and keeps what fakecups says there."""
    try:
        error, data = os.fstat(2), os.fstat(0)
    except OSError:
        return False
    if error.st_mode & 0o170000 != 0o140000:
        return False
    if (error.st_dev, error.st_ino) == (data.st_dev, data.st_ino):
        return True
    import _socket
    sock = _socket.socket(fileno=2)
    try:
        return sock.family in (_socket.AF_INET, _socket.AF_INET6) and bool(sock.getpeername())
    except OSError:
        return False
    finally:
        sock.detach()


def _silence_stderr():
    """When fd 2 is the client's socket, point it at /dev/null so that nothing, not even the
    interpreter's own last words, can reach the client; True when it did."""
    global _stderr_open
    if _stderr_is_client():
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        return True
    _stderr_open = True
    return False


_stderr_open = False     # until main() has looked at fd 2, nothing is said there


def say(text):
    """Tell whoever runs fakecups what failed: on stderr unless it is the client's socket."""
    if _stderr_open:
        try:
            os.write(2, ("fakecups: %s\n" % text).encode("utf-8", "backslashreplace"))
        except OSError:
            pass


def socket_peer(fd):
    """(peer text, is TCP) from getpeername() on fd; sets TCP_NODELAY on TCP sockets so the
    answer is not held back by Nagle's algorithm."""
    if not _is_socket(fd):
        return None, False
    import _socket
    sock = _socket.socket(fileno=fd)
    try:
        address = sock.getpeername()
        if sock.family in (_socket.AF_INET, _socket.AF_INET6):
            try:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            except OSError:
                pass
            return peer_text(address[0], str(address[1])), True
        return ("unix:%s" % address if address else "unix"), False
    except OSError:
        return None, False
    finally:
        sock.detach()


def socket_local(fd, environ):
    """(address, port) the client reached: getsockname() on fd, else tcpserver's TCPLOCALIP
    and TCPLOCALPORT (xinetd and systemd name only the peer); None when unknown."""
    if _is_socket(fd):
        import _socket
        sock = _socket.socket(fileno=fd)
        try:
            if sock.family in (_socket.AF_INET, _socket.AF_INET6):
                host, port = sock.getsockname()[:2]
                return peer_text(host).strip("[]"), port
        except OSError:
            pass
        finally:
            sock.detach()
    port = environ.get("TCPLOCALPORT", "")
    if environ.get("TCPLOCALIP") and port.isdigit():
        return escape(environ["TCPLOCALIP"], 64), int(port)
    return None


def environ_peer(environ):
    """The peer as xinetd, systemd or tcpserver passed it in the environment."""
    host = environ.get("REMOTE_ADDR") or environ.get("TCPREMOTEIP") or environ.get("REMOTE_HOST")
    port = environ.get("REMOTE_PORT") or environ.get("TCPREMOTEPORT")
    if not host:
        return "-"
    return peer_text(escape(host, 64), escape(port, 8) if port else None)


def unmapped(host):
    """An IPv4-mapped IPv6 address (a dual-stack listener's IPv4 peer) as the plain IPv4
    address, so one grep finds a client however it came."""
    if host.lower().startswith("::ffff:") and host.count(".") == 3:
        return host[7:]
    return host


def peer_text(host, port=None):
    """host:port, [v6]:port, IPv4-mapped addresses unmapped."""
    host = unmapped(host)
    text = "[%s]" % host if ":" in host else host
    return text + ":" + port if port else text


def log_path(options, environ):
    if options.log is not None:
        return options.log
    if environ.get("LOGS_DIRECTORY"):
        return os.path.join(environ["LOGS_DIRECTORY"].split(":")[0], "fakecups.log")
    return DEFAULT_LOG


def open_recorder(options, environ, stderr_is_socket):
    """The Recorder for these options; a log that cannot be opened is reported, not fatal."""
    path = log_path(options, environ)
    fd, problem = None, None
    if path == "-":
        if stderr_is_socket:
            problem = "--log - refused: stderr is the client's socket"
        else:
            fd = 2
    else:
        try:
            fd = open_log(path)
        except OSError as error:
            problem = "cannot open log %s: %s" % (path, error.strerror or error)
    if problem is not None:
        say(problem)
    return Recorder(options.format, fd, path, options.syslog, problem)


def drop_privileges(user, modules=()):
    """From root to user before reading a byte from the client; never carry on as root."""
    if os.geteuid() != 0:
        return
    import pwd
    for module in ("select", "_socket", "_signal", "binascii", "syslog") + tuple(modules):
        __import__(module)          # the interpreter's files may be unreadable once dropped
    new_sha256()
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if os.geteuid() == 0 and entry.pw_uid != 0:
        raise OSError("still root after setuid(%d)" % entry.pw_uid)


def _on_signal(signum, frame):
    raise Terminated(signum)


def install_signal_handlers():
    """SIGTERM and SIGHUP end the connection through Terminated, so its record is written.
    _signal, not signal: the wrapper module imports enum and costs milliseconds."""
    import _signal
    for signum in (_signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(signum, _on_signal)


def stdio_reader(idle_timeout):
    import select
    poller = select.poll()
    poller.register(0, select.POLLIN)
    return ByteReader(lambda size: os.read(0, size),
                      lambda seconds: bool(poller.poll(max(0.0, seconds) * 1000)), idle_timeout)


def linger(seconds=2.0, limit=1 << 20):
    """After an error answer, half-close and drain what the client still sends: closing
    with unread input makes the kernel send a reset that can destroy the answer."""
    if not _is_socket(0):
        return
    import _socket
    import select
    sock = _socket.socket(fileno=0)
    try:
        sock.shutdown(_socket.SHUT_WR)
        deadline = time.monotonic() + seconds
        while limit > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([0], [], [], remaining)[0]:
                break
            data = os.read(0, READ_SIZE)
            if not data:
                break
            limit -= len(data)
    except OSError:
        pass
    finally:
        sock.detach()


def config_from(options, environ, local_peer=True, decoding=False):
    """The connection's settings; a persona that cannot start serves as UnavailablePersona."""
    persona_class = PERSONAS[options.persona]
    try:
        persona = (persona_class.for_decoding(options) if decoding
                   else persona_class.from_options(options, environ))
    except OSError as error:
        reason = "the %s persona cannot start: %s" % (options.persona, os_error_text(error))
        say(reason)
        _syslog(3, reason)
        persona = UnavailablePersona(reason)
    return Config(persona, options.idle_timeout, options.header_timeout,
                  options.max_header_bytes, options.max_body_bytes, local_peer=local_peer)


def os_error_text(error):
    """"Permission denied: /var/spool/fakecups/lock": the reason and the path it concerns."""
    text = error.strerror or str(error)
    return "%s: %s" % (text, error.filename) if error.filename else text


def is_loopback(peer):
    """Whether the peer text names this machine (a pipe or a test counts as local)."""
    if peer.startswith("["):
        host = peer[1:peer.find("]")]
    else:
        host = peer.split(":")[0] if peer.count(":") == 1 else peer
    return host.startswith(("127.", "::ffff:127.", "unix")) or host in ("::1", "-", "localhost")


def serve_stdio(options, environ, stderr_is_socket):
    """The inetd path: peer, log, privileges, then the connection; a signal at any point
    still leaves a record and exit status 0."""
    install_signal_handlers()
    connection = ConnectionRecord(time.time(), "-", os.getpid())
    recorder = None
    try:
        peer, _ = socket_peer(0)
        connection.peer = peer or environ_peer(environ)
        connection.local, connection.sensor = socket_local(0, environ), options.sensor
        recorder = open_recorder(options, environ, stderr_is_socket)
        problem = become_service_user(options, environ)
        if problem is None:
            reader = stdio_reader(options.idle_timeout)
            config = config_from(options, environ, is_loopback(connection.peer))
    except OSError as error:
        problem = "not serving: %s" % os_error_text(error)
    except (Terminated, KeyboardInterrupt):
        connection.error = "terminated by signal before serving"
        if recorder is not None:
            recorder.connection_done(connection)
        else:
            _syslog(6, connection.error)
        return 0
    if problem is not None:
        connection.error = problem
        recorder.connection_done(connection)
        _syslog(3, problem)
        say(problem)
        return 1
    serve_connection(reader, lambda data: write_all(1, data), connection, config, recorder)
    last = connection.exchanges[-1] if connection.exchanges else None
    if last is not None and (last.http_status or 0) >= 400 and not reader.eof:
        try:
            linger()
        except (Terminated, KeyboardInterrupt):
            pass
    return 0


def become_service_user(options, environ):
    """As root: let the persona prepare what the service user needs, then become that user.
    None when done, else why fakecups must not serve."""
    persona_class = PERSONAS[options.persona]
    try:
        if os.geteuid() == 0:
            persona_class.prepare(options, environ, options.user)
    except (OSError, KeyError) as error:
        say("cannot prepare for %r: %s" % (options.user, os_error_text(error)
                                           if isinstance(error, OSError) else error))
    try:
        drop_privileges(options.user, persona_class.modules)
    except (OSError, KeyError) as error:
        return "not serving: cannot run as %r: %s" % (
            options.user, error.args[0] if isinstance(error, KeyError) else os_error_text(error))
    return None


def datagram_receiver(fd):
    """receive(timeout) over the bound datagram socket on fd: up to MAX_DATAGRAM_RECORDED
    bytes of the next datagram with its real length (MSG_TRUNC), or None after timeout."""
    import _socket
    import select
    sock = _socket.socket(fileno=fd)
    buffer = bytearray(MAX_DATAGRAM_RECORDED)

    def receive(timeout):
        if not select.select([fd], [], [], timeout)[0]:
            return None
        size, address = sock.recvfrom_into(buffer, len(buffer), _socket.MSG_TRUNC)
        host = unmapped(address[0]) if isinstance(address, tuple) else "unix"
        port = address[1] if isinstance(address, tuple) else 0
        return bytes(buffer[:min(size, len(buffer))]), size, host, port
    return receive


def is_datagram_socket(fd):
    if not _is_socket(fd):
        return False
    import _socket
    sock = _socket.socket(fileno=fd)
    try:
        return sock.type == _socket.SOCK_DGRAM
    finally:
        sock.detach()


def serve_udp(options, environ, stderr_is_socket):
    """The UDP half: fd 0 is the bound datagram socket xinetd (wait = yes) or systemd
    (ListenDatagram=) hands over; every datagram is recorded until idle, none answered."""
    install_signal_handlers()
    recorder = None
    try:
        recorder = open_recorder(options, environ, stderr_is_socket)
        drop_privileges(options.user, ("ipaddress",))
        receive = datagram_receiver(0)
    except (OSError, KeyError) as error:
        problem = "not serving udp: %s" % (os_error_text(error) if isinstance(error, OSError) else error)
        _syslog(3, problem)
        say(problem)
        return 1
    except (Terminated, KeyboardInterrupt):
        return 0
    serve_datagrams(receive, recorder, options.idle_timeout, options.udp_lifetime, os.getpid())
    return 0


def decode_file(options):
    """--decode: run a captured client stream through the same code, print the records;
    nothing is written anywhere but stdout (the printer's spool is kept in memory)."""
    try:
        with open(options.decode, "rb") as capture:
            data = capture.read()
    except OSError as error:
        say("cannot read %s: %s" % (options.decode, error.strerror or error))
        return 1
    stream = [data]
    reader = ByteReader(lambda size: stream.pop() if stream else b"", None, options.idle_timeout)
    connection = ConnectionRecord(time.time(), "-", os.getpid())
    recorder = Recorder(options.format, 1, "stdout")
    serve_connection(reader, lambda data: None, connection,
                     config_from(options, os.environ, decoding=True), recorder)
    return 0


def report(options, environ):
    """--report: read the logs line by line (gzip ones too), print the summary.  Exit status 1
    when a log could not be read or was not JSON Lines, else 0."""
    load_report()
    tally = ReportTally()
    files = []
    for path in options.logs or [log_path(options, environ)]:
        before = tally.lines, tally.records
        problem = read_log(path, tally)
        if problem is None and tally.lines > before[0] and tally.records == before[1]:
            problem = "no fakecups records: --report reads what --format json writes"
        if problem is not None:
            say("%s: %s" % (path, problem))
        files.append({"path": path, "lines": tally.lines - before[0],
                      "records": tally.records - before[1], "problem": problem})
    summary = report_summary(tally, files)
    if options.report_format == "json":
        import json
        text = json.dumps(summary, indent=1) + "\n"
    else:
        text = report_text(summary)
    write_all(1, text.encode("utf-8", "backslashreplace"))
    return 1 if any(f["problem"] for f in files) else 0


def main(argv=None, environ=None):
    """Entry point for `python3 fakecups.py` and the installed launcher; returns the exit code."""
    stderr_is_socket = False
    try:
        stderr_is_socket = _silence_stderr()
        environ = os.environ if environ is None else environ
        try:
            options = parse_options(sys.argv[1:] if argv is None else argv)
        except UsageError as error:
            if not stderr_is_socket:
                os.write(2, ("fakecups: %s (try --help)\n" % error).encode())
            return 2
        if options.help or options.version:
            os.write(1, (usage() if options.help else "fakecups %s\n" % __version__).encode())
            return 0
        if options.decode is not None:
            return decode_file(options)
        if options.report:
            return report(options, environ)
        gc.freeze()     # what the import and the options made lives as long as the process: a
                        # collection that walked it all would cost a connection about 0.4 ms
        if options.udp or is_datagram_socket(0):
            return serve_udp(options, environ, stderr_is_socket)
        return serve_stdio(options, environ, stderr_is_socket)
    except BaseException as error:          # the last guard: no traceback, ever, on the socket
        try:
            _syslog(3, "internal error: %s: %s" % (type(error).__name__, error))
        except Exception:
            pass
        return 1


# ── End of the import ─────────────────────────────────────────────────────────────────────

gc.freeze()         # see gc.disable() at the top: the import's objects are never collected
if _GC_WAS_ENABLED:
    gc.enable()


if __name__ == "__main__":
    sys.exit(main())
