#include "proxy/tls_proxy_context.h"

#include <utility>

namespace portcullis::proxy {

namespace {

// The HTTP side of an intercepted connection keeps the TLS listener's name in logs and the
// access log, its limits, its upstream socket options and its view of original destinations.
HttpProxyOptions interceptedHttpOptions(const TlsProxyOptions& tls,
                                        std::shared_ptr<const NodeAddresses> node_addresses) {
  HttpProxyOptions http;
  http.name = tls.name;
  http.direction = tls.direction;
  http.bind = tls.bind;
  http.transparent = tls.transparent;
  http.limits = tls.limits;
  http.connect_timeout = tls.connect_timeout;
  http.upstream_mark = tls.upstream_mark;
  http.preserve_source = tls.preserve_source;
  http.buffer_bytes = tls.buffer_bytes;
  http.original_destination = tls.original_destination;
  http.access_log = tls.access_log;  // intercepted requests are logged like port 80 ones
  http.node_addresses = std::move(node_addresses);
  return http;
}

}  // namespace

TlsProxyContext::TlsProxyContext(TlsProxyOptions options, PolicyStore& policies, size_t shards)
    : options_(std::move(options)),
      policies_(policies),
      interceptions_(options_.interceptions ? options_.interceptions
                                            : std::make_shared<TlsInterceptionStore>()),
      counters_(shards),
      limit_(std::make_shared<ConnectionLimit>(options_.limits.max_connections)),
      node_addresses_(orReadNow(options_.node_addresses)),
      http_(std::make_shared<HttpProxyContext>(interceptedHttpOptions(options_, node_addresses_),
                                               policies, shards, limit_)) {}

void TlsProxyContext::setOwnEndpoints(std::vector<Tcp::endpoint> listeners) {
  http_->setOwnEndpoints(listeners);
  own_endpoints_ = std::move(listeners);
}

void TlsProxyContext::setOnEmpty(std::function<void()> callback) {
  // An intercepted connection is registered as HTTP before its TLS session goes: when no TLS
  // session is left, the HTTP ones are all known.
  sessions_.setOnEmpty([http = http_, callback = std::move(callback)]() mutable {
    http->setOnEmpty(std::move(callback));
  });
}

Tcp::endpoint TlsProxyContext::originalDestination(const Tcp::socket& socket,
                                                   std::error_code& ec) const {
  if (options_.original_destination) return options_.original_destination(socket, ec);
  return originalDestinationOf(socket, ec);
}

}  // namespace portcullis::proxy
