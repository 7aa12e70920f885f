#!/usr/bin/python3
"""A local stand-in for the mirror of the released Pangu-Weather models that
ECMWF's ai-models downloads from, for tests/fetch_models_test.sh. Python's
standard library only; never contacts the real service.

The layout follows ecmwf-lab/ai-models-panguweather,
ai_models_panguweather/model.py, PanguWeather.download_url:
  https://get.ecmwf.int/repository/test-data/ai-models/pangu-weather/{file}
with {file} one of its download_files, pangu_weather_24.onnx and
pangu_weather_6.onnx: ROOT/repository/test-data/ai-models/pangu-weather/FILE
here. What the client relies on is what ai-models' downloader does
(ecmwf/multiurl, multiurl/http.py): HEAD gives Content-Length and
"Accept-Ranges: bytes" (HTTPDownloaderBase.headers, check_for_restarts); a
GET with "Range: bytes=N-" answers 206 with Content-Range (FullHTTPDownloader
.prepare resumes so); 408, 429, 500, 502, 503 and 504 are answers to retry
(robust()). Ranges and their answers as RFC 9110 section 14 defines them.

  models_server.py --root DIR --port-file F --log F --faults F

Faults (a JSON list in the faults file, reread when it changes), each
{"match": substring of the path, "kind": ..., "count": times (default 1, -1
always), "method": "GET" or "HEAD" (default both)}:
  "503" (any status code): that answer; "cut": send "bytes" bytes of the body,
  then close the connection; "html": 200 with an HTML page (a portal or login
  page served in place of the file); "norange": ignore Range headers.
Every request is logged as one JSON line: method, path, range, status, bytes.
"""
import argparse
import http.server
import json
import os
import re
import socketserver
import sys
import threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_range import byte_range  # noqa: E402


class State:
    lock = threading.Lock()
    faults, faults_text, used = [], None, {}


S = State()


def fault(path, method):
    """The first fault rule that matches, counted; None when none does."""
    with S.lock:
        try:
            text = open(S.faults_file).read()
        except OSError:
            text = "[]"
        if text != S.faults_text:
            S.faults_text, S.faults, S.used = text, json.loads(text or "[]"), {}
        for i, f in enumerate(S.faults):
            if f["match"] not in path or f.get("method", method) != method:
                continue
            count = int(f.get("count", 1))
            if count >= 0 and S.used.get(i, 0) >= count:
                continue
            S.used[i] = S.used.get(i, 0) + 1
            return f
    return None


HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form>...</form></body></html>\n"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pangu-test-server"

    def log_message(self, fmt, *args):  # the JSON log instead
        pass

    def note(self, status, nbytes):
        with S.lock:
            S.log.write(json.dumps({"method": self.command, "path": self.path, "range": self.headers.get("Range"),
                                    "status": status, "bytes": nbytes}) + "\n")
            S.log.flush()

    def answer(self, status, body, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.note(status, len(body))

    def do_HEAD(self):
        self.serve()

    def do_GET(self):
        self.serve()

    def serve(self):
        path = self.path.split("?")[0]
        f = fault(path, self.command)
        if f and f["kind"].isdigit():
            return self.answer(int(f["kind"]), b"injected by the test\n", "text/plain")
        if f and f["kind"] == "html":
            return self.answer(200, HTML, "text/html; charset=utf-8")
        local = os.path.normpath(os.path.join(S.root, path.lstrip("/")))
        if not local.startswith(os.path.abspath(S.root) + os.sep) or not os.path.isfile(local):
            return self.answer(404, b"<html><body><h1>404 Not Found</h1></body></html>\n", "text/html")
        data = open(local, "rb").read()
        size = len(data)
        rng = self.headers.get("Range")
        status, start, end = byte_range(None if f and f["kind"] == "norange" else rng, size)
        if status == 400:
            return self.answer(400, b"one range only\n", "text/plain")
        if status == 416:
            return self.answer(416, b"", "text/plain", [("Content-Range", f"bytes */{size}")])
        body = data[start:end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return self.note(status, 0)
        n = len(body)
        if f and f["kind"] == "cut":
            n = min(n, int(f.get("bytes", n // 2)))
            self.close_connection = True
        self.wfile.write(body[:n])
        self.wfile.flush()
        self.note(status, n)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--faults", required=True)
    a = ap.parse_args()
    S.root, S.faults_file = os.path.abspath(a.root), a.faults
    S.log = open(a.log, "a")
    srv = Server(("127.0.0.1", 0), Handler)
    with open(a.port_file + ".tmp", "w") as fp:
        fp.write(str(srv.server_address[1]))
    os.replace(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
