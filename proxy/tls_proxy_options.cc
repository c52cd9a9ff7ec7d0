#include "proxy/tls_proxy_options.h"

#include "proxy/http_proxy_options.h"

namespace portcullis::proxy {

TlsProxyOptions tlsProxyOptions(const policy::Config& config, uint16_t port) {
  TlsProxyOptions o;
  o.bind = proxyBinds(config, port);
  o.limits = config.proxy.limits;
  o.preserve_source = config.proxy.preserve_source;
  return o;
}

}  // namespace portcullis::proxy
