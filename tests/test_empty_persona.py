"""The empty persona's answers where no capture holds cupsd's: subscriptions, notifications,
CUPS-Move-Job and CUPS-Get-PPDs.

The oracle is cupsd 2.4.2 itself: scheduler/ipp.c (and scheduler/cups-driverd.cxx for
CUPS-Get-PPDs) at tag v2.4.2, cited per case below; every case was also put to a real
Debian cupsd 2.4.2 with no printers (Debian's cupsd.conf and SystemGroup) and answered as
expected here.  Where fakecups answers otherwise (see the module's end) there is no test.

Requests are not hand-written bytes: each starts from a real client's request (lpq -a's
Get-Jobs, tests/captures/empty/lpq-a), decoded with fakecups.decode_message, given another
operation and attributes with fakecups' Attribute/Group/Message, encoded with
encode_message and sent with the captured HTTP head through fakecups.py on a pipe, as
xinetd would.  The answers are cut with support.split_responses.
"""

import unittest

import fakecups as F
from tests.support import (captured_request, captured_requests, final_responses, reframe,
                           run_fakecups_logged)

SERVER = "ipp://localhost/"
SUBSCRIPTION_GROUP = F.TAG_SUBSCRIPTION
JOB_GROUP = 0x02


def attribute(name, tag, *values):
    return F.Attribute(name, [(tag, value) for value in values])


def integer(name, *values):
    return attribute(name, F.TAG_INTEGER, *values)


def keyword(name, *values):
    return attribute(name, F.TAG_KEYWORD, *values)


def text(name, value):
    return attribute(name, F.TAG_TEXT, value)


def uri(name, value):
    return attribute(name, F.TAG_URI, value)


PULL = keyword("notify-pull-method", "ippget")
EVENTS = keyword("notify-events", "printer-state-changed")


def request(operation, *operation_attributes, target=SERVER, target_name="printer-uri",
            user="root", groups=()):
    """lpq -a's captured Get-Jobs made into another request: its charset and language kept,
    its printer-uri given target (or replaced by job-uri; target None: no target at all),
    requesting-user-name user, requested-attributes dropped; then operation_attributes and
    further groups."""
    message = captured_request("lpq-a")
    kept = []
    for item in message.groups[0].attributes:
        if item.name == "printer-uri":
            if target is not None:
                kept.append(uri(target_name, target))
        elif item.name == "requesting-user-name":
            kept.append(F.Attribute(item.name, [(item.values[0][0], user)]))
        elif item.name != "requested-attributes":
            kept.append(item)
    message.code = F.OP[operation]
    message.groups = [F.Group(F.TAG_OPERATION, kept + list(operation_attributes)), *groups]
    return message


def subscription(*attributes):
    return F.Group(SUBSCRIPTION_GROUP, list(attributes))


def exchange(messages):
    """Send every message on one connection (fakecups.py on a pipe, keep-alive, each with
    lpq -a's captured HTTP head); [(HTTP response, decoded IPP answer or None)] in order."""
    head = captured_requests("lpq-a")[0].lines
    for number, message in enumerate(messages, 1):
        message.request_id = number
    stream = b"".join(reframe(head, F.encode_message(message)) for message in messages)
    result, _ = run_fakecups_logged(stream)
    assert (result.returncode, result.stderr) == (0, b""), (result.returncode, result.stderr)
    answers = final_responses(result.stdout, ["POST"] * len(messages))
    return [(answer, F.decode_message(answer.body) if answer.is_ipp else None)
            for answer in answers]


def status_message(answer):
    found = answer.find("status-message", F.TAG_OPERATION)
    return None if found is None else found.first


