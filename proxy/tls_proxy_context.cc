#include "proxy/tls_proxy_context.h"

#include <utility>

namespace portcullis::proxy {

TlsProxyContext::TlsProxyContext(TlsProxyOptions options, PolicyStore& policies, size_t shards)
    : options_(std::move(options)),
      policies_(policies),
      interceptions_(options_.interceptions ? options_.interceptions
                                            : std::make_shared<TlsInterceptionStore>()),
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

}  // namespace portcullis::proxy
