#!/usr/bin/python3
"""A local stand-in for ECMWF open data, NCEP GFS and the CDS API, for the
pangu fetch tests (tests/fetch_test.sh). Python's standard library only;
never contacts the real services.

  fetch_server.py layout ecmwf|gfs ROOT FILE...   lay GRIB files (one per run and step, named
                                                  DATE_TIME_STEP.grib2 by grib_filter) out as the
                                                  service does, with its .index / .idx (the
                                                  layouts from the services' own clients: see
                                                  ecmwf_path and gfs_path)
  fetch_server.py layout cds DIR FILE...          the CDS emulation's catalogue of GRIB messages
  fetch_server.py serve --root DIR --port-file F --log F --faults F --cds-key KEY [--cds-polls N]

serve answers on 127.0.0.1 (a free port, written to the port file):
  /ecmwf/..., /gfs/...   static files with directory listings; single HTTP ranges (206)
  /cds/api/retrieve/v1/processes/DATASET/execution   POST a request (PRIVATE-TOKEN header)
  /cds/api/retrieve/v1/jobs/ID[/results]             job status (accepted, running, successful
                                                      or failed) and its asset
  /cds/download/ID.EXT                               the result (an object store: no key needed)
Faults (a JSON list in the faults file, reread when it changes), each
{"match": substring of the path, "kind": ..., "count": times (default 1, -1 always)}:
  "503" (or any status code) an error answer; "slow" wait "delay" seconds before answering;
  "trickle" send the body at "rate" bytes/s; "drip" send one byte every "every" seconds;
  "cut" send "bytes" bytes of the body, then close; "norange" ignore Range headers;
  "html" answer 200 with an HTML page (as a portal's error or login page); "redirect" answer
  302 to "location" (e.g. a file:// URL).
Every request is logged as one JSON line: method, path, range, status, bytes, token.
"""
import datetime
import http.server
import json
import os
import re
import socketserver
import subprocess
import sys
import threading
import time
import uuid
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_range import byte_range  # noqa: E402

# ---- layout ---------------------------------------------------------------

KEYS = ["shortName", "typeOfLevel", "level", "dataDate", "dataTime", "step"]


def split_grib(path):
    data = open(path, "rb").read()
    msgs, pos = [], 0
    while pos < len(data):
        if data[pos:pos + 4] != b"GRIB":
            raise SystemExit(f"{path}: no GRIB message at byte {pos}")
        ed = data[pos + 7]
        n = int.from_bytes(data[pos + 8:pos + 16], "big") if ed == 2 else int.from_bytes(data[pos + 4:pos + 7], "big")
        msgs.append(data[pos:pos + n])
        pos += n
    return msgs


def messages(paths):
    """[(metadata dict, bytes) of every GRIB message] of each file (one grib_get for all: it starts slowly)."""
    out = subprocess.run(["grib_get", "-p", ",".join(KEYS)] + list(paths), check=True, capture_output=True,
                         text=True).stdout
    meta = [dict(zip(KEYS, line.split())) for line in out.splitlines() if line.strip()]
    res, k = [], 0
    for path in paths:
        msgs = split_grib(path)
        if k + len(msgs) > len(meta):
            raise SystemExit(f"{path}: grib_get lists fewer messages than the file holds")
        res.append(list(zip(meta[k:k + len(msgs)], msgs)))
        k += len(msgs)
    return res


def levtype(m):
    return "pl" if m["typeOfLevel"] in ("isobaricInhPa", "isobaricInPa") else "sfc"


def order_key(m):
    # interleave as the services do (not one variable after another), so
    # that the fields wanted are scattered over several ranges
    return (0 if levtype(m) == "sfc" else 1, int(m["level"]), m["shortName"])


NCEP = {"gh": "HGT", "t": "TMP", "q": "SPFH", "u": "UGRD", "v": "VGRD", "r": "RH", "prmsl": "PRMSL", "10u": "UGRD",
        "10v": "VGRD", "2t": "TMP", "w": "VVEL", "sp": "PRES"}


