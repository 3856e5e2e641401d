"""Unit tests for fakecups' IPP codec (RFC 8010): decode_message, encode_message,
decode_value, syntax_name, code_name, ParseError / Truncated.

Real bytes come from the captures (tests/captures/*/client.bin and server.bin); hand-made
bytes are used only for what no capture holds (collections, resolution, textWithLanguage,
extension and unknown tags, malformed messages), built item by item with the helpers below.
"""

import calendar
import unittest

import fakecups
from fakecups import Attribute, Group, Message, ParseError, Truncated
from tests.support import (CAPTURES, FILES, capture_streams, final_responses, long_running,
                           ipp_request_bodies, ipp_response_bodies, parse_ipp_txt,
                           show_values, split_requests)


# ── Hand-made IPP bytes, one wire item at a time (RFC 8010 section 3) ───────────────────

def _b(text):
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


def u16(n):
    """A 2-octet unsigned length (name-length, value-length)."""
    return n.to_bytes(2, "big")


def s32(n):
    """A 4-octet signed integer (integer, enum, range bounds, resolution)."""
    return n.to_bytes(4, "big", signed=True)


def header(version=(2, 0), code=0x000B, request_id=1):
    """version-number (2 octets), operation-id / status-code (2), request-id (4)."""
    return bytes(version) + u16(code) + s32(request_id)


def group(tag):
    """A delimiter (begin-attribute-group) tag: one octet below 0x10."""
    return bytes((tag,))


def item(tag, name, value=b""):
    """value-tag, name-length, name, value-length, value.  An empty name makes an
    additional value of the attribute before it."""
    name, value = _b(name), _b(value)
    return bytes((tag,)) + u16(len(name)) + name + u16(len(value)) + value


def ext_item(extended_tag, name, value=b""):
    """The extension tag 0x7F, then a 4-octet tag, then name and value as usual."""
    name, value = _b(name), _b(value)
    return b"\x7f" + extended_tag.to_bytes(4, "big") + u16(len(name)) + name + u16(len(value)) + value


def with_language(language, text):
    """textWithLanguage / nameWithLanguage value: 2-octet length + language, 2 + text."""
    language, text = _b(language), _b(text)
    return u16(len(language)) + language + u16(len(text)) + text


def begin_collection(name):
    """begCollection: tag 0x34, the attribute's name (empty for an additional value), no value."""
    return item(0x34, name, b"")


def member(name):
    """memberAttrName: tag 0x4A, no name, the member's name as the value."""
    return item(0x4A, b"", name)


def end_collection():
    """endCollection: tag 0x37, no name, no value."""
    return item(0x37, b"", b"")


END = b"\x03"     # end-of-attributes-tag


def message(*items, data=b"", **head):
    return header(**head) + b"".join(items) + END + data


HEADER_SIZE = 8    # bytes before the first tag


class CodecCase(unittest.TestCase):
    maxDiff = None

    def round_trip(self, raw):
        """Decode raw, check it re-encodes to the same bytes, return the message."""
        decoded = fakecups.decode_message(raw)
        self.assertEqual(fakecups.encode_message(decoded), raw)
        return decoded

    def assert_parse_error(self, raw, offset=None):
        """raw must fail with ParseError proper (no amount of data mends it), not Truncated."""
        with self.assertRaises(ParseError) as caught:
            fakecups.decode_message(raw)
        self.assertNotIsInstance(caught.exception, Truncated, "ParseError expected, got Truncated")
        self.assertTrue(0 <= caught.exception.offset <= len(raw), caught.exception.offset)
        if offset is not None:
            self.assertEqual(caught.exception.offset, offset, str(caught.exception))
        self.assertIn("at byte %d" % caught.exception.offset, str(caught.exception))
        return caught.exception

    def assert_truncations(self, raw, end=None):
        """Every prefix of raw shorter than end (default: the attribute section) raises
        Truncated, with an offset inside the prefix; the full section decodes."""
        if end is None:
            end = len(raw) - len(fakecups.decode_message(raw).data)
        for size in range(end):
            prefix = raw[:size]
            try:
                fakecups.decode_message(prefix)
            except Truncated as error:
                if not 0 <= error.offset <= size:
                    self.fail("prefix of %d bytes: offset %d outside it" % (size, error.offset))
            except Exception as error:       # anything but Truncated is a failure
                self.fail("prefix of %d bytes raised %r, not Truncated" % (size, error))
            else:
                self.fail("prefix of %d bytes of %d decoded without error" % (size, end))


# ── Real requests and responses ──────────────────────────────────────────────────────────

def captured_requests(scenario):
    return split_requests((CAPTURES / scenario / "client.bin").read_bytes())


def captured_ipp_responses(scenario):
    folder = CAPTURES / scenario
    methods = [r.method for r in split_requests((folder / "client.bin").read_bytes())]
    return [r for r in final_responses((folder / "server.bin").read_bytes(), methods) if r.is_ipp]


