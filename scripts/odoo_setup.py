"""Set up an Odoo of a given series by ourselves, as OCA's CI images do, and cache it.

A source is a directory (an Odoo checkout, used in place), a tarball (``.tar.xz``, ``.tar.gz``,
``.tgz``; unpacked into the cache) or a git URL, optionally ``URL#branch`` (cloned shallow into
the cache). Without one, the official repository's branch of the series is cloned. A virtual
environment gets Odoo's ``requirements.txt`` (with the known pitfalls handled: ``cbor2`` needs
``setuptools<81`` and no build isolation; python-ldap needs Debian's LDAP/SASL headers), and a
small ``odoo-bin`` launcher in that venv runs the tree's ``odoo-bin`` with the venv's Python.

Everything lives under ``$PERIMETER_CACHE`` (default ``~/.cache/perimeter_security``), keyed by
the source, and is reused while the source is unchanged.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

OFFICIAL_REPOSITORY = "https://github.com/odoo/odoo.git"
BUILD_PACKAGES = ("libldap2-dev", "libsasl2-dev", "libpq-dev")  # python-ldap, psycopg2 from source
READY = ".perimeter-ready"


def cache_root():
    default = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "perimeter_security")
    return os.environ.get("PERIMETER_CACHE") or default


def default_source(series):
    return f"{OFFICIAL_REPOSITORY}#{series}"


def ensure(series, source=None):
    """The ``odoo-bin`` launcher of an Odoo ``series`` (``"18.0"``) set up from ``source``; set up once."""
    source = source or default_source(series)
    key = _source_key(source)
    root = cache_root()
    venv = os.path.join(root, f"odoo-{series}-{key}-venv")
    launcher = os.path.join(venv, "bin", "odoo-bin")
    if _ready(venv, key):
        print(f"Odoo {series}: using the one set up from {source} in {venv}", flush=True)
        return launcher
    _say(f"SETTING UP ODOO {series} from {source}\n(cached in {root}; the next runs reuse it)")
    os.makedirs(root, exist_ok=True)
    tree = _source_tree(series, source, os.path.join(root, f"odoo-{series}-{key}"))
    _check_series(tree, series)
    _make_venv(venv, tree)
    with open(launcher, "w") as script:
        script.write(
            f"#!{os.path.join(venv, 'bin', 'python')}\n"
            f"# Runs {tree}/odoo-bin with this venv's Python (set up by perimeter_security's scripts/odoo_setup.py).\n"
            "import runpy\n"
            f"runpy.run_path({os.path.join(tree, 'odoo-bin')!r}, run_name='__main__')\n"
        )
    os.chmod(launcher, 0o755)
    version = subprocess.run([launcher, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(venv, READY), "w") as ready:
        ready.write(key)
    _say(f"Odoo {series} is set up: {version}\n  source tree: {tree}\n  venv:        {venv}\n  command:     {launcher}")
    return launcher


def _ready(venv, key):
    try:
        with open(os.path.join(venv, READY)) as ready:
            return ready.read() == key
    except OSError:
        return False


def _source_key(source):
    """A short key that changes when the source does: a tarball's content (wherever it lies), a directory's
    path, a URL."""
    digest = hashlib.sha256()
    if os.path.isfile(source):
        with open(source, "rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
    else:
        digest.update(os.path.abspath(source).encode() if os.path.isdir(source) else source.encode())
    return digest.hexdigest()[:12]


def _source_tree(series, source, target):
    """A folder holding ``odoo-bin`` for ``source``: the directory itself, or one made in ``target``."""
    if os.path.isdir(source):
        return os.path.abspath(source)
    if os.path.exists(os.path.join(target, "odoo-bin")):
        return target
    shutil.rmtree(target, ignore_errors=True)
    partial = tempfile.mkdtemp(prefix="partial-", dir=os.path.dirname(target))
    try:
        if os.path.isfile(source):
            print(f"Unpacking {source}", flush=True)
            with tarfile.open(source) as archive:
                archive.extractall(partial, **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
            entries = os.listdir(partial)
            top = os.path.join(partial, entries[0]) if len(entries) == 1 else partial
            os.rename(top, target)
        else:
            url, _, branch = source.partition("#")
            print(f"Cloning {url} (branch {branch or series}, shallow)", flush=True)
            clone = ["git", "clone", "--quiet", "--depth=1", f"--branch={branch or series}", url, partial + "/t"]
            subprocess.run(clone, check=True)
            os.rename(partial + "/t", target)
    except (OSError, subprocess.CalledProcessError, tarfile.TarError) as exc:
        raise SetupError(f"Odoo {series}: cannot get the source {source}: {exc}") from exc
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _check_series(tree, series):
    release = os.path.join(tree, "odoo", "release.py")
    namespace = {}
    try:
        with open(release) as code:
            exec(compile(code.read(), release, "exec"), namespace)  # noqa: S102 - Odoo's own version file
    except OSError as exc:
        raise SetupError(f"{tree} is not an Odoo source tree (no odoo/release.py)") from exc
    found = ".".join(str(part) for part in namespace["version_info"][:2])
    if found != series:
        raise SetupError(f"{tree} holds Odoo {found}, not {series}")


def _make_venv(venv, tree):
    _install_build_packages()
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        subprocess.run([*pip, "setuptools<81", "setuptools_scm<8", "wheel"], check=True)
        # cbor2 5.4 builds only against old setuptools, without build isolation.
        subprocess.run([*pip, "--no-build-isolation", "cbor2==5.4.2"], check=True)
        subprocess.run([*pip, "-r", os.path.join(tree, "requirements.txt"), "phonenumbers"], check=True)
    except subprocess.CalledProcessError as exc:
        raise SetupError(f"installing Odoo's requirements into {venv} failed: {exc}") from exc
    # ``import odoo`` finds the tree (pip's editable install of 19 fails on its setup metadata).
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([os.path.join(venv, "bin", "python"), "-c", where],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "odoo-src.pth"), "w") as pth:
        pth.write(tree + "\n")


def _install_build_packages():
    missing = [name for name in BUILD_PACKAGES
               if subprocess.run(["dpkg", "-s", name], capture_output=True).returncode]
    if not missing or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    print(f"Installing Debian's {', '.join(missing)} (headers Odoo's requirements build against)", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env, stdout=subprocess.DEVNULL)


def _say(text):
    print(f"\n{'#' * 78}\n{text}\n{'#' * 78}", flush=True)


class SetupError(Exception):
    """Odoo could not be set up; the message says what and where."""
