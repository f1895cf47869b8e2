"""One module per device kind that costs dom0 event channels, each owning its cost, its plug / frontend /
backend connect / unplug, its xenstore keys and its error texts (reference §7.1–§7.2):

    xenstore_conn   the xenstore ring (xenstored binds at XS_INTRODUCE)
    console         the PV console (xenconsoled binds)
    vbd             virtual disks (blkfront / blkback or tapdisk3)
    vif             virtual NICs (netfront / netback)
    device_model    an HVM guest's ioreq ports (qemu binds)
    dom0_daemons    the dom0 processes and drivers that hold those ports
    xenbus          what the PV devices share: xenbus states, grants, the frontend/backend error paths
"""
