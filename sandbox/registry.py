"""Registry of platform routers. The connection side (OAuth, profile) comes from each Platform's own router();
the publishing side (publish, media, metrics, lookups) plugs in here without touching the app factory:

    @register_routes("x")
    def x_publishing(platform: Platform) -> APIRouter: ...

Every registered router is mounted under `/{platform}` behind the same fault gate and error dialect."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from sandbox.platforms.base import Platform

RouterFactory = Callable[[Platform], APIRouter]

_extra_routes: dict[str, list[RouterFactory]] = {}


def register_routes(platform: str) -> Callable[[RouterFactory], RouterFactory]:
    def decorate(factory: RouterFactory) -> RouterFactory:
        _extra_routes.setdefault(platform, []).append(factory)
        return factory

    return decorate


def routers_for(platform: Platform) -> list[APIRouter]:
    return [platform.router(), *(factory(platform) for factory in _extra_routes.get(platform.name, []))]
