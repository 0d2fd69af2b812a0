#!/usr/bin/env python3
"""A small Splunk HEC endpoint of our own for fault tests (standard library only, 127.0.0.1).

It speaks enough of HEC for the forwarder: POST /services/collector/event (gzip or plain,
concatenated event objects, X-Splunk-Request-Channel, ackId replies) and POST
/services/collector/ack. Faults are set through POST /_fault (JSON, merged into the current
settings) and what arrived is read from GET /_fault/events and GET /_fault/stats:

  statuses      list of [http_status, hec_code] answered to the next event POSTs, one each
                (e.g. [[503, 9], [503, 9]]), before normal service resumes
  retry_after   seconds sent in Retry-After with 429 and 503 answers (null: none)
  token         the only accepted token (others get 403 code 4 "Invalid token")
  indexes       accepted index names (others get 400 code 7 "Incorrect index"); null: any
  ack           true: replies carry ackIds (the token has indexer acknowledgement on)
  ack_delay     seconds before an ackId reads true
  hold_acks     true: no ackId reads true until set back to false
  lose_acks     how many of the next ackIds are never acknowledged (lost acks)

Events are recorded when their request is answered 200, so a request that is answered with an
error is not recorded. Usage: fault_hec.py --port 0 --info FILE (writes {"url", "port"}).
"""

import argparse
import gzip
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SETTINGS = {"statuses": [], "retry_after": None, "token": "test-token", "indexes": None,
            "ack": True, "ack_delay": 0.0, "hold_acks": False, "lose_acks": 0}
STATE = {"events": [], "requests": 0, "gzip_requests": 0, "answers": {}, "ack_queries": 0,
         "channels": set(), "next_ack": 0, "acks": {}}
TEXTS = {0: "Success", 4: "Invalid token", 6: "Invalid data format", 7: "Incorrect index",
         8: "Internal server error", 9: "Server is busy", 10: "Data channel is missing"}


def split_events(text):
    """Concatenated JSON objects (whitespace between them allowed) as a list."""
    dec, pos, out = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return out
        obj, pos = dec.raw_decode(text, pos)
        out.append(obj)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def hec_error(self, status, code):
        headers = {}
        if status in (429, 503) and SETTINGS["retry_after"] is not None:
            headers["Retry-After"] = str(SETTINGS["retry_after"])
        key = f"{status}/{code}"
        STATE["answers"][key] = STATE["answers"].get(key, 0) + 1
        self.reply(status, {"text": TEXTS.get(code, "Error"), "code": code}, headers)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            STATE["gzip_requests"] += 1
            data = gzip.decompress(data)
        return data

    def do_GET(self):
        with LOCK:
            if self.path == "/_fault/events":
                return self.reply(200, STATE["events"])
            if self.path == "/_fault/stats":
                stats = {k: v for k, v in STATE.items() if k not in ("events", "acks")}
                stats["channels"] = sorted(STATE["channels"])
                stats["pending_acks"] = sum(1 for a in STATE["acks"].values() if a is not None)
                return self.reply(200, stats)
        self.reply(404, {"text": "not found", "code": 404})

    def do_POST(self):
        with LOCK:
            data = self.body()
            if self.path == "/_fault":
                SETTINGS.update(json.loads(data or b"{}"))
                return self.reply(200, SETTINGS)
            auth = self.headers.get("Authorization") or ""
            if auth != "Splunk " + SETTINGS["token"]:
                return self.hec_error(403, 4)
            channel = self.headers.get("X-Splunk-Request-Channel")
            if self.path == "/services/collector/ack":
                return self.ack(channel, json.loads(data))
            if self.path != "/services/collector/event":
                return self.reply(404, {"text": "The requested URL was not found", "code": 404})
            STATE["requests"] += 1
            if SETTINGS["statuses"]:
                status, code = SETTINGS["statuses"].pop(0)
                return self.hec_error(status, code)
            try:
                events = split_events(data.decode())
            except ValueError:
                return self.hec_error(400, 6)
            for ev in events:
                if SETTINGS["indexes"] is not None and ev.get("index") not in SETTINGS["indexes"]:
                    return self.hec_error(400, 7)
            STATE["events"] += events
            STATE["answers"]["200/0"] = STATE["answers"].get("200/0", 0) + 1
            if not SETTINGS["ack"]:
                return self.reply(200, {"text": "Success", "code": 0})
            if not channel:
                return self.hec_error(400, 10)
            STATE["channels"].add(channel)
            ack_id = STATE["next_ack"]
            STATE["next_ack"] += 1
            if SETTINGS["lose_acks"] > 0:
                SETTINGS["lose_acks"] -= 1
                STATE["acks"][(channel, ack_id)] = None  # never acknowledged
            else:
                STATE["acks"][(channel, ack_id)] = time.monotonic() + SETTINGS["ack_delay"]
            self.reply(200, {"text": "Success", "code": 0, "ackId": ack_id})

    def ack(self, channel, query):
        STATE["ack_queries"] += 1
        if not channel:
            return self.hec_error(400, 10)
        now, out = time.monotonic(), {}
        for ack_id in query.get("acks", []):
            when = STATE["acks"].get((channel, ack_id))
            ok = when is not None and not SETTINGS["hold_acks"] and now >= when
            out[str(ack_id)] = ok
            if ok:
                del STATE["acks"][(channel, ack_id)]  # Splunk forgets an ackId once read true
        self.reply(200, {"acks": out})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--info", required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    tmp = args.info + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"url": f"http://127.0.0.1:{port}", "port": port, "pid": os.getpid()}, f)
    os.rename(tmp, args.info)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
