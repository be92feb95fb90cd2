"""A PostgreSQL connection over a link that hangs (packets dropped, nothing reset) fails within seconds.

The client runs in its own network namespace; its uplink is taken down in the kernel (``ip link set down``),
so nothing passes and no reset comes back either way: TCP retransmits. Without libpq keepalives and
``tcp_user_timeout`` (``storage/sql/engine.py`` ``LINK_CHECKS``) the next call on a pooled connection waits
for the kernel to give up (about 15 minutes).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cluster.netns_support import worker_network
from tests.cluster.roles_support import REPO, NatsLink
from tests.storage.pg import PG_HOST, PG_PORT, fresh_pg_database

CLIENT = """
import sys, time
from watchkeeper.domain import StorageUnavailableError
from watchkeeper.storage.sql.engine import connect_database

database = connect_database(sys.argv[1])
ask = lambda session: session.connection().exec_driver_sql("SELECT 1").scalar()
database.read(ask)
print("ready", flush=True)
sys.stdin.readline()
began = time.monotonic()
try:
    database.read(ask)
except StorageUnavailableError as err:
    print(f"failed {time.monotonic() - began:.1f} {err}", flush=True)
else:
    print(f"answered {time.monotonic() - began:.1f}", flush=True)
"""


@pytest.mark.timeout(240)
def test_a_pooled_connection_over_a_hanging_link_fails_within_seconds() -> None:
    with (
        worker_network() as network,
        fresh_pg_database() as url,
        NatsLink(PG_PORT, listen_host=network.wan.host_address, target_host=PG_HOST) as hop,
    ):
        inner_url = url.replace(f"{PG_HOST}:{PG_PORT}", f"{hop.host}:{hop.port}")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        client = subprocess.Popen(
            [*network.wrapper, sys.executable, "-c", CLIENT, inner_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        try:
            assert client.stdout is not None
            assert client.stdout.readline().strip() == "ready", client.stderr.read() if client.stderr else ""
            network.cut()
            # The kernel would retransmit for ~15 minutes; the link checks end it within seconds.
            out, err = client.communicate("go\n", timeout=120)
        finally:
            network.restore()
            if client.poll() is None:
                client.kill()
                client.wait(10)
        assert out.startswith("failed "), (out, err)
        waited_s = float(out.split()[1])
        print(f"a call over a hanging link failed after {waited_s:.1f} s: {out.split(' ', 2)[2].strip()}")
        assert "Traceback" not in err