LPSTAT_REQUESTED = [
    "auth-info-required", "device-uri", "job-sheets-default", "marker-change-time",
    "marker-colors", "marker-high-levels", "marker-levels", "marker-low-levels",
    "marker-message", "marker-names", "marker-types", "printer-commands", "printer-defaults",
    "printer-info", "printer-is-accepting-jobs", "printer-is-shared", "printer-is-temporary",
    "printer-location", "printer-make-and-model", "printer-mandatory-job-attributes",
    "printer-name", "printer-state", "printer-state-change-time", "printer-state-reasons",
    "printer-type", "printer-uri-supported",
]


class CapturedRequests(CodecCase):
    def test_lpstat_v_cups_get_default(self):
        request = captured_requests("empty/lpstat-v")[0]
        decoded = fakecups.decode_message(request.body)
        self.assertEqual(decoded.version, (2, 0))
        self.assertEqual(decoded.code, 0x4001)                  # CUPS-Get-Default
        self.assertEqual(decoded.request_id, 1)
        self.assertEqual(decoded.groups, [Group(0x01, [
            Attribute("attributes-charset", [(0x47, "utf-8")]),
            Attribute("attributes-natural-language", [(0x48, "en")])])])
        self.assertEqual(decoded.data, b"")

    def test_lpstat_v_cups_get_printers(self):
        request = captured_requests("empty/lpstat-v")[1]
        self.assertEqual(len(request.body), 694)
        decoded = fakecups.decode_message(request.body)
        self.assertEqual((decoded.version, decoded.code, decoded.request_id), ((2, 0), 0x4002, 2))
        self.assertEqual([g.tag for g in decoded.groups], [0x01])
        attributes = decoded.groups[0].attributes
        self.assertEqual([a.name for a in attributes],
                         ["attributes-charset", "attributes-natural-language",
                          "requested-attributes", "requesting-user-name"])
        requested = attributes[2]
        self.assertEqual(len(requested.values), 26)
        self.assertEqual(requested.values, [(0x44, keyword) for keyword in LPSTAT_REQUESTED])
        self.assertEqual(attributes[3].values, [(0x42, "root")])
        self.assertIs(decoded.find("requested-attributes", 0x01), requested)
        self.assertIsNone(decoded.find("requested-attributes", 0x02))

    def test_ipptool_print_job_with_document(self):
        request = captured_requests("empty/ipptool-print-job")[0]
        self.assertTrue(request.chunked)                        # de-chunked from 3 chunks
        decoded = self.round_trip(request.body)
        self.assertEqual((decoded.version, decoded.code, decoded.request_id), ((1, 1), 0x0002, 68638))
        self.assertEqual([g.tag for g in decoded.groups], [0x01, 0x02])
        self.assertEqual(decoded.groups[0].attributes, [
            Attribute("attributes-charset", [(0x47, "utf-8")]),
            Attribute("attributes-natural-language", [(0x48, "en")]),
            Attribute("printer-uri", [(0x45, "ipp://127.0.0.1:9631/printers/labprinter")]),
            Attribute("requesting-user-name", [(0x42, "root")]),
            Attribute("document-format", [(0x49, "text/plain")])])
        self.assertEqual(decoded.groups[1].attributes, [Attribute("copies", [(0x21, 1)])])
        self.assertEqual(len(decoded.data), 45)
        self.assertEqual(decoded.data, (FILES / "somefile.txt").read_bytes())

    def test_send_document_carries_the_pdf(self):
        request = captured_requests("printer/lp-pdf")[4]
        decoded = fakecups.decode_message(request.body)
        self.assertEqual(decoded.code, 0x0006)                  # Send-Document
        self.assertEqual(decoded.data, (FILES / "tiny.pdf").read_bytes())
        self.assertEqual(len(request.body) - len(decoded.data), 857 - 596)

    def test_every_capture_matches_the_capture_tools_decode(self):
        """ipp.txt was written by the capture tool, not by fakecups: version, code,
        request-id, groups with their sizes, every attribute's name, syntax and the values
        it shows must agree, for requests (>>>) and responses (<<<)."""
        checked = 0
        for label, client, server, txt in capture_streams():
            if txt is None:
                continue
            expected = parse_ipp_txt(txt)
            requests = split_requests(client)
            methods = [r.method for r in requests]
            got = {">>>": [r.body for r in requests if r.is_ipp],
                   "<<<": [r.body for r in final_responses(server, methods) if r.is_ipp]}
            for direction in (">>>", "<<<"):
                self.assertEqual(len(got[direction]), len(expected[direction]), (label, direction))
                for body, want in zip(got[direction], expected[direction]):
                    with self.subTest(scenario=label, direction=direction,
                                      request_id=want["request_id"]):
                        decoded = fakecups.decode_message(body)
                        self.assertEqual(decoded.version, want["version"])
                        self.assertEqual(decoded.code, want["code"])
                        self.assertEqual(decoded.request_id, want["request_id"])
                        table = fakecups.OPERATIONS if direction == ">>>" else fakecups.STATUS_CODES
                        self.assertEqual(fakecups.code_name(table, decoded.code), want["code_name"])
                        self.assertEqual(
                            [(fakecups.GROUP_TAGS[g.tag], len(g.attributes)) for g in decoded.groups],
                            [(name, count) for name, count, _ in want["groups"]])
                        for mine, (_, _, theirs) in zip(decoded.groups, want["groups"]):
                            self.assertEqual(
                                [(a.name, fakecups.syntax_name(a.values[0][0]), show_values(a.values))
                                 for a in mine.attributes], theirs)
                            checked += len(theirs)
                        if want["document_bytes"] is not None:
                            self.assertEqual(len(decoded.data), want["document_bytes"])
        self.assertGreater(checked, 900)


