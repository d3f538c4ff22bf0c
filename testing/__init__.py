"""Test helpers shared by the engine's pytest suite and the addon's Odoo tests.

``certs`` makes a private CA and server certificates on the fly (trusted,
expired, not yet valid, self-signed, wrong host); ``servers`` runs real
servers on the loopback interface (TLS, SMTP, IMAP, POP3, LDAP StartTLS,
HTTP/HTTPS) for as long as a ``with`` block lasts; ``postfix``, ``dovecot``
and ``nginx`` run Debian's real servers as the test's own processes. Nothing
here imports Odoo, and nothing listens beyond 127.0.0.1 / ::1.
"""
