"""The README's layout recipes, each followed once here: a new operation, a new value syntax,
a new log format and a new persona are each one place in fakecups.py.  If one of these tests
needs a second edit somewhere else to pass, the recipe (or the code's shape) is wrong."""

import io
import tempfile
import unittest

import fakecups as F
from tests.support import CAPTURES, captured_request, final_responses, serve_in_process


def ask(persona, message, path="/"):
    return persona(F.IppRequest(message, path), None)


class TinyPersona(F.Persona):
    """A persona defined outside fakecups.py: one class, one method per operation."""

    home_text = "A tiny persona."

    @F.handles("Get-Printer-Attributes")
    def get_printer_attributes(self, request, document):
        group = F.Group(F.TAG_PRINTER, [F.Attribute("operations-supported",
                                                    [(F.TAG_ENUM, c) for c in self.operations_supported])])
        return F.ipp_answer(request, "successful-ok", groups=[group])

    @F.handles("Get-Jobs")
    def get_jobs(self, request, document):
        raise F.IppError("client-error-not-possible", "Tiny printers keep no jobs.")


class NewOperation(unittest.TestCase):
    """Recipe: a new operation is one method marked @handles in the persona."""

    def test_a_marked_method_is_dispatched_and_advertised(self):
        class WithIdentify(TinyPersona):
            @F.handles("Identify-Printer")
            def identify(self, request, document):
                return F.ipp_answer(request, "successful-ok", "Beep.")

        request = captured_request("ipptool-get-printer-attributes")
        request.code = F.OP["Identify-Printer"]
        answer = ask(WithIdentify(), request)
        self.assertEqual(F.STATUS_CODES[answer.ipp_status], "successful-ok")
        self.assertEqual(answer.status_message, "Beep.")
        self.assertIn(F.OP["Identify-Printer"], WithIdentify().operations_supported)
        self.assertNotIn(F.OP["Identify-Printer"], TinyPersona().operations_supported)

    def test_operations_supported_is_the_handler_table(self):
        request = captured_request("ipptool-get-printer-attributes")
        answer = ask(TinyPersona(), request)
        advertised = [v for t, v in answer.message.groups[1].get("operations-supported").values]
        self.assertEqual(advertised, [F.OP["Get-Jobs"], F.OP["Get-Printer-Attributes"]])

    def test_printer_persona_advertises_exactly_what_it_handles(self):
        with tempfile.TemporaryDirectory() as spool:
            persona = F.PrinterPersona("office", F.Spool(spool, 1 << 20, 1 << 20))
            request = captured_request("ipptool-get-printer-attributes")
            request.groups[0].get("printer-uri").values[0] = (F.TAG_URI, "ipp://localhost/printers/office")
            group = ask(persona, request).message.groups[1]
            advertised = sorted(v for t, v in group.get("operations-supported").values)
            self.assertEqual(advertised, sorted(F.PrinterPersona.handlers))
            self.assertIn(F.OP["CUPS-Get-Classes"], advertised)

    def test_an_unhandled_operation_and_an_ipp_error(self):
        request = captured_request("ipptool-get-printer-attributes")
        request.code = F.OP["Hold-Job"]
        answer = ask(TinyPersona(), request)
        self.assertEqual(F.STATUS_CODES[answer.ipp_status], "server-error-operation-not-supported")
        self.assertEqual(answer.status_message, "Hold-Job not supported.")
        request.code = F.OP["Get-Jobs"]
        answer = ask(TinyPersona(), request)
        self.assertEqual(F.STATUS_CODES[answer.ipp_status], "client-error-not-possible")
        self.assertEqual(answer.status_message, "Tiny printers keep no jobs.")


