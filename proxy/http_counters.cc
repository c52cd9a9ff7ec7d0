#include "proxy/http_counters.h"

namespace portcullis::proxy {

HttpCounters::HttpCounters(size_t shards) : shards_(shards == 0 ? 1 : shards) {}

HttpCountersSnapshot HttpCounters::snapshot() const {
  HttpCountersSnapshot s;
  const auto get = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
  for (const Shard& shard : shards_) {
    s.connections_accepted += get(shard.connections_accepted);
    s.connections_active += get(shard.connections_active);
    s.connections_over_limit += get(shard.connections_over_limit);
    s.loops_refused += get(shard.loops_refused);
    s.requests_allowed += get(shard.requests_allowed);
    s.requests_denied += get(shard.requests_denied);
    s.parse_errors += get(shard.parse_errors);
    s.upstream_unavailable += get(shard.upstream_unavailable);
    s.upstream_timeouts += get(shard.upstream_timeouts);
    s.upstream_errors += get(shard.upstream_errors);
    s.header_timeouts += get(shard.header_timeouts);
    s.idle_timeouts += get(shard.idle_timeouts);
    s.tunnels += get(shard.tunnels);
    shard.upstream_latency.addTo(s.upstream_latency);
  }
  return s;
}

}  // namespace portcullis::proxy
