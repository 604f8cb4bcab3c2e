"""``python -m sesame_demo_partner``: serve the demo partner (http://127.0.0.1:8001 by default)."""

from __future__ import annotations

import uvicorn

from sesame_demo_partner.app import create_app
from sesame_demo_partner.config import PartnerSettings


def main() -> None:
    settings = PartnerSettings.from_env()
    host, port = settings.bind
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", proxy_headers=False)


if __name__ == "__main__":
    main()
