-- wrk's summary as one JSON line (wrk -s bench/lib/wrk_report.lua): the bench scripts read the
-- request count, the latency percentiles (microseconds, from wrk's full latency histogram) and
-- every error class, rather than parsing wrk's human-readable text.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"timeouts": %d, "non2xx": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status))
end
