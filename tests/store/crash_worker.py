"""Child process for the crash test: starts and stops VMs forever, one transaction each.

    python tests/store/crash_worker.py HOST_FILE SEED

Prints "B n" before each transaction, "C n" after its commit, "F n" after a start failed (rolled back).
"""

from __future__ import annotations

import random
import sys

from evtchn.store import open_store
from evtchn.toolstack.errors import StartError


def main(path: str, seed: int) -> None:
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
    main(sys.argv[1], int(sys.argv[2]))
