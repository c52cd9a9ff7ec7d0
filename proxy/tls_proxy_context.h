// What every session of one TlsProxy shares: options, policy store, counters, the connection
// limit, the proxy's own endpoints (loop refusal) and the registry of live sessions (shutdown).
// Held by shared_ptr so a session ending on an I/O thread never outlives it.
// The HTTP requests inside intercepted connections (terminatingTLS) are served by
// HttpSession<TlsStream> with the HttpProxyContext held here: same options, limits, policy store
// and connection limit as this listener; no listener of its own.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "proxy/http_proxy_context.h"
#include "proxy/policy_store.h"
#include "proxy/session_registry.h"
#include "proxy/tls_counters.h"
#include "proxy/tls_interception_store.h"
#include "proxy/tls_proxy_options.h"
#include "proxy/transparent_listener.h"

namespace portcullis::proxy {

class TlsSession;

class TlsProxyContext {
 public:
  TlsProxyContext(TlsProxyOptions options, PolicyStore& policies, size_t shards);

  const TlsProxyOptions& options() const { return options_; }
  PolicyStore& policies() const { return policies_; }
  // The TLS interception set with its policy snapshot; load() is null until one is published.
  const TlsInterceptionStore& interceptions() const { return *interceptions_; }
  TlsCounters& counters() { return counters_; }
  // Where intercepted connections go on as HTTP sessions; their counters are HTTP counters.
  const std::shared_ptr<HttpProxyContext>& http() const { return http_; }
  const std::shared_ptr<ConnectionLimit>& limit() const { return limit_; }

  void setOwnEndpoints(std::vector<Tcp::endpoint> listeners);
  bool isOwnEndpoint(const Tcp::endpoint& destination) const {
    return proxy::isOwnEndpoint(destination, own_endpoints_, *node_addresses_);
  }
  std::optional<boost::asio::ip::address> upstreamSource(const Tcp::endpoint& client,
                                                         const Tcp::endpoint& destination) const {
    return proxy::upstreamSource(options_.preserve_source, client.address(), destination.address(),
                                 *node_addresses_);
  }
  // options.node_addresses, or (when it was null) the node's addresses read at construction.
  const std::shared_ptr<const NodeAddresses>& nodeAddresses() const { return node_addresses_; }
  Tcp::endpoint originalDestination(const Tcp::socket& socket, std::error_code& ec) const;

  void add(const std::shared_ptr<TlsSession>& session) { sessions_.add(session); }
  void remove(const TlsSession* session) { sessions_.remove(session); }
  std::vector<std::shared_ptr<TlsSession>> sessions() const { return sessions_.sessions(); }
  // Called (once) when the last session, TLS or intercepted HTTP, has gone after setOnEmpty; on
  // that session's thread.
  void setOnEmpty(std::function<void()> callback);

 private:
  const TlsProxyOptions options_;
  PolicyStore& policies_;
  const std::shared_ptr<TlsInterceptionStore> interceptions_;
  TlsCounters counters_;
  const std::shared_ptr<ConnectionLimit> limit_;
  std::vector<Tcp::endpoint> own_endpoints_;
  // Shared with http_: both decide on the same, live, set.
  const std::shared_ptr<const NodeAddresses> node_addresses_;
  SessionRegistry<TlsSession> sessions_;
  const std::shared_ptr<HttpProxyContext> http_;
};

}  // namespace portcullis::proxy
