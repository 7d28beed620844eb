"""`python -m bench` runs every benchmark in turn (each also runs alone: `python -m bench.<name>`)."""

from __future__ import annotations

import asyncio

from bench import auth, matrix, reads


def main() -> None:
    asyncio.run(auth.main())
    asyncio.run(reads.main())
    asyncio.run(matrix.main())


if __name__ == "__main__":
    main()
