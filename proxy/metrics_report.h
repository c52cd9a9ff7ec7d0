// What /metrics exposes, as plain values gathered by the daemon (which alone sees the proxies,
// the datapath and the reload outcomes), and its rendering in the Prometheus text format.
// Family names and labels are documented in README.md "Metrics".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model.h"
#include "proxy/dns_counters.h"
#include "proxy/http_counters.h"
#include "proxy/metrics_histogram.h"
#include "proxy/tls_counters.h"

namespace portcullis::proxy {

struct HttpListenerMetrics {
  std::string name;
  policy::Direction direction = policy::Direction::kEgress;
  HttpCountersSnapshot counters;
};

struct DnsListenerMetrics {
  std::string name;
  policy::Direction direction = policy::Direction::kEgress;
  DnsCounterValues counters;
  uint32_t in_flight = 0;
};

struct TlsListenerMetrics {
  std::string name;
  policy::Direction direction = policy::Direction::kEgress;
  TlsCountersSnapshot counters;
};

struct DaemonMetrics {
  std::string version;
  double start_time_seconds = 0;  // since the Unix epoch
  uint64_t policy_generation = 0;
  uint64_t policy_rules = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  uint64_t datapath_repairs = 0;
  uint64_t reconcile_failures = 0;
  bool datapath_installed = false;
  uint64_t learned_names = 0;
  std::optional<uint64_t> access_log_dropped;  // absent: no access log
};

struct MetricsReport {
  DaemonMetrics daemon;
  std::vector<HttpListenerMetrics> http;
  std::vector<DnsListenerMetrics> dns;
  std::vector<TlsListenerMetrics> tls;
  // The HTTP requests inside the connections a TLS listener intercepts (terminatingTLS), named
  // after that listener: the HTTP series labelled intercepted="true". Not listeners of their
  // own: listenerTotals() leaves them out.
  std::vector<HttpListenerMetrics> intercepted_http;
};

std::string renderMetrics(const MetricsReport& report);

// One listener's headline counters for /status and `portcullis status`, read from the same
// table as /metrics: allowed and denied are portcullis_requests_total, parse_errors is
// portcullis_parse_errors_total, upstream_failures sums portcullis_upstream_failures_total's
// reasons, active_connections is portcullis_connections_active.
struct ListenerTotals {
  std::string name;
  policy::Direction direction = policy::Direction::kEgress;
  std::string_view protocol;  // http | dns | tls
  uint64_t allowed = 0;
  uint64_t denied = 0;
  uint64_t parse_errors = 0;
  uint64_t upstream_failures = 0;
  uint64_t active_connections = 0;
};
std::vector<ListenerTotals> listenerTotals(const MetricsReport& report);

}  // namespace portcullis::proxy
