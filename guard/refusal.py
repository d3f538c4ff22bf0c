"""What a refused client receives: the 403 refusal and the HTTPS redirect.

The refusal says that access from this network is not allowed (or that only
HTTPS is accepted) and shows the address the server saw; nothing else: no
version, no database name, and the same answer whether the path exists or
not. Browsers get a small HTML page, JSON-RPC clients (``/jsonrpc``,
``/web/dataset/*``, any JSON request) a JSON-RPC error object, XML-RPC
clients (``/xmlrpc/*``) a fault. The status is always 403.
"""

import json
import logging
import os
import xmlrpc.client

import werkzeug.datastructures
import werkzeug.exceptions
import werkzeug.http
import werkzeug.wrappers
from markupsafe import escape

from odoo.exceptions import AccessDenied, AccessError
from odoo.http import SessionExpiredException
from odoo.tools.translate import LazyTranslate

from . import odoo_version

_lt = LazyTranslate(__name__, default_lang="en_US")
JSON_MIMETYPES = odoo_version.json_mimetypes()  # what Odoo serves as JSON-RPC (18: odoo.http.JSON_MIMETYPES)

NOT_ALLOWED = _lt("Access from this network is not allowed.")
HTTPS_ONLY = _lt("This server accepts secure (HTTPS) connections only.")
YOUR_ADDRESS = _lt("Your address, as this server sees it:")
ASK_ADMINISTRATOR = _lt("If you should have access, give this address to your administrator.")
USE_HTTPS = _lt("Connect with an https:// address instead.")
FORBIDDEN = _lt("403: Forbidden")  # the refusal page's title and heading, as on Odoo's own 403 page

# Languages this module has translations for: only these are looked up, so that a client's
# Accept-Language cannot make the server load (and cache) arbitrary translation files.
# The module's i18n/ (this file is in guard/).
_I18N = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "i18n")
LANGUAGES = frozenset(
    name[:-3] for name in (os.listdir(_I18N) if os.path.isdir(_I18N) else ()) if name.endswith(".po")
)