class EmptyPersonaAsCupsd(unittest.TestCase):
    """Each table row: (label, request, IPP status, status-message or None).  All rows of a
    test go on one connection, as a CUPS client sends its requests."""

    maxDiff = None

    def check(self, rows):
        answers = exchange([row[1] for row in rows])
        self.assertEqual(len(answers), len(rows), "one answer per request")
        for number, ((label, message, status, said), (http, answer)) in enumerate(
                zip(rows, answers), 1):
            with self.subTest(case=label):
                self.assertEqual(http.status, 200)
                self.assertEqual(answer.request_id, number)
                self.assertEqual((F.STATUS_CODES[answer.code], status_message(answer)),
                                 (status, said))
        return [answer for _, answer in answers]

    def test_subscription_id_operations(self):
        """ipp.c cupsdProcessIPPRequest takes sub_id from the first integer
        notify-subscription-id anywhere in the request, else 0 (ipp.c:411-414), and
        get_subscription_attrs (7683-7690), renew_subscription (9207-9214) and
        cancel_subscription (3602-3609) look it up before anything else: no subscription
        exists, so "Subscription #%d does not exist." whatever the URI."""
        rows = []
        for operation in ("Get-Subscription-Attributes", "Renew-Subscription",
                          "Cancel-Subscription"):
            rows += [
                (operation + " #5", request(operation, integer("notify-subscription-id", 5)),
                 "client-error-not-found", "Subscription #5 does not exist."),
                (operation + " without an id", request(operation),
                 "client-error-not-found", "Subscription #0 does not exist."),
                (operation + " #7 on a printer", request(
                    operation, integer("notify-subscription-id", 7),
                    target="ipp://localhost/printers/office"),
                 "client-error-not-found", "Subscription #7 does not exist."),
                (operation + " id as a keyword", request(
                    operation, keyword("notify-subscription-id", "x")),
                 "client-error-not-found", "Subscription #0 does not exist."),
            ]
        self.check(rows)

    def test_get_subscriptions(self):
        """ipp.c get_subscriptions (7730-7882): "/", "/jobs", "/printers", "/classes" (with
        at most one character more) mean the whole server, where there are none: "No
        subscriptions found." (7881); "/jobs/N" looks the job up (7776-7785); anything else
        must be a destination (7787-7796); notify-job-id is only read for a destination."""
        none = ("client-error-not-found", "No subscriptions found.")
        no_destination = ("client-error-not-found", "The printer or class does not exist.")
        rows = [("Get-Subscriptions on %s" % path, request("Get-Subscriptions",
                                                          target="ipp://localhost" + path), *none)
                for path in ("/", "/jobs", "/jobs/", "/printers", "/printers/", "/classes",
                             "/classes/")]
        rows += [
            ("on job 12", request("Get-Subscriptions", target="ipp://localhost/jobs/12"),
             "client-error-not-found", "Job #12 does not exist."),
            ("on /jobs/abc", request("Get-Subscriptions", target="ipp://localhost/jobs/abc"),
             "client-error-not-found", "Job #0 does not exist."),
            ("by job-uri", request("Get-Subscriptions", target="ipp://localhost/jobs/3",
                                   target_name="job-uri"),
             "client-error-not-found", "Job #3 does not exist."),
            ("on a printer", request("Get-Subscriptions", target="ipp://localhost/printers/x"),
             *no_destination),
            ("on a class", request("Get-Subscriptions", target="ipp://localhost/classes/y"),
             *no_destination),
            ("on /foo", request("Get-Subscriptions", target="ipp://localhost/foo"),
             *no_destination),
            ("with notify-job-id on the server", request("Get-Subscriptions",
                                                         integer("notify-job-id", 9)), *none),
        ]
        self.check(rows)

    def test_get_notifications(self):
        """ipp.c get_notifications (6921-7050): notify-subscription-ids (integers) or
        "Missing notify-subscription-ids attribute." (6944-6949); the first id is looked up:
        "Subscription #%d does not exist." (6959-6966).  The URI is not looked at, but
        cupsdProcessIPPRequest wants one (ipp.c:302-350, "Missing required attributes.")."""
        rows = [
            ("ids 3 and 4", request("Get-Notifications",
                                    integer("notify-subscription-ids", 3, 4)),
             "client-error-not-found", "Subscription #3 does not exist."),
            ("no ids", request("Get-Notifications"),
             "client-error-bad-request", "Missing notify-subscription-ids attribute."),
            ("ids as keywords", request("Get-Notifications",
                                        keyword("notify-subscription-ids", "a")),
             "client-error-bad-request", "Missing notify-subscription-ids attribute."),
            ("on a printer", request("Get-Notifications", integer("notify-subscription-ids", 3),
                                     target="ipp://localhost/printers/x"),
             "client-error-not-found", "Subscription #3 does not exist."),
            ("no printer-uri", request("Get-Notifications", integer("notify-subscription-ids", 3),
                                       target=None),
             "client-error-bad-request", "Missing required attributes."),
        ]
        self.check(rows)

    def test_create_printer_subscriptions(self):
        """ipp.c create_subscriptions (5613-5991): "/", "/printers", "/classes" (at most one
        character more) are the server (5667-5681), anything else must be a destination
        (5682-5691); the default policy lets anyone subscribe to the server; no subscription
        group: "No subscription attributes in request." (5723-5732); a group with
        notify-pull-method ippget but no notify-events, on the server: "notify-events not
        specified." (5914-5926); with both: successful-ok, no status-message, one
        subscription group holding notify-subscription-id (5980-5985) -- 1, as a cupsd that
        has made no subscription before numbers it."""
        rows = [("Create-Printer-Subscriptions on %s without a group" % path, request(
            "Create-Printer-Subscriptions", target="ipp://localhost" + path),
            "client-error-bad-request", "No subscription attributes in request.")
            for path in ("/", "/printers", "/printers/", "/classes/")]
        rows += [
            ("on a printer", request("Create-Printer-Subscriptions", target="ipp://localhost/printers/x",
                                     groups=[subscription(PULL, EVENTS)]),
             "client-error-not-found", "The printer or class does not exist."),
            ("on /jobs/", request("Create-Printer-Subscriptions", target="ipp://localhost/jobs/"),
             "client-error-not-found", "The printer or class does not exist."),
            ("pull without events", request("Create-Printer-Subscriptions",
                                            groups=[subscription(PULL)]),
             "client-error-bad-request", "notify-events not specified."),
            ("pull with events", request("Create-Printer-Subscriptions",
                                         groups=[subscription(PULL, EVENTS)]),
             "successful-ok", None),
        ]
        answers = self.check(rows)
        made = answers[-1]
        self.assertEqual([(g.tag, g.attributes) for g in made.groups[1:]],
                         [(SUBSCRIPTION_GROUP, [integer("notify-subscription-id", 1)])])

    def test_create_job_subscriptions(self):
        """ipp.c create_subscriptions: the destination first (5682-5691), then the policy
        (5697-5709).  Debian's default policy limits Create-Job-Subscription to
        `Require user @OWNER @SYSTEM`; with no owner and a requesting-user-name outside
        SystemGroup (root lpadmin) cupsd answers HTTP 401 (auth.c cupsdIsAuthorized)."""
        rows = [
            ("on a printer", request("Create-Job-Subscriptions", target="ipp://localhost/printers/x",
                                     groups=[subscription(PULL, EVENTS)]),
             "client-error-not-found", "The printer or class does not exist."),
            ("on /jobs/", request("Create-Job-Subscriptions", target="ipp://localhost/jobs/"),
             "client-error-not-found", "The printer or class does not exist."),
        ]
        self.check(rows)
        for path in ("/", "/printers/", "/classes/"):
            with self.subTest(case="as alice on %s" % path):
                ((http, answer),) = exchange([request(
                    "Create-Job-Subscriptions", target="ipp://localhost" + path, user="alice",
                    groups=[subscription(PULL, EVENTS)])])
                self.assertEqual((http.status, answer), (401, None))
                self.assertEqual(http.header("Connection"), "close")

    def test_subscription_groups_checked_as_cupsd_checks_them(self):
        """ipp.c create_subscriptions' loop over the subscription attributes (5736-5990):
        each refusal returns at once, with notify-status-code in a subscription group where
        cupsd adds one; a group with neither notify-recipient-uri nor notify-pull-method stops
        the loop (5911), leaving bad-request (5738) with no status-message; a notify-job-id
        must name a job (5937-5944); event names cupsdEventValue() does not know count as
        none (subscriptions.c 553-600).  Also "/printersX" is the server (5672)."""
        mailto = uri("notify-recipient-uri", "mailto:alice@example.com")
        rows = [
            ("no recipient, no pull method", request("Create-Printer-Subscriptions",
                                                     groups=[subscription(EVENTS)]),
             "client-error-bad-request", None),
            ("a recipient scheme with no notifier", request("Create-Printer-Subscriptions", groups=[
                subscription(uri("notify-recipient-uri", "gopher://x/"), EVENTS)]),
             "client-error-not-possible", 'notify-recipient-uri URI "gopher://x/" uses unknown scheme.'),
            ("not a URI", request("Create-Printer-Subscriptions", groups=[
                subscription(uri("notify-recipient-uri", "no scheme"), EVENTS)]),
             "client-error-not-possible", 'Bad notify-recipient-uri "no scheme".'),
            ("another pull method", request("Create-Printer-Subscriptions", groups=[
                subscription(keyword("notify-pull-method", "smtp"), EVENTS)]),
             "client-error-not-possible", 'Bad notify-pull-method "smtp".'),
            ("a notify-job-id", request("Create-Printer-Subscriptions", groups=[
                subscription(PULL, integer("notify-job-id", 7))]),
             "client-error-not-found", "Job #7 does not exist."),
            ("unknown events only", request("Create-Printer-Subscriptions", groups=[
                subscription(PULL, keyword("notify-events", "printer-exploded"))]),
             "client-error-bad-request", "notify-events not specified."),
            ("notify-user-data over 63 octets", request("Create-Printer-Subscriptions", groups=[
                subscription(mailto, EVENTS, attribute("notify-user-data", F.TAG_OCTETS, b"u" * 64))]),
             "client-error-request-value-too-long", "The notify-user-data value is too large (64 > 63 octets)."),
            ("a mailto recipient", request("Create-Printer-Subscriptions", groups=[subscription(mailto, EVENTS)]),
             "successful-ok", None),
            ("on /printersX", request("Create-Printer-Subscriptions", target="ipp://localhost/printersX",
                                      groups=[subscription(PULL, EVENTS)]),
             "successful-ok", None),
            ("two, the second refused", request("Create-Printer-Subscriptions", groups=[
                subscription(PULL, EVENTS), subscription(keyword("notify-pull-method", "smtp"))]),
             "client-error-not-possible", 'Bad notify-pull-method "smtp".'),
        ]
        answers = self.check(rows)
        codes = [[a.first for g in answer.groups if g.tag == SUBSCRIPTION_GROUP
                  for a in g.attributes if a.name == "notify-status-code"] for answer in answers]
        self.assertEqual(codes[1:4], [[F.STATUS["client-error-uri-scheme-not-supported"]]] * 2
                         + [[F.STATUS["client-error-attributes-or-values-not-supported"]]])
        # the second group refused after the first was made: the subscription, then the
        # status-message (appended after it, as send_ipp_status does), then its status code
        last = answers[-1]
        self.assertEqual([g.tag for g in last.groups],
                         [F.TAG_OPERATION, SUBSCRIPTION_GROUP, F.TAG_OPERATION, SUBSCRIPTION_GROUP])
        self.assertEqual(last.groups[2].attributes[0].first, 'Bad notify-pull-method "smtp".')

    def test_root_may_create_job_subscriptions(self):
        """Debian's policy for Create-Job-Subscriptions is `Require user @OWNER @SYSTEM` with no
        AuthType, so cupsd takes requesting-user-name (auth.c 1666-1688); root is in
        SystemGroup and gets through to create_subscriptions, where the job must exist."""
        self.check([("root, a job that does not exist", request(
            "Create-Job-Subscriptions", groups=[subscription(PULL, integer("notify-job-id", 3))]),
            "client-error-not-found", "Job #3 does not exist.")])

    def test_move_job(self):
        """ipp.c move_job (8113-8362): job-printer-uri (a uri, anywhere in the request) or
        "job-printer-uri attribute missing." (8139-8149), then it must name a destination,
        and none exists: "The printer or class does not exist." (8151-8159) -- before the
        job or the source printer is looked at."""
        missing = ("client-error-bad-request", "job-printer-uri attribute missing.")
        no_destination = ("client-error-not-found", "The printer or class does not exist.")
        target = uri("job-printer-uri", "ipp://localhost/printers/y")
        rows = [
            ("no job-printer-uri", request("CUPS-Move-Job", integer("job-id", 3)), *missing),
            ("no job-printer-uri, on a printer", request(
                "CUPS-Move-Job", integer("job-id", 3), target="ipp://localhost/printers/x"),
             *missing),
            ("job-printer-uri as a keyword", request(
                "CUPS-Move-Job", integer("job-id", 3), keyword("job-printer-uri", "y")), *missing),
            ("job 3 to printer y", request("CUPS-Move-Job", integer("job-id", 3), target),
             *no_destination),
            ("every job to printer y", request("CUPS-Move-Job", target), *no_destination),
            ("job-uri to printer y", request("CUPS-Move-Job", target,
                                             target="ipp://localhost/jobs/3",
                                             target_name="job-uri"), *no_destination),
            ("job-printer-uri in the job group", request(
                "CUPS-Move-Job", integer("job-id", 3), groups=[F.Group(JOB_GROUP, [target])]),
             *no_destination),
        ]
        self.check(rows)

    def test_get_ppds_matching_nothing(self):
        """ipp.c get_ppds (7202-7366) hands the request to cups-driverd, whose answer
        matching no driver (cups-driverd.cxx:1570-1577) is IPP/1.1 client-error-not-found
        with attributes-charset utf-8, attributes-natural-language en-US and no
        status-message.  No printer-uri is needed (ipp.c:302-350); one is not looked at."""
        rows = [
            ("ppd-make NoSuchMaker", request("CUPS-Get-PPDs", text("ppd-make", "NoSuchMaker"),
                                             target=None),
             "client-error-not-found", None),
            ("ppd-make-and-model", request("CUPS-Get-PPDs",
                                           text("ppd-make-and-model", "No Such Model"),
                                           target=None),
             "client-error-not-found", None),
            ("on a printer", request("CUPS-Get-PPDs", text("ppd-make", "NoSuchMaker"),
                                     target="ipp://localhost/printers/x"),
             "client-error-not-found", None),
        ]
        for answer in self.check(rows):
            self.assertEqual(answer.version, (1, 1))
            self.assertEqual([(a.name, a.values) for a in answer.groups[0].attributes],
                             [("attributes-charset", [(F.TAG_CHARSET, "utf-8")]),
                              ("attributes-natural-language", [(F.TAG_LANGUAGE, "en-US")])])
            self.assertEqual(len(answer.groups), 1)

