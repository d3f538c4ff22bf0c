"""A minimal POP3 server: enough for a TLS probe and for Odoo's fetchmail.

Implements CAPA, STLS, USER, PASS, STAT, LIST, UIDL, RETR, DELE, RSET, NOOP
and QUIT (deletions take effect at QUIT, as RFC 1939 says) over implicit
TLS, STLS or plain text.
"""

from .mailbox import MAX_COMMANDS, MailboxServer


class _Pop3Session:
    def __init__(self, server, channel):
        self.server = server
        self.channel = channel
        self.user = None
        self.authorized = False
        self.deleted = set()

    def send(self, line):
        self.channel.send(line + "\r\n")

    def send_multiline(self, first, lines):
        out = [first.encode()]
        for text in lines:
            line = text if isinstance(text, bytes) else text.encode()
            # Byte-stuffing: a line starting with "." gets another one.
            out.append(b"." + line if line.startswith(b".") else line)
        out.append(b".")
        self.channel.send(b"\r\n".join(out) + b"\r\n")

    def run(self):
        self.send("+OK Perimeter test POP3 server ready")
        for _ in range(MAX_COMMANDS):
            line = self.channel.readline()
            if line is None:
                return
            command, _, args = line.partition(" ")
            handler = getattr(self, "cmd_" + command.lower(), None) if command.isalpha() else None
            if handler is None:
                self.send("-ERR unknown command")
            elif handler(args.strip()) is False:
                return

    def _visible(self):
        """(number, message) pairs not marked for deletion."""
        messages = self.server.mailbox.snapshot()
        return [(n, m) for n, m in enumerate(messages, 1) if n not in self.deleted]

    def _need_auth(self):
        if not self.authorized:
            self.send("-ERR not authenticated")
        return self.authorized

    def cmd_capa(self, args):
        capabilities = ["USER", "UIDL"]
        if self.server.mode == "starttls" and not self.channel.tls and not self.authorized:
            capabilities.append("STLS")
        self.send_multiline("+OK capability list follows", capabilities)

    def cmd_stls(self, args):
        if self.server.mode != "starttls" or self.channel.tls or self.authorized:
            self.send("-ERR STLS not available")
            return None
        self.send("+OK begin TLS negotiation")
        return None if self.channel.start_tls() else False

    def cmd_user(self, args):
        if self.authorized:
            self.send("-ERR already authenticated")
            return
        if self.server.require_tls_for_login and not self.channel.tls:
            self.send("-ERR [SYS/PERM] USER needs TLS")
            return
        self.user = args
        self.send("+OK send PASS")

    def cmd_pass(self, args):
        if self.user is None or self.authorized:
            self.send("-ERR send USER first")
            return
        if self.server.credentials and (self.user, args) != tuple(self.server.credentials):
            self.user = None
            self.send("-ERR [AUTH] invalid credentials")
            return
        self.authorized = True
        self.server.logins.append((self.user, self.channel.tls))
        self.send("+OK logged in")

    def cmd_stat(self, args):
        if self._need_auth():
            visible = self._visible()
            self.send(f"+OK {len(visible)} {sum(len(m.content) for _, m in visible)}")

    def _one(self, args):
        """The message numbered ``args`` if it exists and is not deleted, else send -ERR."""
        try:
            number = int(args)
        except ValueError:
            number = 0
        message = dict(self._visible()).get(number)
        if message is None:
            self.send("-ERR no such message")
        return number, message

    def cmd_list(self, args):
        if not self._need_auth():
            return
        if args:
            number, message = self._one(args)
            if message is not None:
                self.send(f"+OK {number} {len(message.content)}")
            return
        visible = self._visible()
        self.send_multiline(f"+OK {len(visible)} messages", [f"{n} {len(m.content)}" for n, m in visible])

    def cmd_uidl(self, args):
        if not self._need_auth():
            return
        visible = self._visible()
        self.send_multiline("+OK unique ids follow", [f"{n} msg-{n}" for n, _ in visible])

    def cmd_retr(self, args):
        if not self._need_auth():
            return
        number, message = self._one(args)
        if message is None:
            return
        lines = message.content.split(b"\r\n")
        if lines and lines[-1] == b"":
            lines.pop()
        self.send_multiline(f"+OK {len(message.content)} octets", lines)
        live = self.server.mailbox.get(number)
        if live is not None:
            live.flags.add("\\Seen")

    def cmd_dele(self, args):
        if not self._need_auth():
            return
        number, message = self._one(args)
        if message is not None:
            self.deleted.add(number)
            self.send(f"+OK message {number} deleted")

    def cmd_rset(self, args):
        if self._need_auth():
            self.deleted.clear()
            self.send("+OK")

    def cmd_noop(self, args):
        self.send("+OK")

    def cmd_quit(self, args):
        if self.authorized:
            self.server.mailbox.remove_numbers(self.deleted)
        self.send("+OK bye")
        return False


class Pop3Server(MailboxServer):
    """POP3 test server over ``mode`` ``implicit`` TLS, ``starttls`` (STLS) or ``plain``.

    Options: see :class:`~testing.mailbox.MailboxServer`; a login
    is an accepted PASS.
    """

    protocol = "POP3"
    session = _Pop3Session
