#include "proxy/http_counters.h"

namespace portcullis::proxy {

HttpCountersSnapshot& operator+=(HttpCountersSnapshot& s, const HttpCounterShard& shard) {
  s.connections_accepted += read(shard.connections_accepted);
  s.connections_active += read(shard.connections_active);
  s.connections_over_limit += read(shard.connections_over_limit);
  s.loops_refused += read(shard.loops_refused);
  s.requests_allowed += read(shard.requests_allowed);
  s.requests_denied += read(shard.requests_denied);
  s.parse_errors += read(shard.parse_errors);
  s.upstream_unavailable += read(shard.upstream_unavailable);
  s.upstream_timeouts += read(shard.upstream_timeouts);
  s.upstream_errors += read(shard.upstream_errors);
  s.header_timeouts += read(shard.header_timeouts);
  s.idle_timeouts += read(shard.idle_timeouts);
  s.tunnels += read(shard.tunnels);
  shard.upstream_latency.addTo(s.upstream_latency);
  return s;
}

}  // namespace portcullis::proxy
