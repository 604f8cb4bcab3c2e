"""The application factory: wires middleware, routers and error handlers around a container."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from sesame import __version__
from sesame.bootstrap import Container, build_container
from sesame.config import Settings, get_settings


def create_app(container: Container | None = None, *, settings: Settings | None = None) -> FastAPI:
    container = container or build_container(settings or get_settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker_task: asyncio.Task[None] | None = None
        if container.settings.outbox_worker:
            from sesame.services.outbox_worker import run_forever

            worker_task = asyncio.create_task(run_forever(container))
        try:
            yield
        finally:
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task

    app = FastAPI(
        title="Sésame",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.container = container

    from sesame.web import errors, middleware, session
    from sesame.web.api import customers, health
    from sesame.web.api import referentials as referential_api
    from sesame.web.backoffice import pages as backoffice_pages
    from sesame.web.oidc import authorize, discovery, end_session, jwks
    from sesame.web.oidc import bc_authorize as oidc_bc_authorize
    from sesame.web.oidc import introspection as oidc_introspection
    from sesame.web.oidc import revocation as oidc_revocation
    from sesame.web.oidc import token as oidc_token
    from sesame.web.oidc import userinfo as oidc_userinfo
    from sesame.web.pages import account, banque, dev_outbox, flows, home, login, recovery, registration
    from sesame.web.pages import identity as identity_pages
    from sesame.web.pages import letters as letter_pages
    from sesame.web.phone import router as phone_app

    errors.install(app)
    session.install(app)
    app.include_router(health.router)
    app.include_router(backoffice_pages.router)  # before the /{tenant}/... routes: a reserved slug
    app.include_router(phone_app)  # /app, and /{tenant}/login/app before the login flow's routes
    if container.settings.dev_mode:
        app.include_router(dev_outbox.router)
    app.include_router(flows.router)
    app.include_router(registration.router)
    app.include_router(login.router)
    app.include_router(recovery.router)
    app.include_router(banque.router)
    app.include_router(customers.router)
    app.include_router(referential_api.router)
    app.include_router(account.router)
    app.include_router(discovery.router)
    app.include_router(jwks.router)
    app.include_router(authorize.router)
    app.include_router(oidc_token.router)
    app.include_router(oidc_bc_authorize.router)
    app.include_router(oidc_userinfo.router)
    app.include_router(oidc_introspection.router)
    app.include_router(oidc_revocation.router)
    app.include_router(end_session.router)
    app.include_router(letter_pages.router)
    app.include_router(identity_pages.router)
    app.include_router(home.router)  # last: its /{tenant} routes are the catch-all
    middleware.install(app, container)
    return app


def asgi_app() -> FastAPI:
    """Entry point for ``uvicorn --factory sesame.web.app:asgi_app`` (used by ``sesame serve``)."""
    return create_app()
