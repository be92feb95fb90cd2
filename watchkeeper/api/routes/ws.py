"""WebSocket that pushes new events and camera state changes to the console."""

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from watchkeeper.api.deps import get_context

router = APIRouter(tags=["live"])


@router.websocket("/api/ws")
async def live(websocket: WebSocket) -> None:
    """Send every ``WsEvent`` / ``WsCameraStatus`` as JSON text until the client goes away."""
    hub = get_context(websocket).hub
    await websocket.accept()
    queue = hub.connect()
    receiver = asyncio.create_task(_drain(websocket))
    try:
        while not receiver.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await websocket.send_text(getter.result())
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(queue)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages so a disconnect is noticed promptly."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
