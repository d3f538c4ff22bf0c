{
    "name": "Perimeter Security",
    "summary": "IP allowlist, HTTPS-only, blocked-access log and mail TLS verification for Odoo",
    "version": "18.0.1.0.0",
    "category": "Administration",
    "author": "Perimeter Security developers",
    "license": "LGPL-3",
    "application": True,
    "uninstall_hook": "uninstall_hook",
    "depends": ["base_setup", "mail"],
    "external_dependencies": {"python": ["cryptography", "phonenumbers"]},
    "data": [
        "security/ir.model.access.csv",
        "views/perimeter_allowlist_views.xml",
        "views/res_config_settings_views.xml",
        "views/perimeter_access_log_views.xml",
        "views/res_config_settings_access_log_views.xml",
        "wizards/perimeter_access_admit_views.xml",
        "views/perimeter_menus.xml",
        "data/ir_cron.xml",
        "views/ir_mail_server_views.xml",
        "views/fetchmail_server_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "perimeter_security/static/tests/tours/**/*",
        ],
    },
}
