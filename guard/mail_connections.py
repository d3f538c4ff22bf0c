"""The verified mail connections: where Odoo opens its SMTP, IMAP and POP3 clients, the mail TLS policy opens them.

``ir.mail_server.connect()`` and ``fetchmail.server.connect()`` run unchanged
(so do the overrides of ``_smtp_login`` and ``_imap_login``: Gmail and Outlook
OAuth) except for one step: where Odoo creates its ``smtplib``, ``imaplib`` or
``poplib`` client, the *attempt* in progress opens it instead, through
:class:`perimeter.mail_tls.MailTls`. The models say which attempt, for the
duration of one call::

    with mail_connections.smtp_connections_verified_by(attempt):
        connection = super().connect(...)

An attempt for outgoing mail has
``open_smtp(host, port, encryption, *, client_cert_requested, timeout)``; one
for incoming mail has ``open_imap(host, port, is_ssl, *, timeout, imap_class,
imap_ssl_class)`` and ``open_pop3(host, port, is_ssl, *, timeout, pop_class,
pop_ssl_class)`` (the classes are Odoo's, to build the client from). Outside
such a call (the policy is off, or this database lacks the module) Odoo's own
code runs exactly: one process serves databases with and without the module.

Where Odoo creates its clients differs between series; one adapter per series
knows it, and :func:`install` puts the one that fits in place, once:

- Odoo 18 (:class:`_WrapperClasses`): ``connect()`` looks three wrapper
  classes up in their modules when it runs (``ir_mail_server.SMTPConnection``,
  ``fetchmail.IMAP4Connection``, ``fetchmail.POP3Connection``); each becomes a
  subclass whose constructor asks the attempt for the client it wraps.
- Odoo 19 creates the clients itself: ``smtplib.SMTP_SSL``/``smtplib.SMTP`` in
  ``ir.mail_server._connect__``, ``OdooIMAP4_SSL``/``OdooIMAP4``/
  ``OdooPOP3_SSL``/``OdooPOP3`` in fetchmail's ``connect``. Its adapter replaces
  those names in the same two modules with factories that ask the attempt the
  same way (``_opened_by`` below serves both shapes).
"""

import contextlib
import contextvars
import logging
import types

from odoo.addons.base.models import ir_mail_server as odoo_ir_mail_server
from odoo.addons.mail.models import fetchmail as odoo_fetchmail

_logger = logging.getLogger(__name__)

# The attempt in progress on this thread (or task), for each direction.
_SMTP_ATTEMPT = contextvars.ContextVar("perimeter_smtp_attempt", default=None)
_FETCH_ATTEMPT = contextvars.ContextVar("perimeter_fetch_attempt", default=None)
# Set on what install() put in place, so that it never wraps twice (a module reloaded, a second registry).
_MARK = "_perimeter_mail_tls"


# --- what the models use -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _verified_by(variable, attempt):
    token = variable.set(attempt)
    try:
        yield attempt
    finally:
        variable.reset(token)


def smtp_connections_verified_by(attempt):
    """Context manager: the SMTP clients Odoo's ``ir.mail_server.connect()`` creates inside are opened by
    ``attempt``."""
    return _verified_by(_SMTP_ATTEMPT, attempt)


def fetch_connections_verified_by(attempt):
    """Context manager: the IMAP and POP3 clients ``fetchmail.server.connect()`` creates inside are opened by
    ``attempt``."""
    return _verified_by(_FETCH_ATTEMPT, attempt)


def smtp_timeout():
    """Seconds Odoo gives an SMTP connection; read at each call (Odoo's own tests shorten it)."""
    return odoo_ir_mail_server.SMTP_TIMEOUT


def fetch_timeout():
    """Seconds Odoo gives an IMAP or POP3 connection; read at each call."""
    return odoo_fetchmail.MAIL_TIMEOUT


def install():
    """Put the verified connections in place for this Odoo, once per process (calling again does nothing)."""
    for adapter in _ADAPTERS:
        if adapter.fits():
            adapter.install()
            return
    # Never silent: under enforce every mail connection is then refused as not verified (the models check),
    # under warn it goes out unverified.
    _logger.error("perimeter: this Odoo creates its mail connections in a way this module does not know: "
                  "they cannot be verified (mail TLS)")


# --- how each client is opened, whatever the series ----------------------------------------------------------------

def _open_smtp(attempt, server, port, encryption, context=None):
    # Odoo builds ``context`` only to present a client certificate: the attempt presents the same one.
    return attempt.open_smtp(server, port, encryption, client_cert_requested=context is not None,
                             timeout=smtp_timeout())


def _open_imap(attempt, server, port, is_ssl):
    # Odoo's client classes, looked up in its module when the connection opens (tests patch them there).
    return attempt.open_imap(server, port, is_ssl, timeout=fetch_timeout(),
                             imap_class=odoo_fetchmail.IMAP4, imap_ssl_class=odoo_fetchmail.IMAP4_SSL)


def _open_pop3(attempt, server, port, is_ssl, timeout=None):
    return attempt.open_pop3(server, port, is_ssl, timeout=fetch_timeout() if timeout is None else timeout,
                             pop_class=odoo_fetchmail.POP3, pop_ssl_class=odoo_fetchmail.POP3_SSL)


