"""The WebSocket endpoint ``/ws?token=...`` (CONTRACT): JSON events the caller may see."""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from command_center.auth.principal import Principal
from command_center.auth.service import InvalidTokenError, principal_from_token
from command_center.context import AppContext

router = APIRouter(tags=["live"])

# Application close codes (4000-4999): 4401 mirrors HTTP 401 so pages can send the user to log in.
CLOSE_UNAUTHORIZED = 4401


def _authenticate(ctx: AppContext, token: str) -> Principal:
    with ctx.sessions() as session:
        return principal_from_token(session, token=token, secret=ctx.secret)


@router.websocket("/ws")
async def events(websocket: WebSocket, token: str = "", last_event_id: str | None = None) -> None:
    """Push events as JSON text frames; the first frame is ``{"type": "hello", ...}``.

    With ``last_event_id`` (the id of the last event the client saw) the events it missed come first;
    hello's ``resumed`` is false when that id is too old to resume from (the page should reload).
    """
    ctx: AppContext = websocket.app.state.ctx
    # Accept before refusing: a close during the handshake reaches browsers as a bare 1006, while a
    # close after it carries 4401 and the reason, so the page knows to show its login form.
    await websocket.accept()
    try:
        principal = await run_in_threadpool(_authenticate, ctx, token)
    except InvalidTokenError as exc:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason=str(exc))
        return
    client = ctx.hub.connect(principal, last_event_id=last_event_id)
    try:
        hello: dict[str, object] = {
            "type": "hello",
            "user": principal.username,
            "role": principal.role,
            "street_id": principal.street_id,
        }
        if client.resumed is not None:
            hello.update(resumed=client.resumed, missed=len(client.missed))
        await websocket.send_text(json.dumps(hello))
        for payload in client.missed:
            await websocket.send_text(payload)
        receiver = asyncio.create_task(_drain(websocket))
        try:
            while not receiver.done():
                getter = asyncio.create_task(client.queue.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    await websocket.send_text(getter.result())
                else:
                    getter.cancel()
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver
    except WebSocketDisconnect:
        pass
    finally:
        ctx.hub.disconnect(client)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a closed connection is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
