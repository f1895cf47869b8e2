"""A XenAPI client as a real script would be written, with the unmodified XenAPI package from PyPI.

    python examples/xenapi_client.py URL PASSWORD
URL is http://HOST:PORT/ for TCP, or a Unix socket path (reached the way XenAPI.xapi_local() reaches
/var/lib/xcp/xapi: the socket path goes in the host part, '/' written as '_').
"""

import sys

import XenAPI

url, password = sys.argv[1], sys.argv[2]
if url.startswith("http"):
    s = XenAPI.Session(url)
else:
    s = XenAPI.Session("http://" + url.replace("/", "_") + "/", transport=XenAPI.UDSTransport())
s.xenapi.login_with_password("root", password, "2.0", "examples/xenapi_client.py")
vm = s.xenapi.VM.create({"name_label": "web1", "VCPUs_max": "2", "memory_static_max": str(2**30),
                         "HVM_boot_policy": "BIOS order"})
s.xenapi.VBD.create({"VM": vm, "userdevice": "0", "mode": "RW", "type": "Disk"})
s.xenapi.VIF.create({"VM": vm, "device": "0", "MAC": ""})
s.xenapi.VM.start(vm, False, False)
print("web1:", s.xenapi.VM.get_power_state(vm), "domid", s.xenapi.VM.get_domid(vm))
try:
    s.xenapi.VM.start(vm, False, False)
except XenAPI.Failure as e:
    print("second start:", e.details)
s.xenapi.session.logout()