def ncep_level(m):
    t, lev = m["typeOfLevel"], m["level"]
    if t == "isobaricInhPa":
        return f"{lev} mb"
    if t == "meanSea":
        return "mean sea level"
    if t == "heightAboveGround":
        return f"{lev} m above ground"
    return "surface"


# ECMWF open data as ECMWF's own client asks for it (ecmwf/ecmwf-opendata,
# ecmwf/opendata/client.py, not pangu's code):
#   Client._get_urls formats HOURLY_PATTERN (model "ifs", resol "0p25", type "fc");
#   Client.patch_stream puts 06 and 18 UTC runs under stream scda for dates before
#   IFS_50R1_DATE (2026-05-12), under oper from that date on;
#   Client.get_parts reads the inventory at os.path.splitext(url)[0] + ".index".
HOURLY_PATTERN = ("{_url}/{_yyyymmdd}/{_H}z/{model}/{resol}/{_stream}/"
                  "{_yyyymmddHHMMSS}-{step}h-{_stream}-{type}.{_extension}")
IFS_50R1_DATE = datetime.date(2026, 5, 12)


def ecmwf_path(root, date, hh, step):
    """(data file, its .index) of a run as client.py names them."""
    d = datetime.datetime.strptime(date + hh, "%Y%m%d%H")
    stream = "scda" if hh in ("06", "18") and d.date() < IFS_50R1_DATE else "oper"
    url = HOURLY_PATTERN.format(_url=root, _yyyymmdd=date, _H=hh, model="ifs", resol="0p25", _stream=stream,
                                _yyyymmddHHMMSS=d.strftime("%Y%m%d%H%M%S"), step=int(step), type="fc", _extension="grib2")
    return url, os.path.splitext(url)[0] + ".index", stream


# NCEP GFS as blaylockbk/Herbie's template lays it out (src/herbie/models/gfs.py,
# gfs.template): gfs.{date:%Y%m%d/%H}/atmos/gfs.t{%H}z.pgrb2.0p25.f{fxx:03d} from GFS v16,
# without atmos/ for dates before 2021-03-23; inventory IDX_SUFFIX ".idx".
def gfs_path(root, date, hh, step):
    d = datetime.datetime.strptime(date + hh, "%Y%m%d%H")
    atmos = "" if d < datetime.datetime(2021, 3, 23) else "atmos/"
    url = f"{root}/gfs.{date}/{hh}/{atmos}gfs.t{hh}z.pgrb2.0p25.f{int(step):03d}"
    return url, url + ".idx"


def layout(kind, root, files):
    for path, msgs in zip(files, messages(files)):
        name = os.path.basename(path)
        date, hhmm, step = re.match(r"(\d{8})_(\d{4})_(\d+)\.grib2$", name).groups()
        hh = hhmm[:2]
        msgs = sorted(msgs, key=lambda x: order_key(x[0]))
        if kind == "ecmwf":
            base, index, stream = ecmwf_path(root, date, hh, step)
        else:
            # GFS files end with the 2 m temperature: its length runs to the end of the file
            msgs.sort(key=lambda x: x[0]["shortName"] == "2t")
            base, index = gfs_path(root, date, hh, step)
        d = os.path.dirname(base)
        os.makedirs(d, exist_ok=True)
        lines, off = [], 0
        with open(base, "wb") as f:
            for i, (m, b) in enumerate(msgs):
                f.write(b)
                if kind == "ecmwf":
                    # the keys of a line of ECMWF's .index (get_parts matches param, levtype,
                    # levelist, step ... and takes _offset and _length)
                    e = {"domain": "g", "date": m["dataDate"], "time": f"{int(m['dataTime']):04d}", "expver": "0001",
                         "class": "od", "type": "fc", "stream": stream, "step": str(int(m["step"])), "levtype": levtype(m)}
                    if levtype(m) == "pl":
                        e["levelist"] = m["level"]
                    e.update({"param": m["shortName"], "_offset": off, "_length": len(b)})
                    lines.append(json.dumps(e))
                else:
                    fc = "anl" if int(m["step"]) == 0 else f"{int(m['step'])} hour fcst"
                    lines.append(f"{i + 1}:{off}:d={m['dataDate']}{int(m['dataTime']) // 100:02d}:"
                                 f"{NCEP.get(m['shortName'], m['shortName'].upper())}:{ncep_level(m)}:{fc}:")
                off += len(b)
        with open(index, "w") as f:
            f.write("\n".join(lines) + "\n")


