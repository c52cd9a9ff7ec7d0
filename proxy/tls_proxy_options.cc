#include "proxy/tls_proxy_options.h"

namespace portcullis::proxy {
namespace {

boost::asio::ip::address toAsio(const IpAddress& a) {
  if (a.isV4()) return boost::asio::ip::address_v4(a.v4HostOrder());
  boost::asio::ip::address_v6::bytes_type bytes;
  std::copy(a.bytes().begin(), a.bytes().end(), bytes.begin());
  return boost::asio::ip::address_v6(bytes);
}

}  // namespace

TlsProxyOptions tlsProxyOptions(const policy::Config& config, uint16_t port) {
  TlsProxyOptions o;
  o.bind.emplace_back(toAsio(config.proxy.bind_v4), port);
  if (config.datapath.ipv6) o.bind.emplace_back(toAsio(config.proxy.bind_v6), port);
  o.limits = config.proxy.limits;
  o.preserve_source = config.proxy.preserve_source;
  return o;
}

}  // namespace portcullis::proxy
