"""A minimal Chrome DevTools Protocol client: enough to log in, open pages and take screenshots.

Uses websocket-client (which Odoo's own browser tests need too) and Debian's
chromium, started headless on loopback with an empty profile.
"""

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request

import odoo_env
import websocket


class Browser:
    def __init__(self, width=1440, height=900):
        self.width, self.height = width, height
        self._profile = tempfile.mkdtemp(prefix="perimeter-chromium-")
        port = odoo_env.free_port()
        binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not binary:
            raise SystemExit("Chromium not found (apt-get install chromium).")
        self._process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--window-size={width},{height}", f"--remote-debugging-port={port}",
             "--remote-debugging-address=127.0.0.1", f"--user-data-dir={self._profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as answer:
                    pages = [page for page in json.load(answer) if page.get("type") == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("Chromium did not start")
            time.sleep(0.2)
        self._socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30,
                                                   suppress_origin=True)
        self._id = 0
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def call(self, method, **params):
        self._id += 1
        self._socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def set_cookie(self, name, value, url):
        self.call("Network.setCookie", name=name, value=value, url=url)

    def open(self, url, wait_for, settle=1.0, timeout=30):
        """Open ``url`` and wait until the CSS selector ``wait_for`` matches, then a little longer."""
        self.call("Page.navigate", url=url)
        self.wait_for(wait_for, timeout)
        time.sleep(settle)

    def wait_for(self, selector, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"!!document.querySelector({json.dumps(selector)})"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{selector!r} did not appear")
            time.sleep(0.25)

    def screenshot(self, path, clip_selector=None):
        params = {"format": "png"}
        if clip_selector:
            box = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(clip_selector)}).getBoundingClientRect();"
                f" return [r.x, r.y, r.width, r.height]; }})()"
            )
            params["clip"] = {"x": box[0], "y": box[1], "width": box[2], "height": box[3], "scale": 1}
        data = self.call("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as image:
            image.write(base64.b64decode(data))

    def close(self):
        with contextlib.suppress(Exception):
            self._socket.close()
        self._process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        shutil.rmtree(self._profile, ignore_errors=True)


def login(base_url, database, login_name="admin", password="admin"):
    """Authenticate over JSON-RPC and return the session id."""
    body = json.dumps({"jsonrpc": "2.0", "method": "call",
                       "params": {"db": database, "login": login_name, "password": password}}).encode()
    request = urllib.request.Request(f"{base_url}/web/session/authenticate", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        cookies = answer.headers.get_all("Set-Cookie") or []
    for cookie in cookies:
        name, _, rest = cookie.partition("=")
        if name.strip() == "session_id":
            return rest.split(";", 1)[0]
    raise RuntimeError("no session cookie")