def _opened_by(attempt_of, odoo_class, open_client):
    """A subclass of Odoo's wrapper class ``odoo_class`` (its client is ``self.__obj__``) whose client
    ``open_client(attempt, *args, **kwargs)`` opens while an attempt is in progress; otherwise Odoo's class
    exactly."""

    def __init__(self, *args, **kwargs):
        attempt = attempt_of.get()
        if attempt is None:
            odoo_class.__init__(self, *args, **kwargs)
            return
        self.__obj__ = open_client(attempt, *args, **kwargs)

    return type(odoo_class.__name__, (odoo_class,), {
        "__init__": __init__,
        "__module__": __name__,
        "__doc__": f"Odoo's {odoo_class.__name__}; opened by the mail TLS attempt in progress, if any.",
        _MARK: True,
    })


# --- one adapter per way Odoo creates its clients ------------------------------------------------------------------

class _WrapperClasses:
    """Odoo 18: ``connect()`` creates its clients through wrapper classes it looks up in their modules."""

    # (module, name of the wrapper class, attempt in progress, how the attempt opens the client)
    WRAPPERS = (
        (odoo_ir_mail_server, "SMTPConnection", _SMTP_ATTEMPT, _open_smtp),
        (odoo_fetchmail, "IMAP4Connection", _FETCH_ATTEMPT, _open_imap),
        (odoo_fetchmail, "POP3Connection", _FETCH_ATTEMPT, _open_pop3),
    )

    @classmethod
    def fits(cls):
        return all(hasattr(module, name) for module, name, _attempt_of, _open in cls.WRAPPERS)

    @classmethod
    def install(cls):
        for module, name, attempt_of, open_client in cls.WRAPPERS:
            odoo_class = getattr(module, name)
            if not getattr(odoo_class, _MARK, False):
                setattr(module, name, _opened_by(attempt_of, odoo_class, open_client))


class _ClientFactories:
    """Odoo 19: ``ir.mail_server._connect__()`` calls ``smtplib.SMTP_SSL``/``smtplib.SMTP`` itself, and
    ``fetchmail.server._connect__()`` instantiates ``OdooIMAP4(_SSL)``/``OdooPOP3(_SSL)``.

    ``smtplib`` as seen by ``ir_mail_server`` (that module only) becomes a copy of it whose ``SMTP`` and
    ``SMTP_SSL`` ask the attempt in progress, if any; everything else in it is the real module. Odoo 19's
    ``smtplib.SMTP()`` call does not say whether STARTTLS follows: the attempt's ``plain_encryption``
    (``"starttls"`` or ``"none"``, set by the model from the server's settings) does. The four fetchmail
    classes become subclasses whose ``__new__`` returns, during an attempt, an instance of Odoo's own class
    opened by it (so ``_fetch_mail`` keeps its helpers; ``__init__`` is not run again on it), else an
    ordinary instance (Odoo exactly).
    """

    FETCH_CLASSES = {  # name: (kind, is_ssl)
        "OdooIMAP4": ("imap", False), "OdooIMAP4_SSL": ("imap", True),
        "OdooPOP3": ("pop", False), "OdooPOP3_SSL": ("pop", True),
    }

    @classmethod
    def fits(cls):
        return hasattr(odoo_ir_mail_server, "smtplib") and all(
            hasattr(odoo_fetchmail, name) for name in cls.FETCH_CLASSES)

    @classmethod
    def install(cls):
        cls._install_smtp()
        cls._install_fetch()

    @staticmethod
    def _install_smtp():
        real = odoo_ir_mail_server.smtplib
        if getattr(real, _MARK, False):
            return
        facade = types.ModuleType(real.__name__, real.__doc__)
        facade.__dict__.update(real.__dict__)

        def SMTP(host="", port=0, *args, **kwargs):  # noqa: N802 -- stands for the class
            attempt = _SMTP_ATTEMPT.get()
            if attempt is None:
                return real.SMTP(host, port, *args, **kwargs)
            return _open_smtp(attempt, host, port, attempt.plain_encryption)

        def SMTP_SSL(host="", port=0, *args, **kwargs):  # noqa: N802
            attempt = _SMTP_ATTEMPT.get()
            if attempt is None:
                return real.SMTP_SSL(host, port, *args, **kwargs)
            return _open_smtp(attempt, host, port, "ssl", kwargs.get("context"))

        facade.SMTP, facade.SMTP_SSL = SMTP, SMTP_SSL
        setattr(facade, _MARK, True)
        odoo_ir_mail_server.smtplib = facade

    @classmethod
    def _install_fetch(cls):
        if getattr(odoo_fetchmail.OdooIMAP4, _MARK, False):
            return
        originals = {name: getattr(odoo_fetchmail, name) for name in cls.FETCH_CLASSES}

        def routed(name, kind, is_ssl):
            original = originals[name]

            def __new__(klass, host="", port=None, *args, **kwargs):
                attempt = _FETCH_ATTEMPT.get()
                if attempt is None:
                    return original.__new__(klass)
                if kind == "imap":
                    return attempt.open_imap(host, port, is_ssl, timeout=fetch_timeout(),
                                             imap_class=originals["OdooIMAP4"],
                                             imap_ssl_class=originals["OdooIMAP4_SSL"])
                return attempt.open_pop3(host, port, is_ssl, timeout=kwargs.get("timeout") or fetch_timeout(),
                                         pop_class=originals["OdooPOP3"], pop_ssl_class=originals["OdooPOP3_SSL"])

            return type(name, (original,), {
                "__new__": __new__, "__module__": __name__, _MARK: True,
                "__doc__": f"Odoo's {name}; opened by the mail TLS attempt in progress, if any.",
            })

        for name, (kind, is_ssl) in cls.FETCH_CLASSES.items():
            setattr(odoo_fetchmail, name, routed(name, kind, is_ssl))


_ADAPTERS = (_WrapperClasses, _ClientFactories)
