#!/usr/bin/env python3
"""Serves a folder over HTTPS on 127.0.0.1, for tests whose client must reach a real TLS
server: https_folder.py DIR PORT CERT.pem KEY.pem. Each request is logged on stderr."""

import functools
import http.server
import ssl
import sys


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit("usage: https_folder.py DIR PORT CERT.pem KEY.pem")
    folder, port, cert, key = sys.argv[1:]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
