# Copyright (c) inplace.kubernetes maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counting reverse proxy: http://127.0.0.1:PORT -> https://API server, one count per request.

Only the drivers' kubeconfig points at it, so it counts what a scenario's driver sends and nothing
the control plane's own components send. A watch counts as one request however long it streams.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import socket
import ssl
import threading
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "proxy-authorization", "proxy-authenticate", "host"}


class CountingProxy:
    """A threaded plain-HTTP -> HTTPS reverse proxy that counts the requests passing through.
    Chunked (watch) responses are passed on chunk by chunk, unbuffered."""

    def __init__(self, upstream, ca_file):
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream_host, self.upstream_port = parsed.hostname, parsed.port or 443
        self.ssl_context = ssl.create_default_context(cafile=ca_file)
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.server = None
        self.thread = None

    def record(self, method, path):
        query = urllib.parse.urlsplit(path).query
        watch = "watch=true" in query.lower() or "/watch/" in path
        with self.lock:
            self.counts["total"] += 1
            self.counts["watch" if watch else method] += 1

    def reset(self):
        with self.lock:
            counts = dict(self.counts)
            self.counts.clear()
        return counts

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else header and body writes stall on delayed ACKs
            upstream_conn = None

            def log_message(self, *args):  # quiet
                pass

            def _conn(self):
                if self.upstream_conn is None:
                    self.upstream_conn = http.client.HTTPSConnection(
                        proxy.upstream_host, proxy.upstream_port, context=proxy.ssl_context,
                        timeout=3600)
                    self.upstream_conn.connect()
                    self.upstream_conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return self.upstream_conn

            def _drop_conn(self):
                if self.upstream_conn is not None:
                    self.upstream_conn.close()
                    self.upstream_conn = None

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

            def _forward(self):
                proxy.record(self.command, self.path)
                body = self._read_body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                resp = None
                for attempt in (0, 1):
                    reused = self.upstream_conn is not None
                    conn = self._conn()
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        resp = conn.getresponse()
                        break
                    except (http.client.HTTPException, OSError) as exc:
                        self._drop_conn()
                        if attempt or not reused:
                            msg = ("bench proxy: upstream error: %s" % exc).encode()
                            self.send_response(502)
                            self.send_header("Content-Type", "text/plain")
                            self.send_header("Content-Length", str(len(msg)))
                            self.end_headers()
                            self.wfile.write(msg)
                            return
                no_body = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
                stream = not no_body and (resp.chunked or resp.length is None)
                self.send_response_only(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    low = key.lower()
                    if low in HOP_BY_HOP or (stream and low == "content-length"):
                        continue
                    self.send_header(key, value)
                if stream:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if stream:
                        while True:
                            data = resp.read1(65536)
                            if not data:
                                break
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                    elif not no_body:
                        self.wfile.write(resp.read())  # one write: headers went out already
                    self.wfile.flush()
                except (OSError, http.client.HTTPException):
                    # client went away (a watch it stopped) or upstream broke: drop both sides
                    self._drop_conn()
                    self.close_connection = True
                    return
                if resp.will_close:
                    self._drop_conn()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

            def finish(self):
                super().finish()
                self._drop_conn()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="proxy", daemon=True)
        self.thread.start()
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
