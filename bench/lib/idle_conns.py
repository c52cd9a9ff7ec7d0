#!/usr/bin/env python3
"""Opens COUNT keep-alive HTTP connections to HOST:PORT, sends one GET on each, reads its response,
then keeps every connection open and idle for HOLD seconds (or until killed).

Prints one line when all are established: "ready OK FAILED" (FAILED counts connect errors, closed
connections and non-200 answers). Everything is bounded: connecting gives up after 120 s.
usage: idle_conns.py HOST PORT COUNT HOLD PATH HOST_HEADER
"""
import selectors
import socket
import sys
import time

BATCH = 256  # connections being set up at once


def response_complete(buf):
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buf[:head_end]).decode("latin-1").lower()
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip() == "content-length":
            length = int(value)
    if len(buf) < head_end + 4 + length:
        return None
    return head.split(" ", 2)[1] == "200"


def main():
    host, port, count, hold, path, host_header = sys.argv[1:7]
    port, count, hold = int(port), int(count), float(hold)
    request = f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    established, pending = [], {}
    started = failed = 0
    deadline = time.monotonic() + 120
    while (started < count or pending) and time.monotonic() < deadline:
        while started < count and len(pending) < BATCH:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            s.setblocking(False)
            s.connect_ex((host, port))
            sel.register(s, selectors.EVENT_WRITE, "connect")
            pending[s] = bytearray()
            started += 1
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            ok = None
            if key.data == "connect":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and s.send(request) == len(request):
                    sel.modify(s, selectors.EVENT_READ, "read")
                    continue
                ok = False
            else:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if data:
                    pending[s] += data
                    ok = response_complete(pending[s])
                    if ok is None:
                        continue
                else:
                    ok = False
            sel.unregister(s)
            del pending[s]
            if ok:
                established.append(s)
            else:
                failed += 1
                s.close()
    failed += len(pending) + (count - started)
    print(f"ready {len(established)} {failed}", flush=True)
    time.sleep(hold)


if __name__ == "__main__":
    main()
