"""The rotation scheduler (qrstream/instances/rotation.py): one task for every watched instance,
the next frame made during the lead and published at the turn, frames due together drawn in a
few trips to the render pool, a format first read during the lead, rotation ending on
authorization. The real app on a real socket and the fake clock; also on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import ClientWebSocketResponse

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.instances.keys import FRAMES, ROTATOR
from qrstream.instances.rotation import BATCH_S, topic
from qrstream.web.keys import SERVICES
from tests.conftest import PUBLIC_URL, ClientFactory
from tests.instancekit import Client, api, link_path, new_instance, next_message, until
from tests.qrdecode import decode_as

pytestmark = pytest.mark.scaleout

PERIOD = 20.0


def rotation_tasks() -> list[asyncio.Task[object]]:
    """The running tasks of the rotation scheduler (its driver and any batch in flight)."""
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").startswith("Rotator.")
    ]


async def current_qr(client: Client, instance: tuple[int, str], fmt: str = "png") -> dict[str, str]:
    resp = await client.get(api(instance, "qr") + f"?format={fmt}")
    assert resp.status == 200
    body: dict[str, str] = await resp.json()
    assert body["type"] == "qrCode"
    return body


async def latest_published(client: Client, instance_id: int) -> dict[str, str] | None:
    """The frame last published on the instance's topic (the bus keeps it), as its message."""
    latest = await client.app[SERVICES].bus.latest(topic(instance_id))
    if latest is None:
        return None
    body: dict[str, str] = json.loads(json.loads(latest)["text"])
    return body


async def turn_once(
    client: Client, clock: FakeClock, instance: tuple[int, str], ws: ClientWebSocketResponse
) -> None:
    """Move the clock just past the end of the instance's window, and read its new frame."""
    frames = client.app[FRAMES]
    end = frames.window_end(instance[0], frames.window_at(instance[0], clock.now()))
    await clock.advance(end - clock.now() + 0.001)
    assert await next_message(ws) == await current_qr(client, instance)


async def test_many_instances_rotate_on_one_task(client: Client, clock: FakeClock) -> None:
    """Twenty watched instances rotate on one scheduler task, not a task each: for three periods
    every subscriber gets one new frame per window, the one REST qr shows then."""
    instances = [await new_instance(client) for _ in range(20)]
    sockets = [await client.ws_connect(api(instance, "scanqrcode")) for instance in instances]
    seen = [{link_path((await next_message(ws))["message"])} for ws in sockets]
    rotator = client.app[ROTATOR]
    assert rotator.running() == 20
    for turn in range(1, 4):
        await clock.advance(PERIOD)  # each instance's window ends once in a period
        for instance, ws, links in zip(instances, sockets, seen, strict=True):
            frame = await next_message(ws)
            assert frame == await current_qr(client, instance)
            links.add(link_path(frame["message"]))
            assert len(links) == turn + 1
        await until(rotator.idle)
        assert len(rotation_tasks()) == 1  # the scheduler's own: one for all twenty
    for ws in sockets:
        await ws.close()


async def test_frames_due_together_go_to_the_render_pool_in_a_few_trips(
    make_client: ClientFactory, config: Config, clock: FakeClock
) -> None:
    """With a render pool of two, the next frames of sixteen instances due together (the clock
    jumps a whole period) are drawn in a trip per worker, not a trip each; every subscriber gets
    its instance's new frame."""
    client = await make_client(config.replace(render_workers=2))
    renderer, rotator, frames = client.app[SERVICES].renderer, client.app[ROTATOR], client.app[FRAMES]
    instances = [await new_instance(client) for _ in range(16)]
    sockets = [await client.ws_connect(api(instance, "scanqrcode")) for instance in instances]
    firsts = [await next_message(ws) for ws in sockets]
    await until(rotator.idle)  # the instances already in their lead have made their next frame
    windows = [frames.window_at(i, clock.now()) for i, _ in instances]
    trips, renders = renderer.pool_trips, renderer.renders

    await clock.advance(PERIOD)
    for instance, ws, first in zip(instances, sockets, firsts, strict=True):
        frame = await next_message(ws)
        assert frame == await current_qr(client, instance) and frame != first
    await until(rotator.idle)
    rendered = renderer.renders - renders
    # Those whose following window's lead has begun too (prepares are taken up to BATCH_S early)
    # make that frame at once: more batches, perhaps of one each.
    following = sum(
        rotator.prepare_at(i, w + 1) <= clock.now() + BATCH_S
        for (i, _), w in zip(instances, windows, strict=True)
    )
    assert rendered >= 8  # enough frames in the jump for a trip each to show
    assert renderer.pool_trips - trips <= 2 + following < rendered
    for ws in sockets:
        await ws.close()


