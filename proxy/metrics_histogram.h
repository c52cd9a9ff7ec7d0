// A latency histogram with fixed buckets, sharded like the counters (DESIGN.md "Concurrency"):
// each I/O thread observes into its own cache-line-aligned shard with relaxed atomics, a scrape
// sums the shards. Buckets are stored per bucket (not cumulative) so an observation touches one
// bucket and the sum; the snapshot makes them cumulative, as Prometheus wants.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace portcullis::proxy {

// Upper bounds in microseconds: 50 µs (a local origin) to 10 s (proxy.dns.upstream-timeout and
// the HTTP response timeout sit below it); the last bucket (+Inf) takes the rest.
inline constexpr std::array<uint64_t, 16> kLatencyBoundsMicros = {
    50,    100,    250,    500,     1000,    2500,    5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000};
inline constexpr size_t kLatencyBuckets = kLatencyBoundsMicros.size() + 1;

struct HistogramSnapshot {
  std::array<uint64_t, kLatencyBuckets> cumulative{};  // observations <= bound i; last: all
  uint64_t sum_nanos = 0;
  uint64_t count() const { return cumulative.back(); }
  HistogramSnapshot& operator+=(const HistogramSnapshot& o) {
    for (size_t i = 0; i < kLatencyBuckets; ++i) cumulative[i] += o.cumulative[i];
    sum_nanos += o.sum_nanos;
    return *this;
  }
};

// One thread's share. Several writers are allowed (fetch_add), so a strand-per-session pool may
// share a shard.
//
// Timing an operation:  auto started = histogram.start();  ...  histogram.observeSince(started);
// With the histograms off (proxy.admin: off: nothing can read them) start() reads no clock and
// observeSince() records nothing; the cost is one relaxed load.
class alignas(64) LatencyHistogram {
 public:
  using Clock = std::chrono::steady_clock;

  // Process-wide, like the log level: the admin endpoint, the only reader of every histogram, is
  // on or off for the whole daemon. Set before the listeners open; tests flip it.
  static void setEnabled(bool on) { enabled_.store(on, std::memory_order_relaxed); }
  static bool enabled() { return enabled_.load(std::memory_order_relaxed); }

  // Clock::time_point{} when the histograms are off.
  static Clock::time_point start() { return enabled() ? Clock::now() : Clock::time_point{}; }
  void observeSince(Clock::time_point started) {
    if (started != Clock::time_point{}) observe(Clock::now() - started);
  }

  static constexpr size_t bucketOf(uint64_t micros) {
    size_t i = 0;
    while (i < kLatencyBoundsMicros.size() && micros > kLatencyBoundsMicros[i]) ++i;
    return i;
  }

  void observe(std::chrono::nanoseconds elapsed) {
    const uint64_t nanos = elapsed.count() > 0 ? static_cast<uint64_t>(elapsed.count()) : 0;
    // A bound of 50 µs holds 50.000999 µs too: rounding up keeps "<= le" true.
    const uint64_t micros = (nanos + 999) / 1000;
    buckets_[bucketOf(micros)].fetch_add(1, std::memory_order_relaxed);
    sum_nanos_.fetch_add(nanos, std::memory_order_relaxed);
  }

  // Adds this shard's values to `into` (cumulative buckets).
  void addTo(HistogramSnapshot& into) const {
    uint64_t running = 0;
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      running += buckets_[i].load(std::memory_order_relaxed);
      into.cumulative[i] += running;
    }
    into.sum_nanos += sum_nanos_.load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, kLatencyBuckets> buckets_{};
  std::atomic<uint64_t> sum_nanos_{0};
  static inline std::atomic<bool> enabled_{true};
};

}  // namespace portcullis::proxy
