{
    "name": "Perimeter Security",
    "summary": "IP allowlist, HTTPS-only, blocked-access log and mail TLS verification for Odoo",
    "version": "18.0.1.0.0",
    "category": "Administration",
    "author": "Perimeter Security developers",
    "license": "LGPL-3",
    "application": True,
    "depends": ["base_setup", "mail"],
    "external_dependencies": {"python": ["cryptography", "phonenumbers"]},
    "data": [
        "security/ir.model.access.csv",
        "views/perimeter_allowlist_views.xml",
        "views/res_config_settings_views.xml",
        "views/perimeter_menus.xml",
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
