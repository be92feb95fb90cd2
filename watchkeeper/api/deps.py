"""Typed FastAPI dependencies. Routes declare what they need with these ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from watchkeeper.api.context import AppContext
from watchkeeper.storage.protocols import Store


def get_context(connection: HTTPConnection) -> AppContext:
    """The context ``create_app`` stored on the application (HTTP and WebSocket)."""
    context = getattr(connection.app.state, "context", None)
    if not isinstance(context, AppContext):
        raise TypeError("the application was not created by watchkeeper.api.app.create_app")
    return context


def get_store(request: Request) -> Store:
    """The store of this process."""
    return get_context(request).store


ContextDep = Annotated[AppContext, Depends(get_context)]
StoreDep = Annotated[Store, Depends(get_store)]
