"""Fixtures shared by the engine's tests: one private CA per test module, and a message to send."""

from email.message import EmailMessage

import pytest

from testing.certs import CertFactory


@pytest.fixture(scope="module")
def certs():
    """A :class:`~testing.certs.CertFactory`: a private CA and its certificates, removed afterwards."""
    with CertFactory() as factory:
        yield factory


@pytest.fixture(scope="module")
def good(certs):
    """A valid certificate for the loopback names, from ``certs``' CA."""
    return certs.trusted()


@pytest.fixture
def email_message():
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "odoo@example.com", "you@example.com", "Over TLS"
    message.set_content("Hello over TLS")
    return message
