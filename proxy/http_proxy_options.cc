#include "proxy/http_proxy_options.h"

#include "proxy/asio_address.h"

namespace portcullis::proxy {
HttpProxyOptions httpProxyOptions(const policy::Config& config, policy::Direction direction,
                                  uint16_t port) {
  HttpProxyOptions o;
  o.name = std::string("portcullis-http-") + policy::toString(direction);
  o.direction = direction;
  o.bind.emplace_back(toAsio(config.proxy.bind_v4), port);
  if (config.datapath.ipv6) o.bind.emplace_back(toAsio(config.proxy.bind_v6), port);
  o.limits = config.proxy.limits;
  o.preserve_source = config.proxy.preserve_source;
  return o;
}

}  // namespace portcullis::proxy
