#include "proxy/http_proxy_options.h"

#include "proxy/asio_address.h"

namespace portcullis::proxy {

HttpProxyOptions httpProxyOptions(const policy::Config& config, policy::Direction direction,
                                  uint16_t port) {
  HttpProxyOptions o;
  o.name = std::string("portcullis-http-") + policy::toString(direction);
  o.direction = direction;
  o.bind = proxyBinds(config, port);
  o.limits = config.proxy.limits;
  o.preserve_source = config.proxy.preserve_source;
  return o;
}

std::vector<Tcp::endpoint> proxyBinds(const policy::Config& config, uint16_t port) {
  std::vector<Tcp::endpoint> binds{{toAsio(config.proxy.bind_v4), port}};
  if (config.datapath.ipv6) binds.emplace_back(toAsio(config.proxy.bind_v6), port);
  return binds;
}

}  // namespace portcullis::proxy