def layout_cds(root, files):
    os.makedirs(root, exist_ok=True)
    cat = []
    with open(os.path.join(root, "catalogue.grib"), "wb") as f:
        off = 0
        for msgs in messages(files):
            for m, b in msgs:
                f.write(b)
                m.update({"_offset": off, "_length": len(b), "levtype": levtype(m)})
                cat.append(m)
                off += len(b)
    with open(os.path.join(root, "catalogue.json"), "w") as f:
        json.dump(cat, f)


# ---- serve ----------------------------------------------------------------

CDS_VARS = {"geopotential": "z", "specific_humidity": "q", "temperature": "t", "u_component_of_wind": "u",
            "v_component_of_wind": "v", "mean_sea_level_pressure": "msl", "10m_u_component_of_wind": "10u",
            "10m_v_component_of_wind": "10v", "2m_temperature": "2t"}
CDS_SETS = {"reanalysis-era5-pressure-levels": "pl", "reanalysis-era5-single-levels": "sfc"}


class State:
    def __init__(self, args):
        self.root = os.path.abspath(args["root"])
        self.log = open(args["log"], "a", buffering=1)
        self.faults_path = args["faults"]
        self.faults, self.faults_mtime, self.counts = [], None, []
        self.key = args.get("cds-key", "")
        self.polls = int(args.get("cds-polls", "2"))
        self.jobs = {}
        self.lock = threading.Lock()
        self.job_lock = threading.Lock()
        cat = os.path.join(self.root, "cds", "catalogue.json")
        self.catalogue = json.load(open(cat)) if os.path.exists(cat) else []

    def fault(self, path):
        """The first fault rule that applies to path (counted), or None."""
        with self.lock:
            try:
                mt = os.stat(self.faults_path).st_mtime_ns
            except OSError:
                mt = None
            if mt != self.faults_mtime:
                self.faults_mtime = mt
                try:
                    self.faults = json.load(open(self.faults_path)) if mt else []
                except ValueError:
                    self.faults = []
                self.counts = [0] * len(self.faults)
            for i, r in enumerate(self.faults):
                if re.search(r.get("match", ""), path):
                    n = r.get("count", 1)
                    if n >= 0 and self.counts[i] >= n:
                        continue
                    self.counts[i] += 1
                    return r
            return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per small answer
    server_version = "pangu-test-server"

    def log_message(self, fmt, *args):  # the JSON log instead
        pass

    def note(self, status, nbytes):
        S.log.write(json.dumps({"method": self.command, "path": self.path, "range": self.headers.get("Range"),
                                "status": status, "bytes": nbytes, "token": self.headers.get("PRIVATE-TOKEN")}) + "\n")

    def answer(self, status, body=b"", ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.note(status, len(body))

    def json(self, status, obj):
        self.answer(status, json.dumps(obj), "application/json")

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def route(self):
        path = self.path.split("?")[0]
        f = S.fault(path)
        if f and f["kind"] == "slow":
            time.sleep(float(f.get("delay", 3)))
            f = None
        if f and f["kind"] == "html":
            return self.answer(200, "<html><body><h1>Service temporarily unavailable</h1></body></html>", "text/html")
        if f and f["kind"] == "redirect":
            return self.answer(302, "", headers=[("Location", f.get("location", "file:///etc/passwd"))])
        if f and f["kind"].isdigit():
            code = int(f["kind"])
            body = {"title": f.get("title", http.server.BaseHTTPRequestHandler.responses.get(code, ("",))[0]),
                    "detail": f.get("detail", "injected by the test")}
            hdrs = [("Retry-After", str(f["retry_after"]))] if "retry_after" in f else []
            return self.answer(code, json.dumps(body), "application/json", hdrs)
        if path.startswith("/cds/api/"):
            return self.cds(path[len("/cds/api"):])
        if path.startswith("/cds/download/"):
            return self.static(os.path.join(S.root, "cds", "results", os.path.basename(path)), f)
        local = os.path.normpath(os.path.join(S.root, path.lstrip("/")))
        if not local.startswith(os.path.abspath(S.root)):
            return self.answer(403, "outside the root")
        if os.path.isdir(local):
            if not path.endswith("/"):
                return self.answer(301, "", headers=[("Location", path + "/")])
            names = sorted(os.listdir(local))
            items = "".join(f'<li><a href="{n}{"/" if os.path.isdir(os.path.join(local, n)) else ""}">{n}</a></li>\n'
                            for n in names if not n.startswith("cds"))
            return self.answer(200, f"<html><body><h1>Index of {path}</h1><ul>\n{items}</ul></body></html>\n", "text/html")
        return self.static(local, f)

    def static(self, local, f):
        if not os.path.isfile(local):
            return self.answer(404, "<html><body>404 Not Found</body></html>", "text/html")
        data = open(local, "rb").read()
        size = len(data)
        rng = self.headers.get("Range")
        status, start, end = byte_range(None if f and f["kind"] == "norange" else rng, size)
        if status == 400:
            return self.answer(400, "one range only")
        if status == 416:
            return self.answer(416, "", headers=[("Content-Range", f"bytes */{size}")])
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
        if f and f["kind"] == "cut":
            n = int(f.get("bytes", len(body) // 2))
            self.wfile.write(body[:n])
            self.wfile.flush()
            self.close_connection = True
            return self.note(status, n)
        if f and f["kind"] == "drip":
            every, sent = float(f.get("every", 0.4)), 0
            try:
                while sent < len(body):
                    self.wfile.write(body[sent:sent + 1])
                    self.wfile.flush()
                    sent += 1
                    time.sleep(every)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return self.note(status, sent)
        if f and f["kind"] == "trickle":
            rate, sent = float(f.get("rate", 20000)), 0
            while sent < len(body):
                chunk = body[sent:sent + max(1, int(rate / 10))]
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)
                time.sleep(0.1)
            return self.note(status, sent)
        self.wfile.write(body)
        self.note(status, len(body))

    # -- the CDS API, as ECMWF's own client speaks to it (ecmwf/ecmwf-datastores-client, which
    # cdsapi >= 0.7 delegates to): client.py Client._get_headers (the key in a PRIVATE-TOKEN header,
    # the retrieve API under URL/retrieve/v1), processing.py Process.submit (POST
    # processes/ID/execution with {"inputs": request}; the job is the reply's link rel="monitor"),
    # Remote.results_ready (statuses accepted and running wait; successful; failed and rejected
    # read the results' title / traceback / detail), Remote._make_results (URL/results when the job
    # names no rel="results" link, as here), Results.location / content_length (asset.value.href,
    # relative to the results URL, and asset.value["file:size"]). The request keys (year, month,
    # day, time, data_format, pressure_level) are those of the CDS's ERA5 forms.
    def cds(self, path):
        if self.headers.get("PRIVATE-TOKEN") != S.key:
            return self.json(401, {"type": "authentication", "title": "Authentication failed",
                                   "detail": "the personal access token is not valid"})
        m = re.fullmatch(r"/retrieve/v1/processes/([^/]+)/execution", path)
        if m and self.command == "POST":
            ds = m.group(1)
            if ds not in CDS_SETS:
                return self.json(404, {"title": "Process not found", "detail": f"no dataset {ds}"})
            n = int(self.headers.get("Content-Length", "0"))
            try:
                req = json.loads(self.rfile.read(n))["inputs"]
            except (ValueError, KeyError):
                return self.json(400, {"title": "invalid request", "detail": "expected {\"inputs\": {...}}"})
            need = ["product_type", "variable", "year", "month", "day", "time", "data_format"]
            if CDS_SETS[ds] == "pl":
                need.append("pressure_level")
            missing = [k for k in need if k not in req]
            if missing:
                return self.json(400, {"title": "invalid request", "detail": f"missing {', '.join(missing)}"})
            jid = uuid.uuid4().hex
            S.jobs[jid] = {"dataset": ds, "request": req, "polls": 0, "state": "accepted"}
            host = self.headers.get("Host")
            return self.json(201, {"processID": ds, "type": "process", "jobID": jid, "status": "accepted",
                                   "links": [{"href": f"http://{host}/cds/api/retrieve/v1/jobs/{jid}", "rel": "monitor",
                                              "type": "application/json"}]})
        m = re.fullmatch(r"/retrieve/v1/jobs/([0-9a-f]+)(/results)?", path)
        if m and self.command in ("GET", "HEAD"):
            job = S.jobs.get(m.group(1))
            if not job:
                return self.json(404, {"title": "job not found", "detail": m.group(1)})
            if not m.group(2):
                job["polls"] += 1
                if job["state"] in ("accepted", "running"):
                    job["state"] = "accepted" if job["polls"] < 2 else "running"
                    if job["polls"] > S.polls:
                        # one poll finishes the job: a client that timed out and polls again
                        # while the result is being made must not make it a second time
                        with S.job_lock:
                            if job["state"] in ("accepted", "running"):
                                self.finish_job(m.group(1), job)
                return self.json(200, {"processID": job["dataset"], "jobID": m.group(1), "status": job["state"]})
            if job["state"] == "failed":
                return self.json(400, {"type": "job failed", "title": "The job has failed", "detail": job["error"]})
            if job["state"] != "successful":
                return self.json(404, {"title": "results not ready", "detail": job["state"]})
            host = self.headers.get("Host")
            return self.json(200, {"asset": {"value": {"type": job["type"], "href": f"http://{host}/cds/download/{job['file']}",
                                                       "file:size": job["size"]}}})
        return self.json(404, {"title": "not found", "detail": path})

    def finish_job(self, jid, job):
        req, kind = job["request"], CDS_SETS[job["dataset"]]
        names = {CDS_VARS.get(v) for v in req["variable"]}
        levels = {str(int(p)) for p in req.get("pressure_level", [])}
        wanted = {(f"{int(y):04d}{int(mo):02d}{int(d):02d}", f"{int(t.split(':')[0]):02d}00")
                  for y in req["year"] for mo in req["month"] for d in req["day"] for t in req["time"]}
        sel = [m for m in S.catalogue if m["levtype"] == kind and m["shortName"] in names and
               (kind == "sfc" or m["level"] in levels) and (m["dataDate"], f"{int(m['dataTime']):04d}") in wanted]
        have = {(m["dataDate"], f"{int(m['dataTime']):04d}") for m in sel}
        if have != wanted:
            job["state"], job["error"] = "failed", f"no data is available for {sorted(wanted - have)[0]}"
            return
        out = os.path.join(S.root, "cds", "results")
        os.makedirs(out, exist_ok=True)
        raw = open(os.path.join(S.root, "cds", "catalogue.grib"), "rb").read()
        grib = os.path.join(out, jid + ".grib")
        with open(grib, "wb") as f:
            for m in sel:
                f.write(raw[m["_offset"]:m["_offset"] + m["_length"]])
        if req["data_format"] == "netcdf":
            subprocess.run(["grib_to_netcdf", "-o", os.path.join(out, jid + ".nc"), grib], check=True, capture_output=True)
            os.unlink(grib)
            job["file"], job["type"] = jid + ".nc", "application/netcdf"
        else:
            job["file"], job["type"] = jid + ".grib", "application/x-grib"
        job["size"] = os.path.getsize(os.path.join(out, job["file"]))
        job["state"] = "successful"


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client that gave up (a time-out test) is not an error of the server
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    global S
    if len(sys.argv) >= 4 and sys.argv[1] == "layout":
        if sys.argv[2] == "cds":
            layout_cds(sys.argv[3], sys.argv[4:])
        else:
            layout(sys.argv[2], sys.argv[3], sys.argv[4:])
        return
    if len(sys.argv) < 2 or sys.argv[1] != "serve":
        raise SystemExit(__doc__)
    args, a = {}, sys.argv[2:]
    for i in range(0, len(a) - 1, 2):
        args[a[i].lstrip("-")] = a[i + 1]
    S = State(args)
    srv = Server(("127.0.0.1", 0), Handler)
    with open(args["port-file"] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args["port-file"] + ".tmp", args["port-file"])
    srv.serve_forever()


if __name__ == "__main__":
    main()
