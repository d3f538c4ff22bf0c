"""Small helpers for the test servers that run as processes of their own (Postfix, Dovecot)."""

import socket
import time
from pathlib import Path

# OpenSSL names of the engine's version names.
_OPENSSL_VERSIONS = {"TLSv1_1": "TLSv1.1", "TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, seconds, process=None):
    """True once 127.0.0.1:``port`` accepts connections; False after ``seconds`` or if ``process`` ended."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            if process is not None and process.poll() is not None:
                return False
            time.sleep(0.1)
    return False


def openssl_conf(folder, version):
    """An OpenSSL configuration file in ``folder`` that allows exactly ``version`` (``"TLSv1_1"``).

    Debian's own configuration forbids anything below TLS 1.2; a server that is
    meant to be too old needs this one in ``OPENSSL_CONF``.
    """
    name = _OPENSSL_VERSIONS[version]
    path = Path(folder) / "openssl.cnf"
    path.write_text(
        "openssl_conf = default_conf\n[default_conf]\nssl_conf = ssl_sect\n[ssl_sect]\n"
        "system_default = system_default_sect\n[system_default_sect]\n"
        f"MinProtocol = {name}\nMaxProtocol = {name}\nCipherString = DEFAULT@SECLEVEL=0\n"
    )
    return path