class CapturedResponses(CodecCase):
    """printer/ipptool-get-printer-attributes: cupsd's answer for a raw queue, 82 printer
    attributes in many syntaxes.  (No capture holds a collection, resolution or
    textWithLanguage value: the raw queue has no media-col-database; those syntaxes are
    covered by the hand-made table below.)"""

    @classmethod
    def setUpClass(cls):
        responses = captured_ipp_responses("printer/ipptool-get-printer-attributes")
        cls.body = responses[0].body
        cls.decoded = fakecups.decode_message(cls.body)

    def attribute(self, name):
        found = self.decoded.find(name, 0x04)
        self.assertIsNotNone(found, name)
        return found

    def test_header_and_groups(self):
        self.assertEqual(len(self.body), 7490)
        self.assertEqual((self.decoded.version, self.decoded.code, self.decoded.request_id),
                         ((2, 0), 0x0000, 83160))
        self.assertEqual([g.tag for g in self.decoded.groups], [0x01, 0x04])
        self.assertEqual(len(self.decoded.groups[1].attributes), 82)
        self.assertEqual(self.decoded.data, b"")

    def test_integer_enum_boolean(self):
        self.assertEqual(self.attribute("marker-change-time").values, [(0x21, 0)])
        self.assertEqual(self.attribute("number-up-supported").values,
                         [(0x21, n) for n in (1, 2, 4, 6, 9, 16)])
        self.assertEqual(self.attribute("printer-state").values, [(0x23, 3)])        # idle
        self.assertEqual(self.attribute("orientation-requested-supported").values,
                         [(0x23, n) for n in (3, 4, 5, 6)])
        accepting = self.attribute("printer-is-accepting-jobs").values
        self.assertEqual(accepting, [(0x22, True)])
        self.assertIs(accepting[0][1], True)
        temporary = self.attribute("printer-is-temporary").values
        self.assertIs(temporary[0][1], False)
        self.assertEqual(temporary[0][0], 0x22)

    def test_range_of_integer(self):
        self.assertEqual(self.attribute("copies-supported").values, [(0x33, (1, 9999))])
        self.assertEqual(self.attribute("jpeg-y-dimension-supported").values, [(0x33, (1, 65535))])

    def test_datetime_agrees_with_the_integer_time(self):
        """printer-config-change-date-time (dateTime) is the same moment as
        printer-config-change-time (integer, seconds since the epoch)."""
        (tag, value), = self.attribute("printer-config-change-date-time").values
        self.assertEqual(tag, 0x31)
        self.assertEqual(value, (2026, 11, 23, 18, 39, 53, 0, "+", 0, 0))
        seconds = calendar.timegm(value[:6])
        self.assertEqual(self.attribute("printer-config-change-time").values, [(0x21, seconds)])
        self.assertEqual(self.attribute("printer-current-time").values,
                         [(0x31, (2026, 11, 23, 18, 40, 57, 0, "+", 0, 0))])

    def test_out_of_band_and_strings(self):
        self.assertEqual(self.attribute("printer-dns-sd-name").values, [(0x13, b"")])
        self.assertEqual(self.attribute("printer-geo-location").values, [(0x12, b"")])
        self.assertEqual(self.attribute("printer-state-message").values, [(0x41, "")])
        self.assertEqual(self.attribute("printer-name").values, [(0x42, "labprinter")])
        self.assertEqual(self.attribute("job-sheets-default").values, [(0x42, "none")] * 2)
        self.assertEqual(self.attribute("device-uri").values, [(0x45, "file:///dev/null")])
        self.assertEqual(self.attribute("charset-supported").values,
                         [(0x47, "us-ascii"), (0x47, "utf-8")])
        self.assertEqual(self.attribute("natural-language-configured").values, [(0x48, "en")])
        self.assertEqual(self.attribute("document-format-default").values,
                         [(0x49, "application/octet-stream")])
        self.assertEqual(len(self.attribute("document-format-supported").values), 12 + 66)

    def test_names_in_wire_order(self):
        names = [a.name for a in self.decoded.groups[1].attributes]
        self.assertEqual(names[:4], ["marker-change-time", "printer-config-change-date-time",
                                     "printer-config-change-time", "printer-current-time"])
        self.assertEqual(names[-1], "which-jobs-supported")
        self.assertEqual(len(set(names)), 82)


