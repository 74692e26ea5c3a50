"""Admin routes of instances: create, read, delete (admin bearer key).

Unknown or non-numeric ids → 404 `{"error": "Instance not found"}`. Deleting an
instance closes its websockets: a final `{"type": "error", "message": "instance deleted"}`,
then close 1000.
"""

from __future__ import annotations

from aiohttp import web

from qrstream.admin_events import iso
from qrstream.errors import NotFound
from qrstream.instances.keys import INSTANCES
from qrstream.instances.service import Instance, check_webhook_url, parse_id
from qrstream.paging import page_request
from qrstream.web.auth import require_admin
from qrstream.web.http import json_response, read_json_object, services
from qrstream.web.policy import ADMIN, Routes


def _id(request: web.Request) -> int:
    instance_id = parse_id(request.match_info["id"])
    if instance_id is None:
        raise NotFound("Instance not found")
    return instance_id


def admin_view(instance: Instance) -> dict[str, object]:
    return {
        "idInstance": instance.id,
        "stateInstance": instance.state,
        "wid": instance.wid,
        "webhookUrl": instance.webhook_url,
        "stateWebhook": instance.state_webhook,
        "createdAt": iso(instance.created_at),
    }


async def list_instances(request: web.Request) -> web.Response:
    """GET /admin/instances[?limit&after]: every instance, newest first, a page at a time."""
    require_admin(request)
    instances, after = await request.app[INSTANCES].page(page_request(request.query, int))
    return json_response({"items": [admin_view(i) for i in instances], "next": after})


async def create_instance(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json_object(request, allow_empty=True)
    raw_url = body.get("webhookUrl")
    url = check_webhook_url(
        "" if raw_url is None else raw_url, allow_private=services(request).config.webhook_allow_private
    )
    instance = await request.app[INSTANCES].create(url)
    return json_response({"idInstance": instance.id, "apiTokenInstance": instance.token}, status=201)


async def get_instance(request: web.Request) -> web.Response:
    require_admin(request)
    instance = await request.app[INSTANCES].require(_id(request))
    return json_response(admin_view(instance))


async def get_credentials(request: web.Request) -> web.Response:
    """GET /admin/instances/{id}/credentials: the instance's `apiTokenInstance` again, as creation
    gave it. The admin holds every instance's API anyway; the console needs the token to show an
    instance's QR and to make its pairing links (as Green API's own console shows it)."""
    require_admin(request)
    instance = await request.app[INSTANCES].require(_id(request))
    return json_response({"idInstance": instance.id, "apiTokenInstance": instance.token})


async def delete_instance(request: web.Request) -> web.Response:
    require_admin(request)
    if not await request.app[INSTANCES].delete(_id(request)):
        raise NotFound("Instance not found")
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    routes = Routes(app, ADMIN)
    routes.post("/admin/instances", create_instance, name="admin-instance-create")
    routes.get("/admin/instances", list_instances, name="admin-instance-list")
    routes.get("/admin/instances/{id}", get_instance, name="admin-instance")
    routes.delete("/admin/instances/{id}", delete_instance, name="admin-instance-delete")
    routes.get("/admin/instances/{id}/credentials", get_credentials, name="admin-instance-credentials")
