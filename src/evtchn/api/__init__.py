"""The XenAPI endpoint (`evtchn serve`): XML-RPC and JSON-RPC over TCP or a Unix socket (reference §11)."""
