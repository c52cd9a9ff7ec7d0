#include "proxy/tls_counters.h"

namespace portcullis::proxy {

TlsCountersSnapshot TlsCounters::snapshot() const {
  TlsCountersSnapshot s;
  const auto get = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
  for (const Shard& shard : shards_) {
    s.connections_accepted += get(shard.connections_accepted);
    s.connections_active += get(shard.connections_active);
    s.connections_over_limit += get(shard.connections_over_limit);
    s.loops_refused += get(shard.loops_refused);
    s.allowed += get(shard.allowed);
    s.denied += get(shard.denied);
    s.no_sni += get(shard.no_sni);
    s.malformed += get(shard.malformed);
    s.hello_timeouts += get(shard.hello_timeouts);
    s.upstream_unavailable += get(shard.upstream_unavailable);
    s.idle_timeouts += get(shard.idle_timeouts);
    s.intercepted += get(shard.intercepted);
    s.handshake_failures += get(shard.handshake_failures);
  }
  return s;
}

}  // namespace portcullis::proxy
