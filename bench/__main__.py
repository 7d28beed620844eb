"""`python -m bench` runs every benchmark in turn (each also runs alone: `python -m bench.<name>`)."""

from __future__ import annotations

import asyncio

from bench import app_cpu, auth, matrix, publishing, reads


def main() -> None:
    asyncio.run(app_cpu.main())
    asyncio.run(auth.main())
    asyncio.run(reads.main())
    asyncio.run(matrix.main())
    asyncio.run(publishing.main(1000, 10_000, 60.0, ("linkedin", "facebook")))


if __name__ == "__main__":
    main()