class RoundTrip(CodecCase):
    def test_every_captured_request_body(self):
        bodies = ipp_request_bodies()
        self.assertEqual(len(bodies), 56)
        for label, index, body in bodies:
            with self.subTest(scenario=label, request=index):
                self.assertEqual(fakecups.encode_message(fakecups.decode_message(body)), body)

    def test_every_captured_response_body(self):
        bodies = ipp_response_bodies()
        self.assertEqual(len(bodies), 54)
        for label, index, body in bodies:
            with self.subTest(scenario=label, response=index):
                self.assertEqual(fakecups.encode_message(fakecups.decode_message(body)), body)

    def test_decode_of_encode_is_the_same_message(self):
        for label, index, body in ipp_response_bodies()[:10]:
            decoded = fakecups.decode_message(body)
            self.assertEqual(fakecups.decode_message(fakecups.encode_message(decoded)), decoded)

    def test_built_message_encodes_to_hand_made_bytes(self):
        built = Message((1, 1), 0x000A, 7, [Group(0x01, [
            Attribute("attributes-charset", [(0x47, "utf-8")]),
            Attribute("which-jobs", [(0x44, "all"), (0x44, "completed")])])], b"DOC")
        self.assertEqual(fakecups.encode_message(built), message(
            group(0x01), item(0x47, "attributes-charset", "utf-8"),
            item(0x44, "which-jobs", "all"), item(0x44, "", "completed"),
            version=(1, 1), code=0x000A, request_id=7, data=b"DOC"))

    def test_encode_refuses_a_value_over_65535_bytes(self):
        built = Message((2, 0), 0, 1, [Group(0x01, [Attribute("a", [(0x30, b"x" * 0x10000)])])])
        with self.assertRaises(ValueError):
            fakecups.encode_message(built)
        built.groups[0].attributes[0].values[0] = (0x30, b"x" * 0xFFFF)
        self.assertEqual(len(fakecups.encode_message(built)), 8 + 1 + 3 + 1 + 2 + 0xFFFF + 1)


@long_running(3)
class Truncation(CodecCase):
    def test_every_prefix_of_every_captured_request(self):
        bodies = ipp_request_bodies()
        for label, index, body in bodies:
            with self.subTest(scenario=label, request=index):
                self.assert_truncations(body)

    def test_prefixes_of_captured_responses(self):
        seen = set()
        for label, index, body in ipp_response_bodies():
            if body in seen:
                continue
            seen.add(body)
            with self.subTest(scenario=label, response=index):
                if len(body) <= 1024:
                    self.assert_truncations(body)
                else:               # the 7-8 KiB answers: a sample, and the last bytes
                    for size in list(range(0, len(body) - 64, 13)) + list(range(len(body) - 64, len(body))):
                        with self.assertRaises(Truncated):
                            fakecups.decode_message(body[:size])

    def test_truncated_is_a_parse_error_with_offset(self):
        self.assertTrue(issubclass(Truncated, ParseError))
        self.assertTrue(issubclass(ParseError, ValueError))
        body = ipp_request_bodies()[0][2]
        with self.assertRaises(ParseError) as caught:
            fakecups.decode_message(body[:HEADER_SIZE + 3])    # group tag, value tag, 1 of 2
        self.assertIsInstance(caught.exception, Truncated)
        self.assertEqual(caught.exception.offset, HEADER_SIZE + 2)  # where the length starts

    def test_empty_and_header_only(self):
        for size in range(HEADER_SIZE + 1):
            with self.assertRaises(Truncated) as caught:
                fakecups.decode_message(header()[:size])
            self.assertLessEqual(caught.exception.offset, size)
        with self.assertRaises(Truncated) as caught:
            fakecups.decode_message(b"")
        self.assertEqual(caught.exception.offset, 0)

    def test_every_prefix_of_hand_made_syntaxes(self):
        raw = message(group(0x04), NESTED_COLLECTION_ITEMS, item(0x35, "t", with_language("en", "hi")),
                      ext_item(0x1234, "x", b"\x01\x02"), item(0x31, "d", DATETIME_BYTES),
                      data=b"document")
        self.assert_truncations(raw)

    def test_value_length_past_the_end(self):
        raw = header() + group(0x01) + b"\x21" + u16(1) + b"a" + u16(4) + b"\x00\x00"
        with self.assertRaises(Truncated) as caught:
            fakecups.decode_message(raw)
        self.assertEqual(caught.exception.offset, HEADER_SIZE + 1 + 1 + 2 + 1 + 2)


# ── Table tests: one row per value tag ───────────────────────────────────────────────────

DATETIME_BYTES = bytes((0x07, 0xEA, 11, 23, 18, 40, 57, 3)) + b"-" + bytes((5, 30))

