from werkzeug.exceptions import Forbidden, NotFound

from odoo import http
from odoo.http import request

from ..models.perimeter_edge_sync import SYNC_FORMATS

SYNC_GROUP = "perimeter_security.group_perimeter_edge_sync"


class PerimeterEdgeSync(http.Controller):
    """The rules in force for nginx and HAProxy, fetched by the edge's sync job (``deploy/edge_sync.sh``).

    Authenticated by an API key of the edge sync user as a bearer token;
    ``ETag``/``If-None-Match`` make an unchanged sync a ``304``.
    """

    @http.route(["/perimeter/edge/nginx", "/perimeter/edge/haproxy"], type="http", auth="bearer",
                methods=["GET", "HEAD"], csrf=False, save_session=False)
    def perimeter_edge(self, **params):
        if not (request.env.user.has_group(SYNC_GROUP) or request.env.user._is_system()):
            raise Forbidden()
        fmt = SYNC_FORMATS.get((request.httprequest.path.rsplit("/", 1)[-1], params.get("list", "")))
        if fmt is None:
            raise NotFound()
        content, etag = request.env["perimeter.edge.sync"].sudo()._perimeter_edge_file(fmt)
        headers = [("ETag", f'"{etag}"'), ("Cache-Control", "no-cache")]
        if etag in request.httprequest.if_none_match:
            return request.make_response("", headers=headers, status=304)
        return request.make_response(content, headers=[("Content-Type", "text/plain; charset=utf-8"), *headers])
