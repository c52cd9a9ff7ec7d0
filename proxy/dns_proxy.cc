#include "proxy/dns_proxy.h"

#include <boost/asio/ip/address.hpp>

#include "common/log.h"
#include "proxy/dns_tcp_listener.h"
#include "proxy/dns_udp_listener.h"

namespace portcullis::proxy {
namespace {

// With port 0 the kernel picks a port free for the first socket only; another of the four may
// find it taken, so a few draws are allowed.
constexpr int kEphemeralAttempts = 8;

boost::asio::ip::address toAsio(const IpAddress& a) {
  if (a.isV4()) return boost::asio::ip::address_v4(a.v4HostOrder());
  boost::asio::ip::address_v6::bytes_type bytes;
  std::copy(a.bytes().begin(), a.bytes().end(), bytes.begin());
  return boost::asio::ip::address_v6(bytes);
}

}  // namespace

DnsProxy::DnsProxy(boost::asio::io_context& io, DnsProxyConfig config, const PolicyStore& policy,
                   std::shared_ptr<DnsNameCache> names, DnsPolicyGate::Observer observer)
    : io_(io),
      config_(std::move(config)),
      options_(std::make_shared<const DnsListenerOptions>(config_.listener)),
      gate_(std::make_shared<DnsPolicyGate>(policy, config_.dns, std::move(names),
                                            std::move(observer))) {}

DnsProxy::~DnsProxy() { shutdown(); }

Result<void> DnsProxy::open(uint16_t port) {
  std::vector<IpAddress> binds;
  if (config_.bind_v4) binds.push_back(*config_.bind_v4);
  if (config_.bind_v6) binds.push_back(*config_.bind_v6);
  for (const IpAddress& bind : binds) {
    const auto address = toAsio(bind);
    auto udp = DnsUdpListener::open(io_, {address, port}, options_, gate_);
    if (!udp) {
      log::debug(config_.name, ": udp ", bind.toString(), ":", port, ": ", udp.error().message());
      return udp.error();
    }
    port = udp.value()->localEndpoint().port();
    udp_.push_back(udp.value());
    auto tcp = DnsTcpListener::open(io_, {address, port}, options_, gate_);
    if (!tcp) {
      log::debug(config_.name, ": tcp ", bind.toString(), ":", port, ": ", tcp.error().message());
      return tcp.error();
    }
    tcp_.push_back(tcp.value());
  }
  port_ = port;
  return ok();
}

Result<void> DnsProxy::start() {
  const int attempts = config_.port == 0 ? kEphemeralAttempts : 1;
  Result<void> opened = ok();
  for (int i = 0; i < attempts; ++i) {
    opened = open(config_.port);
    if (opened) break;
    shutdown();
    if (opened.error() != std::errc::address_in_use) break;
  }
  if (!opened) return opened;
  for (auto& l : udp_) l->start();
  for (auto& l : tcp_) l->start();
  return ok();
}

void DnsProxy::shutdown() {
  for (auto& l : udp_) l->close();
  for (auto& l : tcp_) l->close();
  udp_.clear();
  tcp_.clear();
}

size_t DnsProxy::tcpConnections() const {
  size_t n = 0;
  for (const auto& l : tcp_) n += l->connections();
  return n;
}

}  // namespace portcullis::proxy
