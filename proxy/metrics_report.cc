#include "proxy/metrics_report.h"

#include <algorithm>

#include "proxy/metrics_text.h"

namespace portcullis::proxy {

namespace {

using Type = PrometheusText::Type;

const char* dir(policy::Direction d) { return policy::toString(d); }

// One family whose samples come from every HTTP and DNS listener; `http`/`dns` return the value
// for one listener, or nullopt when that protocol has no such series.
template <class Http, class Dns>
void perListener(PrometheusText& out, const MetricsReport& r, std::string_view name,
                 std::string_view help, Type type, Http http, Dns dns) {
  bool started = false;
  const auto put = [&](policy::Direction d, std::string_view protocol, auto v) {
    if (!started) out.family(name, help, type);
    started = true;
    out.sample(name, {{"direction", dir(d)}, {"protocol", protocol}}, v);
  };
  for (const auto& l : r.http) {
    if (auto v = http(l)) put(l.direction, "http", *v);
  }
  for (const auto& l : r.dns) {
    if (auto v = dns(l)) put(l.direction, "dns", *v);
  }
}

using U = std::optional<uint64_t>;
constexpr auto kNone = [](const auto&) { return U{}; };

void requests(PrometheusText& out, const MetricsReport& r) {
  constexpr std::string_view name = "portcullis_requests_total";
  out.family(name,
             "HTTP requests and DNS queries judged, by verdict (allowed: forwarded upstream; "
             "denied: 403 or REFUSED/NXDOMAIN by policy)",
             Type::kCounter);
  for (const auto& l : r.http) {
    out.sample(name, {{"direction", dir(l.direction)}, {"protocol", "http"}, {"verdict", "allowed"}},
               l.counters.requests_allowed);
    out.sample(name, {{"direction", dir(l.direction)}, {"protocol", "http"}, {"verdict", "denied"}},
               l.counters.requests_denied);
  }
  for (const auto& l : r.dns) {
    out.sample(name, {{"direction", dir(l.direction)}, {"protocol", "dns"}, {"verdict", "allowed"}},
               l.counters.allowed);
    out.sample(name, {{"direction", dir(l.direction)}, {"protocol", "dns"}, {"verdict", "denied"}},
               l.counters.denied);
  }
}

void upstreamFailures(PrometheusText& out, const MetricsReport& r) {
  constexpr std::string_view name = "portcullis_upstream_failures_total";
  out.family(name,
             "Allowed requests the upstream did not answer: unreachable (HTTP 503), timeout (504 "
             "or SERVFAIL), error (502, cut response, SERVFAIL), over_limit (dns.max-in-flight)",
             Type::kCounter);
  const auto put = [&](policy::Direction d, std::string_view protocol, std::string_view reason,
                       uint64_t v) {
    out.sample(name, {{"direction", dir(d)}, {"protocol", protocol}, {"reason", reason}}, v);
  };
  for (const auto& l : r.http) {
    put(l.direction, "http", "unreachable", l.counters.upstream_unavailable);
    put(l.direction, "http", "timeout", l.counters.upstream_timeouts);
    put(l.direction, "http", "error", l.counters.upstream_errors);
  }
  for (const auto& l : r.dns) {
    put(l.direction, "dns", "timeout", l.counters.upstream_timeouts);
    put(l.direction, "dns", "error", l.counters.upstream_failures);
    put(l.direction, "dns", "over_limit", l.counters.over_limit);
  }
}

void connectionsRejected(PrometheusText& out, const MetricsReport& r) {
  constexpr std::string_view name = "portcullis_connections_rejected_total";
  out.family(name,
             "Connections (DNS: also datagrams) closed unserved: over_limit (max-connections), "
             "loop (addressed to the proxy itself, not redirected)",
             Type::kCounter);
  const auto put = [&](policy::Direction d, std::string_view protocol, std::string_view reason,
                       uint64_t v) {
    out.sample(name, {{"direction", dir(d)}, {"protocol", protocol}, {"reason", reason}}, v);
  };
  for (const auto& l : r.http) {
    put(l.direction, "http", "over_limit", l.counters.connections_over_limit);
    put(l.direction, "http", "loop", l.counters.loops_refused);
  }
  for (const auto& l : r.dns) {
    put(l.direction, "dns", "over_limit", l.counters.tcp_rejected);
    put(l.direction, "dns", "loop", l.counters.not_redirected);
  }
}

void timeouts(PrometheusText& out, const MetricsReport& r) {
  if (r.http.empty()) return;
  constexpr std::string_view name = "portcullis_http_client_timeouts_total";
  out.family(name,
             "HTTP connections closed for a slow client: header (limits.header-timeout), idle "
             "(limits.idle-timeout)",
             Type::kCounter);
  for (const auto& l : r.http) {
    out.sample(name, {{"direction", dir(l.direction)}, {"phase", "header"}},
               l.counters.header_timeouts);
    out.sample(name, {{"direction", dir(l.direction)}, {"phase", "idle"}}, l.counters.idle_timeouts);
  }
}

void latency(PrometheusText& out, const MetricsReport& r) {
  constexpr std::string_view name = "portcullis_upstream_latency_seconds";
  out.family(name,
             "HTTP: from the request head sent upstream to the response head received; DNS: from "
             "a query forwarded to its answer or failure",
             Type::kHistogram);
  for (const auto& l : r.http) {
    out.histogram(name, {{"direction", dir(l.direction)}, {"protocol", "http"}},
                  l.counters.upstream_latency);
  }
  for (const auto& l : r.dns) {
    out.histogram(name, {{"direction", dir(l.direction)}, {"protocol", "dns"}}, l.counters.upstream_latency);
  }
}

void daemon(PrometheusText& out, const DaemonMetrics& d) {
  out.family("portcullis_build_info", "The running version (value 1)", Type::kGauge);
  out.sample("portcullis_build_info", {{"version", d.version}}, uint64_t{1});
  out.family("portcullis_start_time_seconds", "Start of the daemon, seconds since the Unix epoch",
             Type::kGauge);
  out.sample("portcullis_start_time_seconds", {}, d.start_time_seconds);
  out.family("portcullis_policy_generation",
             "Policies stored since start (0: the initial one); moves on every applied reload",
             Type::kGauge);
  out.sample("portcullis_policy_generation", {}, d.policy_generation);
  out.family("portcullis_policy_rules", "Rules in the policy in force", Type::kGauge);
  out.sample("portcullis_policy_rules", {}, d.policy_rules);
  out.family("portcullis_policy_reloads_total",
             "Policy reloads (SIGHUP or a watched file), applied (ok) or rejected (failed)",
             Type::kCounter);
  out.sample("portcullis_policy_reloads_total", {{"result", "ok"}}, d.reloads_ok);
  out.sample("portcullis_policy_reloads_total", {{"result", "failed"}}, d.reloads_failed);
  out.family("portcullis_datapath_installed", "1 while the datapath rules and routes are installed",
             Type::kGauge);
  out.sample("portcullis_datapath_installed", {}, uint64_t{d.datapath_installed ? 1u : 0u});
  out.family("portcullis_datapath_repairs_total",
             "Drifted rules, chains or routes the reconciler repaired", Type::kCounter);
  out.sample("portcullis_datapath_repairs_total", {}, d.datapath_repairs);
  out.family("portcullis_datapath_reconcile_failures_total",
             "Reconcile checks that could not read or repair the datapath", Type::kCounter);
  out.sample("portcullis_datapath_reconcile_failures_total", {}, d.reconcile_failures);
  out.family("portcullis_dns_learned_names",
             "Names the DNS proxy learned addresses for (bounded cache)", Type::kGauge);
  out.sample("portcullis_dns_learned_names", {}, d.learned_names);
  if (d.access_log_dropped) {
    out.family("portcullis_access_log_dropped_total",
               "Access-log records dropped because the writer fell behind", Type::kCounter);
    out.sample("portcullis_access_log_dropped_total", {}, *d.access_log_dropped);
  }
}

}  // namespace

std::string renderMetrics(const MetricsReport& r) {
  PrometheusText out;
  daemon(out, r.daemon);
  requests(out, r);
  perListener(
      out, r, "portcullis_parse_errors_total",
      "Malformed requests (HTTP: answered 400) and queries (DNS: dropped, FORMERR or NOTIMP)",
      Type::kCounter, [](const HttpListenerMetrics& l) { return U{l.counters.parse_errors}; },
      [](const DnsListenerMetrics& l) { return U{l.counters.malformed}; });
  upstreamFailures(out, r);
  latency(out, r);
  perListener(
      out, r, "portcullis_connections_total", "Client connections accepted (DNS: over TCP)",
      Type::kCounter,
      [](const HttpListenerMetrics& l) { return U{l.counters.connections_accepted}; },
      [](const DnsListenerMetrics& l) { return U{l.counters.tcp_connections}; });
  perListener(
      out, r, "portcullis_connections_active", "Client connections open now (DNS: over TCP)",
      Type::kGauge,
      [](const HttpListenerMetrics& l) {
        // A scrape between two shards' updates can see -1 for a moment.
        return U{static_cast<uint64_t>(std::max<int64_t>(0, l.counters.connections_active))};
      },
      [](const DnsListenerMetrics& l) { return U{l.counters.tcp_open}; });
  connectionsRejected(out, r);
  timeouts(out, r);
  perListener(out, r, "portcullis_http_tunnels_total",
              "Allowed Upgrade or CONNECT requests that became tunnels", Type::kCounter,
              [](const HttpListenerMetrics& l) { return U{l.counters.tunnels}; }, kNone);
  perListener(out, r, "portcullis_dns_reply_failures_total",
              "DNS answers that could not be sent to the client", Type::kCounter, kNone,
              [](const DnsListenerMetrics& l) { return U{l.counters.reply_failures}; });
  perListener(out, r, "portcullis_dns_in_flight", "DNS queries forwarded and not yet answered",
              Type::kGauge, kNone,
              [](const DnsListenerMetrics& l) { return U{uint64_t{l.in_flight}}; });
  return out.take();
}

}  // namespace portcullis::proxy
