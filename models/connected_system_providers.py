"""Discovery: one small function per place where Odoo keeps a connection to another system.

Each provider takes an environment (superuser) and yields ``Found`` items;
it runs only when its model exists in the database (the module that defines
it is installed). ``discover(env)`` runs them all. The connected-system model
turns the items into records, matching them on ``key`` so that re-discovery
updates instead of duplicating.
"""

import dataclasses

from odoo import tools

# API base URLs of the payment providers Odoo ships (live, test); others are listed without an endpoint.
PAYMENT_APIS = {
    "stripe": ("https://api.stripe.com", "https://api.stripe.com"),
    "paypal": ("https://api-m.paypal.com", "https://api-m.sandbox.paypal.com"),
    "mollie": ("https://api.mollie.com", "https://api.mollie.com"),
    "razorpay": ("https://api.razorpay.com", "https://api.razorpay.com"),
    "mercado_pago": ("https://api.mercadopago.com", "https://api.mercadopago.com"),
    "flutterwave": ("https://api.flutterwave.com", "https://api.flutterwave.com"),
    "xendit": ("https://api.xendit.co", "https://api.xendit.co"),
    "aps": ("https://checkout.payfort.com", "https://sbcheckout.payfort.com"),
    "buckaroo": ("https://checkout.buckaroo.nl", "https://testcheckout.buckaroo.nl"),
    "nuvei": ("https://secure.safecharge.com", "https://ppp-test.safecharge.com"),
}
# Payment "providers" that talk to nobody.
_OFFLINE_PAYMENT_CODES = {"none", "custom", "demo"}
# auth_totp keeps "remember this browser" tokens as API keys of this scope: not systems.
_BROWSER_KEY_SCOPE = "browser"


@dataclasses.dataclass
class Found:
    key: str  # stable identity of the source, e.g. "ir.mail_server,3"
    name: str
    kind: str
    direction: str
    endpoint: str = ""
    probe_protocol: str = "auto"
    source: object = None  # the Odoo record it comes from
    user_ids: tuple = ()  # users the system authenticates as (bound by its fence)
    apikey_ids: tuple = ()  # API keys it uses (bound by its fence)


def _source_key(record):
    return f"{record._name},{record.id}"


def host_port(host, port):
    host = (host or "").strip()
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def outgoing_mail_servers(env):
    servers = env["ir.mail_server"].search([])
    for server in servers:
        if not server.smtp_host:
            continue
        address = host_port(server.smtp_host, server.smtp_port or 25)
        encryption = (server.smtp_encryption or "none").removesuffix("_strict")  # Odoo 19: ssl_strict...
        if encryption == "ssl":
            endpoint, protocol = f"smtps://{address}", "direct"
        elif encryption == "starttls":
            endpoint, protocol = f"smtp://{address}", "smtp"
        else:  # Odoo sends without any encryption
            endpoint, protocol = f"smtp://{address}", "plain"
        yield Found(_source_key(server), f"Outgoing mail: {server.name}", "mail_out", "outbound",
                    endpoint, protocol, server)
    if not servers:
        yield from _config_file_smtp()


def _config_file_smtp():
    """Odoo falls back on the configuration file's SMTP server when no mail server record exists."""
    config = tools.config
    host, port = config.get("smtp_server"), int(config.get("smtp_port") or 25)
    if not host or (host == "localhost" and port == 25 and not config.get("smtp_user")):
        return  # the built-in default: nobody configured it
    address = host_port(host, port)
    secure = config.get("smtp_ssl")
    yield Found("odoo.conf,smtp_server", "Outgoing mail: configuration file", "mail_out", "outbound",
                f"smtp://{address}", "smtp" if secure else "plain")


def incoming_mail_servers(env):
    for server in env["fetchmail.server"].search([("server_type", "in", ("imap", "pop"))]):
        if not server.server:
            continue
        scheme = "imap" if server.server_type == "imap" else "pop3"
        default_port = {"imap": (143, 993), "pop3": (110, 995)}[scheme][bool(server.is_ssl)]
        address = host_port(server.server, server.port or default_port)
        if server.is_ssl:
            endpoint, protocol = f"{scheme}s://{address}", "direct"
        else:  # Odoo's fetchmail does not use STARTTLS: the password and the mail travel in clear
            endpoint, protocol = f"{scheme}://{address}", "plain"
        yield Found(_source_key(server), f"Incoming mail: {server.name}", "mail_in", "outbound",
                    endpoint, protocol, server)


