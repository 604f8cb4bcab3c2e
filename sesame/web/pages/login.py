"""Pages: login (being written)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sesame.web.csrf import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
