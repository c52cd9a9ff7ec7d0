#!/usr/bin/env python3
"""Summarises an h2load --log-file (one row per request: start time in microseconds since the
epoch, HTTP status or -1 for a failed stream, microseconds until the end of the response) as one
line for bench/http's fixed-rate rows:

    completed failed rate p50_ms p99_ms max_ms late_pct

- rate: completed requests per second between the first and the last request's start, which is
  the arrival rate the server saw (h2load's own figure also counts its connection ramp and the
  last response).
- p50/p99/max: over the completed requests' latencies, request written to response complete.
- late_pct (with INTERVAL_US, the time between two requests of one connection): h2load --rps
  ticks a per-connection timer; a tick that comes while that connection's previous request is
  still in flight holds its request back until the response, and that wait is not in any
  latency (coordinated omission). A request of latency L covers floor(L / INTERVAL_US) ticks, so
  their sum over all requests, as a share of the requests, bounds how many started late: when it
  is under 1%, the p99 is not understated by it.

usage: h2load_report.py LOG_FILE [INTERVAL_US]
"""
import sys


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = max(0, min(len(sorted_values) - 1, int(len(sorted_values) * fraction) - 1))
    return sorted_values[index]


def main(path, interval_us=None):
    starts, latencies, failed = [], [], 0
    with open(path) as f:
        for line in f:
            fields = line.split("\t")
            if len(fields) < 3:
                continue
            if int(fields[1]) < 0:
                failed += 1
                continue
            starts.append(int(fields[0]))
            latencies.append(int(fields[2]))
    latencies.sort()
    span = (max(starts) - min(starts)) / 1e6 if len(starts) > 1 else 0
    rate = (len(starts) - 1) / span if span > 0 else 0
    late = "null"
    if interval_us and latencies:
        covered = sum(l // interval_us for l in latencies)
        late = f"{100.0 * covered / len(latencies):.2f}"
    ms = lambda v: "null" if v is None else f"{v / 1000:.3f}"
    print(len(latencies), failed, f"{rate:.0f}", ms(percentile(latencies, 0.50)),
          ms(percentile(latencies, 0.99)), ms(latencies[-1] if latencies else None), late)
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) == 3 else None))
