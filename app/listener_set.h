// The proxy listeners of `portcullis run` (issue 4 and 5): one HttpProxy or DnsProxy per
// listener of the datapath plan, all on one IoPool and reading one PolicyStore. The daemon opens
// them before installing the datapath (so no redirected flow meets a closed port) and on SIGHUP
// when a new policy needs one more; they are shut down before the datapath is removed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/duration.h"
#include "common/result.h"
#include "policy/model.h"
#include "proxy/dns_name_cache.h"
#include "proxy/dns_proxy.h"
#include "proxy/http_proxy.h"
#include "proxy/io_pool.h"
#include "proxy/metrics_report.h"
#include "proxy/node_addresses.h"
#include "proxy/policy_store.h"
#include "proxy/tls_interception_store.h"
#include "proxy/tls_proxy.h"

namespace portcullis::app {

class ListenerSet {
 public:
  ListenerSet(proxy::IoPool& pool, proxy::PolicyStore& policies);
  ~ListenerSet();
  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;

  bool isOpen(const std::string& name) const;
  // Listeners opened from now on write to `log` (null: proxy.access-log off).
  void setAccessLog(std::shared_ptr<proxy::AccessLog> log) { access_log_ = std::move(log); }
  // TLS listeners opened from now on intercept with the sets published there.
  void setTlsInterceptions(std::shared_ptr<proxy::TlsInterceptionStore> store) {
    tls_interceptions_ = std::move(store);
  }
  // HTTP and TLS listeners opened from now on decide on this set (loop check, preserve-source).
  void setNodeAddresses(std::shared_ptr<const proxy::NodeAddresses> node) {
    node_addresses_ = std::move(node);
  }
  // Binds listener `name` ("portcullis-dns-egress", ...) on `port` with the config's options and
  // starts serving. EADDRINUSE when the port is taken (the caller draws another).
  Result<void> open(const policy::Config& config, const std::string& name, uint16_t port);

  // Stops accepting everywhere; DNS sockets close at once, HTTP exchanges in flight get up to
  // `grace` (HttpProxy::shutdown). `done` runs once, on an I/O thread, when no session is left.
  void shutdown(Duration grace, std::function<void()> done);

  // The open listeners' counters, for /metrics and /status (readable from any thread).
  void collect(proxy::MetricsReport& report) const;
  const proxy::DnsNameCache& learnedNames() const { return *names_; }

 private:
  proxy::IoPool& pool_;
  proxy::PolicyStore& policies_;
  std::shared_ptr<proxy::DnsNameCache> names_;
  std::shared_ptr<proxy::AccessLog> access_log_;
  std::shared_ptr<proxy::TlsInterceptionStore> tls_interceptions_;
  std::shared_ptr<const proxy::NodeAddresses> node_addresses_;
  std::map<std::string, std::unique_ptr<proxy::HttpProxy>> http_;
  std::map<std::string, std::unique_ptr<proxy::DnsProxy>> dns_;
  std::map<std::string, std::unique_ptr<proxy::TlsProxy>> tls_;
};

}  // namespace portcullis::app
