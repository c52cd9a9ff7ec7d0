#include "proxy/tls_proxy_options.h"

#include "proxy/asio_address.h"

namespace portcullis::proxy {
TlsProxyOptions tlsProxyOptions(const policy::Config& config, uint16_t port) {
  TlsProxyOptions o;
  o.bind.emplace_back(toAsio(config.proxy.bind_v4), port);
  if (config.datapath.ipv6) o.bind.emplace_back(toAsio(config.proxy.bind_v6), port);
  o.limits = config.proxy.limits;
  o.preserve_source = config.proxy.preserve_source;
  return o;
}

}  // namespace portcullis::proxy
