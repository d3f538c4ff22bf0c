"""A real Postfix on loopback, as the test's own process, delivering into a maildir it owns.

Mail TLS is about what administrators run against; aiosmtpd is not that. This
starts Debian's Postfix with a configuration of its own in a temporary
directory (never /etc/postfix, never the system service): one ``smtpd`` on a
free 127.0.0.1 port offering STARTTLS (like port 587), one in wrapper mode
for implicit TLS (like 465), and ``virtual`` delivery of every recipient into
``<dir>/vmail/sink/`` (a maildir), so a test can count what arrived.
``POSTFIX`` is None where Postfix is not installed: tests skip, and say so.

Root is needed (Postfix's master starts as root and its daemons drop to the
``postfix`` user), as it is for the test command.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .ports import free_port, openssl_conf, wait_for_port

POSTFIX = shutil.which("postfix") or next((p for p in ("/usr/sbin/postfix",) if Path(p).exists()), None)
START_SECONDS = 20
# Versions for smtpd_tls_protocols, by the engine's names.
_VERSIONS = {"TLSv1_1": "TLSv1.1", "TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}

_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {dir}
maillog_file = {dir}/postfix.log
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C {openssl_conf}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydomain = localhost
myorigin = localhost
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
relay_domains =
smtputf8_enable = no
biff = no
# Everything goes to one maildir: the test reads what arrived there.
virtual_mailbox_domains = static:all
virtual_mailbox_base = {dir}/vmail
virtual_mailbox_maps = static:sink/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_tls_security_level = {security_level}
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_protocols = {protocols}
smtpd_tls_mandatory_protocols = {protocols}
smtpd_tls_ciphers = {ciphers}
tls_low_cipherlist = ALL:@SECLEVEL=0
smtpd_tls_loglevel = 1
"""

_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
{smtps}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixServer:
    """Postfix on 127.0.0.1: ``port`` speaks SMTP with STARTTLS, ``smtps_port`` implicit TLS.

    :param cert: an :class:`~testing.certs.Issued` certificate; None for a
        clear-text server (no STARTTLS offered, no implicit-TLS port).
    :param tls_version: ``"TLSv1_1"`` makes a server that speaks only TLS 1.1 (if the
        OpenSSL of this machine still can); None accepts TLS 1.2 and later.
    """

    def __init__(self, cert=None, *, tls_version=None):
        if POSTFIX is None:
            raise RuntimeError("Postfix is not installed")
        if os.geteuid() != 0:
            raise RuntimeError("Postfix's master must start as root")
        self.cert, self.tls_version = cert, tls_version
        self.port = self.smtps_port = None
        self.directory = None
        self._tmp = None
        self._process = None

    # --- what arrived -------------------------------------------------------------------------------------------

    def messages(self):
        """The messages delivered so far, as bytes, oldest first."""
        if self.directory is None:
            return []
        new = self.directory / "vmail" / "sink" / "new"
        files = sorted(new.iterdir(), key=lambda path: path.stat().st_mtime_ns) if new.is_dir() else []
        return [path.read_bytes() for path in files]

    def wait_for_messages(self, count, seconds=20):
        """Delivery is asynchronous (queue manager, then ``virtual``): wait until ``count`` arrived."""
        deadline = time.monotonic() + seconds
        while len(self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages()

    def log(self):
        path = self.directory / "postfix.log" if self.directory else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    # --- life cycle ---------------------------------------------------------------------------------------------

    def _config(self, folder):
        """Write the configuration into ``folder/etc``; queue, data and maildir beside it."""
        nobody = pwd.getpwnam("nobody")
        etc = folder / "etc"
        etc.mkdir()
        (folder / "queue").mkdir()
        (folder / "data").mkdir()
        shutil.chown(folder / "data", "postfix")
        self.port = free_port()
        tls = self.cert is not None
        if tls:
            self.smtps_port = free_port()
        if self.tls_version:
            version = _VERSIONS[self.tls_version]
            protocols, ciphers = f">={version}, <={version}", "low"
        else:
            protocols, ciphers = ">=TLSv1.2", "medium"
        conf = openssl_conf(folder, self.tls_version) if self.tls_version else None
        (etc / "main.cf").write_text(_MAIN_CF.format(
            dir=folder, uid=nobody.pw_uid, gid=nobody.pw_gid, security_level="may" if tls else "none",
            cert=self.cert.cert_path if tls else "", key=self.cert.key_path if tls else "",
            protocols=protocols, ciphers=ciphers, openssl_conf=f"OPENSSL_CONF={conf}" if conf else ""))
        smtps = (f"127.0.0.1:{self.smtps_port} inet n - n - - smtpd\n"
                 "  -o smtpd_tls_wrappermode=yes\n  -o smtpd_tls_security_level=encrypt") if tls else ""
        (etc / "master.cf").write_text(_MASTER_CF.format(port=self.port, smtps=smtps))
        vmail = folder / "vmail"
        vmail.mkdir()
        os.chown(vmail, nobody.pw_uid, nobody.pw_gid)
        return conf

    def __enter__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="perimeter-postfix-")
        folder = self.directory = Path(self._tmp.name)
        os.chmod(folder, 0o755)  # postfix's daemons (user postfix) walk into their queue below it
        conf = self._config(folder)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
        if conf:
            env["OPENSSL_CONF"] = str(conf)
        self._process = subprocess.Popen([POSTFIX, "-c", str(folder / "etc"), "start-fg"], env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ports = [self.port] + ([self.smtps_port] if self.smtps_port else [])
        if not all(wait_for_port(port, START_SECONDS, self._process) for port in ports):
            log = self.log()
            self.__exit__(None, None, None)
            raise RuntimeError(f"postfix did not start: {log[-2000:]}")
        return self

    def __exit__(self, *exc_info):
        if self._process is not None:
            subprocess.run([POSTFIX, "-c", str(self.directory / "etc"), "stop"], capture_output=True,
                           timeout=60, check=False)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.directory = None

