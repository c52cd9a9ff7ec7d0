// The Prometheus exposition (format 0.0.4), the latency histogram and the report of /metrics.
// GCC 12 with -fsanitize=address,undefined reports -Wmaybe-uninitialized inside std::regex and
// boost::optional (property_tree's get<T>): false positives in library code, not in ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <gtest/gtest.h>

#include <array>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "proxy/dns_counters.h"
#include "proxy/http_counters.h"
#include "proxy/metrics_histogram.h"
#include "proxy/metrics_report.h"
#include "proxy/metrics_text.h"
#include "proxy/tls_counters.h"

namespace portcullis::proxy {
namespace {

using namespace std::chrono_literals;

TEST(LatencyHistogram, BucketsHoldObservationsUpToTheirBoundInclusive) {
  EXPECT_EQ(LatencyHistogram::bucketOf(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucketOf(50), 0u);
  EXPECT_EQ(LatencyHistogram::bucketOf(51), 1u);
  EXPECT_EQ(LatencyHistogram::bucketOf(1000), 4u);
  EXPECT_EQ(LatencyHistogram::bucketOf(10000000), kLatencyBoundsMicros.size() - 1);
  EXPECT_EQ(LatencyHistogram::bucketOf(10000001), kLatencyBoundsMicros.size());  // +Inf
}

TEST(LatencyHistogram, SnapshotIsCumulativeAndSumsNanoseconds) {
  LatencyHistogram h;
  h.observe(50us);             // le 50 µs
  h.observe(50us + 1ns);       // just over: le 100 µs
  h.observe(3ms);              // le 5 ms
  h.observe(20s);              // +Inf
  h.observe(-5ns);             // a clock step back counts as zero
  HistogramSnapshot s;
  h.addTo(s);
  EXPECT_EQ(s.cumulative[0], 2u);
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[5], 3u);  // le 2.5 ms
  EXPECT_EQ(s.cumulative[6], 4u);  // le 5 ms
  EXPECT_EQ(s.cumulative[kLatencyBuckets - 2], 4u);
  EXPECT_EQ(s.count(), 5u);
  EXPECT_EQ(s.sum_nanos, 50'000u + 50'001u + 3'000'000u + 20'000'000'000u);
}

TEST(LatencyHistogram, OffReadsNoClockAndRecordsNothing) {
  LatencyHistogram h;
  LatencyHistogram::setEnabled(false);
  const auto started = LatencyHistogram::start();
  h.observeSince(started);
  LatencyHistogram::setEnabled(true);
  EXPECT_EQ(started, LatencyHistogram::Clock::time_point{});
  h.observeSince(started);  // begun while off: still nothing
  HistogramSnapshot off;
  h.addTo(off);
  EXPECT_EQ(off.count(), 0u);
  h.observeSince(LatencyHistogram::start());
  HistogramSnapshot on;
  h.addTo(on);
  EXPECT_EQ(on.count(), 1u);
}

TEST(LatencyHistogram, ShardsOfSeveralThreadsAreSummed) {
  HttpCounters counters(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&counters, t] {
      for (int i = 0; i < 1000; ++i) {
        counters.shard(t).upstream_latency.observe(1ms);
        bump(counters.shard(t).requests_allowed);
      }
    });
  }
  for (auto& t : threads) t.join();
  const HttpCountersSnapshot s = counters.snapshot();
  EXPECT_EQ(s.requests_allowed, 4000u);
  EXPECT_EQ(s.upstream_latency.count(), 4000u);
  EXPECT_EQ(s.upstream_latency.cumulative[3], 0u);  // le 500 µs
  EXPECT_EQ(s.upstream_latency.cumulative[4], 4000u);  // le 1 ms
  EXPECT_EQ(s.upstream_latency.sum_nanos, 4000u * 1'000'000u);
}

// One counter style for the three proxies: a gauge raised on one shard and lowered on another
// (a session that moved, or a scrape between two updates) sums to its balance.
TEST(ShardedCounters, GaugesAndCountersOfEveryShardAreSummed) {
  TlsCounters tls(2);
  bump(tls.shard(0).connections_active);
  bump(tls.shard(0).connections_active);
  drop(tls.shard(1).connections_active);
  bump(tls.shard(1).no_sni, 3);
  bump(tls.shard(2).allowed);  // the index wraps: shard 0
  TlsCountersSnapshot s = tls.snapshot();
  EXPECT_EQ(s.connections_active, 1);
  EXPECT_EQ(s.no_sni, 3u);
  EXPECT_EQ(s.allowed, 1u);
  drop(tls.shard(0).connections_active);
  EXPECT_EQ(tls.snapshot().connections_active, 0);

  DnsCounters a;
  DnsCounters b;
  bump(a.tcp_open);
  bump(b.tcp_open);
  drop(a.tcp_open);
  bump(b.denied);
  b.upstream_latency.observe(2ms);
  DnsCounterValues sum;
  sum += a;
  sum += b;
  EXPECT_EQ(sum.tcp_open, 1u);
  EXPECT_EQ(sum.denied, 1u);
  EXPECT_EQ(sum.upstream_latency.count(), 1u);
  EXPECT_EQ(b.values().denied, 1u);
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(PrometheusText::escapeLabelValue(R"(a"b\c)" "\n"), R"(a\"b\\c\n)");
  PrometheusText t;
  t.family("x_total", "line one\nback\\slash \"quoted\"", PrometheusText::Type::kCounter);
  t.sample("x_total", {{"rule", "web\"egress"}, {"k", "v"}}, uint64_t{7});
  t.sample("x_total", {}, uint64_t{3});
  EXPECT_EQ(t.text(),
            "# HELP x_total line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE x_total counter\n"
            "x_total{rule=\"web\\\"egress\",k=\"v\"} 7\n"
            "x_total 3\n");
}

TEST(PrometheusText, FormatsFloatsShortestAndSpecialValues) {
  EXPECT_EQ(PrometheusText::formatDouble(0.00025), "0.00025");
  EXPECT_EQ(PrometheusText::formatDouble(2.5), "2.5");
  EXPECT_EQ(PrometheusText::formatDouble(10), "10");
  EXPECT_EQ(PrometheusText::formatDouble(1.0 / 0.0), "+Inf");
  EXPECT_EQ(PrometheusText::formatDouble(-1.0 / 0.0), "-Inf");
}

TEST(PrometheusText, HistogramHasCumulativeBucketsEndingInInfThenSumAndCount) {
  LatencyHistogram h;
  h.observe(200us);
  h.observe(2s);
  HistogramSnapshot s;
  h.addTo(s);
  PrometheusText t;
  t.family("lat_seconds", "latency", PrometheusText::Type::kHistogram);
  t.histogram("lat_seconds", {{"protocol", "http"}}, s);
  const std::string& text = t.text();
  EXPECT_NE(text.find("lat_seconds_bucket{protocol=\"http\",le=\"5e-05\"} 0\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_bucket{protocol=\"http\",le=\"0.00025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{protocol=\"http\",le=\"1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{protocol=\"http\",le=\"2.5\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{protocol=\"http\",le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum{protocol=\"http\"} 2.0002\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count{protocol=\"http\"} 2\n"), std::string::npos);
  // +Inf is the last bucket, then _sum, then _count.
  EXPECT_LT(text.find("le=\"+Inf\""), text.find("_sum"));
  EXPECT_LT(text.find("_sum"), text.find("_count"));
}

// Every line of a report is a comment (HELP/TYPE) or a sample of the 0.0.4 grammar, every
// sample's family has a TYPE before it, and a family's samples are contiguous.
void expectValidExposition(const std::string& text) {
  const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$)");
  const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  std::istringstream in(text);
  std::string line;
  std::string current;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (std::regex_match(line, m, type)) {
      EXPECT_TRUE(seen.insert(m[1]).second) << "family twice: " << m[1];
      current = m[1];
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "bad line: " << line;
    const std::string name = m[1];
    const bool ours = name == current || name == current + "_bucket" || name == current + "_sum" ||
                      name == current + "_count";
    EXPECT_TRUE(ours) << name << " outside its family " << current;
  }
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsReport, RendersEveryListenerAndTheDaemonAsValidExposition) {
  MetricsReport r;
  r.daemon.version = "portcullis 0.1.0";
  r.daemon.policy_generation = 3;
  r.daemon.reloads_ok = 2;
  r.daemon.reloads_failed = 1;
  r.daemon.datapath_repairs = 5;
  r.daemon.datapath_installed = true;
  r.daemon.access_log_dropped = 9;
  HttpListenerMetrics http{"portcullis-http-egress", policy::Direction::kEgress, {}};
  http.counters.requests_allowed = 10;
  http.counters.requests_denied = 4;
  http.counters.parse_errors = 1;
  http.counters.connections_active = 2;
  http.counters.upstream_latency.cumulative.fill(10);
  r.http.push_back(http);
  DnsListenerMetrics dns{"portcullis-dns-ingress", policy::Direction::kIngress, {}, 1};
  dns.counters.allowed = 7;
  dns.counters.denied = 6;
  dns.counters.malformed = 2;
  r.dns.push_back(dns);
  TlsListenerMetrics tls{"portcullis-tls-egress", policy::Direction::kEgress, {}};
  tls.counters.allowed = 5;
  tls.counters.denied = 3;
  tls.counters.no_sni = 2;
  tls.counters.malformed = 1;
  tls.counters.hello_timeouts = 4;
  r.tls.push_back(tls);
  const std::string text = renderMetrics(r);
  expectValidExposition(text);
  for (const char* line : {
           "portcullis_requests_total{direction=\"egress\",protocol=\"http\",verdict=\"allowed\"} 10\n",
           "portcullis_requests_total{direction=\"egress\",protocol=\"http\",verdict=\"denied\"} 4\n",
           "portcullis_requests_total{direction=\"ingress\",protocol=\"dns\",verdict=\"allowed\"} 7\n",
           "portcullis_requests_total{direction=\"ingress\",protocol=\"dns\",verdict=\"denied\"} 6\n",
           "portcullis_parse_errors_total{direction=\"egress\",protocol=\"http\"} 1\n",
           "portcullis_parse_errors_total{direction=\"ingress\",protocol=\"dns\"} 2\n",
           "portcullis_connections_active{direction=\"egress\",protocol=\"http\"} 2\n",
           "portcullis_policy_reloads_total{result=\"ok\"} 2\n",
           "portcullis_policy_reloads_total{result=\"failed\"} 1\n",
           "portcullis_datapath_repairs_total 5\n",
           "portcullis_access_log_dropped_total 9\n",
           "portcullis_policy_generation 3\n",
           "portcullis_dns_in_flight{direction=\"ingress\",protocol=\"dns\"} 1\n",
           "portcullis_upstream_latency_seconds_count{direction=\"egress\",protocol=\"http\"} 10\n",
           "portcullis_build_info{version=\"portcullis 0.1.0\"} 1\n",
           "portcullis_requests_total{direction=\"egress\",protocol=\"tls\",verdict=\"allowed\"} 5\n",
           "portcullis_requests_total{direction=\"egress\",protocol=\"tls\",verdict=\"denied\"} 5\n",
           "portcullis_tls_no_sni_total{direction=\"egress\",protocol=\"tls\"} 2\n",
           "portcullis_parse_errors_total{direction=\"egress\",protocol=\"tls\"} 1\n",
           "portcullis_client_timeouts_total{direction=\"egress\",protocol=\"tls\",phase=\"header\"} 4\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing " << line << "in\n" << text;
  }
}

TEST(MetricsReport, WithoutListenersOrAccessLogStaysValid) {
  MetricsReport r;
  const std::string text = renderMetrics(r);
  expectValidExposition(text);
  EXPECT_EQ(text.find("access_log"), std::string::npos);
  EXPECT_EQ(text.find("portcullis_http_tunnels_total"), std::string::npos);  // no empty family
}

TEST(MetricsReport, TlsHasNoLatencyHistogram) {
  MetricsReport r;
  r.tls.push_back({"portcullis-tls-egress", policy::Direction::kEgress, {}});
  const std::string text = renderMetrics(r);
  expectValidExposition(text);
  EXPECT_EQ(text.find("portcullis_upstream_latency_seconds"), std::string::npos) << text;
  EXPECT_NE(text.find("portcullis_connections_active{direction=\"egress\",protocol=\"tls\"} 0\n"),
            std::string::npos);
}

// The HTTP inside intercepted TLS connections: the HTTP families again, told apart from the plain
// HTTP listener's series by intercepted="true" (same direction and protocol: without it the two
// would be one series twice).
TEST(MetricsReport, InterceptedHttpHasTheHttpFamiliesLabelledIntercepted) {
  MetricsReport r;
  HttpListenerMetrics http{"portcullis-http-egress", policy::Direction::kEgress, {}};
  http.counters.requests_allowed = 10;
  r.http.push_back(http);
  r.tls.push_back({"portcullis-tls-egress", policy::Direction::kEgress, {}});
  HttpListenerMetrics inside{"portcullis-tls-egress", policy::Direction::kEgress, {}};
  inside.counters.requests_allowed = 4;
  inside.counters.requests_denied = 2;
  inside.counters.upstream_unavailable = 1;
  inside.counters.upstream_latency.cumulative.fill(3);
  r.intercepted_http.push_back(inside);
  const std::string text = renderMetrics(r);
  expectValidExposition(text);
  for (const char* line : {
           "portcullis_requests_total{direction=\"egress\",protocol=\"http\",verdict=\"allowed\"} "
           "10\n",
           "portcullis_requests_total{direction=\"egress\",protocol=\"http\",intercepted=\"true\","
           "verdict=\"allowed\"} 4\n",
           "portcullis_requests_total{direction=\"egress\",protocol=\"http\",intercepted=\"true\","
           "verdict=\"denied\"} 2\n",
           "portcullis_upstream_failures_total{direction=\"egress\",protocol=\"http\","
           "intercepted=\"true\",reason=\"unreachable\"} 1\n",
           "portcullis_upstream_latency_seconds_count{direction=\"egress\",protocol=\"http\","
           "intercepted=\"true\"} 3\n",
           "portcullis_connections_active{direction=\"egress\",protocol=\"http\","
           "intercepted=\"true\"} 0\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing " << line << "in\n" << text;
  }
  // One HELP and TYPE per family, the intercepted series among the family's own.
  EXPECT_EQ(text.find("# TYPE portcullis_requests_total"),
            text.rfind("# TYPE portcullis_requests_total"));
  // /status lists listeners: the TLS listener once, with its own (TLS) counters.
  const auto totals = listenerTotals(r);
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals[1].name, "portcullis-tls-egress");
  EXPECT_EQ(totals[1].protocol, "tls");
  EXPECT_EQ(totals[1].allowed, 0u);
}

// /status reads the same rows as /metrics: the totals of a listener are its series summed.
TEST(MetricsReport, ListenerTotalsSumTheSeriesOfEachListener) {
  MetricsReport r;
  HttpListenerMetrics http{"portcullis-http-egress", policy::Direction::kEgress, {}};
  http.counters.requests_allowed = 10;
  http.counters.requests_denied = 4;
  http.counters.parse_errors = 1;
  http.counters.upstream_unavailable = 1;
  http.counters.upstream_timeouts = 2;
  http.counters.upstream_errors = 3;
  http.counters.connections_active = -1;  // a scrape between two shards' updates
  r.http.push_back(http);
  DnsListenerMetrics dns{"portcullis-dns-ingress", policy::Direction::kIngress, {}, 9};
  dns.counters.allowed = 7;
  dns.counters.malformed = 2;
  dns.counters.over_limit = 5;
  dns.counters.tcp_open = 3;
  r.dns.push_back(dns);
  TlsListenerMetrics tls{"portcullis-tls-egress", policy::Direction::kEgress, {}};
  tls.counters.denied = 3;
  tls.counters.no_sni = 2;
  tls.counters.upstream_unavailable = 6;
  tls.counters.connections_active = 8;
  r.tls.push_back(tls);
  const auto t = listenerTotals(r);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].name, "portcullis-http-egress");
  EXPECT_EQ(t[0].protocol, "http");
  EXPECT_EQ((std::array{t[0].allowed, t[0].denied, t[0].parse_errors, t[0].upstream_failures,
                        t[0].active_connections}),
            (std::array<uint64_t, 5>{10, 4, 1, 6, 0}));
  EXPECT_EQ(t[1].direction, policy::Direction::kIngress);
  EXPECT_EQ(t[1].protocol, "dns");
  EXPECT_EQ((std::array{t[1].allowed, t[1].denied, t[1].parse_errors, t[1].upstream_failures,
                        t[1].active_connections}),
            (std::array<uint64_t, 5>{7, 0, 2, 5, 3}));
  EXPECT_EQ(t[2].protocol, "tls");
  EXPECT_EQ((std::array{t[2].allowed, t[2].denied, t[2].parse_errors, t[2].upstream_failures,
                        t[2].active_connections}),
            (std::array<uint64_t, 5>{0, 5, 0, 6, 8}));
}

}  // namespace
}  // namespace portcullis::proxy