# (tag, syntax name, value bytes on the wire, decoded value)
VALUE_ROWS = [
    (0x21, "integer", s32(0), 0),
    (0x21, "integer", s32(1), 1),
    (0x21, "integer", b"\x7f\xff\xff\xff", 2147483647),
    (0x21, "integer", b"\xff\xff\xff\xff", -1),                 # signed, not 4294967295
    (0x21, "integer", b"\x80\x00\x00\x00", -2147483648),
    (0x22, "boolean", b"\x00", False),
    (0x22, "boolean", b"\x01", True),
    (0x22, "boolean", b"\x02", 2),              # neither 0 nor 1: kept, re-encodes as sent
    (0x23, "enum", s32(3), 3),
    (0x23, "enum", b"\xff\xff\xff\xfe", -2),
    (0x30, "octetString", b"\x00\xff\x03binary", b"\x00\xff\x03binary"),
    (0x30, "octetString", b"", b""),
    (0x31, "dateTime", bytes((0x07, 0xEA, 11, 23, 18, 40, 57, 0)) + b"+" + bytes((0, 0)),
     (2026, 11, 23, 18, 40, 57, 0, "+", 0, 0)),
    (0x31, "dateTime", DATETIME_BYTES, (2026, 11, 23, 18, 40, 57, 3, "-", 5, 30)),
    (0x32, "resolution", s32(600) + s32(1200) + b"\x03", (600, 1200, 3)),   # 3 = dots per inch
    (0x32, "resolution", s32(118) + s32(118) + b"\x04", (118, 118, 4)),     # 4 = per cm
    (0x33, "rangeOfInteger", s32(1) + s32(9999), (1, 9999)),
    (0x33, "rangeOfInteger", s32(-5) + s32(-1), (-5, -1)),
    (0x35, "textWithLanguage", with_language("en", "hi there"), ("en", "hi there")),
    (0x35, "textWithLanguage", with_language("", ""), ("", "")),
    (0x36, "nameWithLanguage", with_language("fr-ca", "Imprimante é"), ("fr-ca", "Imprimante é")),
    (0x41, "textWithoutLanguage", "Ready to print, héhé", "Ready to print, héhé"),
    (0x41, "textWithoutLanguage", b"caf\xe9 \xff", "caf\udce9 \udcff"),  # invalid UTF-8 kept
    (0x42, "nameWithoutLanguage", "labprinter", "labprinter"),
    (0x44, "keyword", "one-sided", "one-sided"),
    (0x45, "uri", "ipp://localhost/printers/p", "ipp://localhost/printers/p"),
    (0x46, "uriScheme", "ipps", "ipps"),
    (0x47, "charset", "utf-8", "utf-8"),
    (0x48, "naturalLanguage", "en-us", "en-us"),
    (0x49, "mimeMediaType", "application/pdf", "application/pdf"),
    (0x41, "textWithoutLanguage", "", ""),
    (0x10, "unsupported", b"", b""),            # out-of-band: the value stays raw
    (0x12, "unknown", b"", b""),
    (0x13, "no-value", b"", b""),
    (0x15, "not-settable", b"", b""),
    (0x16, "delete-attribute", b"", b""),
    (0x17, "admin-define", b"", b""),
    (0x13, "no-value", b"odd", b"odd"),         # out-of-band with a value: kept as sent
    (0x14, "0x14", b"\x01\x02", b"\x01\x02"),   # unassigned out-of-band tag: raw
    (0x24, "0x24", b"\x00\x01", b"\x00\x01"),   # unassigned integer-type tag: raw
    (0x38, "0x38", b"xyz", b"xyz"),             # unassigned octetString-type tag: raw
    (0x40, "0x40", b"abc", b"abc"),             # reserved character-string tags: raw
    (0x43, "0x43", b"abc", b"abc"),
    (0x4B, "0x4b", b"\xe9", b"\xe9"),
    (0x60, "0x60", b"x" * 40, b"x" * 40),
]


class ValueTable(CodecCase):
    def test_each_value_tag_decodes_and_re_encodes(self):
        for tag, syntax, raw, expected in VALUE_ROWS:
            raw = _b(raw)
            with self.subTest(tag="0x%02x" % tag, raw=raw):
                wire = message(group(0x04), item(tag, "attr", raw))
                decoded = self.round_trip(wire)
                (attribute,) = decoded.groups[0].attributes
                self.assertEqual(attribute.name, "attr")
                self.assertEqual(attribute.values, [(tag, expected)])
                value = attribute.values[0][1]
                self.assertIs(type(value), type(expected))
                self.assertEqual(fakecups.decode_value(tag, raw, 0), expected)
                self.assertEqual(fakecups.syntax_name(tag, value), syntax)
                built = Message((2, 0), 0x000B, 1, [Group(0x04, [Attribute("attr", [(tag, expected)])])])
                self.assertEqual(fakecups.encode_message(built), wire)

    def test_invalid_utf8_in_a_name_is_kept(self):
        wire = message(group(0x01), item(0x44, b"bad\xc3name", "v"))
        decoded = self.round_trip(wire)
        self.assertEqual(decoded.groups[0].attributes[0].name, "bad\udcc3name")

    def test_syntax_names_of_the_rfc(self):
        for tag, name in ((0x34, "collection"), (0x37, "endCollection"), (0x4A, "memberAttrName"),
                          (0x7F, "extension"), (0x00, "0x00"), (0xFF, "0xff")):
            self.assertEqual(fakecups.syntax_name(tag), name)

    def test_text_with_language_of_wrong_shape(self):
        offset = HEADER_SIZE + 1 + 1 + 2 + 1 + 2        # the value's first byte
        for raw in (b"", b"\x00\x02e",                              # shorter than 4 bytes
                    u16(9) + b"en" + u16(0),                        # language past the value
                    u16(2) + b"en" + u16(3) + b"hi",                # text shorter than said
                    u16(2) + b"en" + u16(1) + b"hi"):               # text longer than said
            for tag in (0x35, 0x36):
                with self.subTest(tag=tag, raw=raw):
                    self.assert_parse_error(message(group(0x04), item(tag, "a", raw)), offset)


