// A listener's counters. Each I/O thread bumps its own cache-line-aligned shard with relaxed
// atomics (no shared line on the request path, DESIGN.md "Concurrency"); a scrape sums them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/metrics_histogram.h"

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

class HttpCounters {
 public:
  struct alignas(64) Shard {
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

  explicit HttpCounters(size_t shards);
  Shard& shard(size_t index) { return shards_[index % shards_.size()]; }
  HttpCountersSnapshot snapshot() const;

 private:
  std::vector<Shard> shards_;
};

// Relaxed: counters order nothing, and a scrape may see a slightly stale sum.
template <class T>
void bump(std::atomic<T>& counter, T by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace portcullis::proxy
