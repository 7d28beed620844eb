from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The Temporal SDK and httpx are chatty at INFO; their warnings still show.
    for noisy in ("httpx", "httpcore", "temporalio.activity", "temporalio.workflow"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
