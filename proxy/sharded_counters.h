// The one counter style of the proxies (HTTP, DNS and TLS; DESIGN.md "Concurrency"): a protocol
// declares a cache-line-aligned shard of relaxed atomics (and its latency histogram), the plain
// values a scrape reads, and how a shard adds into them. Each I/O thread bumps its own shard, so
// no cache line is shared on the request path; a scrape sums the shards.
//
//   struct alignas(64) FooShard { std::atomic<uint64_t> requests{0}; ... };
//   FooValues& operator+=(FooValues& into, const FooShard& shard);   // reads with read()
//   ShardedCounters<FooShard, FooValues> counters(pool.contexts());
//   bump(counters.shard(i).requests);  ...  FooValues now = counters.snapshot();
//
// Increments are relaxed fetch_add, not a single writer's load and store: with
// IoPool::Model::kSharedContext several threads share a shard.
#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <vector>

namespace portcullis::proxy {

// Relaxed: counters order nothing, and a scrape may see a slightly stale sum.
template <class T>
void bump(std::atomic<T>& counter, std::type_identity_t<T> by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}
// A gauge's decrement (connections open now).
template <class T>
void drop(std::atomic<T>& gauge) {
  gauge.fetch_sub(1, std::memory_order_relaxed);
}
template <class T>
T read(const std::atomic<T>& counter) {
  return counter.load(std::memory_order_relaxed);
}

template <class ShardT, class ValuesT>
class ShardedCounters {
 public:
  using Shard = ShardT;
  using Values = ValuesT;

  explicit ShardedCounters(size_t shards) : shards_(shards == 0 ? 1 : shards) {}
  Shard& shard(size_t index) { return shards_[index % shards_.size()]; }
  Values snapshot() const {
    Values sum;
    for (const Shard& s : shards_) sum += s;
    return sum;
  }

 private:
  std::vector<Shard> shards_;
};

}  // namespace portcullis::proxy
