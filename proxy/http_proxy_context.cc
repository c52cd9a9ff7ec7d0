#include "proxy/http_proxy_context.h"

#include <utility>

namespace portcullis::proxy {

HttpProxyContext::HttpProxyContext(HttpProxyOptions options, PolicyStore& policies, size_t shards)
    : options_(std::move(options)), policies_(policies), counters_(shards) {}

void HttpProxyContext::setOwnEndpoints(std::vector<Tcp::endpoint> listeners,
                                       std::vector<boost::asio::ip::address> local_addresses) {
  own_endpoints_ = std::move(listeners);
  local_addresses_ = std::move(local_addresses);
}

bool HttpProxyContext::isOwnEndpoint(const Tcp::endpoint& destination) const {
  bool our_port = false;
  for (const Tcp::endpoint& listener : own_endpoints_) {
    if (listener == destination) return true;
    our_port = our_port || listener.port() == destination.port();
  }
  if (!our_port) return false;
  const boost::asio::ip::address& a = destination.address();
  if (a.is_loopback() || a.is_unspecified()) return true;
  for (const boost::asio::ip::address& local : local_addresses_) {
    if (local == a) return true;
  }
  return false;
}

Tcp::endpoint HttpProxyContext::originalDestination(const Tcp::socket& socket,
                                                    std::error_code& ec) const {
  if (options_.original_destination) return options_.original_destination(socket, ec);
  boost::system::error_code bec;
  // TPROXY keeps the client's destination as the accepted socket's own address.
  Tcp::endpoint local = socket.local_endpoint(bec);
  ec = bec;
  return local;
}

bool HttpProxyContext::tryAdmit() {
  if (!admitting_.load(std::memory_order_relaxed)) return false;
  const uint32_t limit = options_.limits.max_connections;
  uint32_t now = active_.load(std::memory_order_relaxed);
  do {
    if (now >= limit) return false;
  } while (!active_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return true;
}

void HttpProxyContext::release() { active_.fetch_sub(1, std::memory_order_relaxed); }

void HttpProxyContext::add(const std::shared_ptr<HttpSession>& session) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(session.get(), session);
}

void HttpProxyContext::remove(const HttpSession* session) {
  std::function<void()> done;
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session);
    if (sessions_.empty() && on_empty_) done = std::exchange(on_empty_, nullptr);
  }
  if (done) done();
}

std::vector<std::shared_ptr<HttpSession>> HttpProxyContext::sessions() const {
  std::vector<std::shared_ptr<HttpSession>> out;
  std::lock_guard lock(mutex_);
  out.reserve(sessions_.size());
  for (const auto& [key, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

void HttpProxyContext::setOnEmpty(std::function<void()> callback) {
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
