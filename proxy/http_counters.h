// A listener's HTTP counters, in the counter style of proxy/sharded_counters.h: one shard per I/O
// thread, summed on scrape.
#pragma once

#include <atomic>
#include <cstdint>

#include "proxy/metrics_histogram.h"
#include "proxy/sharded_counters.h"

namespace portcullis::proxy {

// The summed values, for /metrics and `portcullis status`.
struct HttpCountersSnapshot {
  uint64_t connections_accepted = 0;
  int64_t connections_active = 0;
  uint64_t connections_over_limit = 0;  // accepted and closed: max-connections reached
  uint64_t loops_refused = 0;           // original destination was the proxy itself
  uint64_t requests_allowed = 0;
  uint64_t requests_denied = 0;       // answered 403
  uint64_t parse_errors = 0;          // answered 400
  uint64_t upstream_unavailable = 0;  // answered 503
  uint64_t upstream_timeouts = 0;     // answered 504
  uint64_t upstream_errors = 0;       // answered 502, or cut mid-response
  uint64_t header_timeouts = 0;       // slowloris
  uint64_t idle_timeouts = 0;
  uint64_t tunnels = 0;  // allowed Upgrade or CONNECT
  // From the request head sent upstream to the response head received.
  HistogramSnapshot upstream_latency;
};

struct alignas(64) HttpCounterShard {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<int64_t> connections_active{0};
  std::atomic<uint64_t> connections_over_limit{0};
  std::atomic<uint64_t> loops_refused{0};
  std::atomic<uint64_t> requests_allowed{0};
  std::atomic<uint64_t> requests_denied{0};
  std::atomic<uint64_t> parse_errors{0};
  std::atomic<uint64_t> upstream_unavailable{0};
  std::atomic<uint64_t> upstream_timeouts{0};
  std::atomic<uint64_t> upstream_errors{0};
  std::atomic<uint64_t> header_timeouts{0};
  std::atomic<uint64_t> idle_timeouts{0};
  std::atomic<uint64_t> tunnels{0};
  LatencyHistogram upstream_latency;
};

HttpCountersSnapshot& operator+=(HttpCountersSnapshot& into, const HttpCounterShard& shard);

using HttpCounters = ShardedCounters<HttpCounterShard, HttpCountersSnapshot>;

}  // namespace portcullis::proxy
