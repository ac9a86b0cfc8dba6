"""Rate limits through Redis Sentinel: a real ``redis-server --sentinel`` (Debian's
Redis, as the harness installs it) monitoring the harness's Redis, and the URL forms the
settings accept or refuse."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
import redis

from control_plane.config import load_settings
from control_plane.errors import ConfigError
from control_plane.risk.limiter import RateLimiter
from tests.support.harness import HarnessEnv
from tests.support.served import free_port

SERVICE = "cp-primary"


@pytest.fixture(scope="module")
def sentinel_url(
    harness_env: HarnessEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    primary = urlsplit(harness_env.redis_url)
    password = primary.password or ""
    binary = shutil.which("redis-server")
    assert binary, "redis-server (Debian's redis) is part of the harness"
    folder = tmp_path_factory.mktemp("sentinel")
    port = free_port()
    config = folder / "sentinel.conf"
    config.write_text(
        "\n".join(
            [
                f"port {port}",
                "bind 127.0.0.1",
                f"dir {folder}",
                f"sentinel monitor {SERVICE} {primary.hostname} {primary.port} 1",
                f"sentinel auth-pass {SERVICE} {password}",
                f"requirepass {password}",
                "",
            ]
        )
    )
    with (folder / "sentinel.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, str(config), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2)
        for _ in range(100):
            try:
                if client.sentinel_get_master_addr_by_name(SERVICE):
                    break
            except redis.RedisError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError((folder / "sentinel.log").read_text()[-2000:])
        yield f"redis+sentinel://:{quote(password, safe='')}@127.0.0.1:{port}/{SERVICE}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_limits_count_through_sentinel_on_the_primary(sentinel_url: str) -> None:
    limiter = RateLimiter(sentinel_url)
    try:
        assert await limiter.check_health()
        key = f"sentinel-test-{uuid.uuid4().hex}"
        outcomes = [await limiter.hit("2/minute", key) for _ in range(3)]
        assert [o.allowed for o in outcomes] == [True, True, False]
        assert outcomes[-1].retry_after >= 1
        assert await limiter.incr(f"{key}-counter", 60) == 1
    finally:
        await limiter.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:26379/cp-primary",
        "redis+sentinel://:secret@10.0.0.1:26379,10.0.0.2:26379/cp-primary",
        "redis://127.0.0.1:6379/0",
        "rediss://:secret@redis.internal:6380/1",
        "memory://",
    ],
)
def test_storage_urls_limits_takes_are_accepted(url: str) -> None:
    assert load_settings(risk={"storage_url": url}).risk.storage_url == url


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:26379",  # no service name
        "redis+sentinel://127.0.0.1:26379/",
        "redis+sentinel:///cp-primary",  # no sentinel
        "redis+sentinel://127.0.0.1/cp-primary",  # no port
        "redis+sentinel://127.0.0.1:99999/cp-primary",
        "redis+sentinel://127.0.0.1:26379/a/b",
        "redis://",
        "mongodb://127.0.0.1/limits",
        "memcached://127.0.0.1:11211",
        "127.0.0.1:6379",
    ],
)
def test_unusable_storage_urls_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match=r"risk\.storage_url"):
        load_settings(risk={"storage_url": url})
