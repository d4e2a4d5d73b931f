"""Put this folder on PYTHONPATH of a subprocess under test: any socket to a non-loopback address fails
the process (the tests' no-network guard, for CLIs run as real processes)."""

import ipaddress
import socket

_connect = socket.socket.connect


def _guarded(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = address[0]
        try:
            local = host in ("localhost", "") or ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
        if not local:
            raise OSError(f"no-network guard: a connection to {address!r} was attempted")
    return _connect(self, address)


socket.socket.connect = _guarded
