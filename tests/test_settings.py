from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestSettings(TransactionCase):
    def _settings(self, **values):
        return self.env["res.config.settings"].create(values)

    def _param(self, name):
        return self.env["ir.config_parameter"].sudo().get_param(f"perimeter_security.{name}")

    def test_installing_changes_nothing(self):
        settings = self._settings()
        self.assertEqual(settings.perimeter_mode, "off")
        self.assertTrue(settings.perimeter_allow_loopback)
        self.assertFalse(settings.perimeter_require_https)
        self.assertEqual(settings.perimeter_hsts_max_age, 31536000)
        self.assertEqual(settings.perimeter_exempt_paths, "/web/health")
        self.assertEqual(settings.perimeter_mail_tls_policy, "warn")

    def test_saved_values_are_stored_normalised_and_read_back(self):
        self._settings(
            perimeter_mode="monitor",
            perimeter_trusted_proxies="10.0.0.5, 2001:DB8::10\n10.0.0.5",
            perimeter_exempt_paths="/payment/stripe/webhook\n/web/health",
            perimeter_mail_tls_policy="enforce",
            perimeter_mail_tls_min_version="TLSv1_3",
        ).execute()
        self.assertEqual(self._param("mode"), "monitor")
        self.assertEqual(self._param("trusted_proxies"), "10.0.0.5/32\n2001:db8::10/128")
        self.assertEqual(self._param("mail_tls_min_version"), "TLSv1_3")
        reread = self._settings()
        self.assertEqual(reread.perimeter_mode, "monitor")
        self.assertEqual(reread.perimeter_trusted_proxies, "10.0.0.5/32\n2001:db8::10/128")
        self.assertEqual(reread.perimeter_exempt_paths, "/payment/stripe/webhook\n/web/health")

    def test_false_and_zero_are_kept_not_reset_to_defaults(self):
        self._settings(perimeter_allow_loopback=False, perimeter_require_https=True, perimeter_hsts_max_age=0).execute()
        reread = self._settings()
        self.assertFalse(reread.perimeter_allow_loopback)
        self.assertEqual(reread.perimeter_hsts_max_age, 0)
        self.assertTrue(reread.perimeter_require_https)
        self._settings(perimeter_exempt_paths=False).execute()
        self.assertFalse(self._settings().perimeter_exempt_paths)

    def test_invalid_values_are_refused_naming_them(self):
        with self.assertRaisesRegex(ValidationError, r"Trusted proxies.*'10.0.0.5/8' has host bits set"):
            self._settings(perimeter_trusted_proxies="10.0.0.5/8").execute()
        with self.assertRaisesRegex(ValidationError, r"'webhook' is not a path prefix"):
            self._settings(perimeter_exempt_paths="webhook").execute()
        with self.assertRaisesRegex(ValidationError, r"'-5' is negative") as error:
            self._settings(perimeter_log_retention_days=-5).execute()
        # The screen names the field as it shows it, not the parameter's technical key.
        self.assertIn("Access log retention (days)", str(error.exception))
        self.assertNotIn("perimeter_security.", str(error.exception))
        self.assertFalse(self._param("trusted_proxies"))

    def test_invalid_values_are_refused_in_the_users_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        # Field labels come from the database, as after installing French.
        self.env["ir.module.module"]._load_module_terms(["perimeter_security"], ["fr_FR"], overwrite=True)
        self.env.registry.clear_cache()
        french = self.env(context=dict(self.env.context, lang="fr_FR"))
        with self.assertRaises(ValidationError) as error:
            french["res.config.settings"].create({"perimeter_alert_window_minutes": 0}).execute()
        self.assertEqual(error.exception.args[0],
                         "Fenêtre d'alerte (minutes) : '0' n'est pas compris entre 1 et 1440 minutes (un jour)")
        with self.assertRaises(ValidationError) as error:
            self._settings(perimeter_alert_window_minutes=0).execute()
        self.assertEqual(error.exception.args[0],
                         "Alert window (minutes): '0' is not between 1 and 1440 minutes (one day)")
        # A script writing the parameter reads the engine's own label, translated too.
        with self.assertRaises(ValidationError) as error:
            french["ir.config_parameter"].sudo().set_param("perimeter_security.mode", "block")
        self.assertEqual(error.exception.args[0],
                         "Mode d'application (perimeter_security.mode) : 'block' ne fait pas partie des valeurs "
                         "possibles : off, monitor, enforce")
        self.assertFalse(self._param("alert_window_minutes"))

    def test_scripts_writing_parameters_are_validated_too(self):
        params = self.env["ir.config_parameter"].sudo()
        with self.assertRaisesRegex(ValidationError, r"perimeter_security.mode.*'block' is not one of"):
            params.set_param("perimeter_security.mode", "block")
        params.set_param("perimeter_security.mode", " monitor ")
        self.assertEqual(params.get_param("perimeter_security.mode"), "monitor")
        with self.assertRaisesRegex(ValidationError, r"did you mean '192.0.2.0/24'"):
            params.set_param("perimeter_security.trusted_proxies", "192.0.2.1/24")
        # Parameters of other modules are untouched.
        params.set_param("web.base.url.freeze", "whatever")
        self.assertEqual(params.get_param("web.base.url.freeze"), "whatever")
