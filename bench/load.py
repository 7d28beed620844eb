"""HTTP load from a second process: wrk (Debian package `wrk`), closed loop, keep-alive, fixed duration.

A Python load generator saturates a core long before the API does, so the figures would measure the generator.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class LoadResult:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.rps:9.0f} req/s   p50 {self.p50_ms:7.2f} ms   "
            f"p99 {self.p99_ms:7.2f} ms   non-2xx {self.errors}"
        )


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(name: str, output: str) -> LoadResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = int(errors_match.group(1)) if errors_match else 0
    return LoadResult(name=name, rps=rps, p50_ms=p50, p99_ms=p99, requests=requests, errors=errors)


def run_load(
    url: str,
    *,
    name: str,
    concurrency: int = 32,
    duration_s: float = 5.0,
    headers: Mapping[str, str] | None = None,
    threads: int = 1,
) -> LoadResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench installs it)")
    argv = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s", "--latency"]
    for key, value in (headers or {}).items():
        argv += ["-H", f"{key}: {value}"]
    # A short warm-up fills the connection pools and caches before the measured run.
    subprocess.run([*argv[:3], "-d1s", url, *argv[5:]], check=True, capture_output=True)
    done = subprocess.run([*argv, url], check=True, capture_output=True, text=True)
    return parse_wrk(name, done.stdout)
