"""``/web/login``: a failed login names the network as a possible cause, where it may be one.

Odoo answers every refused password, unknown login and refusal of a held user
with "Wrong login/password": an employee with the right password outside their
networks resets it and calls the helpdesk. From a client that some held user
would be refused from (the address decides, never the login, so a right and a
wrong password still read the same) every failed login shows the
``perimeter_security.refused_login_message`` sentence instead, with the
address the server saw. Odoo's other answers (its cooldown) are left alone.
"""

from odoo import http
from odoo.http import request

from odoo.addons.web.controllers.home import Home

from ..guard import wording

WRONG_LOGIN = "Wrong login/password"  # Odoo's words for a refused login (web/controllers/home.py)


class PerimeterHome(Home):
    @http.route()
    def web_login(self, redirect=None, **kw):
        response = super().web_login(redirect=redirect, **kw)
        qcontext = getattr(response, "qcontext", None)
        if (request.httprequest.method == "POST" and qcontext and qcontext.get("error")
                and not request.params.get("login_success")
                and qcontext["error"] == wording.odoo_words(request.env, "web", WRONG_LOGIN)):
            message = request.env["perimeter.policy"].sudo()._perimeter_failed_login_message()
            if message:
                qcontext["error"] = message
        return response
