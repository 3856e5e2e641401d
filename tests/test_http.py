"""Unit tests for fakecups' HTTP/1.1 framing (RFC 9112): ByteReader, read_request_head,
body_length, iter_body, http_date, format_response, cupsd_headers, and serve_connection end
to end over in-memory byte streams.

Every framing test runs twice: over io.BytesIO(...).read (everything in one read) and over a
recv that hands out one byte per call, so no result may depend on how the bytes arrive.
"""

import calendar
import email.utils
import io
import json
import unittest
from pathlib import Path

import fakecups
from fakecups import ClientGone, HttpError
from tests.support import CAPTURES, final_responses, serve_in_process, split_responses

MODES = ("bulk", "one-byte")


class Source:
    """A recv(n) over fixed bytes that counts what it handed out."""

    def __init__(self, data, one_byte=False):
        self.stream = io.BytesIO(data)
        self.one_byte = one_byte
        self.calls = 0

    def __call__(self, size):
        self.calls += 1
        return self.stream.read(1 if self.one_byte else size)

    @property
    def consumed(self):
        return self.stream.tell()


def reader_for(data, mode="bulk", wait=None, **kwargs):
    if mode == "bulk":
        return fakecups.ByteReader(io.BytesIO(data).read, wait, **kwargs)
    return fakecups.ByteReader(Source(data, one_byte=True), wait, **kwargs)


def new_head():
    return fakecups.RequestHead(b"", "", "", "", [])


