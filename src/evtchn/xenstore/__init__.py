"""The xenstore tree where frontends publish ports, backends read them and errors land (reference §7.4)."""

from evtchn.xenstore.tree import XenStore, XenStoreError

__all__ = ["XenStore", "XenStoreError"]
