// What every session of one HttpProxy shares: its options, the policy store, the counters, the
// proxy's own endpoints (loop refusal) and the registry of live sessions (shutdown). Held by
// shared_ptr so a session finishing on an I/O thread never outlives it. The TLS listener owns one
// too, for the HTTP sessions inside the connections it intercepts (those are
// HttpSession<TlsStream>, registered apart from plain ones).
#pragma once

#include <atomic>
#include <memory>
#include <type_traits>
#include <vector>

#include "proxy/http_counters.h"
#include "proxy/http_proxy_options.h"
#include "proxy/http_stream_traits.h"
#include "proxy/policy_store.h"
#include "proxy/session_registry.h"
#include "proxy/transparent_listener.h"

namespace portcullis::proxy {

template <class Stream>
class HttpSession;

class HttpProxyContext {
 public:
  HttpProxyContext(HttpProxyOptions options, PolicyStore& policies, size_t shards);
  // Sessions that were admitted by another listener's limit (the TLS listener's, for the
  // connections it intercepts) release their unit to it.
  HttpProxyContext(HttpProxyOptions options, PolicyStore& policies, size_t shards,
                   std::shared_ptr<ConnectionLimit> limit);

  const HttpProxyOptions& options() const { return options_; }
  PolicyStore& policies() const { return policies_; }
  HttpCounters& counters() { return counters_; }

  // Set by the proxy once its listeners are bound.
  void setOwnEndpoints(std::vector<Tcp::endpoint> listeners);
  // A connection whose original destination is one of our listeners, on any of the node's
  // addresses, would loop through the proxy forever (and make it an open relay to itself).
  bool isOwnEndpoint(const Tcp::endpoint& destination) const;
  std::optional<boost::asio::ip::address> upstreamSource(const Tcp::endpoint& client,
                                                         const Tcp::endpoint& destination) const {
    return proxy::upstreamSource(options_.preserve_source, client.address(), destination.address(),
                                 *node_addresses_);
  }
  // options.node_addresses, or (when it was null) the node's addresses read at construction.
  const std::shared_ptr<const NodeAddresses>& nodeAddresses() const { return node_addresses_; }

  Tcp::endpoint originalDestination(const Tcp::socket& socket, std::error_code& ec) const;

  // Admission (max-connections), done by the listeners; a session releases its unit.
  const std::shared_ptr<ConnectionLimit>& limit() const { return limit_; }
  bool tryAdmit() { return limit_->tryAdmit(); }
  void stopAdmitting() { limit_->stopAdmitting(); }
  void release() { limit_->release(); }
  uint32_t active() const { return limit_->active(); }

  // Templates, not overloads: converting one kind's pointer to the other's would need both
  // session types complete.
  template <class Stream>
  void add(const std::shared_ptr<HttpSession<Stream>>& session) {
    registry<Stream>().add(session);
  }
  template <class Stream>
  void remove(const HttpSession<Stream>* session) {
    registry<Stream>().remove(session);
  }
  template <class Stream = Tcp::socket>
  std::vector<std::shared_ptr<HttpSession<Stream>>> sessions() const {
    return const_cast<HttpProxyContext*>(this)->registry<Stream>().sessions();
  }
  // Called (once) when the last session of either kind has gone after setOnEmpty; on that
  // session's thread.
  void setOnEmpty(std::function<void()> callback);

 private:
  template <class Stream>
  SessionRegistry<HttpSession<Stream>>& registry() {
    if constexpr (std::is_same_v<Stream, Tcp::socket>) {
      return sessions_;
    } else {
      return tls_sessions_;
    }
  }

  const HttpProxyOptions options_;
  PolicyStore& policies_;
  HttpCounters counters_;
  std::vector<Tcp::endpoint> own_endpoints_;
  const std::shared_ptr<const NodeAddresses> node_addresses_;
  const std::shared_ptr<ConnectionLimit> limit_;
  SessionRegistry<HttpSession<Tcp::socket>> sessions_;
  SessionRegistry<HttpSession<TlsStream>> tls_sessions_;
};

}  // namespace portcullis::proxy