class Extension(CodecCase):
    def test_extension_tag_value_kept_raw(self):
        wire = message(group(0x04), ext_item(0x00001234, "vendor-thing", b"\x00\x01\xfe"))
        decoded = self.round_trip(wire)
        attribute = decoded.groups[0].attributes[0]
        self.assertEqual(attribute, Attribute("vendor-thing", [(0x7F, (0x1234, b"\x00\x01\xfe"))]))
        self.assertEqual(fakecups.syntax_name(0x7F, attribute.values[0][1]), "extension(0x00001234)")

    def test_extension_as_additional_value_and_in_a_collection(self):
        wire = message(group(0x04),
                       item(0x21, "mixed", s32(5)), ext_item(0x7FFFFFFF, "", b"raw"),
                       begin_collection("col"), member("m"), ext_item(0x40000000, "", b""),
                       end_collection())
        decoded = self.round_trip(wire)
        self.assertEqual(decoded.groups[0].attributes, [
            Attribute("mixed", [(0x21, 5), (0x7F, (0x7FFFFFFF, b"raw"))]),
            Attribute("col", [(0x34, [Attribute("m", [(0x7F, (0x40000000, b""))])])])])

    def test_extension_tag_with_the_high_bit_set(self):
        wire = message(group(0x04), ext_item(0x80000000, "x", b""))
        self.assert_parse_error(wire, HEADER_SIZE + 1 + 1)     # where the 4-byte tag starts
        wire = message(group(0x04), begin_collection("c"), member("m"),
                       ext_item(0xFFFFFFFF, "", b""), end_collection())
        self.assert_parse_error(wire)

    def test_extension_tag_cut_short(self):
        wire = header() + group(0x04) + b"\x7f\x00\x00"
        with self.assertRaises(Truncated) as caught:
            fakecups.decode_message(wire)
        self.assertEqual(caught.exception.offset, HEADER_SIZE + 2)


# media-col with a nested media-size collection, and a member with two values of two tags.
NESTED_COLLECTION_ITEMS = b"".join((
    begin_collection("media-col"),
    member("media-size"),
    begin_collection(""),                   # a member's value that is itself a collection
    member("x-dimension"), item(0x21, "", s32(21000)),
    member("y-dimension"), item(0x21, "", s32(29700)),
    end_collection(),
    member("media-type"), item(0x44, "", "stationery"),
    member("media-weight"), item(0x21, "", s32(80)), item(0x33, "", s32(60) + s32(120)),
    end_collection(),
    begin_collection(""),                   # a second value of media-col (1setOf collection)
    member("media-key"), item(0x44, "", "iso_a4"),
    end_collection(),
))

NESTED_COLLECTION_VALUES = [
    (0x34, [Attribute("media-size", [(0x34, [Attribute("x-dimension", [(0x21, 21000)]),
                                             Attribute("y-dimension", [(0x21, 29700)])])]),
            Attribute("media-type", [(0x44, "stationery")]),
            Attribute("media-weight", [(0x21, 80), (0x33, (60, 120))])]),
    (0x34, [Attribute("media-key", [(0x44, "iso_a4")])]),
]


def nested(depth):
    """An attribute whose collection holds a collection ... depth levels in all."""
    parts = [begin_collection("c")]
    for _ in range(depth - 1):
        parts += [member("c"), begin_collection("")]
    parts += [member("leaf"), item(0x21, "", s32(1))]
    parts += [end_collection()] * depth
    return b"".join(parts)


