"""A real Dovecot on loopback (IMAP and POP3), as the test's own process, with one mailbox.

Started from Debian's ``dovecot`` with a configuration of its own in a
temporary directory (never /etc/dovecot, never the system service): IMAP with
STARTTLS and IMAPS, POP3 with STLS and POP3S, each on a free 127.0.0.1 port;
one user in a passwd-file whose maildir holds the messages a test puts there.
``DOVECOT`` is None where Dovecot is not installed: tests skip, and say so.
Root is needed (Dovecot starts as root and runs the mailbox as ``nobody``).
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .ports import free_port, openssl_conf, wait_for_port

DOVECOT = shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if Path(p).exists()), None)
START_SECONDS = 20
_VERSIONS = {"TLSv1_1": "TLSv1.1", "TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}

_CONF = """\
protocols = imap pop3
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
import_environment = TZ {openssl_conf}
ssl = {ssl}
{ssl_files}
ssl_min_protocol = {min_protocol}
ssl_cipher_list = {ciphers}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
"""


class DovecotServer:
    """Dovecot on 127.0.0.1: ``imap_port`` (STARTTLS), ``imaps_port``, ``pop3_port`` (STLS), ``pop3s_port``.

    :param cert: an :class:`~testing.certs.Issued` certificate; None for a
        clear-text server (no STARTTLS/STLS, no implicit-TLS ports: those are None).
    :param credentials: ``(user, password)`` of the one mailbox.
    :param messages: RFC 822 texts put in the mailbox, unread.
    :param tls_version: ``"TLSv1_1"`` for a server that speaks only TLS 1.1 (if OpenSSL still can).
    """

    def __init__(self, cert=None, *, credentials=("odoo@example.com", "secret"), messages=(), tls_version=None):
        if DOVECOT is None:
            raise RuntimeError("Dovecot is not installed")
        if os.geteuid() != 0:
            raise RuntimeError("Dovecot must start as root")
        self.cert, self.credentials, self.tls_version = cert, credentials, tls_version
        self.initial_messages = list(messages)
        self.imap_port = self.imaps_port = self.pop3_port = self.pop3s_port = None
        self.directory = None
        self._tmp = None
        self._process = None

    # --- the mailbox ----------------------------------------------------------------------------------------------

    @property
    def maildir(self):
        return self.directory / "home" / self.credentials[0] / "Maildir"

    def _files(self):
        return [path for sub in ("new", "cur") for path in sorted((self.maildir / sub).iterdir())]

    def count(self):
        """Messages still in the mailbox (POP3 deletes what it fetched)."""
        return len(self._files())

    def unread(self):
        """Messages not marked seen (IMAP marks what it fetched)."""
        return len([path for path in self._files() if "S" not in path.name.partition(":2,")[2]])

    def log(self):
        path = self.directory / "dovecot.log" if self.directory else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def logins(self):
        """``(user, secured)`` of each successful login, from Dovecot's own log (``secured`` = over TLS)."""
        found = []
        for line in self.log().splitlines():
            if "Login: user=<" in line:
                user = line.split("Login: user=<", 1)[1].split(">", 1)[0]
                found.append((user, ", TLS" in line))
        return found

    # --- life cycle -----------------------------------------------------------------------------------------------

    def _config(self, folder):
        nobody = pwd.getpwnam("nobody")
        tls = self.cert is not None
        self.imap_port, self.pop3_port = free_port(), free_port()
        if tls:
            self.imaps_port, self.pop3s_port = free_port(), free_port()
        conf = openssl_conf(folder, self.tls_version) if self.tls_version else None
        version = _VERSIONS[self.tls_version] if self.tls_version else "TLSv1.2"
        (folder / "dovecot.conf").write_text(_CONF.format(
            dir=folder, uid=nobody.pw_uid, gid=nobody.pw_gid, ssl="yes" if tls else "no",
            ssl_files=f"ssl_cert = <{self.cert.cert_path}\nssl_key = <{self.cert.key_path}" if tls else "",
            min_protocol=version, ciphers="ALL:@SECLEVEL=0" if self.tls_version else "HIGH:!aNULL",
            openssl_conf=f"OPENSSL_CONF={conf}" if conf else "",
            imap=self.imap_port, imaps=self.imaps_port or 0, pop3=self.pop3_port, pop3s=self.pop3s_port or 0))
        user, password = self.credentials
        (folder / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        for number, text in enumerate(self.initial_messages):
            body = text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
            (self.maildir / "new" / f"{int(time.time())}.M{number}P{os.getpid()}.perimeter").write_bytes(body)
        for path in [folder / "home", *(folder / "home").rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        return conf

    def __enter__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="perimeter-dovecot-")
        folder = self.directory = Path(self._tmp.name)
        os.chmod(folder, 0o755)  # the login and mail processes (dovenull, nobody) look below it
        conf = self._config(folder)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
        if conf:
            env["OPENSSL_CONF"] = str(conf)
        self._process = subprocess.Popen([DOVECOT, "-F", "-c", str(folder / "dovecot.conf")], env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ports = [port for port in (self.imap_port, self.imaps_port, self.pop3_port, self.pop3s_port) if port]
        if not all(wait_for_port(port, START_SECONDS, self._process) for port in ports):
            stderr = self._process.stderr.read().decode(errors="replace") if self._process.poll() is not None else ""
            log = self.log()
            self.__exit__(None, None, None)
            raise RuntimeError(f"dovecot did not start: {stderr} {log[-2000:]}")
        return self

    def __exit__(self, *exc_info):
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process.stderr.close()
            self._process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.directory = None
