"""The Sésame phone app, served at ``/app`` as an installable web app (ADR 0001, 0008).

``router`` gathers what the app feature serves: the app itself (``/app/...``: pages, manifest,
service worker, icons), the JSON device API it speaks (``/{tenant}/api/device/...``,
``sesame.web.api.devices``) and the website's decoupled login it approves
(``/{tenant}/login/app``, ``sesame.web.pages.app_login``). It is included before the tenant
pages: ``/{tenant}/login/{flow_id}`` would otherwise take ``/{tenant}/login/app``.
"""

from __future__ import annotations

from fastapi import APIRouter

from sesame.web.api import devices as device_api
from sesame.web.pages import app_login
from sesame.web.phone import pages

router = APIRouter()
router.include_router(pages.router)
router.include_router(device_api.router)
router.include_router(app_login.router)

__all__ = ["router"]
