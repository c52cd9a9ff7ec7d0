// A DNS listener of the daemon (issue 5): `portcullis-dns-egress` or `portcullis-dns-ingress`,
// UDP and TCP on one port, for IPv4 and IPv6, judging each query by the policy in force.
//
//   proxy::DnsProxy dns(proxy::DnsProxy::executorsFor(pool),
//                       {.name = "portcullis-dns-egress", .port = 15053,
//                        .dns = config.proxy.dns,
//                        .listener = {.direction = policy::Direction::kEgress}},
//                       policy_store, name_cache);
//   if (auto started = dns.start(); !started) ...  // EADDRINUSE: draw another port
//
// Threading: one shard per executor, each with its own sockets on the shared port (SO_REUSEPORT
// when there are several: the kernel spreads datagrams and connections), its own gate and
// counters; an executor must run one handler at a time (an io_context run by one thread, or a
// strand). A query never leaves its shard, so nothing on the query path is locked; the name
// cache (shared, one mutex) is written once per answer with addresses. proxy.dns.max-in-flight
// is split evenly between shards.
//
// Lifetime: `policy` and the executors' contexts must outlive the DnsProxy and its handlers:
// shutdown(), stop the threads, destroy the DnsProxy, then the pool and the PolicyStore.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "policy/model.h"
#include "proxy/access_log.h"
#include "proxy/dns_counters.h"
#include "proxy/dns_listener_options.h"
#include "proxy/dns_name_cache.h"
#include "proxy/dns_policy_gate.h"
#include "proxy/io_pool.h"
#include "proxy/policy_store.h"

namespace portcullis::proxy {

class DnsUdpListener;
class DnsTcpListener;

struct DnsProxyConfig {
  std::string name = "portcullis-dns-egress";
  std::optional<IpAddress> bind_v4 = IpAddress::v4(0x7f000001);  // TPROXY --on-ip
  std::optional<IpAddress> bind_v6 = IpAddress::parse("::1");    // nullopt: no IPv6 listeners
  uint16_t port = 0;  // 0: the kernel picks one port for all sockets (tests)
  policy::DnsOptions dns;
  DnsListenerOptions listener;
  std::shared_ptr<AccessLog> access_log;  // null: proxy.access-log is off
};

class DnsProxy {
 public:
  using Executor = boost::asio::any_io_executor;

  // One executor per context of a kContextPerThread pool; one strand per thread of a
  // kSharedContext pool.
  static std::vector<Executor> executorsFor(IoPool& pool);

  DnsProxy(std::vector<Executor> executors, DnsProxyConfig config, const PolicyStore& policy,
           std::shared_ptr<DnsNameCache> names, DnsPolicyGate::Observer observer = {});
  ~DnsProxy();  // shutdown()
  DnsProxy(const DnsProxy&) = delete;
  DnsProxy& operator=(const DnsProxy&) = delete;

  // Binds every socket, then starts serving. On error nothing stays open and the error is the
  // failing socket call's (EADDRINUSE when the port is taken, EPERM without CAP_NET_ADMIN).
  // Call before the executors run, or from one of them.
  Result<void> start();
  // Closes the listeners and every connection, each on its executor (from any thread; returns
  // at once). Queries in flight are abandoned.
  void shutdown();

  const std::string& name() const { return config_.name; }
  policy::Direction direction() const { return config_.listener.direction; }
  uint16_t port() const { return port_; }
  // Readable from any thread.
  DnsCounterValues counters() const;
  uint32_t inFlight() const;

 private:
  struct Shard {
    Executor executor;
    std::shared_ptr<DnsPolicyGate> gate;
    std::vector<std::shared_ptr<DnsUdpListener>> udp;
    std::vector<std::shared_ptr<DnsTcpListener>> tcp;
  };

  Result<void> open(Shard& shard, uint16_t& port);
  void closeUnstarted();

  DnsProxyConfig config_;
  std::shared_ptr<const DnsListenerOptions> options_;
  std::vector<Shard> shards_;
  uint16_t port_ = 0;
};

}  // namespace portcullis::proxy
