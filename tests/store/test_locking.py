"""Two processes on one host file serialise; the waiter is told, and gives up with a clear error."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from evtchn.store.errors import HostBusy
from evtchn.store.sqlite import Store
from tests.store.fakehost import FakeCodec, FakeHost

HOLDER = """
import sys, time
from evtchn.store.sqlite import Store
from tests.store.fakehost import FakeCodec
store = Store(sys.argv[1], FakeCodec())
with store.transaction() as host:
    host.start_vm("vm0")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def store(tmp_path: Path) -> Store[FakeHost]:
    host = FakeHost()
    host.define_vm("vm0")
    host.define_vm("vm1")
    return Store.create(tmp_path / "host.db", FakeCodec(), host)


def test_waiter_gives_up_with_a_clear_message(store: Store[FakeHost]) -> None:
    holder = _hold(store.path, 5)
    try:
        notices: list[str] = []
        waiter = Store(store.path, FakeCodec(), timeout=0.3, on_wait=notices.append)
        t0 = time.monotonic()
        with (
            pytest.raises(HostBusy, match=r"gave up after 0\.3s waiting for another process"),
            waiter.transaction(),
        ):
            pass
        assert time.monotonic() - t0 >= 0.25
        assert notices == [f"waiting for another process using host file {store.path} (up to 0.3s)"]
        # readers are not blocked by the writer and see the last committed state
        assert waiter.read().vms["vm0"].power_state == "Halted"
    finally:
        holder.kill()
        holder.wait()


def test_waiter_proceeds_after_the_holder_commits(store: Store[FakeHost]) -> None:
    holder = _hold(store.path, 0.5)
    notices: list[str] = []
    waiter = Store(store.path, FakeCodec(), timeout=20, on_wait=notices.append)
    with waiter.transaction() as host:
        assert host.vms["vm0"].power_state == "Running"  # sees the holder's committed start
        host.start_vm("vm1")
    assert holder.wait() == 0
    assert len(notices) == 1
    final = waiter.read()
    assert (final.vms["vm0"].domid, final.vms["vm1"].domid) == (1, 2)
    assert final.pool == 10 - 2 - 2


def test_killed_holder_releases_the_lock_and_leaves_no_trace(store: Store[FakeHost]) -> None:
    holder = _hold(store.path, 30)
    holder.kill()
    holder.wait()
    again = Store(store.path, FakeCodec(), timeout=5)
    assert again.read().vms["vm0"].power_state == "Halted"
    with again.transaction() as host:
        host.start_vm("vm0")
    assert again.read().vms["vm0"].power_state == "Running"