class Collections(CodecCase):
    def test_nested_collections(self):
        wire = message(group(0x04), NESTED_COLLECTION_ITEMS, item(0x44, "after", "x"))
        decoded = self.round_trip(wire)
        self.assertEqual(decoded.groups[0].attributes, [
            Attribute("media-col", NESTED_COLLECTION_VALUES),
            Attribute("after", [(0x44, "x")])])
        self.assertEqual(fakecups.syntax_name(0x34), "collection")

    def test_built_collection_encodes_as_cups_sends_it(self):
        built = Message((2, 0), 0x000B, 1, [Group(0x04, [
            Attribute("media-col", NESTED_COLLECTION_VALUES)])])
        self.assertEqual(fakecups.encode_message(built),
                         message(group(0x04), NESTED_COLLECTION_ITEMS))

    def test_empty_collection_and_member_without_value(self):
        wire = message(group(0x04), begin_collection("e"), end_collection(),
                       begin_collection("f"), member("lonely"), end_collection())
        decoded = self.round_trip(wire)
        self.assertEqual(decoded.groups[0].attributes, [
            Attribute("e", [(0x34, [])]), Attribute("f", [(0x34, [Attribute("lonely", [])])])])

    def test_depth_limit(self):
        limit = fakecups.MAX_COLLECTION_DEPTH
        self.round_trip(message(group(0x04), nested(limit)))
        too_deep = message(group(0x04), nested(limit + 1))
        self.assert_parse_error(too_deep)
        # also when the message ends right there: the depth is refused, not "truncated"
        cut = header() + group(0x04) + b"".join(
            [begin_collection("c")] + [member("c") + begin_collection("")] * limit)
        self.assert_parse_error(cut)

    def test_begin_collection_with_a_value(self):
        wire = message(group(0x04), item(0x34, "c", b"\x00"), end_collection())
        self.assert_parse_error(wire, HEADER_SIZE + 1 + 1 + 2 + 1 + 2)

    def test_malformed_collections(self):
        cases = {
            "endCollection with a value": (
                message(group(0x04), begin_collection("c"), item(0x37, "", b"x")),
                HEADER_SIZE + 1 + 6 + 1 + 2 + 2),
            "empty memberAttrName": (
                message(group(0x04), begin_collection("c"), member(""), end_collection()),
                HEADER_SIZE + 1 + 6 + 1 + 2 + 2),
            "value before any memberAttrName": (
                message(group(0x04), begin_collection("c"), item(0x21, "", s32(1)), end_collection()),
                HEADER_SIZE + 1 + 6),
            "named attribute inside": (
                message(group(0x04), begin_collection("c"), item(0x4A, "n", "m"), end_collection()),
                HEADER_SIZE + 1 + 6),
            "group tag inside": (
                message(group(0x04), begin_collection("c"), group(0x02), end_collection()),
                HEADER_SIZE + 1 + 6),
            "end-of-attributes inside": (
                message(group(0x04), begin_collection("c")) + b"\x00\x00\x00\x00",
                HEADER_SIZE + 1 + 6),
            "endCollection outside": (
                message(group(0x04), item(0x44, "a", "b"), end_collection()),
                HEADER_SIZE + 1 + 7 + 1 + 2 + 2),
            "memberAttrName outside": (
                message(group(0x04), item(0x4A, "a", "b")), HEADER_SIZE + 1 + 1 + 2 + 1 + 2),
        }
        for name, (wire, offset) in cases.items():
            with self.subTest(name):
                self.assert_parse_error(wire, offset)


