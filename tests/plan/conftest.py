"""Shared fixtures for the planner's tests."""

from __future__ import annotations

import pytest

from evtchn.plan.limits import resolve_hardware
from evtchn.plan.mix import Mix, Shape
from evtchn.toolstack.hardware import Hardware
from evtchn.toolstack.spec import seed_vm_spec


@pytest.fixture
def seed_mix() -> Mix:
    return Mix((Shape("seed", seed_vm_spec()),))


@pytest.fixture
def lab() -> Hardware:
    """Enough memory that event channels bind first on the 6.x profiles."""
    return resolve_hardware("default")
