"""`python -m bench` runs every benchmark in turn (each also runs alone: `python -m bench.<name>`)."""

from __future__ import annotations

import asyncio

from bench import auth


def main() -> None:
    asyncio.run(auth.main())


if __name__ == "__main__":
    main()
