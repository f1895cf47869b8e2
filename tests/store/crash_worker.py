"""Child process for the crash test: starts and stops VMs forever, one transaction each.

    python tests/store/crash_worker.py HOST_FILE SEED [partial]

With "partial", stand-in dirty trackers make every commit take the store's partial write path even where
the toolstack or hypervisor has no tracker of its own yet (tests/store/standins.py).

Prints "B n" before each transaction, "C n" after its commit, "F n" after a start failed (rolled back).
"""

from __future__ import annotations

import random
import sys

from evtchn.store import open_store
from evtchn.toolstack.errors import StartError


def main(path: str, seed: int, partial: bool = False) -> None:
    if partial:
        from evtchn.store.codec import HOST_CODEC
        from tests.store.standins import install

        install(HOST_CODEC)
    store = open_store(path, timeout=10)
    rng = random.Random(seed)
    names = sorted(vm.name for vm in store.read().vms.values() if vm.name.startswith("g"))
    i = 0
    while True:
        name = rng.choice(names)
        print(f"B {i}", flush=True)
        try:
            with store.transaction() as host:
                if host.vms[name].power_state == "Halted":
                    host.start_vm(name)
                else:
                    host.shutdown_vm(name)
            print(f"C {i}", flush=True)
        except StartError:
            print(f"F {i}", flush=True)
        i += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:] == ["partial"])
