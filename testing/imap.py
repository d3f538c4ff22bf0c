"""A minimal IMAP4rev1 server: enough for a TLS probe and for Odoo's fetchmail.

Implements CAPABILITY, STARTTLS, LOGIN, SELECT/EXAMINE (INBOX only), SEARCH
(ALL, SEEN, UNSEEN, DELETED, UNDELETED), FETCH (RFC822, BODY[], BODY.PEEK[],
FLAGS, UID, RFC822.SIZE), STORE (±FLAGS, .SILENT), EXPUNGE, CLOSE, NOOP and
LOGOUT over implicit TLS, STARTTLS or plain text. Anything else gets ``BAD``.
"""

import re

from .mailbox import MAX_COMMANDS, MailboxServer

_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\(([^()]*)\)|(\S+)')
_STOP = object()


def _tokens(text):
    """Split IMAP arguments: quoted strings unescaped, one level of parentheses kept as text."""
    tokens = []
    for quoted, group, atom in _TOKEN.findall(text or ""):
        if atom:
            tokens.append(atom)
        elif group or not quoted:
            tokens.append(group if group else quoted)
        else:
            tokens.append(re.sub(r"\\(.)", r"\1", quoted))
    return tokens


def _sequence(text, count):
    """Numbers of an IMAP sequence set (``1``, ``2:4``, ``1,3``, ``5:*``) within ``count``."""
    numbers = []
    for part in text.split(","):
        first, _, last = part.partition(":")
        try:
            low = count if first == "*" else int(first)
            high = low if not last else (count if last == "*" else int(last))
        except ValueError:
            return None
        low, high = min(low, high), max(low, high)
        numbers.extend(n for n in range(low, min(high, count) + 1) if n >= 1)
    return numbers


