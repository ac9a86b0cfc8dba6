"""A stand-in for the voice agent worker, run by the supervisor in tests.

It speaks the worker's contract with the control plane only: it reads CP_INTERNAL_URL,
CP_WORKER_ID, CP_AGENT_NAME and the credential file (afresh for every heartbeat, as the
real worker does) and posts heartbeats. ``FAKE_WORKER_MODE`` (passed through by the
supervisor's allow-list in these tests): ``ok``; ``silent`` (never heartbeats);
``stubborn`` (ignores SIGTERM, so only SIGKILL ends it).

    python -m tests.support.fake_worker
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import httpx

INTERVAL = 0.2


async def main() -> None:
    mode = os.environ.get("FAKE_WORKER_MODE", "ok")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if mode == "stubborn":
        loop.add_signal_handler(signal.SIGTERM, lambda: None)
    else:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    credential_file = Path(os.environ["CP_WORKER_CREDENTIAL_FILE"])
    body = {
        "worker_id": os.environ["CP_WORKER_ID"],
        "active_jobs": 0,
        "agent_name": os.environ["CP_AGENT_NAME"],
    }
    async with httpx.AsyncClient(base_url=os.environ["CP_INTERNAL_URL"], timeout=2.0) as client:
        while not stop.is_set():
            if mode != "silent":
                with contextlib.suppress(httpx.HTTPError, OSError):
                    credential = (await asyncio.to_thread(credential_file.read_text)).strip()
                    await client.post(
                        "/internal/v1/workers/heartbeat",
                        json=body,
                        headers={"authorization": f"Bearer {credential}"},
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), INTERVAL)


if __name__ == "__main__":
    asyncio.run(main())