class NewValueSyntax(unittest.TestCase):
    """Recipe: a new value syntax is one row in SYNTAXES (size, decode, encode, record form)."""

    TAG = 0x4B      # unassigned in RFC 8010: a stand-in for a future string syntax

    def setUp(self):
        saved = dict(F.SYNTAXES)
        self.addCleanup(lambda: (F.SYNTAXES.clear(), F.SYNTAXES.update(saved)))

    def test_one_row_decodes_encodes_and_renders(self):
        request = captured_request("ipptool-get-printer-attributes")
        request.groups[0].attributes.append(F.Attribute("x-pair", [(self.TAG, bytes((0, 7, 0, 9)))]))
        before = F.encode_message(request)          # before the row: kept as the bytes sent
        self.assertEqual(F.decode_message(before).find("x-pair").first, bytes((0, 7, 0, 9)))
        F.SYNTAXES[self.TAG] = F.Syntax(
            "pairOfShorts", 4,
            lambda raw, offset: (int.from_bytes(raw[:2], "big"), int.from_bytes(raw[2:], "big")),
            lambda value: value[0].to_bytes(2, "big") + value[1].to_bytes(2, "big"),
            lambda value: {"first": value[0], "second": value[1]})
        decoded = F.decode_message(before)
        self.assertEqual(decoded.find("x-pair").first, (7, 9))
        self.assertEqual(F.encode_message(decoded), before)
        self.assertEqual(F.syntax_name(self.TAG), "pairOfShorts")
        self.assertEqual(F.plain_value(self.TAG, (7, 9)), {"first": 7, "second": 9})
        bad = before.replace(b"x-pair\x00\x04", b"x-pair\x00\x03", 1)[:-2] + bytes((F.TAG_END,))
        with self.assertRaises(F.ParseError) as caught:
            F.decode_message(bad)
        self.assertIn("pairOfShorts value of 3 bytes, not 4", str(caught.exception))


class CountingFormat(F.LogFormat):
    """A log format defined outside fakecups.py: one line per request, one per connection."""

    def exchange(self, connection, plain):
        return "REQ %s %s\n" % (plain["seq"], (plain["ipp"] or {}).get("operation"))

    def connection(self, connection):
        return "CONN %s %d\n" % (connection.peer, len(connection.exchanges))


def register(test, table, name, value):
    """Add a row to one of fakecups' tables for the length of a test."""
    table[name] = value
    test.addCleanup(table.pop, name)


class NewLogFormat(unittest.TestCase):
    """Recipe: a new log format is one LogFormat subclass and one row in FORMATS."""

    def setUp(self):
        register(self, F.FORMATS, "counting", CountingFormat)

    def test_registered_format_is_an_option_and_writes_records(self):
        options = F.parse_options(["--format", "counting"])
        self.assertEqual(options.format, "counting")
        self.assertIn("counting", F.usage())
        data = (CAPTURES / "empty" / "lpstat-v" / "client.bin").read_bytes()
        _, log = serve_in_process(F.ByteReader(io.BytesIO(data).read), F.Config(), options.format,
                                  started=0.0, peer="127.0.0.1:631")
        lines = log.decode().splitlines()
        self.assertEqual(lines[-1], "CONN 127.0.0.1:631 %d" % (len(lines) - 1))
        self.assertTrue(lines[0].startswith("REQ 1 "), lines)


class NewPersona(unittest.TestCase):
    """Recipe: a new persona is one Persona subclass and one row in PERSONAS."""

    def setUp(self):
        register(self, F.PERSONAS, "tiny", TinyPersona)

    def test_tiny_persona_serves_ipp_and_web(self):
        options = F.parse_options(["--persona", "tiny"])
        config = F.config_from(options, {})
        self.assertIsInstance(config.persona, TinyPersona)
        data = (CAPTURES / "empty" / "ipptool-get-printer-attributes" / "client.bin").read_bytes()
        data += b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        sent = []
        F.serve_connection(F.ByteReader(io.BytesIO(data).read), sent.append,
                           F.ConnectionRecord(0.0, "-", 1), config, F.Recorder("json"))
        answers = final_responses(b"".join(sent), ["POST", "GET"])
        ipp = F.decode_message(answers[0].body)
        self.assertEqual(F.STATUS_CODES[ipp.code], "successful-ok")
        self.assertEqual(answers[-1].status, 200)
        self.assertIn(b"A tiny persona.", answers[-1].body)
        self.assertEqual(answers[-1].header("Server"), F.SERVER_HEADER)


if __name__ == "__main__":
    unittest.main()
