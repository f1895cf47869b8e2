"""Hypothesis profiles for the whole suite: "ci" when the CI environment variable is set, else "dev".

Both drop the per-example deadline (shared 2-core machines make timings noisy); "ci" also prints the
reproduction blob of a failure. Tests that need more examples under CI read CI themselves
(tests/properties/test_stateful.py runs ≥ 10 000 compared steps there).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