def api_keys(env):
    keys = env["res.users.apikeys"].search([])
    for key in keys:
        if key.scope == _BROWSER_KEY_SCOPE:
            continue
        yield Found(_source_key(key), f"API key {key.name} ({key.user_id.name})", "api_client", "inbound",
                    source=key, apikey_ids=(key.id,))


def rpc_password_users(env):
    """Users seen calling the RPC endpoints with their password (API keys have their own systems)."""
    callers = env["perimeter.rpc.caller"].search([("apikey_id", "=", False)])
    for user in callers.user_id:
        yield Found(_source_key(user), f"RPC user {user.name} ({user.login})", "api_client", "inbound",
                    source=user, user_ids=(user.id,))


def webhook_actions(env):
    actions = env["ir.actions.server"].with_context(active_test=False).search([("state", "=", "webhook")])
    for action in actions:
        if action.webhook_url:
            yield Found(_source_key(action), f"Webhook: {action.name}", "webhook", "outbound",
                        action.webhook_url.strip(), "auto", action)


def automation_webhooks(env):
    """Automation rules triggered by an incoming webhook: their URL is the door others knock on."""
    for automation in env["base.automation"].search([("trigger", "=", "on_webhook")]):
        if automation.url:
            yield Found(_source_key(automation), f"Incoming webhook: {automation.name}", "webhook", "inbound",
                        automation.url, "auto", automation)


def base_url(env):
    param = env["ir.config_parameter"].search([("key", "=", "web.base.url")], limit=1)
    if param.value:
        yield Found("ir.config_parameter,web.base.url", "This Odoo (web.base.url)", "website", "inbound",
                    param.value.strip(), "auto", param)


def websites(env):
    for website in env["website"].search([("domain", "!=", False)]):
        domain = website.domain.strip()
        yield Found(_source_key(website), f"Website: {website.name}", "website", "inbound",
                    domain if "://" in domain else f"https://{domain}", "auto", website)


def ldap_servers(env):
    for ldap in env["res.company.ldap"].search([]):
        endpoint = f"ldap://{host_port(ldap.ldap_server, ldap.ldap_server_port or 389)}"
        # auth_ldap speaks plain LDAP unless "Use TLS" asks it for StartTLS.
        yield Found(_source_key(ldap), f"LDAP: {ldap.ldap_server} ({ldap.company.name})", "ldap", "outbound",
                    endpoint, "ldap" if ldap.ldap_tls else "plain", ldap)


def oauth_providers(env):
    for provider in env["auth.oauth.provider"].search([("enabled", "=", True)]):
        # The user-info URL is the one Odoo's server calls with the user's token.
        endpoint = (provider.validation_endpoint or provider.auth_endpoint or "").strip()
        yield Found(_source_key(provider), f"OAuth: {provider.name}", "oauth", "outbound", endpoint, "auto",
                    provider)


def payment_providers(env):
    for provider in env["payment.provider"].search([("state", "!=", "disabled")]):
        if provider.code in _OFFLINE_PAYMENT_CODES:
            continue
        live, test = PAYMENT_APIS.get(provider.code, ("", ""))
        endpoint = test if provider.state == "test" else live
        yield Found(_source_key(provider), f"Payment: {provider.name}", "payment", "outbound", endpoint, "auto",
                    provider)


def points_of_sale(env):
    for config in env["pos.config"].search([]):
        # The IoT box / hardware proxy is reached by the POS browser over the shop's network.
        endpoint = f"https://{config.proxy_ip.strip()}" if config.is_posbox and config.proxy_ip else ""
        yield Found(_source_key(config), f"Point of sale: {config.name}", "pos", "inbound", endpoint, "auto",
                    config)


# (model that must exist, provider), in the order the dashboard lists what it found.
PROVIDERS = (
    ("ir.mail_server", outgoing_mail_servers),
    ("fetchmail.server", incoming_mail_servers),
    ("res.users.apikeys", api_keys),
    ("perimeter.rpc.caller", rpc_password_users),
    ("ir.actions.server", webhook_actions),
    ("base.automation", automation_webhooks),
    ("ir.config_parameter", base_url),
    ("website", websites),
    ("res.company.ldap", ldap_servers),
    ("auth.oauth.provider", oauth_providers),
    ("payment.provider", payment_providers),
    ("pos.config", points_of_sale),
)


def discover(env):
    """Every item found by the providers whose model is installed, first occurrence of each key."""
    found, keys = [], set()
    for model, provider in PROVIDERS:
        if model not in env:
            continue
        for item in provider(env):
            if item.key not in keys:
                keys.add(item.key)
                found.append(item)
    return found
