"""The one executor: a VM operation is a list of atoms, run in order and undone in reverse on failure.

    run(plumbing, vm, [domain.CREATE, domain.BUILD, xenstore_conn.INTRODUCE, …])   # AtomFailed → undone

Modelled on xenopsd (xen-api: ocaml/xenopsd/lib/xenops_server.ml, `atomics_of_operation` and its one
`perform_atomic`): an operation is data, the executor is the only code that sequences it. Each atom's undo
is registered before it acts, so an atom that fails half-way is undone too (reference §8.1).
Which atoms make up which operation is in operations.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evtchn.toolstack.plumbing import AtomFailed, Plumbing
from evtchn.toolstack.records import Vm

Step = Callable[[Plumbing, Vm], None]


@dataclass(frozen=True, slots=True)
class Atom:
    """One step of a VM operation, named as xenopsd names it, with how to take it back."""

    name: str
    do: Step
    undo: Step | None = None


def run(p: Plumbing, vm: Vm, atoms: Sequence[Atom]) -> None:
    """Run the atoms; on AtomFailed, let dom0 handle the events its binds raised (FIFO: unlink before
    reuse), undo every atom that started, newest first, and re-raise."""
    started: list[Atom] = []
    try:
        for atom in atoms:
            started.append(atom)
            atom.do(p, vm)
    except AtomFailed as f:
        p.dom0_events()
        try:
            for atom in reversed(started):
                if atom.undo is not None:
                    atom.undo(p, vm)
        finally:
            f.error.left_behind = p.left_dying
            p.leave_dying = p.left_dying = False
        raise


def _dom0_events(p: Plumbing, vm: Vm) -> None:
    p.dom0_events()


# dom0's Linux handles, in one upcall, the events its binds of this operation left pending.
DOM0_EVENTS = Atom("dom0_handle_events", _dom0_events)


__all__ = ["DOM0_EVENTS", "Atom", "AtomFailed", "Step", "run"]
