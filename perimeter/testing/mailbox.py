"""An in-memory mailbox shared by the IMAP and POP3 test servers."""

import dataclasses
import threading


@dataclasses.dataclass
class StoredMessage:
    content: bytes
    flags: set = dataclasses.field(default_factory=set)


class Mailbox:
    """Messages (raw RFC 5322 bytes) with IMAP flags, safe to share between threads.

    A test fills it before fetchmail runs and reads it afterwards to see what
    was fetched (``\\Seen``) and deleted.
    """

    def __init__(self, messages=()):
        self._lock = threading.Lock()
        self._messages = [StoredMessage(self._bytes(message)) for message in messages]

    @staticmethod
    def _bytes(message):
        if isinstance(message, str):
            message = message.encode("utf-8")
        # Mail on the wire uses CRLF; tests usually write LF.
        return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def add(self, message, flags=()):
        with self._lock:
            self._messages.append(StoredMessage(self._bytes(message), set(flags)))

    def __len__(self):
        with self._lock:
            return len(self._messages)

    def snapshot(self):
        """A copy of the messages, for assertions."""
        with self._lock:
            return [StoredMessage(m.content, set(m.flags)) for m in self._messages]

    def get(self, number):
        """The 1-based message ``number`` (its live record), or ``None``."""
        with self._lock:
            if 1 <= number <= len(self._messages):
                return self._messages[number - 1]
            return None

    def remove_numbers(self, numbers):
        """Remove messages by 1-based number; return the numbers removed, highest first."""
        with self._lock:
            removed = sorted({n for n in numbers if 1 <= n <= len(self._messages)}, reverse=True)
            for number in removed:
                del self._messages[number - 1]
            return removed

    def numbers_with_flag(self, flag):
        with self._lock:
            return [i for i, m in enumerate(self._messages, 1) if flag in m.flags]