DATABASE_NOT_FOUND = "Database not found."  # Odoo's words (web/controllers/session.py)
XMLRPC_ACCESS_DENIED = 3  # odoo.addons.base.controllers.rpc.RPC_FAULT_CODE_ACCESS_DENIED
_COMMON_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The look of Odoo's own 403/404 pages (http_routing's ``http_error``: Bootstrap's typography, the status as
# a heading in a container), self-contained: served before any database is opened, so no asset bundle, no
# menu, no footer, no company name, nothing that tells which site this is.
_HTML = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{forbidden}</title>
<style>*,::before,::after{{box-sizing:border-box}}
body{{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans","Liberation Sans",\
Arial,sans-serif;font-size:1rem;font-weight:400;line-height:1.5;color:#212529;background-color:#fff;\
-webkit-text-size-adjust:100%}}
h1{{margin-top:0;margin-bottom:.5rem;font-weight:500;line-height:1.2;font-size:calc(1.375rem + 1.5vw)}}
p{{margin-top:0;margin-bottom:1rem}}
.container{{width:100%;padding-right:.75rem;padding-left:.75rem;margin-right:auto;margin-left:auto}}
@media (min-width:576px){{.container{{max-width:540px}}}}@media (min-width:768px){{.container{{max-width:720px}}}}
@media (min-width:992px){{.container{{max-width:960px}}}}
@media (min-width:1200px){{.container{{max-width:1140px}}h1{{font-size:2.5rem}}}}
@media (min-width:1400px){{.container{{max-width:1320px}}}}
.mt32{{margin-top:32px}}.mb32{{margin-bottom:32px}}.lead{{font-size:1.25rem;font-weight:300}}
code{{font-family:SFMono-Regular,Menlo,Monaco,Consolas,"Liberation Mono","Courier New",monospace;font-size:.875em;\
color:#d63384;word-wrap:break-word}}</style></head>
<body><div id="wrap"><div class="oe_structure"><h1 class="container mt32">{forbidden}</h1></div>
<div class="container mb32"><p class="lead">{headline}</p><p>{your_address} <code>{address}</code></p>
<p>{advice}</p></div></div></body></html>
"""


class _ServedAsIs:
    """An exception whose ``response`` Odoo serves as is, whoever renders errors.

    Odoo serves an exception's ``error_response`` when it has one, before asking
    ``ir.http._handle_error``: website's override of that would otherwise put
    a refusal raised after the route is known (an anonymous client at a public
    page) in the website's own 403 page, with its menu and footer, or first
    try to serve a website page at the refused path.
    """

    def __init__(self, description=None, response=None):
        super().__init__(description, response)
        if response is not None:
            self.error_response = response


class Refused(_ServedAsIs, werkzeug.exceptions.Forbidden):
    """Raised by an enforcement point: Odoo serves ``response`` (the refusal) as is."""


class HttpsRedirect(_ServedAsIs, werkzeug.exceptions.HTTPException):
    """Raised by an enforcement point: a 308 to the https URL, served as is (no session, no cookie)."""

    code = 308
    description = "Permanent Redirect"


class RpcRefused(AccessDenied):
    """A refusal inside an RPC call (the database named in the payload refuses the client).

    Odoo turns it into an XML-RPC fault (code 3) or, through ``error_response``,
    our JSON-RPC error. Logged at INFO: the access log is where refusals go.
    """

    loglevel = logging.INFO


class UnknownDatabase(AccessError):
    """An RPC payload names something that cannot be a database: answered as Odoo answers a missing one.

    The words of Odoo's own ``/web/session/authenticate`` for a database it does
    not serve; an XML-RPC fault (code 4) or a JSON-RPC error, never a traceback.
    """

    loglevel = logging.INFO


def unknown_database(path, content_type=""):
    """The ``UnknownDatabase`` to raise for a request to ``path``: JSON clients get an error with no traceback."""
    exc = UnknownDatabase(DATABASE_NOT_FOUND)
    if response_kind(path, content_type) == "json":
        error = {"code": 200, "message": "Odoo Server Error",
                 "data": {"name": "odoo.exceptions.AccessError", "message": DATABASE_NOT_FOUND,
                          "arguments": [DATABASE_NOT_FOUND], "context": {}, "debug": ""}}
        exc.error_response = werkzeug.wrappers.Response(
            json.dumps({"jsonrpc": "2.0", "id": None, "error": error}), status=200, content_type="application/json")
    return exc


class WebsocketRefused(SessionExpiredException):
    """Closes an open websocket whose client the policy now refuses (handled quietly by the bus)."""


def pick_language(*candidates):
    """The first candidate this module has a translation for, else en_US."""
    for lang in candidates:
        if not isinstance(lang, str):
            continue
        if lang in LANGUAGES:
            return lang
        if lang.partition("_")[0] in LANGUAGES:
            return lang
    return "en_US"


def request_language():
    """The language of the current request's user (session), else of its browser, if translated."""
    from odoo.http import request  # noqa: PLC0415 -- the request proxy is unbound outside requests

    if not request or not LANGUAGES:
        return "en_US"
    session = getattr(request, "session", None)
    session_lang = session.context.get("lang") if session is not None else None
    try:
        browser_lang = request.best_lang
    except (AttributeError, KeyError, ValueError):
        browser_lang = None
    return pick_language(session_lang, browser_lang)


def environ_language(environ):
    """The browser's language (``Accept-Language``) if translated, for answers given before Odoo's request exists."""
    if not LANGUAGES or not environ.get("HTTP_ACCEPT_LANGUAGE"):
        return "en_US"
    accepted = werkzeug.http.parse_accept_header(environ["HTTP_ACCEPT_LANGUAGE"][:512],
                                                 werkzeug.datastructures.LanguageAccept)
    return pick_language(*(value.replace("-", "_") for value, _quality in accepted))


def texts(verdict, lang="en_US"):
    """(headline, advice) for a refusal, translated."""
    https = verdict.reason == "not_https" or verdict.action == "redirect"
    headline, advice = (HTTPS_ONLY, USE_HTTPS) if https else (NOT_ALLOWED, ASK_ADMINISTRATOR)
    return headline._translate(lang), advice._translate(lang)


def response_kind(path, content_type=""):
    if path == "/json/2" or path.startswith("/json/2/"):
        return "json2"
    if path.startswith("/xmlrpc/2/"):
        return "xmlrpc"
    if path.startswith("/xmlrpc/"):
        return "xmlrpc_legacy"
    mimetype = content_type.partition(";")[0].strip().lower()
    if path == "/jsonrpc" or path.startswith("/web/dataset/") or mimetype in JSON_MIMETYPES:
        return "json"
    return "html"


def message(verdict, lang="en_US"):
    """One line for RPC clients and exceptions: the refusal and the address the server saw."""
    headline, _advice = texts(verdict, lang)
    return f"{headline} {YOUR_ADDRESS._translate(lang)} {verdict.client_ip}"


def refusal_response(verdict, path, content_type="", lang="en_US", upgrade=False):
    """The 403 response for ``verdict``, in the format the client speaks.

    A websocket upgrade request gets no body: Odoo's server drops the body of
    any answer to one, and a client told to expect a body would see a broken
    connection instead of a clean 403.
    """
    if upgrade:
        return _response(b"", "text/plain")
    kind = response_kind(path, content_type)
    if kind == "json":
        return json_refusal(verdict, lang)
    if kind == "json2":
        return json2_refusal(verdict, lang)
    if kind in ("xmlrpc", "xmlrpc_legacy"):
        code = XMLRPC_ACCESS_DENIED if kind == "xmlrpc" else "AccessDenied"
        body = xmlrpc.client.dumps(xmlrpc.client.Fault(code, message(verdict, lang)), methodresponse=True)
        return _response(body, "text/xml; charset=utf-8")
    headline, advice = texts(verdict, lang)
    body = _HTML.format(
        lang=escape(lang.replace("_", "-")), forbidden=escape(FORBIDDEN._translate(lang)),
        headline=escape(headline), address=escape(verdict.client_ip),
        your_address=escape(YOUR_ADDRESS._translate(lang)), advice=escape(advice),
    )
    return _response(body, "text/html; charset=utf-8",
                     {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


def json_refusal(verdict, lang="en_US"):
    text = message(verdict, lang)
    error = {
        "code": 403,
        "message": texts(verdict, lang)[0],
        # The shape of the server's own errors, so that the web client shows the message; a neutral
        # name, so that a refused client does not even learn which software answers.
        "data": {"name": "Forbidden", "message": text, "arguments": [text], "context": {},
                 "debug": "", "client_address": verdict.client_ip},
    }
    return _response(json.dumps({"jsonrpc": "2.0", "id": None, "error": error}), "application/json")


def json2_refusal(verdict, lang="en_US"):
    """Odoo 19's /json/2 error body (``name``, ``message``, ``arguments``...), with the same neutral name."""
    text = message(verdict, lang)
    return _response(json.dumps({"name": "Forbidden", "message": text, "arguments": [text, 403], "context": {},
                                 "debug": "", "client_address": verdict.client_ip}), "application/json")


def redirect_response(location):
    # Followed by clients, not read: the one line of the body stays English, as werkzeug's own redirects.
    return werkzeug.wrappers.Response(
        f"Redirecting to {location}\n", status=308, mimetype="text/plain",
        headers={"Location": location, **_COMMON_HEADERS},
    )


def _response(body, content_type, extra_headers=None):
    headers = {**_COMMON_HEADERS, **(extra_headers or {})}
    return werkzeug.wrappers.Response(body, status=403, content_type=content_type, headers=headers)
