// The counters of the TLS listener (portcullis-tls-egress), in the counter style of
// proxy/sharded_counters.h: one shard per I/O thread, summed on scrape.
#pragma once

#include <atomic>
#include <cstdint>

#include "proxy/sharded_counters.h"

namespace portcullis::proxy {

struct TlsCountersSnapshot {
  uint64_t connections_accepted = 0;
  int64_t connections_active = 0;
  uint64_t connections_over_limit = 0;  // reset at once: max-connections reached
  uint64_t loops_refused = 0;           // original destination was the proxy itself
  uint64_t allowed = 0;                 // SNI allowed, relayed
  uint64_t denied = 0;                  // SNI present, not allowed: reset
  uint64_t no_sni = 0;                  // ClientHello without SNI: reset
  uint64_t malformed = 0;               // not a TLS ClientHello, or oversized: reset
  uint64_t hello_timeouts = 0;          // no whole ClientHello within header-timeout: reset
  uint64_t upstream_unavailable = 0;    // allowed, but the origin could not be reached: reset
  uint64_t idle_timeouts = 0;
  uint64_t intercepted = 0;         // TLS terminated, handed to HTTP (terminatingTLS)
  uint64_t handshake_failures = 0;  // intercepting: the client's handshake failed: reset
};

struct alignas(64) TlsCounterShard {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<int64_t> connections_active{0};
  std::atomic<uint64_t> connections_over_limit{0};
  std::atomic<uint64_t> loops_refused{0};
  std::atomic<uint64_t> allowed{0};
  std::atomic<uint64_t> denied{0};
  std::atomic<uint64_t> no_sni{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> hello_timeouts{0};
  std::atomic<uint64_t> upstream_unavailable{0};
  std::atomic<uint64_t> idle_timeouts{0};
  std::atomic<uint64_t> intercepted{0};
  std::atomic<uint64_t> handshake_failures{0};
};

TlsCountersSnapshot& operator+=(TlsCountersSnapshot& into, const TlsCounterShard& shard);

using TlsCounters = ShardedCounters<TlsCounterShard, TlsCountersSnapshot>;

}  // namespace portcullis::proxy
