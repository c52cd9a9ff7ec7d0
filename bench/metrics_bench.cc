// What the metrics cost one request on the hot path (issue 6: "counters must cost nothing
// measurable"): the work an HTTP request adds for metrics (one verdict counter, two clock reads
// and a histogram observation) and a DNS query's (one counter, two clock reads, one observation),
// against an empty loop; with 2 threads, sharded as the proxy does (one shard per I/O thread)
// and, for contrast, all threads on one shared counter line; and with proxy.admin: off, where
// the histogram reads no clock (LatencyHistogram::setEnabled(false)).
#include <benchmark/benchmark.h>

#include <chrono>

#include "proxy/dns_counters.h"
#include "proxy/http_counters.h"

namespace portcullis::proxy {
namespace {

HttpCounters g_http(8);

void BM_Baseline(benchmark::State& state) {
  for (auto _ : state) benchmark::ClobberMemory();
}
BENCHMARK(BM_Baseline)->Threads(1)->Threads(2);

// Per request: requests_allowed, and the upstream latency (clock at send, clock at response).
void BM_HttpRequestMetricsSharded(benchmark::State& state) {
  HttpCounters::Shard& shard = g_http.shard(static_cast<size_t>(state.thread_index()));
  for (auto _ : state) {
    bump(shard.requests_allowed);
    const auto sent = std::chrono::steady_clock::now();
    benchmark::ClobberMemory();
    shard.upstream_latency.observe(std::chrono::steady_clock::now() - sent);
  }
}
BENCHMARK(BM_HttpRequestMetricsSharded)->Threads(1)->Threads(2);

// The same with every thread on shard 0: what sharding avoids (cache-line ping-pong).
void BM_HttpRequestMetricsOneSharedLine(benchmark::State& state) {
  HttpCounters::Shard& shard = g_http.shard(0);
  for (auto _ : state) {
    bump(shard.requests_allowed);
    const auto sent = std::chrono::steady_clock::now();
    benchmark::ClobberMemory();
    shard.upstream_latency.observe(std::chrono::steady_clock::now() - sent);
  }
}
BENCHMARK(BM_HttpRequestMetricsOneSharedLine)->Threads(1)->Threads(2);

// As the proxy times an upstream exchange (start, observeSince), with the histograms on and off.
void BM_HttpRequestMetricsAdmin(benchmark::State& state) {
  const bool on = state.range(0) != 0;
  LatencyHistogram::setEnabled(on);
  HttpCounters::Shard& shard = g_http.shard(static_cast<size_t>(state.thread_index()));
  for (auto _ : state) {
    bump(shard.requests_allowed);
    const auto sent = LatencyHistogram::start();
    benchmark::ClobberMemory();
    shard.upstream_latency.observeSince(sent);
  }
  LatencyHistogram::setEnabled(true);
  state.SetLabel(on ? "admin on" : "admin off");
}
BENCHMARK(BM_HttpRequestMetricsAdmin)->Arg(1)->Arg(0);

void BM_DnsQueryMetrics(benchmark::State& state) {
  DnsCounters counters;
  for (auto _ : state) {
    bump(counters.allowed);
    const auto forwarded = std::chrono::steady_clock::now();
    benchmark::ClobberMemory();
    counters.upstream_latency.observe(std::chrono::steady_clock::now() - forwarded);
  }
}
BENCHMARK(BM_DnsQueryMetrics);

// A scrape: summing 8 shards (the cost is off the hot path, on the admin thread).
void BM_SnapshotEightShards(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(g_http.snapshot());
}
BENCHMARK(BM_SnapshotEightShards);

}  // namespace
}  // namespace portcullis::proxy

BENCHMARK_MAIN();
