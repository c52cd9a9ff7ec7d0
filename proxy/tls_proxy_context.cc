#include "proxy/tls_proxy_context.h"

#include <utility>

namespace portcullis::proxy {

TlsProxyContext::TlsProxyContext(TlsProxyOptions options, PolicyStore& policies, size_t shards)
    : options_(std::move(options)),
      policies_(policies),
      counters_(shards),
      limit_(std::make_shared<ConnectionLimit>(options_.limits.max_connections)) {}

void TlsProxyContext::setOwnEndpoints(std::vector<Tcp::endpoint> listeners,
                                      std::vector<boost::asio::ip::address> local_addresses) {
  own_endpoints_ = std::move(listeners);
  local_addresses_ = std::move(local_addresses);
}

Tcp::endpoint TlsProxyContext::originalDestination(const Tcp::socket& socket,
                                                   std::error_code& ec) const {
  if (options_.original_destination) return options_.original_destination(socket, ec);
  return originalDestinationOf(socket, ec);
}

void TlsProxyContext::add(const std::shared_ptr<TlsSession>& session) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(session.get(), session);
}

void TlsProxyContext::remove(const TlsSession* session) {
  std::function<void()> done;
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
    if (sessions_.empty() && on_empty_) done = std::exchange(on_empty_, nullptr);
  }
  if (done) done();
}

std::vector<std::shared_ptr<TlsSession>> TlsProxyContext::sessions() const {
  std::vector<std::shared_ptr<TlsSession>> out;
  std::lock_guard lock(mutex_);
  out.reserve(sessions_.size());
  for (const auto& [key, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

void TlsProxyContext::setOnEmpty(std::function<void()> callback) {
  std::function<void()> now;
  {
    std::lock_guard lock(mutex_);
    if (sessions_.empty()) {
      now = std::move(callback);
    } else {
      on_empty_ = std::move(callback);
    }
  }
  if (now) now();
}

}  // namespace portcullis::proxy
