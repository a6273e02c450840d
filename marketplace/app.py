"""The application factory: `create_app(settings)` -> Litestar, wired by one init plugin."""

from __future__ import annotations

import importlib.util
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPI, SecurityScheme
from litestar.plugins import InitPluginProtocol
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.core import db, hardening, i18n, outbox, queue, runtime
from marketplace.core.auth import passwords
from marketplace.core.auth.dependencies import provide_actor
from marketplace.core.errors import exception_handlers
from marketplace.core.openapi import document_problems
from marketplace.core.transactions import UnitOfWorkMiddleware
from marketplace.portal.caching import compression
from marketplace.portal.errors import negotiate_all
from marketplace.portal.templating import template_config
from marketplace.routes import route_handlers
from marketplace.settings import Settings, load_settings
from marketplace.worker import start_in_process
from search import service as search_service

# Swagger UI's files (5.x, which reads OpenAPI 3.1), shipped by the swagger-ui-py package and served by the
# app itself (see _docs_renderers). Found without importing the package (it would import its framework glue).
_SWAGGER_SPEC = importlib.util.find_spec("swagger_ui")
SWAGGER_FILES = (Path(_SWAGGER_SPEC.submodule_search_locations[0]) / "static"
                 if _SWAGGER_SPEC and _SWAGGER_SPEC.submodule_search_locations else None)

log = logging.getLogger("marketplace")


def _metrics_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """/metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN it is not served
    (404): request counts are for operators, not the public (issue 17, finding 7)."""
    token = connection.app.state["settings"].security.metrics_token
    if token is None:
        raise NotFoundException()
    given = connection.headers.get("authorization", "")
    if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise NotAuthorizedException(headers={"WWW-Authenticate": "Bearer"})


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    guards = [_metrics_guard]


# Requests not counted in /metrics: sealed bids (their number before the opening is nobody's business, and
# the bid path is spared the timing), whatever the caller.
METRICS_EXCLUDE = [r"^/api/v1/tenders/[^/]+/bids", r"^/api/v1/bids"]
SWAGGER_ASSETS = "/_docs/swagger-ui"


