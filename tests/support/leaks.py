"""Looking for submitted secrets in everything the API answered and everything the process logged."""

from __future__ import annotations

from collections.abc import Iterable

MIN_SECRET_LENGTH = 6  # shorter values (e.g. "x") would match by chance


def find_leaks(
    responses: Iterable[tuple[str, str]],
    log_lines: Iterable[str],
    secrets: Iterable[str],
    allowed_paths: tuple[str, ...],
) -> list[tuple[str, str]]:
    """(where, secret) for every response body (outside `allowed_paths`) or log line that contains a secret."""
    wanted = [s for s in set(secrets) if len(s) >= MIN_SECRET_LENGTH]
    leaks = [
        (path, secret)
        for path, body in responses
        if not path.endswith(allowed_paths)
        for secret in wanted
        if secret in body
    ]
    leaks += [("log", secret) for line in log_lines for secret in wanted if secret in line]
    return leaks
