"""evtchn: a simulated Xen / XenServer host where event channels are concerned."""

__version__ = "0.1.0"
