import configparser
import os
import tempfile
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from ..guard import odoo_version, server_config
from .common import OUTSIDE, PerimeterHttpCase


@tagged("post_install", "-at_install")
class TestBreakGlassBanner(HttpCase):
    def test_break_glass_badge_on_every_backend_page(self):
        """With [perimeter_security] disabled = True, the backend shows a red badge in the systray."""
        saved = odoo_version.save_config_section("perimeter_security")
        odoo_version.set_config_section("perimeter_security", {"disabled": True})
        try:
            self.start_tour("/odoo", "perimeter_security_break_glass_tour", login="admin")
        finally:
            odoo_version.restore_config_section("perimeter_security", saved)


@tagged("post_install", "-at_install")
class TestBreakGlassInTheFile(PerimeterHttpCase):
    """The break-glass as an administrator writes it: in the configuration file Odoo was started with."""

    def use_configuration_file(self, text):
        """Make this Odoo read ``text`` as its configuration file, the way it keeps its sections (18: Odoo
        parsed every section into config.misc at start; 19: only [options], the module reads the file)."""
        saved = odoo_version.save_config_section(server_config.SECTION)
        self.addCleanup(odoo_version.restore_config_section, server_config.SECTION, saved)
        odoo_version.restore_config_section(server_config.SECTION, odoo_version._ABSENT)  # the file, not a test value
        handle, path = tempfile.mkstemp(suffix=".conf")
        self.addCleanup(os.unlink, path)
        with os.fdopen(handle, "w") as file:
            file.write(text)
        misc = getattr(odoo_version.config, "misc", None)
        if isinstance(misc, dict):
            parser = configparser.RawConfigParser()
            parser.read([path])
            values = {key: True if value == "True" else value for key, value in parser.items(server_config.SECTION)}
            self.startPatcher(patch.dict(misc, {server_config.SECTION: values}))
        else:
            self.startPatcher(patch.dict(odoo_version.config.options, {"config": path}))

    def test_an_outsider_refused_by_enforce_comes_in_once_the_file_says_disabled(self):
        self.strict_policy()
        section = "[options]\n\n[perimeter_security]\nserver_allowlist = 127.0.0.1\nallow_loopback = False\n"
        self.use_configuration_file(section + "disabled = False\n")
        self.assertRefused(self.get("/web/login", source=OUTSIDE), OUTSIDE)
        self.assertRefused(self.get("/web/database/manager", source=OUTSIDE), OUTSIDE)
        self.use_configuration_file(section + "disabled = True\n")
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200, "the break-glass lets everyone in")
        self.assertEqual(self.get("/web/database/manager", source=OUTSIDE).status, 200)