# Left out, because fakecups answers otherwise than cupsd 2.4.2 (reported, not tested):
# * Create-Printer-Subscriptions whose group has neither notify-recipient-uri nor
#   notify-pull-method: cupsd stops at ipp.c:5911 (`if (!recipient && !pullmethod) break;`)
#   with the status it set at 5738, client-error-bad-request and no status-message;
#   fakecups makes the subscription (or says "notify-events not specified.").
# * notify-job-id, notify-pull-method other than ippget, a notify-recipient-uri scheme with
#   no notifier in a subscription group (ipp.c:5874 and 5937-5944, 5821-5828, 5796-5804):
#   cupsd answers "Job #N does not exist." or client-error-not-possible; fakecups ignores
#   them and answers successful-ok.
# * Create-Job-Subscriptions from requesting-user-name root: the policy's limit has no
#   AuthType, so auth.c cupsdIsAuthorized (1666-1688) takes requesting-user-name, and with
#   Debian's SystemGroup "root lpadmin" root passes @SYSTEM (1839-1847): cupsd subscribes;
#   fakecups answers 401 to everyone.
# * "/printersX", "/classesX", "/jobsX" (prefix plus any one character) count as the server
#   in cupsd (ipp.c:5672, 5677, 7768-7770); fakecups takes only the exact paths.
# * CUPS-Get-PPDs matching every driver: cups-driverd always adds the "raw" driver
#   (cups-driverd.cxx:1184, type PPD_TYPE_UNKNOWN, which it lists), so cupsd answers
#   successful-ok with at least one PPD; fakecups answers client-error-not-found.


if __name__ == "__main__":
    unittest.main()
