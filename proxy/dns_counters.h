// The DNS proxy's counters (issue 5): queries by verdict, malformed, upstream failures,
// over-limit; in the counter style of proxy/sharded_counters.h. Each executor's DnsPolicyGate
// holds its own shard (a DnsCounters); DnsProxy sums them when read.
#pragma once

#include <atomic>
#include <cstdint>

#include "proxy/metrics_histogram.h"
#include "proxy/sharded_counters.h"

namespace portcullis::proxy {

struct DnsCounters;

struct DnsCounterValues {
  uint64_t allowed = 0;            // forwarded to the original destination
  uint64_t denied = 0;             // answered REFUSED / NXDOMAIN by policy
  uint64_t malformed = 0;          // dropped, or answered FORMERR / NOTIMP
  uint64_t upstream_failures = 0;  // answered SERVFAIL: upstream error or bad answer
  uint64_t upstream_timeouts = 0;  // answered SERVFAIL: proxy.dns.upstream-timeout
  uint64_t over_limit = 0;         // answered SERVFAIL: proxy.dns.max-in-flight reached
  uint64_t not_redirected = 0;     // dropped: addressed to the listener itself (a loop)
  uint64_t reply_failures = 0;     // an answer could not be sent to the client
  uint64_t tcp_connections = 0;    // accepted
  uint64_t tcp_rejected = 0;       // closed at once: too many connections
  uint64_t tcp_open = 0;           // connections open now (a gauge)
  HistogramSnapshot upstream_latency;  // forwarded -> answered or failed (DnsInFlightSlot)

  DnsCounterValues& operator+=(const DnsCounters& shard);
};

// One executor's shard.
struct alignas(64) DnsCounters {
  std::atomic<uint64_t> allowed{0};
  std::atomic<uint64_t> denied{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> upstream_failures{0};
  std::atomic<uint64_t> upstream_timeouts{0};
  std::atomic<uint64_t> over_limit{0};
  std::atomic<uint64_t> not_redirected{0};
  std::atomic<uint64_t> reply_failures{0};
  std::atomic<uint64_t> tcp_connections{0};
  std::atomic<uint64_t> tcp_rejected{0};
  std::atomic<uint64_t> tcp_open{0};
  LatencyHistogram upstream_latency;

  DnsCounterValues values() const {
    DnsCounterValues v;
    v += *this;
    return v;
  }
};

inline DnsCounterValues& DnsCounterValues::operator+=(const DnsCounters& shard) {
  allowed += read(shard.allowed);
  denied += read(shard.denied);
  malformed += read(shard.malformed);
  upstream_failures += read(shard.upstream_failures);
  upstream_timeouts += read(shard.upstream_timeouts);
  over_limit += read(shard.over_limit);
  not_redirected += read(shard.not_redirected);
  reply_failures += read(shard.reply_failures);
  tcp_connections += read(shard.tcp_connections);
  tcp_rejected += read(shard.tcp_rejected);
  tcp_open += read(shard.tcp_open);
  shard.upstream_latency.addTo(upstream_latency);
  return *this;
}

}  // namespace portcullis::proxy