async def test_the_next_frame_is_made_during_the_lead_and_published_at_the_turn(
    client: Client, clock: FakeClock
) -> None:
    """Nothing is made before the instance's prepare time (within the first half of the lead);
    the next frame is made then, while REST qr and the topic still show the current one; it is
    published when the window ends, not before."""
    rotator, frames = client.app[ROTATOR], client.app[FRAMES]
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"))
    await next_message(ws)
    await turn_once(client, clock, instance, ws)  # now at the start of a window
    window = frames.window_at(instance[0], clock.now())
    end = frames.window_end(instance[0], window)
    prepare = rotator.prepare_at(instance[0], window)
    assert end - rotator.lead <= prepare <= end - rotator.lead / 2
    current = await current_qr(client, instance)
    await until(rotator.idle)
    made = frames.made["png"]

    await clock.advance(prepare - clock.now() - 0.01)
    await until(rotator.idle)
    assert frames.made["png"] == made  # not yet
    await clock.advance(0.01)
    await until(lambda: frames.made["png"] == made + 1 and rotator.idle())
    assert await latest_published(client, instance[0]) == current == await current_qr(client, instance)

    await clock.advance(end - clock.now() - 0.001)
    await until(rotator.idle)
    assert await latest_published(client, instance[0]) == current
    await clock.advance(0.001)
    frame = await next_message(ws)
    assert frame != current and frame == await current_qr(client, instance)
    assert await latest_published(client, instance[0]) == frame
    assert frames.made["png"] == made + 1  # the frame made during the lead, not another


async def test_a_format_first_read_during_the_lead_is_turned_too(client: Client, clock: FakeClock) -> None:
    """An SVG subscriber joining after the PNG frame was pre-rendered still gets the next
    window's SVG frame at the turn, with the same link as the PNG one."""
    rotator, frames = client.app[ROTATOR], client.app[FRAMES]
    instance = await new_instance(client)
    png = await client.ws_connect(api(instance, "scanqrcode"))
    await next_message(png)
    await turn_once(client, clock, instance, png)
    window = frames.window_at(instance[0], clock.now())
    made = frames.made["png"]
    await clock.advance(rotator.prepare_at(instance[0], window) - clock.now())
    await until(lambda: frames.made["png"] == made + 1 and rotator.idle())

    svg = await client.ws_connect(api(instance, "scanqrcode") + "?format=svg")
    assert (await next_message(svg)) == await current_qr(client, instance, "svg")
    await clock.advance(frames.window_end(instance[0], window) - clock.now())
    png_frame, svg_frame = await next_message(png), await next_message(svg)
    assert svg_frame == await current_qr(client, instance, "svg")
    decoded = decode_as("image/svg+xml", svg_frame["message"].encode("ascii"))
    assert decoded.text == PUBLIC_URL + link_path(png_frame["message"])


async def test_an_authorized_instance_stops_rotating(client: Client, clock: FakeClock) -> None:
    """Once its pairing link is used (and its streams closed) the instance leaves the scheduler:
    no frame of it is made any more, however far the clock moves."""
    rotator, frames = client.app[ROTATOR], client.app[FRAMES]
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"))
    frame = await next_message(ws)
    assert rotator.running() == 1
    assert (await client.post(link_path(frame["message"]), json={"phone": "15551234567"})).status == 200
    assert (await next_message(ws))["type"] == "accountData"
    await clock.advance(PERIOD)
    await until(lambda: rotator.running() == 0 and rotator.idle())
    made = sum(frames.made.values())
    await clock.advance(PERIOD * 2)
    await until(rotator.idle)
    assert sum(frames.made.values()) == made
