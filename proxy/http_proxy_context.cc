#include "proxy/http_proxy_context.h"

#include <utility>

namespace portcullis::proxy {

HttpProxyContext::HttpProxyContext(HttpProxyOptions options, PolicyStore& policies, size_t shards)
    : options_(std::move(options)),
      policies_(policies),
      counters_(shards),
      node_addresses_(orReadNow(options_.node_addresses)),
      limit_(std::make_shared<ConnectionLimit>(options_.limits.max_connections)) {}

HttpProxyContext::HttpProxyContext(HttpProxyOptions options, PolicyStore& policies, size_t shards,
                                   std::shared_ptr<ConnectionLimit> limit)
    : options_(std::move(options)),
      policies_(policies),
      counters_(shards),
      node_addresses_(orReadNow(options_.node_addresses)),
      limit_(std::move(limit)) {}

void HttpProxyContext::setOnEmpty(std::function<void()> callback) {
  // A context serves one kind in practice; the other registry is empty and answers at once.
  sessions_.setOnEmpty([this, callback = std::move(callback)]() mutable {
    tls_sessions_.setOnEmpty(std::move(callback));
  });
}

void HttpProxyContext::setOwnEndpoints(std::vector<Tcp::endpoint> listeners) {
  own_endpoints_ = std::move(listeners);
}

bool HttpProxyContext::isOwnEndpoint(const Tcp::endpoint& destination) const {
  return proxy::isOwnEndpoint(destination, own_endpoints_, *node_addresses_);
}

Tcp::endpoint HttpProxyContext::originalDestination(const Tcp::socket& socket,
                                                    std::error_code& ec) const {
  if (options_.original_destination) return options_.original_destination(socket, ec);
  return originalDestinationOf(socket, ec);
}

}  // namespace portcullis::proxy
