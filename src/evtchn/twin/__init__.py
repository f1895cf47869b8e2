"""A twin of a real host (import from what an admin can capture) and its live headroom.

evtchn.twin.headroom   how many more VMs of a mix fit on a host as it is now, and what binds first
evtchn.twin.importer   a persisted host rebuilt from `lsevtchn 0` / an 'e' dump, `xl list -l`, `xl info`
evtchn.twin.metrics    the Prometheus metrics `evtchn exporter` serves
"""
