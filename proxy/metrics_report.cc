#include "proxy/metrics_report.h"

#include <algorithm>
#include <span>

#include "proxy/metrics_text.h"

namespace portcullis::proxy {

namespace {

using Type = PrometheusText::Type;

// The families every listener contributes to, in the order they are written. Each sample is
// labelled {direction, protocol}, then {intercepted="true"} for the HTTP inside intercepted TLS
// connections, then, where `key` is set, {key=row's label}.
enum class Family : uint8_t {
  kRequests,
  kParseErrors,
  kUpstreamFailures,
  kUpstreamLatency,
  kConnections,
  kConnectionsActive,
  kConnectionsRejected,
  kClientTimeouts,
  kHttpTunnels,
  kDnsReplyFailures,
  kDnsInFlight,
  kTlsNoSni,
  kTlsIntercepted,
  kTlsHandshakeFailures,
};

struct FamilyInfo {
  Family id;
  std::string_view name;
  std::string_view help;
  Type type;
  std::string_view key;
};

constexpr FamilyInfo kFamilies[] = {
    {Family::kRequests, "portcullis_requests_total",
     "HTTP requests, DNS queries and TLS connections judged, by verdict (allowed: forwarded "
     "upstream; denied: 403, REFUSED/NXDOMAIN or reset by policy)",
     Type::kCounter, "verdict"},
    {Family::kParseErrors, "portcullis_parse_errors_total",
     "Malformed requests (HTTP: answered 400), queries (DNS: dropped, FORMERR or NOTIMP) and "
     "ClientHellos (TLS: reset)",
     Type::kCounter, ""},
    {Family::kUpstreamFailures, "portcullis_upstream_failures_total",
     "Allowed requests the upstream did not answer: unreachable (HTTP 503, TLS reset), timeout "
     "(504 or SERVFAIL), error (502, cut response, SERVFAIL), over_limit (dns.max-in-flight)",
     Type::kCounter, "reason"},
    {Family::kUpstreamLatency, "portcullis_upstream_latency_seconds",
     "HTTP: from the request head sent upstream to the response head received; DNS: from a "
     "query forwarded to its answer or failure",
     Type::kHistogram, ""},
    {Family::kConnections, "portcullis_connections_total",
     "Client connections accepted (DNS: over TCP)", Type::kCounter, ""},
    {Family::kConnectionsActive, "portcullis_connections_active",
     "Client connections open now (DNS: over TCP)", Type::kGauge, ""},
    {Family::kConnectionsRejected, "portcullis_connections_rejected_total",
     "Connections (DNS: also datagrams) closed unserved: over_limit (max-connections), loop "
     "(addressed to the proxy itself, not redirected)",
     Type::kCounter, "reason"},
    {Family::kClientTimeouts, "portcullis_client_timeouts_total",
     "Connections closed for a slow client: header (limits.header-timeout; TLS: the whole "
     "ClientHello), idle (limits.idle-timeout)",
     Type::kCounter, "phase"},
    {Family::kHttpTunnels, "portcullis_http_tunnels_total",
     "Allowed Upgrade or CONNECT requests that became tunnels", Type::kCounter, ""},
    {Family::kDnsReplyFailures, "portcullis_dns_reply_failures_total",
     "DNS answers that could not be sent to the client", Type::kCounter, ""},
    {Family::kDnsInFlight, "portcullis_dns_in_flight", "DNS queries forwarded and not yet answered",
     Type::kGauge, ""},
    {Family::kTlsNoSni, "portcullis_tls_no_sni_total",
     "TLS connections reset because their ClientHello named no server (also counted as denied)",
     Type::kCounter, ""},
    {Family::kTlsIntercepted, "portcullis_tls_intercepted_total",
     "TLS connections terminated by the proxy (terminatingTLS) and judged as HTTP",
     Type::kCounter, ""},
    {Family::kTlsHandshakeFailures, "portcullis_tls_handshake_failures_total",
     "Intercepted TLS connections whose client handshake failed (reset)", Type::kCounter, ""},
};

// A gauge summed over shards can read -1 for a moment, between two shards' updates.
uint64_t gauge(int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(0, v)); }

template <class L>
struct Row {
  Family family;
  std::string_view label;  // the value of the family's key; empty when it has none
  uint64_t (*get)(const L&);
};

using H = HttpListenerMetrics;
using D = DnsListenerMetrics;
using T = TlsListenerMetrics;

constexpr Row<H> kHttpRows[] = {
    {Family::kRequests, "allowed", [](const H& l) { return l.counters.requests_allowed; }},
    {Family::kRequests, "denied", [](const H& l) { return l.counters.requests_denied; }},
    {Family::kParseErrors, "", [](const H& l) { return l.counters.parse_errors; }},
    {Family::kUpstreamFailures, "unreachable", [](const H& l) { return l.counters.upstream_unavailable; }},
    {Family::kUpstreamFailures, "timeout", [](const H& l) { return l.counters.upstream_timeouts; }},
    {Family::kUpstreamFailures, "error", [](const H& l) { return l.counters.upstream_errors; }},
    {Family::kConnections, "", [](const H& l) { return l.counters.connections_accepted; }},
    {Family::kConnectionsActive, "", [](const H& l) { return gauge(l.counters.connections_active); }},
    {Family::kConnectionsRejected, "over_limit", [](const H& l) { return l.counters.connections_over_limit; }},
    {Family::kConnectionsRejected, "loop", [](const H& l) { return l.counters.loops_refused; }},
    {Family::kClientTimeouts, "header", [](const H& l) { return l.counters.header_timeouts; }},
    {Family::kClientTimeouts, "idle", [](const H& l) { return l.counters.idle_timeouts; }},
    {Family::kHttpTunnels, "", [](const H& l) { return l.counters.tunnels; }},
};

constexpr Row<D> kDnsRows[] = {
    {Family::kRequests, "allowed", [](const D& l) { return l.counters.allowed; }},
    {Family::kRequests, "denied", [](const D& l) { return l.counters.denied; }},
    {Family::kParseErrors, "", [](const D& l) { return l.counters.malformed; }},
    {Family::kUpstreamFailures, "timeout", [](const D& l) { return l.counters.upstream_timeouts; }},
    {Family::kUpstreamFailures, "error", [](const D& l) { return l.counters.upstream_failures; }},
    {Family::kUpstreamFailures, "over_limit", [](const D& l) { return l.counters.over_limit; }},
    {Family::kConnections, "", [](const D& l) { return l.counters.tcp_connections; }},
    {Family::kConnectionsActive, "", [](const D& l) { return l.counters.tcp_open; }},
    {Family::kConnectionsRejected, "over_limit", [](const D& l) { return l.counters.tcp_rejected; }},
    {Family::kConnectionsRejected, "loop", [](const D& l) { return l.counters.not_redirected; }},
    {Family::kDnsReplyFailures, "", [](const D& l) { return l.counters.reply_failures; }},
    {Family::kDnsInFlight, "", [](const D& l) { return uint64_t{l.in_flight}; }},
};

constexpr Row<T> kTlsRows[] = {
    {Family::kRequests, "allowed", [](const T& l) { return l.counters.allowed; }},
    {Family::kRequests, "denied", [](const T& l) { return l.counters.denied + l.counters.no_sni; }},
    {Family::kParseErrors, "", [](const T& l) { return l.counters.malformed; }},
    {Family::kUpstreamFailures, "unreachable", [](const T& l) { return l.counters.upstream_unavailable; }},
    {Family::kConnections, "", [](const T& l) { return l.counters.connections_accepted; }},
    {Family::kConnectionsActive, "", [](const T& l) { return gauge(l.counters.connections_active); }},
    {Family::kConnectionsRejected, "over_limit", [](const T& l) { return l.counters.connections_over_limit; }},
    {Family::kConnectionsRejected, "loop", [](const T& l) { return l.counters.loops_refused; }},
    {Family::kClientTimeouts, "header", [](const T& l) { return l.counters.hello_timeouts; }},
    {Family::kClientTimeouts, "idle", [](const T& l) { return l.counters.idle_timeouts; }},
    {Family::kTlsNoSni, "", [](const T& l) { return l.counters.no_sni; }},
    {Family::kTlsIntercepted, "", [](const T& l) { return l.counters.intercepted; }},
    {Family::kTlsHandshakeFailures, "", [](const T& l) { return l.counters.handshake_failures; }},
};

// One protocol's listeners with their rows; `latency` is null for a protocol without a
// latency histogram; `intercepted`: the HTTP inside intercepted TLS connections.
template <class L>
struct Protocol {
  std::string_view name;
  const std::vector<L>& listeners;
  std::span<const Row<L>> rows;
  const HistogramSnapshot* (*latency)(const L&);
  bool intercepted = false;
};

const HistogramSnapshot* httpLatency(const H& l) { return &l.counters.upstream_latency; }

template <class F>
void forEachProtocol(const MetricsReport& r, F&& f) {
  f(Protocol<H>{"http", r.http, kHttpRows, httpLatency});
  f(Protocol<D>{"dns", r.dns, kDnsRows,
                [](const D& l) -> const HistogramSnapshot* { return &l.counters.upstream_latency; }});
  f(Protocol<T>{"tls", r.tls, kTlsRows, nullptr});
  f(Protocol<H>{"http", r.intercepted_http, kHttpRows, httpLatency, true});
}

// Calls emit(labels) with one series' labels: {direction, protocol}, {intercepted="true"} when
// so, and {key=value} when the family has a key.
template <class Emit>
void withLabels(std::string_view direction, std::string_view protocol, bool intercepted,
                std::string_view key, std::string_view value, Emit&& emit) {
  const PrometheusText::Label d{"direction", direction};
  const PrometheusText::Label p{"protocol", protocol};
  const PrometheusText::Label i{"intercepted", "true"};
  const PrometheusText::Label k{key, value};
  if (key.empty()) {
    if (intercepted) {
      emit({d, p, i});
    } else {
      emit({d, p});
    }
  } else if (intercepted) {
    emit({d, p, i, k});
  } else {
    emit({d, p, k});
  }
}

void listenerFamily(PrometheusText& out, const MetricsReport& r, const FamilyInfo& family) {
  bool started = false;
  const auto start = [&] {
    if (!started) out.family(family.name, family.help, family.type);
    started = true;
  };
  forEachProtocol(r, [&](const auto& protocol) {
    for (const auto& l : protocol.listeners) {
      const std::string_view direction = policy::toString(l.direction);
      if (family.type == Type::kHistogram) {
        if (protocol.latency == nullptr) continue;
        start();
        withLabels(direction, protocol.name, protocol.intercepted, {}, {},
                   [&](PrometheusText::Labels labels) {
                     out.histogram(family.name, labels, *protocol.latency(l));
                   });
        continue;
      }
      for (const auto& row : protocol.rows) {
        if (row.family != family.id) continue;
        start();
        withLabels(direction, protocol.name, protocol.intercepted, family.key, row.label,
                   [&](PrometheusText::Labels labels) {
                     out.sample(family.name, labels, row.get(l));
                   });
      }
    }
  });
}

void daemon(PrometheusText& out, const DaemonMetrics& d) {
  const auto one = [&out](std::string_view name, std::string_view help, Type type, auto value) {
    out.family(name, help, type);
    out.sample(name, {}, value);
  };
  out.family("portcullis_build_info", "The running version (value 1)", Type::kGauge);
  out.sample("portcullis_build_info", {{"version", d.version}}, uint64_t{1});
  one("portcullis_start_time_seconds", "Start of the daemon, seconds since the Unix epoch",
      Type::kGauge, d.start_time_seconds);
  one("portcullis_policy_generation",
      "Policies stored since start (0: the initial one); moves on every applied reload",
      Type::kGauge, d.policy_generation);
  one("portcullis_policy_rules", "Rules in the policy in force", Type::kGauge, d.policy_rules);
  out.family("portcullis_policy_reloads_total",
             "Policy reloads (SIGHUP or a watched file), applied (ok) or rejected (failed)",
             Type::kCounter);
  out.sample("portcullis_policy_reloads_total", {{"result", "ok"}}, d.reloads_ok);
  out.sample("portcullis_policy_reloads_total", {{"result", "failed"}}, d.reloads_failed);
  one("portcullis_datapath_installed", "1 while the datapath rules and routes are installed",
      Type::kGauge, uint64_t{d.datapath_installed ? 1u : 0u});
  one("portcullis_datapath_repairs_total", "Drifted rules, chains or routes the reconciler repaired",
      Type::kCounter, d.datapath_repairs);
  one("portcullis_datapath_reconcile_failures_total",
      "Reconcile checks that could not read or repair the datapath", Type::kCounter,
      d.reconcile_failures);
  one("portcullis_dns_learned_names", "Names the DNS proxy learned addresses for (bounded cache)",
      Type::kGauge, d.learned_names);
  if (d.access_log_dropped) {
    one("portcullis_access_log_dropped_total",
        "Access-log records dropped because the writer fell behind", Type::kCounter,
        *d.access_log_dropped);
  }
}

}  // namespace

std::string renderMetrics(const MetricsReport& r) {
  PrometheusText out;
  daemon(out, r.daemon);
  for (const FamilyInfo& family : kFamilies) listenerFamily(out, r, family);
  return out.take();
}

std::vector<ListenerTotals> listenerTotals(const MetricsReport& r) {
  std::vector<ListenerTotals> totals;
  forEachProtocol(r, [&](const auto& protocol) {
    if (protocol.intercepted) return;  // counted in their TLS listener's connections
    for (const auto& l : protocol.listeners) {
      ListenerTotals t{l.name, l.direction, protocol.name};
      for (const auto& row : protocol.rows) {
        const uint64_t v = row.get(l);
        switch (row.family) {
          case Family::kRequests: (row.label == "allowed" ? t.allowed : t.denied) += v; break;
          case Family::kParseErrors: t.parse_errors += v; break;
          case Family::kUpstreamFailures: t.upstream_failures += v; break;
          case Family::kConnectionsActive: t.active_connections += v; break;
          default: break;
        }
      }
      totals.push_back(std::move(t));
    }
  });
  return totals;
}

}  // namespace portcullis::proxy
