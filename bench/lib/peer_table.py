#!/usr/bin/env python3
"""The peer table of bench/run-all: reads the JSON of bench/http and bench/dns from one run and
prints one table (direct, portcullis and the peer, HAProxy or dnsdist, per load) with throughput,
p50/p99, the ratio to direct and the proxy's CPU per operation, then writes it as JSON. Loads run
at a fixed rate (portcullis at half its maximum, and direct and the peer at that same rate) are
rows "LOAD@RATE/s", and the latency each proxy adds at that equal load is a note.

usage: peer_table.py HTTP_JSON DNS_JSON OUT_JSON   (a missing input is reported and skipped)
"""
import json
import os
import sys

COLUMNS = ("bench", "mode", "load", "ops_per_s", "p50_ms", "p99_ms", "ratio_to_direct",
           "proxy_cpu_us_per_op")


def fixed_rate_load(load, r):
    """"udp" or "udp@26442/s": a load run at a fixed rate (rate_limit) is its own row."""
    return load if r.get("rate_limit") is None else f"{load}@{r['rate_limit']}/s"


def http_rows(doc):
    for r in doc["rows"]:
        if r.get("load") in ("keepalive", "close") and r.get("measure") is None \
                and r.get("mode") != "observability":
            yield {"bench": "http", "mode": r["mode"], "load": fixed_rate_load(r["load"], r),
                   "ops_per_s": r["rps"],
                   "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                   "ratio_to_direct": r["ratio_to_direct"],
                   "proxy_cpu_us_per_op": r["proxy_cpu_us_per_req"]}


def dns_rows(doc):
    for r in doc["rows"]:
        if "transport" in r and r.get("measure") is None:
            yield {"bench": "dns", "mode": r["mode"], "load": fixed_rate_load(r["transport"], r),
                   "ops_per_s": r["qps"],
                   "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                   "ratio_to_direct": r["ratio_to_direct"],
                   "proxy_cpu_us_per_op": r["proxy_cpu_us_per_query"]}


def signed(value):
    return "-" if value is None else f"{value:+.3f}"


def cell(value):
    return "-" if value is None else str(value)


def main(http_path, dns_path, out_path):
    rows, sources, notes = [], {}, []
    for name, path, reader in (("http", http_path, http_rows), ("dns", dns_path, dns_rows)):
        if not os.path.exists(path):
            notes.append(f"{name}: no results at {path} (the bench failed or was not run)")
            continue
        with open(path) as f:
            doc = json.load(f)
        sources[name] = {"file": path, "time": doc.get("time"), "duration_s": doc.get("duration_s"),
                         "pinning": doc.get("pinning")}
        rows.extend(reader(doc))
        for r in doc["rows"]:
            if r.get("mode") == "observability":
                notes.append(f"{name} {r['load']}: {r['on_mode']} / {r['off_mode']} throughput ratio "
                             f"{r['throughput_ratio']} (CPU/op {r['on_cpu_us_per_op']} vs "
                             f"{r['off_cpu_us_per_op']} us; target >= 0.95)")
            elif r.get("measure") == "added_latency":
                load = r.get("load", r.get("transport"))
                notes.append(f"{name} {load} at {r['rate_limit']}/s: latency added by {r['mode']} "
                             f"(minus direct at the same rate): p50 {signed(r['added_p50_ms'])} ms, "
                             f"p99 {signed(r['added_p99_ms'])} ms"
                             + ("" if r.get("added_connect_to_first_byte_mean_ms") is None else
                                f"; mean connect to first byte (handshake included) "
                                f"{signed(r['added_connect_to_first_byte_mean_ms'])} ms"))
            elif r.get("measure") == "floor":
                load = r.get("load", r.get("transport"))
                peer = "haproxy" if name == "http" else "dnsdist"
                cpu = r.get("floor_cpu_us_per_req", r.get("floor_cpu_us_per_query"))
                notes.append(f"{name} {load}: floor CPU/op {cpu} us; portcullis / floor "
                             f"{r['portcullis_over_floor_cpu']}, {peer} / floor "
                             f"{r[peer + '_over_floor_cpu']}; floor / direct throughput "
                             f"{r['floor_over_direct_throughput']}")
            elif r.get("load") == "idle":
                notes.append(f"{name} {r['mode']}: {r['connections']} idle connections, "
                             f"{r['kib_per_connection']} KiB RSS per connection")
    # Where portcullis stands against the peer, per load (issue 6: say by how much it is behind).
    by_key = {(r["bench"], r["load"], r["mode"]): r for r in rows}
    for (bench, load, mode), r in sorted(by_key.items()):
        peer = by_key.get((bench, load, "haproxy" if bench == "http" else "dnsdist"))
        if mode == "portcullis" and "@" not in load and peer and peer["ops_per_s"]:
            notes.append(f"{bench} {load}: portcullis / {peer['mode']} throughput "
                         f"{r['ops_per_s'] / peer['ops_per_s']:.2f}")
    # Direct first, then portcullis' modes, then the peer, then the floor (--floor), per load.
    order = {"direct": 0, "haproxy": 2, "dnsdist": 2, "haproxy-tcp": 3, "floor": 4}
    rows.sort(key=lambda r: (r["bench"] != "http", r["load"], order.get(r["mode"], 1), r["mode"]))
    widths = [max(len(c), *(len(cell(r[c])) for r in rows)) if rows else len(c) for c in COLUMNS]
    line = lambda values: "  ".join(v.rjust(w) if i >= 3 else v.ljust(w)
                                    for i, (v, w) in enumerate(zip(values, widths)))
    print(line(COLUMNS))
    for r in rows:
        print(line([cell(r[c]) for c in COLUMNS]))
    for n in notes:
        print(n)
    with open(out_path, "w") as f:
        json.dump({"columns": COLUMNS, "rows": rows, "sources": sources, "notes": notes}, f, indent=1)
        f.write("\n")
    print(f"peer table written to {out_path}")
    return 0 if rows else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
