"""The layers hold by themselves: Odoo's private internals only in guard/, the engine free of Odoo.

models/, wizards/ and controllers/ use Odoo's public API and guard/; perimeter/ (the engine) imports
neither Odoo nor werkzeug and reads only standard WSGI keys. Read from the source, so that a new
``._Registry__caches`` or ``import odoo.addons.base.models.ir_mail_server`` outside guard/ fails here
the day it is written, not the day Odoo changes it.
"""

import ast
from pathlib import Path

from odoo.tests import TransactionCase, tagged

ROOT = Path(__file__).resolve().parent.parent
ODOO_SIDE = ("models", "wizards", "controllers")

# Odoo's public API as modules use it: what an Odoo developer finds in any addon.
PUBLIC_IMPORTS = {
    "odoo": {"api", "fields", "models", "tools", "http", "Command", "SUPERUSER_ID", "_"},
    "odoo.exceptions": None,  # any name
    "odoo.http": {"request", "route", "Controller"},
    "odoo.tools": {"SQL", "config", "split_every", "float_compare", "html_escape"},
    "odoo.tools.sql": {"column_exists", "rename_column"},
    "werkzeug.exceptions": None,
    # Controller inheritance: the web client's login page is extended by subclassing its controller.
    "odoo.addons.web.controllers.home": {"Home"},
}
# Underscore names of Odoo's ORM that modules are meant to call or override (Odoo's own addons do).
PUBLIC_UNDERSCORE = {
    "_fields", "_origin", "_name", "_table", "_read_group", "_for_xml_id", "_trigger", "_get_html_link",
    "_description_selection", "_description_string", "_is_system", "_get_public_users", "_get_param",
    "_find_mail_server", "_get_connection_type", "_check_credentials", "_login", "_match", "_authenticate",
    "_post_dispatch", "_pre_dispatch", "_replace", "_context", "_uid", "_cr", "_get",
    "_generate",  # res.users.apikeys: how Odoo's own wizard makes a key, same signature on 18 and 19
}


def _python_files(folder):
    return sorted(path for path in (ROOT / folder).rglob("*.py") if "tests" not in path.parts)


def _own_names():
    """Names this module defines itself (methods, classes, attributes it sets): calling them is not Odoo's."""
    names = set()
    for folder in (*ODOO_SIDE, "guard", "perimeter"):
        for path in _python_files(folder):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names.update(t.attr if isinstance(t, ast.Attribute) else t.id
                                 for t in targets if isinstance(t, ast.Attribute | ast.Name))
    return names


def _private_uses(source, own):
    """``(line, what)`` for each private Odoo internal the Python ``source`` touches."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in ("odoo", "werkzeug"):
            allowed = PUBLIC_IMPORTS.get(node.module, set())
            for alias in node.names:
                if allowed is not None and alias.name not in allowed:
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, f"import {alias.name}") for alias in node.names
                         if alias.name.split(".")[0] in ("odoo", "werkzeug") and alias.name not in PUBLIC_IMPORTS)
        elif isinstance(node, ast.Attribute) and _is_private(node.attr) and node.attr not in own:
            if node.attr not in PUBLIC_UNDERSCORE:
                found.append((node.lineno, f".{node.attr}"))
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "setattr", "hasattr")
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and "__" in node.args[1].value):
            found.append((node.lineno, f"{node.func.id}(..., {node.args[1].value!r})"))
    return found


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@tagged("post_install", "-at_install")
class TestLayers(TransactionCase):
    def test_odoo_internals_are_touched_only_in_guard(self):
        own = {name for name in _own_names() if not name.startswith("__")}
        offenders = [
            f"{path.relative_to(ROOT)}:{line}: {what}"
            for folder in ODOO_SIDE for path in _python_files(folder)
            for line, what in _private_uses(path.read_text(encoding="utf-8"), own)
        ]
        self.assertFalse(offenders, "Odoo's private or version-specific internals outside guard/ (move them behind a "
                                    "guard/ function whose name says what it gives):\n" + "\n".join(offenders))

    def test_the_engine_imports_neither_odoo_nor_werkzeug_and_reads_standard_wsgi_keys(self):
        offenders = []
        for path in _python_files("perimeter"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                           else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                offenders.extend(f"{path.relative_to(ROOT)}:{node.lineno}: imports {module}" for module in modules
                                 if module.split(".")[0] in ("odoo", "werkzeug"))
                constant = node.value if isinstance(node, ast.Constant) else None
                if isinstance(constant, str) and constant.startswith("werkzeug."):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: reads {node.value!r}")
        self.assertFalse(offenders, "The engine must stay free of Odoo and werkzeug:\n" + "\n".join(offenders))

    def test_the_rule_catches_what_it_is_meant_to(self):
        # The check above must be able to fail: code written the way the old models were is caught.
        sample = (
            "from odoo.addons.base.models import ir_mail_server\n"
            "caches = getattr(registry, '_Registry__caches', None)\n"
            "ws._perimeter_facts = wsrequest.ws._private_thing\n"
        )
        found = [what for _line, what in _private_uses(sample, own=set())]
        self.assertIn("from odoo.addons.base.models import ir_mail_server", found)
        self.assertIn("getattr(..., '_Registry__caches')", found)
        self.assertIn("._private_thing", found)