class _ImapSession:
    def __init__(self, server, channel):
        self.server = server
        self.channel = channel
        self.state = "nonauth"
        self.readonly = False

    def send(self, line):
        self.channel.send(line + "\r\n")

    def run(self):
        self.send("* OK Perimeter test IMAP4rev1 server ready")
        for _ in range(MAX_COMMANDS):
            line = self.channel.readline()
            if line is None:
                return
            tag, _, rest = line.partition(" ")
            command, _, args = rest.partition(" ")
            handler = getattr(self, "cmd_" + command.lower(), None) if command.isalpha() else None
            if not tag or handler is None:
                self.send(f"{tag or '*'} BAD unknown command")
                continue
            if handler(tag, args) is _STOP:
                return

    def _require(self, tag, *states):
        if self.state in states:
            return True
        self.send(f"{tag} BAD command not allowed now")
        return False

    def capabilities(self):
        words = ["IMAP4rev1"]
        if self.server.mode == "starttls" and not self.channel.tls:
            words.append("STARTTLS")
        if self.server.require_tls_for_login and not self.channel.tls:
            words.append("LOGINDISABLED")
        return " ".join(words)

    def cmd_capability(self, tag, args):
        self.send(f"* CAPABILITY {self.capabilities()}")
        self.send(f"{tag} OK CAPABILITY completed")

    def cmd_noop(self, tag, args):
        self.send(f"{tag} OK NOOP completed")

    def cmd_logout(self, tag, args):
        self.send("* BYE logging out")
        self.send(f"{tag} OK LOGOUT completed")
        return _STOP

    def cmd_starttls(self, tag, args):
        if self.server.mode != "starttls" or self.channel.tls:
            self.send(f"{tag} BAD STARTTLS not available")
            return None
        self.send(f"{tag} OK Begin TLS negotiation now")
        return None if self.channel.start_tls() else _STOP

    def cmd_login(self, tag, args):
        if not self._require(tag, "nonauth"):
            return
        tokens = _tokens(args)
        if len(tokens) != 2:
            self.send(f"{tag} BAD LOGIN needs a user and a password")
            return
        if self.server.require_tls_for_login and not self.channel.tls:
            self.send(f"{tag} NO [PRIVACYREQUIRED] LOGIN needs TLS")
            return
        if self.server.credentials and tuple(tokens) != tuple(self.server.credentials):
            self.send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
            return
        self.server.logins.append((tokens[0], self.channel.tls))
        self.state = "auth"
        self.send(f"{tag} OK LOGIN completed")

    def _select(self, tag, args, readonly):
        if not self._require(tag, "auth", "selected"):
            return
        tokens = _tokens(args)
        if not tokens or tokens[0].upper() != "INBOX":
            self.state = "auth"
            self.send(f"{tag} NO no such mailbox")
            return
        mailbox = self.server.mailbox
        self.send(f"* {len(mailbox)} EXISTS")
        self.send("* 0 RECENT")
        self.send("* FLAGS (\\Seen \\Deleted \\Flagged \\Answered \\Draft)")
        self.send("* OK [UIDVALIDITY 1] UIDs valid")
        self.state, self.readonly = "selected", readonly
        self.send(f"{tag} OK [{'READ-ONLY' if readonly else 'READ-WRITE'}] SELECT completed")

    def cmd_select(self, tag, args):
        self._select(tag, args, readonly=False)

    def cmd_examine(self, tag, args):
        self._select(tag, args, readonly=True)

    def cmd_search(self, tag, args):
        if not self._require(tag, "selected"):
            return
        keys = " ".join(_tokens(args)).upper().split() or ["ALL"]
        tests = {
            "ALL": lambda m: True,
            "SEEN": lambda m: "\\Seen" in m.flags,
            "UNSEEN": lambda m: "\\Seen" not in m.flags,
            "DELETED": lambda m: "\\Deleted" in m.flags,
            "UNDELETED": lambda m: "\\Deleted" not in m.flags,
        }
        if any(key not in tests for key in keys):
            self.send(f"{tag} BAD unsupported search key")
            return
        found = [str(n) for n, m in enumerate(self.server.mailbox.snapshot(), 1) if all(tests[k](m) for k in keys)]
        self.send("* SEARCH" + "".join(" " + n for n in found))
        self.send(f"{tag} OK SEARCH completed")

    def cmd_fetch(self, tag, args):
        if not self._require(tag, "selected"):
            return
        sequence, _, items = args.partition(" ")
        numbers = _sequence(sequence, len(self.server.mailbox))
        wanted = " ".join(_tokens(items)).upper().split()
        if numbers is None or not wanted:
            self.send(f"{tag} BAD invalid FETCH")
            return
        for number in numbers:
            message = self.server.mailbox.get(number)
            if message is None:
                continue
            parts, body_item = [], None
            for item in wanted:
                if item in ("RFC822", "BODY[]", "BODY.PEEK[]"):
                    body_item = "BODY[]" if item.startswith("BODY") else item
                    if item != "BODY.PEEK[]" and not self.readonly:
                        message.flags.add("\\Seen")
                elif item == "FLAGS":
                    parts.append(f"FLAGS ({' '.join(sorted(message.flags))})")
                elif item == "UID":
                    parts.append(f"UID {number}")
                elif item == "RFC822.SIZE":
                    parts.append(f"RFC822.SIZE {len(message.content)}")
            if body_item:
                # The literal goes last, as imaplib reads it: "{size}" CRLF bytes ")".
                parts.append(f"{body_item} {{{len(message.content)}}}")
                self.channel.send(f"* {number} FETCH ({' '.join(parts)}\r\n".encode() + message.content + b")\r\n")
            else:
                self.send(f"* {number} FETCH ({' '.join(parts)})")
        self.send(f"{tag} OK FETCH completed")

    def cmd_store(self, tag, args):
        if not self._require(tag, "selected"):
            return
        tokens = _tokens(args)
        if len(tokens) < 3:
            self.send(f"{tag} BAD invalid STORE")
            return
        numbers = _sequence(tokens[0], len(self.server.mailbox))
        action = tokens[1].upper()
        flags = {flag for token in tokens[2:] for flag in token.split()}
        if numbers is None or action.removesuffix(".SILENT") not in ("FLAGS", "+FLAGS", "-FLAGS"):
            self.send(f"{tag} BAD invalid STORE")
            return
        for number in numbers:
            message = self.server.mailbox.get(number)
            if message is None:
                continue
            if action.startswith("+"):
                message.flags |= flags
            elif action.startswith("-"):
                message.flags -= flags
            else:
                message.flags = set(flags)
            if not action.endswith(".SILENT"):
                self.send(f"* {number} FETCH (FLAGS ({' '.join(sorted(message.flags))}))")
        self.send(f"{tag} OK STORE completed")

    def _expunge(self):
        mailbox = self.server.mailbox
        return mailbox.remove_numbers(mailbox.numbers_with_flag("\\Deleted"))

    def cmd_expunge(self, tag, args):
        if not self._require(tag, "selected"):
            return
        # Highest first: removing a message never renumbers those below it.
        for number in self._expunge():
            self.send(f"* {number} EXPUNGE")
        self.send(f"{tag} OK EXPUNGE completed")

    def cmd_close(self, tag, args):
        if not self._require(tag, "selected"):
            return
        if not self.readonly:
            self._expunge()
        self.state = "auth"
        self.send(f"{tag} OK CLOSE completed")


class ImapServer(MailboxServer):
    """IMAP test server over ``mode`` ``implicit`` TLS, ``starttls`` or ``plain``.

    Options: see :class:`~testing.mailbox.MailboxServer`;
    ``require_tls_for_login`` announces LOGINDISABLED before TLS.
    """

    protocol = "IMAP"
    session = _ImapSession
