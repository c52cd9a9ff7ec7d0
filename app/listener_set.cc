#include "app/listener_set.h"

#include <atomic>
#include <optional>
#include <system_error>

#include "app/datapath_plan_builder.h"
#include "common/log.h"
#include "proxy/http_proxy_options.h"

namespace portcullis::app {
namespace {

using policy::Direction;
using policy::L7Protocol;

// Bounded like the name cache of one busy resolver; only the status/metrics read it.
constexpr size_t kMaxLearnedNames = 65536;

struct Kind {
  L7Protocol l7;
  Direction direction;
};

std::optional<Kind> kindOf(const std::string& name) {
  for (L7Protocol l7 : {L7Protocol::kHttp, L7Protocol::kDns, L7Protocol::kTls}) {
    for (Direction d : {Direction::kEgress, Direction::kIngress}) {
      if (listenerName(l7, d) == name) return Kind{l7, d};
    }
  }
  return std::nullopt;
}

}  // namespace

ListenerSet::ListenerSet(proxy::IoPool& pool, proxy::PolicyStore& policies)
    : pool_(pool), policies_(policies), names_(std::make_shared<proxy::DnsNameCache>(kMaxLearnedNames)) {}

ListenerSet::~ListenerSet() {
  for (auto& [name, dns] : dns_) dns->shutdown();
}

bool ListenerSet::isOpen(const std::string& name) const {
  return http_.count(name) > 0 || dns_.count(name) > 0 || tls_.count(name) > 0;
}

Result<void> ListenerSet::open(const policy::Config& config, const std::string& name, uint16_t port) {
  const auto kind = kindOf(name);
  if (!kind) return std::make_error_code(std::errc::not_supported);
  if (kind->l7 == L7Protocol::kTls) {
    auto options = proxy::tlsProxyOptions(config, port);
    options.interceptions = tls_interceptions_;
    options.access_log = access_log_;
    options.node_addresses = node_addresses_;
    auto proxy = std::make_unique<proxy::TlsProxy>(pool_, std::move(options), policies_);
    if (auto started = proxy->start(); !started) return started.error();
    tls_.emplace(name, std::move(proxy));
    return ok();
  }
  if (kind->l7 == L7Protocol::kHttp) {
    auto options = proxy::httpProxyOptions(config, kind->direction, port);
    options.access_log = access_log_;
    options.node_addresses = node_addresses_;
    auto proxy = std::make_unique<proxy::HttpProxy>(pool_, std::move(options), policies_);
    if (auto started = proxy->start(); !started) return started.error();
    http_.emplace(name, std::move(proxy));
    return ok();
  }
  proxy::DnsProxyConfig dns_config;
  dns_config.name = name;
  dns_config.bind_v4 = config.proxy.bind_v4;
  dns_config.bind_v6 = config.datapath.ipv6 ? std::optional<IpAddress>(config.proxy.bind_v6) : std::nullopt;
  dns_config.port = port;
  dns_config.dns = config.proxy.dns;
  dns_config.listener.direction = kind->direction;
  dns_config.access_log = access_log_;
  auto proxy = std::make_unique<proxy::DnsProxy>(proxy::DnsProxy::executorsFor(pool_),
                                                 std::move(dns_config), policies_, names_);
  if (auto started = proxy->start(); !started) return started.error();
  dns_.emplace(name, std::move(proxy));
  return ok();
}

void ListenerSet::shutdown(Duration grace, std::function<void()> done) {
  for (auto& [name, dns] : dns_) dns->shutdown();
  if (http_.empty() && tls_.empty()) {
    done();
    return;
  }
  // `done` once the last HTTP and TLS listener has no session left.
  auto remaining = std::make_shared<std::atomic<size_t>>(http_.size() + tls_.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  const auto one_done = [remaining, shared_done] {
    if (remaining->fetch_sub(1) == 1) (*shared_done)();
  };
  for (auto& [name, http] : http_) http->shutdown(grace, one_done);
  for (auto& [name, tls] : tls_) tls->shutdown(grace, one_done);
}

void ListenerSet::collect(proxy::MetricsReport& report) const {
  for (const auto& [name, http] : http_) {
    report.http.push_back({name, http->options().direction, http->counters()});
  }
  for (const auto& [name, dns] : dns_) {
    report.dns.push_back({name, dns->direction(), dns->counters(), dns->inFlight()});
  }
  for (const auto& [name, tls] : tls_) {
    report.tls.push_back({name, kindOf(name)->direction, tls->counters()});
    report.intercepted_http.push_back(
        {name, kindOf(name)->direction, tls->interceptedHttpCounters()});
  }
}

}  // namespace portcullis::app
