"""A real nginx on loopback, in front of a backend, enforcing an exported allowlist.

Used by the engine's tests and by ``bench/bench_flood.py --edge``. Everything
lives in a temporary directory (configuration, pid, logs); nginx runs in the
foreground and is stopped on ``__exit__``. ``NGINX`` is None where nginx is
not installed. ``NginxServers`` runs any ``upstream``/``server`` blocks (such
as the README's configuration, with its ports and certificates rewritten).
"""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
START_SECONDS = 10

_SKELETON = """\
worker_processes {workers};
error_log {dir}/error.log;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{blocks}
}}
"""

_PROXY_BLOCKS = """\
    upstream backend {{ server 127.0.0.1:{backend_port}; }}
    server {{
        listen 127.0.0.1:{port};
        include {dir}/odoo-allowlist.conf;
        {server_directives}
        location / {{
            proxy_pass http://backend;
            {bind}
            proxy_set_header Host $host;
            {forwarding}
            {location_directives}
        }}
    }}
"""


# What nginx tells the backend about the client: appends it to X-Forwarded-For, passes the rest as received.
FORWARDING = """proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NginxServers:
    """nginx running the ``upstream``/``server`` blocks ``blocks`` (text) inside a loopback-only skeleton.

    ``{dir}`` in ``blocks`` is replaced by the instance's temporary directory
    (for files the blocks include). ``__enter__`` checks the configuration
    with ``nginx -t`` and raises ``RuntimeError`` with nginx's message if it
    fails, then waits until ``wait_port`` (default: ``self.port``) accepts connections.
    """

    def __init__(self, blocks="", *, workers=1, wait_port=None):
        if NGINX is None:
            raise RuntimeError("nginx is not installed")
        self.blocks, self.workers, self.port = blocks, workers, wait_port
        self._dir = None
        self._process = None

    def _blocks(self, folder):
        return self.blocks.replace("{dir}", str(folder))

    def __enter__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="perimeter-nginx-")
        folder = Path(self._dir.name)
        (folder / "nginx.conf").write_text(_SKELETON.format(workers=self.workers, dir=folder,
                                                            blocks=self._blocks(folder)))
        command = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        if checked.returncode:
            self._dir.cleanup()
            raise RuntimeError(f"nginx refused the configuration: {checked.stderr.strip()}")
        self._process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError("nginx did not start") from None
                time.sleep(0.1)

    def command(self, *args):
        """An nginx command line for this instance, e.g. ``command("-t")`` or ``command("-s", "reload")``."""
        folder = Path(self._dir.name)
        return [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), *args]

    def __exit__(self, *exc_info):
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


class NginxProxy(NginxServers):
    """nginx on ``127.0.0.1:port`` proxying to ``backend_port``, with ``allowlist`` (an nginx export) included.

    ``proxy_bind``: the loopback address nginx connects to the backend from (so that
    the backend can trust it as a proxy). It writes ``Host`` and ``forwarding``, the
    ``proxy_set_header`` lines that tell the backend who the client is (default
    ``FORWARDING``: ``X-Forwarded-For`` appending the peer, ``X-Forwarded-Proto``), and
    passes every other header on as received; ``server_directives`` and
    ``location_directives`` add to its ``server`` and ``location /`` blocks
    (``underscores_in_headers on;``...).
    """

    def __init__(self, allowlist, backend_port, *, proxy_bind=None, workers=1, server_directives="",  # noqa: PLR0913
                 location_directives="", forwarding=FORWARDING):
        super().__init__(workers=workers)
        self.allowlist, self.backend_port, self.proxy_bind = allowlist, backend_port, proxy_bind
        self.server_directives, self.location_directives = server_directives, location_directives
        self.forwarding = forwarding

    def _blocks(self, folder):
        (folder / "odoo-allowlist.conf").write_text(self.allowlist)
        return _PROXY_BLOCKS.format(
            dir=folder, backend_port=self.backend_port, port=self.port,
            bind=f"proxy_bind {self.proxy_bind};" if self.proxy_bind else "",
            server_directives=self.server_directives, location_directives=self.location_directives,
            forwarding=self.forwarding)

    def __enter__(self):
        self.port = free_port()
        return super().__enter__()

    @property
    def rules_file(self):
        """The included rules file (what an edge sync job replaces)."""
        return Path(self._dir.name) / "odoo-allowlist.conf"
