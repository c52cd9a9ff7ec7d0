// The DNS proxy's counters (issue 5): queries by verdict, malformed, upstream failures,
// over-limit. One set per executor of a DnsProxy, summed when read (DESIGN.md "Concurrency").
#pragma once

#include <atomic>
#include <cstdint>

#include "proxy/metrics_histogram.h"

namespace portcullis::proxy {

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

  DnsCounterValues& operator+=(const DnsCounterValues& o) {
    allowed += o.allowed;
    denied += o.denied;
    malformed += o.malformed;
    upstream_failures += o.upstream_failures;
    upstream_timeouts += o.upstream_timeouts;
    over_limit += o.over_limit;
    not_redirected += o.not_redirected;
    reply_failures += o.reply_failures;
    tcp_connections += o.tcp_connections;
    tcp_rejected += o.tcp_rejected;
    tcp_open += o.tcp_open;
    upstream_latency += o.upstream_latency;
    return *this;
  }
};

class DnsCounters {
 public:
  // Only one executor (thread or strand) writes a set, so an increment is a relaxed load and store
  // (no locked read-modify-write); readers on other threads see whole values.
  static void bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  static void drop(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }

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
    constexpr auto r = std::memory_order_relaxed;
    DnsCounterValues v{allowed.load(r),           denied.load(r),
                       malformed.load(r),         upstream_failures.load(r),
                       upstream_timeouts.load(r), over_limit.load(r),
                       not_redirected.load(r),    reply_failures.load(r),
                       tcp_connections.load(r),   tcp_rejected.load(r),
                       tcp_open.load(r),          {}};
    upstream_latency.addTo(v.upstream_latency);
    return v;
  }
};

}  // namespace portcullis::proxy
