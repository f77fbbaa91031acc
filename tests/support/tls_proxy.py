#!/usr/bin/env python3
"""A TLS-terminating TCP proxy for the integration tests: real AWS endpoints
are HTTPS, the bundled emulator speaks plain HTTP.

    tls_proxy.py CERT KEY UPSTREAM_PORT

Listens on 127.0.0.1 (a free port, printed on stdout as `PORT\n`), accepts
TLS with CERT/KEY, and forwards the decrypted bytes to 127.0.0.1:UPSTREAM_PORT.
Exits when its standard input closes, so it never outlives the test.
"""

import asyncio
import ssl
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main():
    cert, key, upstream_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def serve(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: stdin_closed.done() or
                    (sys.stdin.buffer.read1(1) == b"" and stdin_closed.set_result(None)))
    await stdin_closed


asyncio.run(main())