class Structure(CodecCase):
    def test_mixed_tags_in_one_attribute(self):
        wire = message(group(0x04), item(0x21, "job-k-octets", s32(5)),
                       item(0x33, "", s32(1) + s32(10)), item(0x13, "", b""),
                       item(0x44, "next", "k"))
        decoded = self.round_trip(wire)
        self.assertEqual(decoded.groups[0].attributes, [
            Attribute("job-k-octets", [(0x21, 5), (0x33, (1, 10)), (0x13, b"")]),
            Attribute("next", [(0x44, "k")])])
        self.assertEqual(decoded.find("job-k-octets").first, 5)

    def test_repeated_groups_kept_in_order(self):
        wire = message(group(0x01), item(0x47, "attributes-charset", "utf-8"),
                       group(0x04), item(0x42, "printer-name", "a"),
                       group(0x04), item(0x42, "printer-name", "b"),
                       group(0x02),                                   # an empty group
                       group(0x04), item(0x42, "printer-name", "c"))
        decoded = self.round_trip(wire)
        self.assertEqual([g.tag for g in decoded.groups], [0x01, 0x04, 0x04, 0x02, 0x04])
        self.assertEqual([[a.values for a in g.attributes] for g in decoded.groups],
                         [[[(0x47, "utf-8")]], [[(0x42, "a")]], [[(0x42, "b")]], [], [[(0x42, "c")]]])
        self.assertEqual(decoded.find("printer-name", 0x04).first, "a")

    def test_unknown_delimiter_tags_kept(self):
        for tag in range(0x0B, 0x10):
            with self.subTest(tag=tag):
                wire = message(group(0x01), item(0x47, "attributes-charset", "utf-8"),
                               group(tag), item(0x44, "x", "y"))
                decoded = self.round_trip(wire)
                self.assertEqual([g.tag for g in decoded.groups], [0x01, tag])
                self.assertEqual(decoded.groups[1].attributes, [Attribute("x", [(0x44, "y")])])
                self.assertEqual(fakecups.code_name(fakecups.GROUP_TAGS, tag), "0x%04x" % tag)

    def test_every_known_group_tag(self):
        for tag in list(range(0x01, 0x03)) + list(range(0x04, 0x0B)):
            decoded = self.round_trip(message(group(tag)))
            self.assertEqual(decoded.groups, [Group(tag)])

    def test_additional_value_with_no_attribute_before(self):
        self.assert_parse_error(message(group(0x01), item(0x44, "", "orphan")), HEADER_SIZE + 1)
        # a new group starts a new attribute list: no carrying over from the group before
        wire = message(group(0x01), item(0x44, "a", "b"), group(0x04), item(0x44, "", "c"))
        self.assert_parse_error(wire, HEADER_SIZE + 1 + 7 + 1)

    def test_attribute_before_any_group(self):
        self.assert_parse_error(message(item(0x44, "a", "b")), HEADER_SIZE)

    def test_zero_group_tag(self):
        wire = message(group(0x01), item(0x44, "a", "b"), group(0x00), item(0x44, "c", "d"))
        self.assert_parse_error(wire, HEADER_SIZE + 1 + 7)
        self.assert_parse_error(header() + b"\x00", HEADER_SIZE)

    def test_wrong_size_fixed_values(self):
        offset = HEADER_SIZE + 1 + 1 + 2 + 1 + 2
        sizes = {0x21: (0, 3, 5, 8), 0x23: (2, 6), 0x22: (0, 2, 4), 0x31: (10, 12, 0),
                 0x32: (8, 10, 0), 0x33: (4, 9, 0, 16)}
        for tag, wrong in sizes.items():
            for size in wrong:
                with self.subTest(tag="0x%02x" % tag, size=size):
                    self.assert_parse_error(message(group(0x04), item(tag, "v", b"\x01" * size)), offset)
                    with self.assertRaises(ParseError):
                        fakecups.decode_value(tag, b"\x01" * size, 0)

    def test_wrong_size_inside_a_collection(self):
        wire = message(group(0x04), begin_collection("c"), member("m"),
                       item(0x21, "", b"\x00\x01"), end_collection())
        self.assert_parse_error(wire)

    def test_document_data_after_end_of_attributes(self):
        data = b"\x03\x01%PDF-1.4\x00\xff" * 3        # looks like IPP tags: must not matter
        decoded = self.round_trip(message(group(0x01), item(0x47, "attributes-charset", "utf-8"),
                                          data=data))
        self.assertEqual(decoded.data, data)
        self.assertEqual(fakecups.decode_message(message()).data, b"")
        self.assertEqual(fakecups.decode_message(message()).groups, [])

    def test_header_fields(self):
        decoded = self.round_trip(message(version=(1, 0), code=0x4042, request_id=-1))
        self.assertEqual((decoded.version, decoded.code, decoded.request_id), ((1, 0), 0x4042, -1))
        decoded = self.round_trip(message(version=(9, 7), code=0xFFFF, request_id=0x7FFFFFFF))
        self.assertEqual((decoded.version, decoded.code, decoded.request_id), ((9, 7), 0xFFFF, 0x7FFFFFFF))


class Names(unittest.TestCase):
    def test_code_name(self):
        self.assertEqual(fakecups.code_name(fakecups.OPERATIONS, 0x0002), "Print-Job")
        self.assertEqual(fakecups.code_name(fakecups.OPERATIONS, 0x4002), "CUPS-Get-Printers")
        self.assertEqual(fakecups.code_name(fakecups.OPERATIONS, 0x4042), "0x4042")
        self.assertEqual(fakecups.code_name(fakecups.OPERATIONS, 0x0001), "0x0001")
        self.assertEqual(fakecups.code_name(fakecups.OPERATIONS, 0xABCD), "0xabcd")
        self.assertEqual(fakecups.code_name(fakecups.STATUS_CODES, 0x0000), "successful-ok")
        self.assertEqual(fakecups.code_name(fakecups.STATUS_CODES, 0x0406), "client-error-not-found")
        self.assertEqual(fakecups.code_name(fakecups.STATUS_CODES, 0x0FFF), "0x0fff")
        self.assertEqual(fakecups.code_name(fakecups.GROUP_TAGS, 0x04), "printer-attributes-tag")

    def test_syntax_name(self):
        self.assertEqual(fakecups.syntax_name(0x21), "integer")
        self.assertEqual(fakecups.syntax_name(0x41), "textWithoutLanguage")
        self.assertEqual(fakecups.syntax_name(0x42), "nameWithoutLanguage")
        self.assertEqual(fakecups.syntax_name(0x7F), "extension")
        self.assertEqual(fakecups.syntax_name(0x7F, (0x12345678, b"")), "extension(0x12345678)")
        self.assertEqual(fakecups.syntax_name(0x5F), "0x5f")
        self.assertEqual(fakecups.syntax_name(0x5F, b"raw"), "0x5f")


if __name__ == "__main__":
    unittest.main()
