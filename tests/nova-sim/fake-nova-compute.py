#!/usr/bin/python3
"""A stand-in for nova-compute, run as a systemd unit on a test compute node: after
--delay seconds it tells the Nova simulator that nova-compute on HOST started (its
heartbeats resume and its `done` evacuation records become `completed`, as
_destroy_evacuated_instances does), then runs until SIGTERM, when its heartbeats stop.
   fake-nova-compute.py CONTROL_SOCKET HOST [--delay S]"""
import argparse
import json
import signal
import socket
import sys
import time


def control(sock_path, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock_path)
    s.sendall(("%s /_sim/%s HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % (method, path, len(data))).encode() + data)
    resp = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    s.close()
    return resp.split(b" ", 2)[1].decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("control")
    ap.add_argument("host")
    ap.add_argument("--delay", type=float, default=0)
    a = ap.parse_args()

    def stop(*_):
        control(a.control, "PATCH", "services/%s/nova-compute" % a.host,
                {"alive": False, "dead_since": time.time()})
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    time.sleep(a.delay)
    status = control(a.control, "POST", "compute-restart/%s" % a.host)
    print("fake nova-compute on %s: started (sim answered %s)" % (a.host, status), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
