// A DNS listener set as the daemon runs it (issue 5): `portcullis-dns-egress` or
// `portcullis-dns-ingress`, UDP and TCP on one port, for IPv4 and IPv6, judging each query by
// the policy in force. The daemon creates one per direction, start()s it on its io_context and
// reads its counters; the learned names go to a DnsNameCache it shares with status/metrics.
//
//   proxy::DnsProxy dns(io, {.name = "portcullis-dns-egress", .port = 15053,
//                            .dns = config.proxy.dns,
//                            .listener = {.direction = policy::Direction::kEgress}},
//                       policy_store, name_cache);
//   if (auto started = dns.start(); !started) ...  // EADDRINUSE: draw another port
//
// Everything runs on the given io_context, which must be run by one thread; for more cores,
// one DnsProxy per io_context with listener.reuse_port (proxy.dns.max-in-flight is then per
// DnsProxy). The daemon must keep `policy` alive as long as the io_context runs.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "policy/model.h"
#include "proxy/dns_counters.h"
#include "proxy/dns_listener_options.h"
#include "proxy/dns_name_cache.h"
#include "proxy/dns_policy_gate.h"
#include "proxy/policy_store.h"

namespace portcullis::proxy {

class DnsUdpListener;
class DnsTcpListener;

struct DnsProxyConfig {
  std::string name = "portcullis-dns-egress";
  std::optional<IpAddress> bind_v4 = IpAddress::v4(0x7f000001);  // TPROXY --on-ip
  std::optional<IpAddress> bind_v6 = IpAddress::parse("::1");    // nullopt: no IPv6 listeners
  uint16_t port = 0;  // 0: the kernel picks one port for all four sockets (tests)
  policy::DnsOptions dns;
  DnsListenerOptions listener;
};

class DnsProxy {
 public:
  DnsProxy(boost::asio::io_context& io, DnsProxyConfig config, const PolicyStore& policy,
           std::shared_ptr<DnsNameCache> names, DnsPolicyGate::Observer observer = {});
  ~DnsProxy();
  DnsProxy(const DnsProxy&) = delete;
  DnsProxy& operator=(const DnsProxy&) = delete;

  // Binds every socket, then starts serving. On error nothing stays open; the error is the
  // failing socket call's (EADDRINUSE when the port is taken, EPERM without CAP_NET_ADMIN).
  Result<void> start();
  // Closes the listeners and every connection; queries in flight are abandoned.
  void shutdown();

  const std::string& name() const { return config_.name; }
  policy::Direction direction() const { return config_.listener.direction; }
  uint16_t port() const { return port_; }
  DnsCounterValues counters() const { return gate_->counters().values(); }
  uint32_t inFlight() const { return gate_->inFlight(); }
  size_t tcpConnections() const;

 private:
  Result<void> open(uint16_t port);

  boost::asio::io_context& io_;
  DnsProxyConfig config_;
  std::shared_ptr<const DnsListenerOptions> options_;
  std::shared_ptr<DnsPolicyGate> gate_;
  std::vector<std::shared_ptr<DnsUdpListener>> udp_;
  std::vector<std::shared_ptr<DnsTcpListener>> tcp_;
  uint16_t port_ = 0;
};

}  // namespace portcullis::proxy