def rest(reader):
    """Everything the reader still holds or can still read."""
    parts = []
    while True:
        chunk = reader.read(1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def head_with(*headers, version="HTTP/1.1"):
    return fakecups.RequestHead(b"POST / " + version.encode(), "POST", "/", version, list(headers))


class FramingCase(unittest.TestCase):
    maxDiff = None

    def read_head(self, data, mode, max_header_bytes=fakecups.DEFAULT_MAX_HEADER_BYTES):
        reader = reader_for(data, mode)
        head = new_head()
        result = fakecups.read_request_head(reader, head, max_header_bytes, None)
        return result, head, reader

    def assert_http_error(self, status, data, max_header_bytes=fakecups.DEFAULT_MAX_HEADER_BYTES):
        for mode in MODES:
            with self.subTest(mode=mode, data=data[:60]):
                with self.assertRaises(HttpError) as caught:
                    self.read_head(data, mode, max_header_bytes)
                self.assertEqual(caught.exception.status, status, str(caught.exception))

    def assert_client_gone(self, data):
        for mode in MODES:
            with self.subTest(mode=mode, data=data[:60]):
                with self.assertRaises(ClientGone):
                    self.read_head(data, mode)

    def body(self, data, framing, mode, max_body_bytes=1 << 20):
        reader = reader_for(data, mode)
        return b"".join(fakecups.iter_body(reader, framing, max_body_bytes, lambda: None)), reader


# ── read_request_head ────────────────────────────────────────────────────────────────────

class RequestHead(FramingCase):
    def test_normal_request(self):
        data = (b"POST /printers/lab HTTP/1.1\r\n"
                b"Host: localhost:631\r\n"
                b"content-TYPE: application/ipp\r\n"
                b"X-Spaces: \t padded value \t\r\n"
                b"Empty:\r\n"
                b"host: second\r\n"
                b"\r\n"
                b"BODY")
        for mode in MODES:
            with self.subTest(mode=mode):
                result, head, reader = self.read_head(data, mode)
                self.assertIs(result, True)
                self.assertEqual(head.line, b"POST /printers/lab HTTP/1.1")
                self.assertEqual((head.method, head.target, head.version),
                                 ("POST", "/printers/lab", "HTTP/1.1"))
                self.assertEqual(head.headers, [("Host", "localhost:631"),
                                                ("content-TYPE", "application/ipp"),
                                                ("X-Spaces", "padded value"),
                                                ("Empty", ""), ("host", "second")])
                self.assertEqual(head.header("Content-Type"), "application/ipp")
                self.assertEqual(head.header("HOST"), "second")          # the last one
                self.assertEqual(head.header_values("host"), ["localhost:631", "second"])
                self.assertIsNone(head.header("Missing"))
                self.assertEqual(rest(reader), b"BODY")                   # nothing eaten

    def test_two_heads_in_a_row(self):
        data = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.0\r\n\r\n"
        for mode in MODES:
            with self.subTest(mode=mode):
                reader = reader_for(data, mode)
                targets = []
                while True:
                    head = new_head()
                    if not fakecups.read_request_head(reader, head, 1000, None):
                        break
                    targets.append((head.target, head.version, head.headers))
                self.assertEqual(targets, [("/a", "HTTP/1.1", [("Host", "x")]), ("/b", "HTTP/1.0", [])])

    def test_bare_lf(self):
        data = b"GET / HTTP/1.1\nHost: a\r\nAccept: */*\n\nX"
        for mode in MODES:
            with self.subTest(mode=mode):
                result, head, reader = self.read_head(data, mode)
                self.assertTrue(result)
                self.assertEqual(head.line, b"GET / HTTP/1.1")
                self.assertEqual(head.headers, [("Host", "a"), ("Accept", "*/*")])
                self.assertEqual(rest(reader), b"X")

    def test_leading_empty_lines_ignored(self):
        data = b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
        for mode in MODES:
            with self.subTest(mode=mode):
                result, head, _ = self.read_head(data, mode)
                self.assertTrue(result)
                self.assertEqual(head.line, b"GET / HTTP/1.1")

    def test_stray_cr_before_request_line(self):
        self.assert_http_error(400, b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n")

    def test_clean_eof(self):
        for data in (b"", b"\r\n", b"\r\n\n"):
            for mode in MODES:
                with self.subTest(mode=mode, data=data):
                    result, head, _ = self.read_head(data, mode)
                    self.assertIs(result, False)
                    self.assertEqual(head.line, b"")

    def test_eof_inside_the_head(self):
        for data in (b"G", b"GET / HTTP/1.1", b"GET / HTTP/1.1\r\n", b"GET / HTTP/1.1\r\nHost: a\r\n",
                     b"GET / HTTP/1.1\r\nHost: a\r\nAcc", b"GET / HTTP/1.1\r\nHost: a\r\n\r"):
            self.assert_client_gone(data)

    def test_request_line_length_limit(self):
        limit = fakecups.MAX_REQUEST_LINE
        fits = b"GET /" + b"a" * (limit - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
        self.assertEqual(len(fits), limit)
        for mode in MODES:
            with self.subTest(mode=mode):
                result, head, _ = self.read_head(fits + b"\r\nHost: a\r\n\r\n", mode)
                self.assertTrue(result)
                self.assertEqual(len(head.target), limit - len(b"GET  HTTP/1.1"))
        too_long = b"GET /" + b"a" * (limit - len(b"GET / HTTP/1.1") + 1) + b" HTTP/1.1"
        self.assert_http_error(414, too_long + b"\r\nHost: a\r\n\r\n")

    def test_request_line_too_long_is_refused_without_reading_it_all(self):
        source = Source(b"GET /" + b"a" * (1 << 20), one_byte=True)
        reader = fakecups.ByteReader(source, None)
        with self.assertRaises(HttpError) as caught:
            fakecups.read_request_head(reader, new_head(), 16384, None)
        self.assertEqual(caught.exception.status, 414)
        self.assertLessEqual(source.consumed, fakecups.MAX_REQUEST_LINE + 2)

    def test_header_bytes_limit(self):
        # size counts every header line with its CRLF, the closing empty line included
        line = b"X-Pad: " + b"p" * 40 + b"\r\n"                 # 49 bytes
        head = b"GET / HTTP/1.1\r\n" + line * 2 + b"\r\n"       # 2*49 + 2 = 100 bytes of headers
        for mode in MODES:
            with self.subTest(mode=mode):
                self.assertTrue(self.read_head(head, mode, max_header_bytes=100)[0])
        self.assert_http_error(431, head, max_header_bytes=99)
        self.assert_http_error(431, b"GET / HTTP/1.1\r\n" + line * 100 + b"\r\n", max_header_bytes=1000)
        # one header line longer than the whole limit
        self.assert_http_error(431, b"GET / HTTP/1.1\r\nX: " + b"v" * 5000 + b"\r\n\r\n",
                               max_header_bytes=1000)

    def test_header_count_limit(self):
        count = fakecups.MAX_HEADER_COUNT
        many = b"".join(b"X-%d: v\r\n" % n for n in range(count))
        for mode in MODES:
            with self.subTest(mode=mode):
                result, head, _ = self.read_head(b"GET / HTTP/1.1\r\n" + many + b"\r\n", mode)
                self.assertTrue(result)
                self.assertEqual(len(head.headers), count)
        self.assert_http_error(431, b"GET / HTTP/1.1\r\n" + many + b"X-last: v\r\n\r\n")

    def test_malformed_header_fields(self):
        for field in (b"Host: a\r\n folded",            # obs-fold, space
                      b"Host: a\r\n\tfolded",           # obs-fold, tab
                      b"NoColonHere",
                      b": no name",
                      b"Host : space before colon",     # RFC 9112 5.1: MUST be 400
                      b" Host: leading space",
                      b"Host: nul\x00byte",
                      b"Nul\x00Name: v",
                      b"Host: bare\rcr",
                      b" ",                             # whitespace only: not an end of head
                      b"\t"):
            self.assert_http_error(400, b"GET / HTTP/1.1\r\n" + field + b"\r\n\r\n")

    def test_malformed_request_line(self):
        for line in (b"GET  / HTTP/1.1", b"GET / HTTP/1.1 extra", b"GET\t/\tHTTP/1.1",
                     b" GET / HTTP/1.1", b"GET / HTTP/1.1 ", b"GET /\x00 HTTP/1.1",
                     b"GET / \rHTTP/1.1", b"GET", b"GET / HTTPS/1.1", b"GET / http/1.1",
                     b"GET / HTTP/1", b"GET / HTTP/11", b"GET / HTTP/1.1x"):
            self.assert_http_error(400, line + b"\r\nHost: a\r\n\r\n")

    def test_http_09_style_request(self):
        self.assert_http_error(400, b"GET /\r\n\r\n")

    def test_http_versions(self):
        for version in (b"HTTP/2.0", b"HTTP/2", b"HTTP/3.0"):
            self.assert_http_error(505, b"PRI * " + version + b"\r\n\r\n")
        for version in (b"HTTP/1.0", b"HTTP/1.1"):
            for mode in MODES:
                result, head, _ = self.read_head(b"GET / " + version + b"\r\n\r\n", mode)
                self.assertTrue(result)
                self.assertEqual(head.version, version.decode())

    # Suspected bug: RFC 9110 section 2.5 says a recipient of a higher minor version within
    # a major version it implements SHOULD process the message as the highest minor version
    # it knows (1.1), and cupsd does (client.c takes any HTTP/1.x with major < 2).
    # fakecups answers "HTTP/1.2" with 400 "bad HTTP version".
    def test_higher_minor_version_is_read_as_1_1(self):
        result, head, _ = self.read_head(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", "bulk")
        self.assertTrue(result)

    def test_not_http_at_all_gets_no_answer(self):
        client_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40
        for data in (client_hello, b"\x00\x01\x02", b"\x80\x01\x00", b"\x7fELF", b"\xffGET / HTTP/1.1\r\n"):
            self.assert_client_gone(data)
        head = new_head()
        with self.assertRaises(ClientGone) as caught:
            fakecups.read_request_head(reader_for(client_hello), head, 1000, None)
        self.assertIn("TLS", str(caught.exception))
        self.assertEqual(head.line, client_hello)           # kept for the record


class KeepAliveProperty(unittest.TestCase):
    def test_keep_alive(self):
        self.assertTrue(head_with().keep_alive)
        self.assertFalse(head_with(("Connection", "close")).keep_alive)
        self.assertFalse(head_with(("connection", "Upgrade, CLOSE")).keep_alive)
        self.assertFalse(head_with(version="HTTP/1.0").keep_alive)
        self.assertTrue(head_with(("Connection", "keep-alive"), version="HTTP/1.0").keep_alive)


# ── body_length ──────────────────────────────────────────────────────────────────────────

class BodyLength(unittest.TestCase):
    def status_of(self, *headers):
        with self.assertRaises(HttpError) as caught:
            fakecups.body_length(head_with(*headers))
        return caught.exception.status

    def test_content_length(self):
        self.assertEqual(fakecups.body_length(head_with()), ("length", 0))
        self.assertEqual(fakecups.body_length(head_with(("Content-Length", "72"))), ("length", 72))
        self.assertEqual(fakecups.body_length(head_with(("content-length", "007"))), ("length", 7))
        self.assertEqual(fakecups.body_length(head_with(("Content-Length", "0"))), ("length", 0))
        # the same value repeated is one value (RFC 9110 8.6)
        self.assertEqual(fakecups.body_length(head_with(("Content-Length", "5, 5"))), ("length", 5))
        self.assertEqual(fakecups.body_length(head_with(("Content-Length", "5"), ("Content-Length", "5"))),
                         ("length", 5))
        self.assertEqual(fakecups.body_length(head_with(("Content-Length", "9" * 19))),
                         ("length", int("9" * 19)))

    def test_chunked(self):
        for value in ("chunked", "Chunked", " CHUNKED "):
            self.assertEqual(fakecups.body_length(head_with(("Transfer-Encoding", value))),
                             ("chunked", None))

    def test_both_is_refused(self):
        self.assertEqual(self.status_of(("Content-Length", "5"), ("Transfer-Encoding", "chunked")), 400)
        self.assertEqual(self.status_of(("Transfer-Encoding", "chunked"), ("Content-Length", "0")), 400)

    def test_conflicting_lengths(self):
        self.assertEqual(self.status_of(("Content-Length", "5"), ("Content-Length", "6")), 400)
        self.assertEqual(self.status_of(("Content-Length", "5, 6")), 400)

    def test_bad_lengths(self):
        for value in ("abc", "-1", "+5", "", "1e3", "0x10", "1 2", "5;", "²", "1" * 20, "5.0"):
            with self.subTest(value=value):
                self.assertEqual(self.status_of(("Content-Length", value)), 400)

    def test_unknown_transfer_coding(self):
        for value in ("gzip, chunked", "chunked, chunked", "x-custom, chunked"):
            with self.subTest(value=value):
                self.assertEqual(self.status_of(("Transfer-Encoding", value)), 501)

    # Suspected bug: RFC 9112 section 6.3 (4): when Transfer-Encoding is present and chunked
    # is not the final coding the length cannot be known, and "the server MUST respond with
    # the 400 (Bad Request) status code and then close the connection".  fakecups answers
    # 501 for any coding list other than exactly "chunked" (501 is right only when chunked is
    # last and another coding is unknown).
    def test_chunked_not_final_is_bad_request(self):
        for value in ("gzip", "chunked, gzip", "identity"):
            with self.subTest(value=value):
                self.assertEqual(self.status_of(("Transfer-Encoding", value)), 400)


# ── iter_body ────────────────────────────────────────────────────────────────────────────

class IterBody(FramingCase):
    def test_content_length_body(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                body, reader = self.body(b"helloNEXT", ("length", 5), mode)
                self.assertEqual(body, b"hello")
                self.assertEqual(rest(reader), b"NEXT")
                body, reader = self.body(b"NEXT", ("length", 0), mode)
                self.assertEqual((body, rest(reader)), (b"", b"NEXT"))

    def test_large_content_length_body(self):
        data = bytes(range(256)) * 1000                         # over READ_SIZE
        body, reader = self.body(data + b"tail", ("length", len(data)), "bulk", max_body_bytes=len(data))
        self.assertEqual(body, data)
        self.assertEqual(rest(reader), b"tail")

    def test_chunked_with_extensions_and_trailers(self):
        data = (b"5;name=value\r\nhello\r\n"
                b"6 ; quoted=\"a;b\"\r\n world\r\n"
                b"A\nabcdefghij\n"                      # upper-case hex, bare LF
                b"0005\r\n12345\r\n"                    # leading zeros
                b"0;last\r\n"
                b"Trailer-One: x\r\n"
                b"trailer-two: y\r\n"
                b"\r\n"
                b"NEXT")
        for mode in MODES:
            with self.subTest(mode=mode):
                body, reader = self.body(data, ("chunked", None), mode)
                self.assertEqual(body, b"hello worldabcdefghij12345")
                self.assertEqual(rest(reader), b"NEXT")

    def test_chunked_real_capture(self):
        """ipptool-print-job's body: an attributes chunk (0xcb), a document chunk (0x2d) and
        the last chunk ("chunked x3" in ipp.txt).  Taken apart by hand first."""
        client = (CAPTURES / "empty" / "ipptool-print-job" / "client.bin").read_bytes()
        start = client.index(b"\r\n\r\n") + 4
        self.assertIn(b"Transfer-Encoding: chunked\r\n", client[:start])
        expected, pos = [], start
        while True:                                             # a minimal independent de-chunker
            end = client.index(b"\r\n", pos)
            size = int(client[pos:end], 16)
            if size == 0:
                break
            expected.append(client[end + 2:end + 2 + size])
            pos = end + 2 + size + 2
        self.assertEqual([len(part) for part in expected], [0xCB, 0x2D])
        for mode in MODES:
            with self.subTest(mode=mode):
                body, reader = self.body(client[start:], ("chunked", None), mode)
                self.assertEqual(body, b"".join(expected))
                self.assertEqual(len(body), 248)
                self.assertTrue(body.endswith((CAPTURES / "files" / "somefile.txt").read_bytes()))
                self.assertEqual(rest(reader), b"")

    def test_bad_chunk_size(self):
        for line in (b"xyz", b"-5", b"", b"0x5", b"5 5", b"1" * 17, b";ext", b"+5", b"\x005"):
            for mode in MODES:
                with self.subTest(line=line, mode=mode):
                    with self.assertRaises(HttpError) as caught:
                        self.body(line + b"\r\nhello\r\n0\r\n\r\n", ("chunked", None), mode)
                    self.assertEqual(caught.exception.status, 400)

    def test_chunk_line_too_long(self):
        data = b"5;" + b"e" * fakecups.MAX_CHUNK_LINE + b"\r\nhello\r\n0\r\n\r\n"
        with self.assertRaises(HttpError) as caught:
            self.body(data, ("chunked", None), "one-byte")
        self.assertEqual(caught.exception.status, 400)

    def test_chunk_not_followed_by_crlf(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                with self.assertRaises(HttpError) as caught:
                    self.body(b"5\r\nhelloXY\r\n0\r\n\r\n", ("chunked", None), mode)
                self.assertEqual(caught.exception.status, 400)

    def test_content_length_over_the_limit(self):
        source = Source(b"x" * 100, one_byte=True)
        reader = fakecups.ByteReader(source, None)
        with self.assertRaises(HttpError) as caught:
            next(fakecups.iter_body(reader, ("length", 100), 99, lambda: None))
        self.assertEqual(caught.exception.status, 413)
        self.assertEqual(source.consumed, 0)                    # refused before reading any
        self.assertEqual(b"".join(fakecups.iter_body(fakecups.ByteReader(Source(b"x" * 100), None),
                                                     ("length", 100), 100, lambda: None)), b"x" * 100)

    def test_chunk_over_the_limit_refused_before_reading_it(self):
        # one chunk of 11 bytes with a 10-byte limit
        source = Source(b"b\r\n" + b"x" * 11 + b"\r\n0\r\n\r\n", one_byte=True)
        reader = fakecups.ByteReader(source, None)
        with self.assertRaises(HttpError) as caught:
            b"".join(fakecups.iter_body(reader, ("chunked", None), 10, lambda: None))
        self.assertEqual(caught.exception.status, 413)
        self.assertEqual(source.consumed, len(b"b\r\n"))         # not a byte of the chunk

    def test_chunks_adding_up_over_the_limit(self):
        first = b"8\r\n12345678\r\n"
        second_line = b"8\r\n"
        source = Source(first + second_line + b"abcdefgh\r\n0\r\n\r\n", one_byte=True)
        reader = fakecups.ByteReader(source, None)
        received = []
        with self.assertRaises(HttpError) as caught:
            for chunk in fakecups.iter_body(reader, ("chunked", None), 10, lambda: None):
                received.append(chunk)
        self.assertEqual(caught.exception.status, 413)
        self.assertEqual(b"".join(received), b"12345678")
        self.assertEqual(source.consumed, len(first + second_line))
        # exactly at the limit is fine
        body, _ = self.body(b"5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n", ("chunked", None), "bulk", 10)
        self.assertEqual(body, b"1234567890")

    def test_truncated_body(self):
        cases = [(b"hello", ("length", 10)),
                 (b"", ("length", 1)),
                 (b"5\r\nhel", ("chunked", None)),
                 (b"5\r\n", ("chunked", None)),
                 (b"5", ("chunked", None)),
                 (b"", ("chunked", None)),
                 (b"5\r\nhello\r\n", ("chunked", None))]
        for data, framing in cases:
            for mode in MODES:
                with self.subTest(data=data, mode=mode):
                    with self.assertRaises(ClientGone):
                        self.body(data, framing, mode)

    # Suspected bug: a chunked body cut off by EOF right after a chunk's data (before its
    # CRLF) or after the last chunk (inside the trailer section) raises HttpError(400) —
    # "chunk not followed by CRLF" / "bad chunked trailer" — where every other EOF inside a
    # body raises ClientGone.  The client has gone, so serve_request then tries to send a
    # 400 nobody reads and records a 400 that was never seen, instead of "connection closed
    # inside the body".  (readline() returns b"" at EOF and iter_body does not tell that
    # apart from a malformed line.)
    def test_truncated_chunked_body_at_crlf_or_trailer(self):
        for data in (b"5\r\nhello", b"5\r\nhello\r", b"5\r\nhello\r\n0\r\n",
                     b"0\r\nTrailer: x\r\n", b"0\r\nTrai"):
            for mode in MODES:
                with self.subTest(data=data, mode=mode):
                    with self.assertRaises(ClientGone):
                        self.body(data, ("chunked", None), mode)

    def test_trailers_too_large(self):
        trailer = b"T: " + b"t" * 1000 + b"\r\n"
        data = b"0\r\n" + trailer * 20 + b"\r\n"
        with self.assertRaises(HttpError) as caught:
            self.body(data, ("chunked", None), "bulk")
        self.assertEqual(caught.exception.status, 431)


# ── ByteReader waits and deadlines ───────────────────────────────────────────────────────

class Timeouts(unittest.TestCase):
    def test_wait_says_nothing_came(self):
        source = Source(b"GET / HTTP/1.1\r\n\r\n")
        reader = fakecups.ByteReader(source, lambda seconds: False)
        with self.assertRaises(ClientGone):
            fakecups.read_request_head(reader, new_head(), 1000, None)
        self.assertEqual(source.calls, 0)

    def test_wait_times_out_inside_the_body(self):
        answers = iter([True, False])
        reader = fakecups.ByteReader(Source(b"abc", one_byte=True), lambda seconds: next(answers))
        with self.assertRaises(ClientGone):
            b"".join(fakecups.iter_body(reader, ("length", 3), 10, lambda: None))

    def test_deadline_in_the_past(self):
        waits = []
        source = Source(b"GET / HTTP/1.1\r\n\r\n")
        reader = fakecups.ByteReader(source, lambda s: waits.append(s) or True, clock=lambda: 100.0)
        with self.assertRaises(ClientGone) as caught:
            fakecups.read_request_head(reader, new_head(), 1000, deadline=99.0)
        self.assertIn("deadline", str(caught.exception))
        self.assertEqual((waits, source.calls), ([], 0))
        with self.assertRaises(ClientGone):
            fakecups.read_request_head(reader, new_head(), 1000, deadline=100.0)

    def test_deadline_in_the_past_inside_the_body(self):
        reader = fakecups.ByteReader(Source(b"abc"), lambda s: True, clock=lambda: 100.0)
        with self.assertRaises(ClientGone):
            b"".join(fakecups.iter_body(reader, ("length", 3), 10, lambda: 50.0))

    def test_wait_is_bounded_by_idle_time_and_deadline(self):
        waits = []
        reader = fakecups.ByteReader(Source(b"GET / HTTP/1.1\r\n\r\n"), lambda s: waits.append(s) or True,
                                     idle_timeout=10.0, clock=lambda: 100.0)
        self.assertTrue(fakecups.read_request_head(reader, new_head(), 1000, deadline=103.0))
        self.assertEqual(waits[0], 3.0)
        waits.clear()
        reader = fakecups.ByteReader(Source(b"ab"), lambda s: waits.append(s) or True,
                                     idle_timeout=7.0, clock=lambda: 100.0)
        self.assertEqual(reader.read(5, None), b"ab")
        self.assertEqual(waits, [7.0])

    def test_read_error_is_client_gone(self):
        def recv(size):
            raise ConnectionResetError(104, "Connection reset by peer")
        with self.assertRaises(ClientGone):
            fakecups.read_request_head(fakecups.ByteReader(recv, None), new_head(), 1000, None)

    def test_no_wait_means_no_deadline(self):
        reader = fakecups.ByteReader(Source(b"GET / HTTP/1.1\r\n\r\n"), None, clock=lambda: 100.0)
        self.assertTrue(fakecups.read_request_head(reader, new_head(), 1000, deadline=0.0))


# ── Response formatting ──────────────────────────────────────────────────────────────────

def imf_timestamp(text):
    return email.utils.parsedate_to_datetime(text).timestamp()


def first_final(scenario):
    folder = CAPTURES / scenario
    return final_responses((folder / "server.bin").read_bytes(), ["POST"] * 10)[0]


class Formatting(unittest.TestCase):
    maxDiff = None

    def test_http_date(self):
        self.assertEqual(fakecups.http_date(1e9), "Sun, 09 Sep 2001 01:46:40 GMT")
        self.assertEqual(fakecups.http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT")
        self.assertEqual(fakecups.http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT")  # RFC 9110
        self.assertEqual(fakecups.http_date(1795459089.9), "Mon, 23 Nov 2026 18:38:09 GMT")
        for timestamp in range(0, 4 * 10 ** 9, 86400 * 37 + 3601):
            self.assertEqual(fakecups.http_date(timestamp),
                             email.utils.formatdate(timestamp, usegmt=True))

    def test_http_date_of_a_captured_header(self):
        date = first_final("empty/lpstat-v").header("Date")
        self.assertEqual(fakecups.http_date(calendar.timegm(email.utils.parsedate(date))), date)

    def test_format_response(self):
        headers = [("Connection", "close"), ("X-Case", "Kept")]
        self.assertEqual(fakecups.format_response(200, headers, b"body"),
                         b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Case: Kept\r\n\r\nbody")
        self.assertEqual(fakecups.format_response(404, headers, b"body", head_only=True),
                         b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nX-Case: Kept\r\n\r\n")
        self.assertEqual(fakecups.format_response(200, [], b"", version="HTTP/1.0"),
                         b"HTTP/1.0 200 OK\r\n\r\n")
        self.assertEqual(fakecups.format_response(413, [], version="HTTP/2.0"),
                         b"HTTP/1.1 413 Request Entity Too Large\r\n\r\n")
        self.assertEqual(fakecups.format_response(299, [], b"x"), b"HTTP/1.1 299 Unknown\r\n\r\nx")
        self.assertEqual(fakecups.format_response(100, []), fakecups.CONTINUE)
        self.assertEqual(fakecups.CONTINUE, b"HTTP/1.1 100 Continue\r\n\r\n")

    def test_cupsd_headers_as_cupsd_sends_them(self):
        """Names, order and values of a real cupsd answer (Date from the capture)."""
        real = first_final("empty/lpstat-v")
        names = [name for name, _ in real.headers]
        self.assertEqual(names, ["Connection", "Content-Language", "Content-Length", "Content-Type",
                                 "Date", "Keep-Alive", "Accept-Encoding", "Server",
                                 "X-Frame-Options", "Content-Security-Policy"])
        ours = fakecups.cupsd_headers(imf_timestamp(real.header("Date")), True, 10, 110, "application/ipp")
        self.assertEqual(ours, real.headers)

    def test_cupsd_headers_with_last_modified(self):
        folder = CAPTURES / "empty" / "curl-root"
        real = final_responses((folder / "server.bin").read_bytes(), ["GET"])[0]
        ours = fakecups.cupsd_headers(imf_timestamp(real.header("Date")), True, 10, len(real.body),
                                      "text/html; charset=utf-8",
                                      last_modified=imf_timestamp(real.header("Last-Modified")))
        self.assertEqual(ours, real.headers)

    def test_cupsd_headers_closing_with_extra(self):
        real = first_final("empty/cancel-a")
        self.assertEqual(real.status, 401)
        ours = fakecups.cupsd_headers(imf_timestamp(real.header("Date")), False, 10, 521,
                                      "text/html; charset=utf-8",
                                      extra=[("WWW-Authenticate", 'Basic realm="CUPS", Local trc="y"')])
        self.assertEqual(ours, real.headers)

    def test_cupsd_headers_http10(self):
        names = [n for n, _ in fakecups.cupsd_headers(1e9, True, 10, 0, None, http10=True)]
        self.assertNotIn("Connection", names)
        self.assertNotIn("Keep-Alive", names)
        self.assertNotIn("Content-Type", names)
        self.assertEqual(names[0], "Content-Language")


# ── serve_connection end to end ──────────────────────────────────────────────────────────

LPSTAT_V = CAPTURES / "empty" / "lpstat-v"


def ipp_status(body):
    """(status-code, request-id) read straight from an IPP response's first 8 bytes."""
    return int.from_bytes(body[2:4], "big"), int.from_bytes(body[4:8], "big")


class ServeConnection(unittest.TestCase):
    maxDiff = None

    def serve(self, data, mode="bulk", wait=None, **options):
        """Run one connection over data; returns (bytes of every send, [sends], [records])."""
        config = fakecups.Config(clock=lambda: 1e9, **options)   # real monotonic, as the reader's
        sends, log = serve_in_process(reader_for(data, mode, wait), config, started=1e9)
        records = [json.loads(line) for line in log.decode("utf-8").splitlines()]
        return b"".join(sends), sends, records

    def test_lpstat_v_keep_alive_three_answers(self):
        client = (LPSTAT_V / "client.bin").read_bytes()
        real = final_responses((LPSTAT_V / "server.bin").read_bytes(), ["POST"] * 3)
        for mode in MODES:
            with self.subTest(mode=mode):
                out, _, records = self.serve(client, mode)
                responses = split_responses(out, ["POST"] * 3)
                self.assertEqual([r.status for r in responses], [100, 200] * 3)
                finals = [r for r in responses if r.status != 100]
                for n, (ours, theirs) in enumerate(zip(finals, real), 1):
                    self.assertEqual(ours.header("Connection"), "Keep-Alive")
                    self.assertEqual(ours.header("Keep-Alive"), "timeout=10")
                    self.assertEqual(ours.header("Date"), "Sun, 09 Sep 2001 01:46:40 GMT")
                    self.assertEqual(ours.header("Content-Type"), "application/ipp")
                    self.assertEqual(ipp_status(ours.body), (0x0406, n))
                    self.assertEqual(ours.body, theirs.body)         # as the real cupsd answered
                self.assertEqual(len(records), 3)

    def test_expect_100_continue_with_the_body_already_there(self):
        request = lpstat_request(0)
        out, sends, _ = self.serve(request)
        self.assertEqual(len(sends), 1)                      # one write: 100 and the answer
        self.assertTrue(sends[0].startswith(fakecups.CONTINUE + b"HTTP/1.1 200 OK\r\n"))

    def test_expect_100_continue_before_the_body_arrives(self):
        """The body is not here yet (wait(0) says no): 100 Continue goes out first, alone."""
        request = lpstat_request(0)
        _, sends, _ = self.serve(request, "one-byte", wait=lambda seconds: seconds > 0)
        self.assertEqual(sends[0], fakecups.CONTINUE)
        self.assertTrue(sends[1].startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertEqual(len(sends), 2)

    def test_no_100_continue_unasked_or_for_http10(self):
        request = lpstat_request(0).replace(b"Expect: 100-continue\r\n", b"")
        out, _, _ = self.serve(request)
        self.assertEqual([r.status for r in split_responses(out, ["POST"])], [200])
        request10 = lpstat_request(0).replace(b"HTTP/1.1", b"HTTP/1.0")
        out, _, _ = self.serve(request10)
        self.assertEqual([r.status for r in split_responses(out, ["POST"])], [200])

    def test_connection_close_ends_after_one_answer(self):
        first = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        second = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
        for mode in MODES:
            with self.subTest(mode=mode):
                out, _, records = self.serve(first + second, mode)
                responses = split_responses(out, ["GET", "GET"])
                self.assertEqual([r.status for r in responses], [200])
                self.assertEqual(responses[0].header("Connection"), "close")
                self.assertIsNone(responses[0].header("Keep-Alive"))
                self.assertEqual(len(records), 1)

    def test_ipp_with_connection_close(self):
        request = lpstat_request(0).replace(b"Host:", b"Connection: close\r\nHost:")
        out, _, _ = self.serve(request + lpstat_request(1))
        finals = final_responses(out, ["POST", "POST"])
        self.assertEqual(len(finals), 1)
        self.assertEqual(finals[0].header("Connection"), "close")

    def test_http10_without_host_is_refused_as_cupsd_does(self):
        """cupsd's valid_host() refuses an empty Host for every version: a bare HTTP/1.0
        probe gets 400, as service scanners' fingerprints of CUPS expect."""
        for mode in MODES:
            with self.subTest(mode=mode):
                out, _, _ = self.serve(b"GET / HTTP/1.0\r\n\r\n", mode)
                responses = split_responses(out, ["GET"])
                self.assertEqual([(r.version, r.status) for r in responses], [("HTTP/1.0", 400)])
                out, _, _ = self.serve(b"GET / HTTP/1.1\r\nHost:\r\n\r\n", mode)
                self.assertEqual([r.status for r in split_responses(out, ["GET"])], [400])

    def test_http10_ends_after_one_answer(self):
        first = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
        second = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
        for mode in MODES:
            with self.subTest(mode=mode):
                out, _, _ = self.serve(first + second, mode)
                responses = split_responses(out, ["GET", "GET"])
                self.assertEqual(len(responses), 1)
                self.assertEqual((responses[0].version, responses[0].status), ("HTTP/1.0", 200))
                self.assertIsNone(responses[0].header("Connection"))

    def test_413_for_a_body_over_the_limit(self):
        request = lpstat_request(1)                  # Content-Length: 694
        out, _, records = self.serve(request + lpstat_request(2), max_body_bytes=100)
        responses = split_responses(out, ["POST", "POST"])
        self.assertEqual([r.status for r in responses], [413])   # no 100 Continue first
        self.assertEqual(responses[0].header("Connection"), "close")
        self.assertEqual(len(records), 1)
        chunked = (CAPTURES / "empty" / "ipptool-print-job" / "client.bin").read_bytes()
        out, _, _ = self.serve(chunked, max_body_bytes=100)
        finals = final_responses(out, ["POST"])
        self.assertEqual([r.status for r in finals], [413])
        self.assertEqual(finals[0].header("Connection"), "close")

    def test_pipelined_requests_answered_in_order(self):
        data = (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
                b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n"
                + lpstat_request(0).replace(b"Expect: 100-continue\r\n", b"")
                + b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n"
                + lpstat_request(2).replace(b"Expect: 100-continue\r\n", b"")
                + b"GET /nothing-here HTTP/1.1\r\nHost: localhost\r\n\r\n")
        methods = ["GET", "OPTIONS", "POST", "HEAD", "POST", "GET"]
        for mode in MODES:
            with self.subTest(mode=mode):
                out, _, records = self.serve(data, mode)
                responses = split_responses(out, methods)
                self.assertEqual([r.status for r in responses], [200, 200, 200, 200, 200, 404])
                self.assertEqual([r.header("Content-Type") for r in responses[:3]],
                                 ["text/html; charset=utf-8", None, "application/ipp"])
                self.assertEqual(ipp_status(responses[2].body), (0x0406, 1))
                self.assertEqual(ipp_status(responses[4].body), (0x0406, 3))
                self.assertEqual(responses[3].header("Content-Length"), responses[0].header("Content-Length"))
                self.assertEqual(responses[5].header("Connection"), "close")
                self.assertEqual(len(records), 6)

    def test_error_answers_close_the_connection(self):
        after = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
        cases = [(b"GET / HTTP/1.1\r\n\r\n", 400),                           # no Host
                 (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
                 (b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
                 (b"GET / HTTP/2.0\r\n\r\n", 505),
                 (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
                 (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", 400),
                 (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/ipp\r\n"
                  b"Content-Length: 9\r\n\r\n\x02\x00\x00\x0b\x00\x00\x00\x01\x00", 400)]  # bad IPP
        for request, status in cases:
            for mode in MODES:
                with self.subTest(request=request[:40], mode=mode):
                    out, _, records = self.serve(request + after, mode)
                    responses = split_responses(out, ["GET"])
                    self.assertEqual([r.status for r in responses], [status])
                    self.assertEqual(responses[0].header("Connection"), "close")
                    self.assertEqual(len(records), 1)

    def test_tls_and_eof_get_no_answer(self):
        for data in (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", b"", b"\r\n",
                     b"GET / HTTP/1.1\r\nHost: a\r\n"):
            with self.subTest(data=data):
                out, sends, _ = self.serve(data)
                self.assertEqual(sends, [])


def lpstat_request(index):
    """The raw bytes (head and body) of request number index in lpstat-v's client.bin,
    cut at the request lines (all three are "POST / HTTP/1.1" with a Content-Length)."""
    client = (LPSTAT_V / "client.bin").read_bytes()
    starts = []
    pos = 0
    while True:
        pos = client.find(b"POST / HTTP/1.1\r\n", pos)
        if pos < 0:
            break
        starts.append(pos)
        pos += 1
    starts.append(len(client))
    return client[starts[index]:starts[index + 1]]


if __name__ == "__main__":
    unittest.main()


class ContinueWhenTheClientWaits(unittest.TestCase):
    """ipptool sends the head and the IPP chunk of a Print-Job, then waits (up to 1 s) for
    100 Continue before the document; CUPS clients send everything at once.  fakecups must
    send 100 Continue on its own as soon as a read would block, and otherwise only with the
    answer, in one write."""

    CAPTURE = Path(__file__).parent / "captures" / "empty" / "ipptool-print-job" / "client.bin"

    def scripted_client(self, first, later):
        parts, pending, sends = [first], [later], []

        def wait(seconds):
            return bool(parts) or not pending      # readable: data, or EOF once all is sent

        def recv(size):
            return parts.pop(0) if parts else b""

        def send(data):
            sends.append(data)
            if b"100 Continue" in data and pending:
                parts.append(pending.pop())

        reader = fakecups.ByteReader(recv, wait, idle_timeout=0.5)
        recorder = fakecups.Recorder("classic", None, "x")
        connection = fakecups.ConnectionRecord(1e9, "-", 1)
        fakecups.serve_connection(reader, send, connection, fakecups.Config(), recorder)
        return sends

    def test_waiting_client_gets_continue_first(self):
        data = self.CAPTURE.read_bytes()
        head_end = data.index(b"\r\n\r\n") + 4
        size_end = data.index(b"\r\n", head_end)
        first_chunk_end = size_end + 2 + int(data[head_end:size_end], 16) + 2
        sends = self.scripted_client(data[:first_chunk_end], data[first_chunk_end:])
        self.assertEqual(sends[0], fakecups.CONTINUE)
        self.assertTrue(sends[1].startswith(b"HTTP/1.1 200 OK\r\n"), sends[1][:40])
        self.assertEqual(len(sends), 2)

    def test_eager_client_gets_one_write(self):
        sends = self.scripted_client(self.CAPTURE.read_bytes(), b"")
        self.assertEqual(len(sends), 1)
        self.assertTrue(sends[0].startswith(fakecups.CONTINUE + b"HTTP/1.1 200 OK\r\n"))
