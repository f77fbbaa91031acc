"""Serve moto's AWS mocks on 127.0.0.1, on a free port, for rekeyd's tests.

Prints the endpoint URL on stdout, then serves until stdin closes (so the
server dies with the test that started it).
"""

import logging
import sys

from moto.server import ThreadedMotoServer

# Request lines would drown the test output; warnings and errors still show.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()
server.stop()
