#!/usr/bin/python3
"""Drives Debian's python-socketio client (5.7) against sio-server's gateway; run by
gateway.test.mjs. Usage: gateway_client.py URL TRANSPORT SCENARIO (reads tokens as JSON on stdin).
Prints one JSON line of results on stdout; every wait is bounded by TIMEOUT seconds.
"""
import json
import os
import sys
import threading
import time

import socketio

TIMEOUT = 5.0 * (4 if os.environ.get("SIO_SANITIZED") == "1" else 1)


class Recorder:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def add(self, name, *args):
        with self.cond:
            self.events.append([name, *args])
            self.cond.notify_all()

    def wait(self, name, count=1, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        with self.cond:
            while sum(1 for e in self.events if e[0] == name) < count:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{name} x{count} not received; got {self.events}")
                self.cond.wait(left)
            return [e[1:] for e in self.events if e[0] == name]


def client(rec):
    sio = socketio.Client(reconnection=False, logger=False, engineio_logger=False)

    @sio.event
    def connect():
        rec.add("connect")

    @sio.event
    def connect_error(data):
        rec.add("connect_error", data)

    @sio.event
    def disconnect():
        rec.add("disconnect")

    @sio.on("*")
    def any_event(event, *args):
        rec.add(event, *args)

    return sio


def main():
    url, transport, scenario = sys.argv[1:4]
    tokens = json.load(sys.stdin)
    out = {}
    transports = [transport]
    if scenario == "refused":
        rec = Recorder()
        sio = client(rec)
        try:
            # wait=False: the refusal arrives as connect_error, recorded below
            sio.connect(url, auth={"token": tokens["bad"]}, transports=transports, wait=False)
        except socketio.exceptions.ConnectionError as e:
            out["error"] = str(e)
        out["connect_error"] = rec.wait("connect_error")[0][0]
        time.sleep(0.2)
        if any(e[0] == "connect" for e in rec.events):
            out["connected"] = True
        sio.disconnect()
    elif scenario == "flow":
        ra, rb = Recorder(), Recorder()
        a, b = client(ra), client(rb)
        a.connect(url, auth={"token": tokens["a"]}, transports=transports, wait_timeout=TIMEOUT)
        b.connect(url, auth={"token": tokens["b"]}, transports=transports, wait_timeout=TIMEOUT)
        out["transport"] = a.transport()
        out["connected"] = ra.wait("connected")[0][0]
        rb.wait("connected")
        conv = tokens["conversation"]
        out["join_ack"] = a.call("join_conversation", {"conversation_id": conv}, timeout=TIMEOUT)
        out["joined"] = ra.wait("joined_conversation")[0][0]
        b.call("join_conversation", {"conversation_id": conv}, timeout=TIMEOUT)
        a.emit("typing_start", {"conversation_id": conv})
        out["typing"] = rb.wait("user_typing")[0][0]
        a.emit("typing_stop", {"conversation_id": conv})
        out["typing_stop"] = rb.wait("user_typing", 2)[1][0]
        out["pong_ack"] = a.call("ping", {}, timeout=TIMEOUT)
        out["pong"] = ra.wait("pong")[0][0]
        out["bad_ack"] = a.call("join_conversation", {"conversation_id": "nope"}, timeout=TIMEOUT)
        out["error_event"] = ra.wait("error")[0][0]
        out["leave_ack"] = a.call("leave_conversation", {"conversation_id": conv}, timeout=TIMEOUT)
        out["left"] = ra.wait("left_conversation")[0][0]
        out["a_typing_echo"] = [e for e in ra.events if e[0] == "user_typing"]
        a.disconnect()
        b.disconnect()
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
