#!/usr/bin/env python3
"""Reads a DNS-over-TCP packet trace (tcpdump -w, Ethernet, IPv4, port 53; TCPDUMP=DIR bench/dns)
and prints what the wire shows: query-to-answer latency (p50, p99, max), and for each connection
which side sent the first FIN and how long after the connection's last answer. Messages are
reassembled from the TCP stream (several may share a segment); retransmissions are skipped.
usage: dns_pcap_report.py TRACE.pcap"""
import struct
import sys


def packets(path):
    with open(path, 'rb') as f:
        nano = struct.unpack('<I', f.read(24)[:4])[0] == 0xa1b23c4d
        while len(header := f.read(16)) == 16:
            sec, frac, length, _ = struct.unpack('<IIII', header)
            yield sec + frac / (1e9 if nano else 1e6), f.read(length)


def events(path):
    """(time, client, kind, id): kind Q (query), R (answer) or FIN-client / FIN-server."""
    streams = {}
    for t, frame in packets(path):
        if frame[12:14] != b'\x08\x00' or frame[23] != 6:
            continue
        ip = frame[14:]
        tcp = ip[(ip[0] & 15) * 4:struct.unpack('>H', ip[2:4])[0]]
        sport, dport, seq = struct.unpack('>HHI', tcp[:8])
        flags, payload = tcp[13], tcp[(tcp[12] >> 4) * 4:]
        src, dst = (ip[12:16], sport), (ip[16:20], dport)
        client = src if dport == 53 else dst
        if flags & 0x02:  # SYN: the stream starts after it
            streams[(src, dst)] = [seq + 1, b'', 0]
            continue
        if flags & 0x01:
            yield t, client, 'FIN-' + ('client' if dport == 53 else 'server'), None
        stream = streams.get((src, dst))
        if stream is None or not payload:
            continue
        offset, have = (seq - stream[0]) & 0xffffffff, stream[2] + len(stream[1])
        if offset + len(payload) <= have or offset > have:
            continue  # a retransmission, or a gap the capture missed
        stream[1] += payload[have - offset:]
        while len(stream[1]) >= 2 and len(stream[1]) >= 2 + (n := struct.unpack('>H', stream[1][:2])[0]):
            message, stream[1] = stream[1][2:2 + n], stream[1][2 + n:]
            stream[2] += 2 + n
            if len(message) >= 4:
                yield t, client, 'R' if message[2] & 0x80 else 'Q', message[:2]


def main(path):
    sent, latencies, last_answer, first_fin = {}, [], {}, {}
    for t, client, kind, qid in events(path):
        if kind == 'Q':
            sent[(client, qid)] = t
        elif kind == 'R' and (client, qid) in sent:
            latencies.append(t - sent.pop((client, qid)))
            last_answer[client] = t
        elif kind.startswith('FIN') and client not in first_fin:
            first_fin[client] = (t, kind[4:])
    latencies.sort()
    n = len(latencies)
    if n == 0:
        print(f'{path}: no DNS answers')
        return
    print(f'{path}: {n} answers; wire latency p50 {latencies[n // 2] * 1e3:.2f} ms, '
          f'p99 {latencies[int(n * 0.99)] * 1e3:.2f} ms, max {latencies[-1] * 1e3:.2f} ms')
    gaps = sorted((fin[0] - last_answer[c]) * 1e3 for c, fin in first_fin.items() if c in last_answer)
    by = {side: sum(1 for f in first_fin.values() if f[1] == side) for side in ('client', 'server')}
    if gaps:
        print(f'  first FIN of a connection: by the server {by["server"]}, by the client {by["client"]}; '
              f'after its last answer: p50 {gaps[len(gaps) // 2]:.2f} ms, '
              f'p90 {gaps[int(len(gaps) * 0.9)]:.2f} ms, max {gaps[-1]:.2f} ms')


if __name__ == '__main__':
    main(sys.argv[1])
