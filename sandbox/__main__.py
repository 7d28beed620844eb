"""`python -m sandbox --port N`: serve the platform sandbox on 127.0.0.1."""

from __future__ import annotations

import argparse

import uvicorn

from sandbox.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    # proxy_headers=False: the request log must show the real TCP peer, never one taken from X-Forwarded-For.
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level, proxy_headers=False)


if __name__ == "__main__":
    main()
