#include "proxy/tls_counters.h"

namespace portcullis::proxy {

TlsCountersSnapshot& operator+=(TlsCountersSnapshot& s, const TlsCounterShard& shard) {
  s.connections_accepted += read(shard.connections_accepted);
  s.connections_active += read(shard.connections_active);
  s.connections_over_limit += read(shard.connections_over_limit);
  s.loops_refused += read(shard.loops_refused);
  s.allowed += read(shard.allowed);
  s.denied += read(shard.denied);
  s.no_sni += read(shard.no_sni);
  s.malformed += read(shard.malformed);
  s.hello_timeouts += read(shard.hello_timeouts);
  s.upstream_unavailable += read(shard.upstream_unavailable);
  s.idle_timeouts += read(shard.idle_timeouts);
  s.intercepted += read(shard.intercepted);
  s.handshake_failures += read(shard.handshake_failures);
  return s;
}

}  // namespace portcullis::proxy
