{
    "name": "Perimeter Security",
    "summary": "Who may reach Odoo, over what, and who changed it: IP allowlist, HTTPS only, "
    "blocked-access log, mail TLS, connected systems, posture, audit trail",
    "description": """
Enforce the network perimeter from inside Odoo: an IP allowlist (IPv4 and IPv6) on every way into
Odoo, HTTPS only, a log of refused access with alerts, verified TLS to mail servers, a dashboard of
the systems connected to this Odoo, a review of the server's open ports and risky options, an
auditor role and a history of every change. Installing it blocks nothing: enforcement stays off
until an administrator turns it on.
""",
    "version": "18.0.1.0.0",
    "category": "Administration",
    "author": "Perimeter Security developers",
    "license": "LGPL-3",
    "application": True,
    "uninstall_hook": "uninstall_hook",
    "depends": ["base_setup", "mail"],
    "external_dependencies": {"python": ["cryptography", "phonenumbers"]},
    "data": [
        "security/perimeter_security_groups.xml",
        "security/ir.model.access.csv",
        "views/perimeter_allowlist_views.xml",
        "views/perimeter_change_log_views.xml",
        "views/res_config_settings_views.xml",
        "views/perimeter_access_log_views.xml",
        "views/res_config_settings_access_log_views.xml",
        "wizards/perimeter_access_admit_views.xml",
        "wizards/perimeter_edge_export_views.xml",
        "views/perimeter_menus.xml",
        "data/ir_cron.xml",
        "views/ir_mail_server_views.xml",
        "views/fetchmail_server_views.xml",
        "data/perimeter_connected_system_cron.xml",
        "views/perimeter_connected_system_views.xml",
        "views/perimeter_posture_finding_views.xml",
        "data/perimeter_posture_cron.xml",
        "views/perimeter_roles_views.xml",
        "views/perimeter_connected_system_source_views.xml",
    ],
    "demo": [
        "data/perimeter_demo.xml",
    ],
    "post_load": "post_load",
    "assets": {
        "web.assets_backend": [
            "perimeter_security/static/src/break_glass/**/*",
        ],
        "web.assets_tests": [
            "perimeter_security/static/tests/tours/**/*",
        ],
    },
}
