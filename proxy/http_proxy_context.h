// What every session of one HttpProxy shares: its options, the policy store, the counters, the
// proxy's own endpoints (loop refusal) and the registry of live sessions (shutdown). Held by
// shared_ptr so a session finishing on an I/O thread never outlives it.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "proxy/http_counters.h"
#include "proxy/http_proxy_options.h"
#include "proxy/policy_store.h"
#include "proxy/session_registry.h"
#include "proxy/transparent_listener.h"

namespace portcullis::proxy {

class HttpSession;

class HttpProxyContext {
 public:
  HttpProxyContext(HttpProxyOptions options, PolicyStore& policies, size_t shards);

  const HttpProxyOptions& options() const { return options_; }
  PolicyStore& policies() const { return policies_; }
  HttpCounters& counters() { return counters_; }

  // Set by the proxy once its listeners are bound.
  void setOwnEndpoints(std::vector<Tcp::endpoint> listeners,
                       std::vector<boost::asio::ip::address> local_addresses);
  // A connection whose original destination is one of our listeners, on any local address,
  // would loop through the proxy forever (and make it an open relay to itself).
  bool isOwnEndpoint(const Tcp::endpoint& destination) const;

  Tcp::endpoint originalDestination(const Tcp::socket& socket, std::error_code& ec) const;

  // Admission (max-connections), done by the listeners; a session releases its unit.
  const std::shared_ptr<ConnectionLimit>& limit() const { return limit_; }
  bool tryAdmit() { return limit_->tryAdmit(); }
  void stopAdmitting() { limit_->stopAdmitting(); }
  void release() { limit_->release(); }
  uint32_t active() const { return limit_->active(); }

  void add(const std::shared_ptr<HttpSession>& session) { sessions_.add(session); }
  void remove(const HttpSession* session) { sessions_.remove(session); }
  std::vector<std::shared_ptr<HttpSession>> sessions() const { return sessions_.sessions(); }
  // Called (once) when the last session has gone after setOnEmpty; on that session's thread.
  void setOnEmpty(std::function<void()> callback) { sessions_.setOnEmpty(std::move(callback)); }

 private:
  const HttpProxyOptions options_;
  PolicyStore& policies_;
  HttpCounters counters_;
  std::vector<Tcp::endpoint> own_endpoints_;
  std::vector<boost::asio::ip::address> local_addresses_;
  const std::shared_ptr<ConnectionLimit> limit_;
  SessionRegistry<HttpSession> sessions_;
};

}  // namespace portcullis::proxy
