"""`python -m api`: serve the API on the configured host and port, in API_WORKERS processes."""

from __future__ import annotations

from adapters.logs import configure_logging
from api.workers import serve
from settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    serve(settings)


if __name__ == "__main__":
    main()
