// The daemon's admin endpoint (issue 6): what /metrics, /status and /healthz report, gathered
// from the pieces only the daemon sees (listeners, datapath, reconciler, policy files).
#include <algorithm>
#include <boost/asio/ip/address.hpp>

#include "app/commands.h"
#include "app/daemon.h"
#include "app/datapath_plan_builder.h"
#include "common/log.h"
#include "datapath/marks.h"
#include "proxy/file_digest.h"
#include "proxy/metrics_text.h"
#include "proxy/status_report.h"

namespace portcullis::app {

namespace {

uint64_t secondsSinceEpoch(std::chrono::system_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

std::optional<std::string> utc(const std::optional<std::chrono::system_clock::time_point>& t) {
  if (!t) return std::nullopt;
  return proxy::formatUtc(*t);
}

}  // namespace

void Daemon::startAdmin() {
  if (!config_.proxy.admin_enabled) {
    log::info("admin endpoint off");
    return;
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(config_.proxy.admin_host, ec);
  if (ec) {
    log::error("admin endpoint: bad address ", config_.proxy.admin_host);
    return;
  }
  admin_ = std::make_unique<proxy::AdminServer>(
      io_, proxy::AdminServer::Options{.endpoint = {address, config_.proxy.admin_port}});
  admin_->route("/metrics", [this] {
    return proxy::AdminServer::Response{200, std::string(proxy::PrometheusText::kContentType),
                                        renderMetrics()};
  });
  admin_->route("/status", [this] {
    return proxy::AdminServer::Response{200, "application/json", renderStatus()};
  });
  admin_->route("/healthz", [this] {
    const bool ok = healthy();
    return proxy::AdminServer::Response{ok ? 200 : 503, "text/plain; charset=utf-8",
                                        ok ? "ok\n" : "unhealthy\n"};
  });
  // Not fatal: the proxy keeps enforcing the policy without its admin endpoint.
  if (auto started = admin_->start(); !started) {
    log::error("admin endpoint ", config_.proxy.admin_host, ":", config_.proxy.admin_port,
               " unavailable: ", started.error().message());
    admin_.reset();
    return;
  }
  log::info("admin endpoint on ", config_.proxy.admin_host, ":", config_.proxy.admin_port);
}

bool Daemon::healthy() const {
  if (!datapath_ || torn_down_ || !listeners_) return false;
  for (const auto& request : listenerRequests(policy_)) {
    if (!listeners_->isOpen(request.listener)) return false;
  }
  return true;
}

std::string Daemon::renderMetrics() const {
  proxy::MetricsReport r;
  r.daemon.version = version();
  r.daemon.start_time_seconds = static_cast<double>(secondsSinceEpoch(started_));
  r.daemon.policy_generation = policy_store_.generation();
  r.daemon.policy_rules = policy_.rules.size();
  r.daemon.reloads_ok = reloads_ok_;
  r.daemon.reloads_failed = reloads_failed_;
  r.daemon.datapath_repairs = reconciler_ ? reconciler_->repairs() : 0;
  r.daemon.reconcile_failures = reconcile_failures_;
  r.daemon.datapath_installed = datapath_.has_value() && !torn_down_;
  if (access_log_) r.daemon.access_log_dropped = access_log_->dropped();
  if (listeners_) {
    r.daemon.learned_names = listeners_->learnedNames().size();
    listeners_->collect(r);
  }
  return proxy::renderMetrics(r);
}

std::string Daemon::renderStatus() const {
  proxy::StatusReport r;
  const auto now = std::chrono::system_clock::now();
  r.version = version();
  r.started_at = proxy::formatUtc(started_);
  r.uptime_seconds = secondsSinceEpoch(now) - secondsSinceEpoch(started_);
  r.healthy = healthy();
  r.policy_generation = policy_store_.generation();
  r.reloads_ok = reloads_ok_;
  r.reloads_failed = reloads_failed_;
  for (const auto& path : config_.policy_files) {
    auto digest = proxy::sha256OfFile(path);
    r.policy_files.push_back({path, digest ? digest.value() : "",
                              digest ? "" : digest.error().message()});
  }
  for (const auto& rule : policy_.rules) {
    r.rules.push_back({rule.name, policy::toString(rule.direction), policy::toString(rule.l7)});
  }
  proxy::MetricsReport counters;
  if (listeners_) listeners_->collect(counters);
  const auto totals = proxy::listenerTotals(counters);
  for (const auto& request : listenerRequests(policy_)) {
    proxy::StatusReport::Listener l;
    l.name = request.listener;
    const auto port = ports_.find(l.name);
    l.port = port == ports_.end() ? 0 : port->second;
    l.mark = datapath::listenerMark(l.port);
    l.transport = request.udp ? "tcp+udp" : "tcp";
    l.open = listeners_ && listeners_->isOpen(l.name);
    const auto t = std::find_if(totals.begin(), totals.end(),
                                [&](const proxy::ListenerTotals& x) { return x.name == l.name; });
    if (t != totals.end()) {
      l.direction = policy::toString(t->direction);
      l.protocol = t->protocol;
      l.allowed = t->allowed;
      l.denied = t->denied;
      l.parse_errors = t->parse_errors;
      l.upstream_failures = t->upstream_failures;
      l.active_connections = t->active_connections;
    } else {  // not served: its name says what it is
      for (const char* p : {"http", "dns", "tls"}) {
        if (l.name.find(std::string("-") + p + "-") != std::string::npos) l.protocol = p;
      }
      l.direction = l.name.ends_with("ingress") ? "ingress" : "egress";
    }
    r.listeners.push_back(std::move(l));
  }
  r.datapath_installed = datapath_.has_value() && !torn_down_;
  r.iptables_backend = iptables_ ? datapath::toString(iptables_->backend()) : "";
  r.datapath_repairs = reconciler_ ? reconciler_->repairs() : 0;
  r.reconcile_failures = reconcile_failures_;
  r.last_repair = utc(last_repair_);
  r.last_check = utc(last_check_);
  if (listeners_) {
    const auto& names = listeners_->learnedNames();
    const auto snapshot = names.snapshot(proxy::DnsNameCache::Clock::now());
    r.learned_names_count = snapshot.size();
    for (const auto& entry : snapshot) {
      if (r.learned_names.size() == proxy::kMaxLearnedNamesListed) break;
      proxy::StatusReport::LearnedName n{entry.name, {}};
      for (const auto& a : entry.addresses) n.addresses.push_back(a.address.toString());
      r.learned_names.push_back(std::move(n));
    }
  }
  return proxy::toJson(r);
}

}  // namespace portcullis::app
