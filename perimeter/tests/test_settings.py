import pytest

from perimeter import settings


def test_defaults_change_nothing():
    values, problems = settings.load_settings({})
    assert problems == []
    assert values["mode"] == "off"
    assert values["allow_loopback"] is True
    assert values["require_https"] is False
    assert values["trusted_proxies"] == ()
    assert values["exempt_paths"] == ("/web/health",)
    assert values["hsts_max_age"] == 31536000
    assert values["log_retention_days"] == 90
    assert values["mail_tls_policy"] == "warn"
    assert values["mail_tls_min_version"] == "TLSv1_2"


def test_canonical_text_normalises():
    pasted = "10.0.0.5, 2001:DB8::/32\n10.0.0.5"
    assert settings.canonical_text("trusted_proxies", pasted) == "10.0.0.5/32\n2001:db8::/32"
    assert settings.canonical_text("allow_loopback", False) == "False"
    assert settings.canonical_text("allow_loopback", "yes") == "True"
    assert settings.canonical_text("hsts_max_age", 0) == "0"
    assert settings.canonical_text("exempt_paths", "/payment/webhook\n\n/web/health") == "/payment/webhook\n/web/health"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("mode", "block", r"perimeter_security.mode.*'block' is not one of off, monitor, enforce"),
        ("trusted_proxies", "10.0.0.1/8", r"perimeter_security.trusted_proxies.*did you mean '10.0.0.0/8'"),
        ("allow_loopback", "maybe", r"'maybe' is not True or False"),
        ("hsts_max_age", "-1", r"'-1' is negative"),
        ("hsts_max_age", "1 year", r"'1 year' is not a whole number"),
        ("exempt_paths", "payment/webhook", r"'payment/webhook' is not a path prefix"),
        ("mail_tls_min_version", "TLSv1_1", r"'TLSv1_1' is not one of TLSv1_2, TLSv1_3"),
    ],
)
def test_invalid_values_name_setting_and_value(name, value, message):
    with pytest.raises(ValueError, match=message):
        settings.canonical_text(name, value)


def test_garbage_stored_around_the_orm_falls_back_and_is_reported():
    values, problems = settings.load_settings({"perimeter_security.hsts_max_age": "soon"})
    assert values["hsts_max_age"] == 31536000
    assert problems and "soon" in problems[0]


def test_alert_settings():
    values, _problems = settings.load_settings({})
    assert (values["alert_threshold"], values["alert_window_minutes"]) == (100, 10)
    assert settings.canonical_text("alert_threshold", 0) == "0"
    assert settings.canonical_text("alert_window_minutes", " 60 ") == "60"
    with pytest.raises(ValueError, match=r"perimeter_security.alert_window_minutes.*'0' is not between 1 and 1440"):
        settings.canonical_text("alert_window_minutes", "0")
    with pytest.raises(ValueError, match=r"perimeter_security.alert_threshold.*'-1' is negative"):
        settings.canonical_text("alert_threshold", "-1")


def test_an_invalid_value_is_worded_again_label_and_problem_alike():
    french = {
        "%(setting)s (%(key)s): %(problem)s": "%(setting)s (%(key)s) : %(problem)s",
        "Alert window (minutes)": "Fenêtre d'alerte (minutes)",
        "%(value)r is not between 1 and 1440 minutes (one day)":
            "%(value)r n'est pas compris entre 1 et 1440 minutes (un jour)",
    }
    with pytest.raises(ValueError) as error:
        settings.canonical_text("alert_window_minutes", "0")
    message = error.value.args[0]
    assert message == "Alert window (minutes) (perimeter_security.alert_window_minutes): " \
                      "'0' is not between 1 and 1440 minutes (one day)"
    assert message.render(french.get) == ("Fenêtre d'alerte (minutes) (perimeter_security.alert_window_minutes) : "
                                          "'0' n'est pas compris entre 1 et 1440 minutes (un jour)")
    # A list of networks keeps each entry's sentence inside the setting's.
    with pytest.raises(ValueError) as error:
        settings.canonical_text("trusted_proxies", "10.0.0.5/8")
    assert error.value.args[0].params["problem"].params["p0"].template == (
        "%(value)r has host bits set: did you mean %(network)r?")
