"""`python -m api`: serve the API with uvicorn on the configured host and port."""

from __future__ import annotations

import uvicorn

from adapters.logs import configure_logging
from settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