class MarketplacePlugin(InitPluginProtocol):
    """Routes, dependencies, errors, OpenAPI, metrics and the lifespan, in one place."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self.settings
        app_config.route_handlers.extend([*route_handlers(), MetricsController, *_docs_assets()])
        app_config.template_config = template_config()  # the public portal's HTML pages
        app_config.compression_config = compression()  # gzip, except the live auction board's events
        app_config.dependencies.update(
            {
                "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
                "actor": Provide(provide_actor),
            }
        )
        app_config.exception_handlers.update(negotiate_all(exception_handlers))
        app_config.middleware.insert(0, _language_middleware(settings.default_locale))
        # Second: a body too large or nested too deep is refused (in the caller's language) before any parsing.
        app_config.middleware.insert(1, hardening.body_limits(settings.security.request_max_body_bytes,
                                                              settings.security.json_max_depth))
        app_config.middleware.insert(2, hardening.StreamLimits(settings.security.sse_anonymous_max,
                                                               settings.security.sse_anonymous_per_ip,
                                                               settings.security.trusted_proxy_hops).middleware)
        app_config.before_send.append(hardening.security_headers(settings))
        if settings.training:  # every answer (pages, API, errors, 404s) says it is training data
            app_config.before_send.append(_mark_training)
        app_config.lifespan.append(self.lifespan)
        # live auction boards: Redis pub/sub (Litestar channels)
        app_config.plugins.append(__import__("tenders.auctions.live", fromlist=["x"]).channels_plugin(settings))
        app_config.middleware.append(PrometheusConfig(app_name="marketplace", group_path=True,
                                                       exclude=METRICS_EXCLUDE).middleware)
        # Innermost: one unit of work per unsafe request, committed when a 1xx-3xx response starts.
        app_config.middleware.append(UnitOfWorkMiddleware())
        app_config.openapi_config = OpenAPIConfig(
            title="Mercado Abierto API",
            version="1.0.0",
            description="Tenders, sealed bids, catalogue, contracts, payments and oversight data.",
            path="/schema",
            render_plugins=_docs_renderers(),
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                    "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
                }
            ),
        )
        app_config.state.update({"settings": settings})
        app_config.debug = False
        return app_config

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        settings = self.settings
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set: `marketplace serve` starts an embedded database")
        await db.start(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                       replica_url=settings.database_replica_url)
        search_service.backend(settings)  # the process's search backend, from Settings (no I/O)
        sec = settings.security
        passwords.configure(sec.password_hash_workers, sec.password_hash_queue, sec.password_hash_niceness,
                            sec.password_hash_idle, sec.password_hash_per_second)
        if settings.redis_url:
            try:
                await queue.start(settings.redis_url)
            except Exception as exc:  # writes must go on without Redis; /ready reports it
                log.warning("Redis at %s is unreachable (%s); jobs wait for the sweeper",
                            db.redact(settings.redis_url), exc)
        worker_task = None
        if settings.run_worker_in_process:
            worker_task = await start_in_process(settings)
        runtime.freeze_startup_objects()
        try:
            yield
        finally:
            if worker_task is not None:
                await worker_task.close()
            await outbox.kicks_sent()  # a bid's drain kick still on its way to Redis
            await queue.stop()
            await db.stop()


MODE_HEADER = "x-mercado-mode"


async def _mark_training(message: Message, scope: Scope) -> None:
    """The training sandbox's mark on every HTTP response: `X-Mercado-Mode: training`."""
    if message["type"] == "http.response.start":
        message["headers"] = [*message.get("headers", []), (MODE_HEADER.encode(), b"training")]


def _language_middleware(default_locale: str) -> Callable[[ASGIApp], ASGIApp]:
    """Pick the caller's language (?lang=, the `lang` cookie, then Accept-Language) before anything else,
    so that every response, errors included, speaks it."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] in ("http", "websocket"):
                conn: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
                i18n.set_language(i18n.choose(query=conn.query_params.get("lang"), cookie=conn.cookies.get("lang"),
                                              accept_language=conn.headers.get("accept-language"),
                                              default=default_locale))
            await app(scope, receive, send)

        return middleware

    return factory


def _docs_renderers() -> list[OpenAPIRenderPlugin]:
    """Swagger UI from our own copy of its files (swagger-ui-py), never a CDN; without that package, no UI
    (the JSON and YAML documents are still served at /schema/openapi.json and .yaml)."""
    if SWAGGER_FILES is None:
        return []
    return [SwaggerRenderPlugin(js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
                                css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                                standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
                                favicon=f"<link rel='icon' href='{SWAGGER_ASSETS}/favicon-32x32.png'>")]


def _docs_assets() -> list[Any]:
    if SWAGGER_FILES is None:
        return []
    return [create_static_files_router(path=SWAGGER_ASSETS, directories=[SWAGGER_FILES],
                                       include_in_schema=False, name="swagger-ui-assets")]


def create_app(settings: Settings | None = None, **overrides: Any) -> Litestar:
    settings = settings or load_settings()
    app = Litestar(plugins=[MarketplacePlugin(settings)],
                   request_max_body_size=settings.security.request_max_body_bytes, **overrides)
    _document_problems(app)
    return app


def _document_problems(app: Litestar) -> None:
    """Every operation's error responses (problem+json) in the OpenAPI document (marketplace.core.openapi)."""
    class ProblemsOpenAPIPlugin(OpenAPIPlugin):
        __slots__ = ()

        def _build_openapi(self) -> OpenAPI:
            return document_problems(super()._build_openapi())

    app.plugins.get(OpenAPIPlugin).__class__ = ProblemsOpenAPIPlugin
