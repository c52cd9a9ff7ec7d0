#include "proxy/dns_proxy.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>

#include "common/log.h"
#include "proxy/asio_address.h"
#include "proxy/dns_tcp_listener.h"
#include "proxy/dns_udp_listener.h"

namespace portcullis::proxy {
namespace {

// With port 0 the kernel picks a port free for the first socket only; another socket may find
// it taken, so a few draws are allowed.
constexpr int kEphemeralAttempts = 8;

std::shared_ptr<const DnsListenerOptions> shardOptions(DnsListenerOptions options, size_t shards) {
  if (shards > 1) options.reuse_port = true;
  return std::make_shared<const DnsListenerOptions>(std::move(options));
}

policy::DnsOptions shardLimits(policy::DnsOptions options, size_t shards) {
  const uint32_t n = static_cast<uint32_t>(std::max<size_t>(shards, 1));
  options.max_in_flight = std::max<uint32_t>(1, (options.max_in_flight + n - 1) / n);
  return options;
}

}  // namespace

std::vector<DnsProxy::Executor> DnsProxy::executorsFor(IoPool& pool) {
  std::vector<Executor> executors;
  if (pool.model() == IoPool::Model::kContextPerThread) {
    for (size_t i = 0; i < pool.contexts(); ++i)
      executors.push_back(pool.context(i).get_executor());
  } else {
    for (size_t i = 0; i < pool.threads(); ++i) {
      executors.push_back(boost::asio::make_strand(pool.context(0)));
    }
  }
  return executors;
}

DnsProxy::DnsProxy(std::vector<Executor> executors, DnsProxyConfig config,
                   const PolicyStore& policy, std::shared_ptr<DnsNameCache> names,
                   DnsPolicyGate::Observer observer)
    : config_(std::move(config)), options_(shardOptions(config_.listener, executors.size())) {
  const policy::DnsOptions limits = shardLimits(config_.dns, executors.size());
  for (Executor& executor : executors) {
    shards_.push_back({std::move(executor),
                       std::make_shared<DnsPolicyGate>(policy, limits, names, observer,
                                                       config_.access_log, config_.name),
                       {},
                       {}});
  }
}

DnsProxy::~DnsProxy() { shutdown(); }

Result<void> DnsProxy::open(Shard& shard, uint16_t& port) {
  std::vector<IpAddress> binds;
  if (config_.bind_v4) binds.push_back(*config_.bind_v4);
  if (config_.bind_v6) binds.push_back(*config_.bind_v6);
  for (const IpAddress& bind : binds) {
    const auto address = toAsio(bind);
    auto udp = DnsUdpListener::open(shard.executor, {address, port}, options_, shard.gate);
    if (!udp) {
      log::debug(config_.name, ": udp ", bind.toString(), ":", port, ": ", udp.error().message());
      return udp.error();
    }
    port = udp.value()->localEndpoint().port();
    shard.udp.push_back(udp.value());
    auto tcp = DnsTcpListener::open(shard.executor, {address, port}, options_, shard.gate);
    if (!tcp) {
      log::debug(config_.name, ": tcp ", bind.toString(), ":", port, ": ", tcp.error().message());
      return tcp.error();
    }
    shard.tcp.push_back(tcp.value());
  }
  return ok();
}

void DnsProxy::closeUnstarted() {
  // Nothing was started: no handler can run, so the sockets close here and now.
  for (Shard& shard : shards_) {
    for (auto& l : shard.udp) l->close();
    for (auto& l : shard.tcp) l->close();
    shard.udp.clear();
    shard.tcp.clear();
  }
}

Result<void> DnsProxy::start() {
  const int attempts = config_.port == 0 ? kEphemeralAttempts : 1;
  Result<void> opened = ok();
  for (int i = 0; i < attempts; ++i) {
    uint16_t port = config_.port;
    for (Shard& shard : shards_) {
      opened = open(shard, port);
      if (!opened) break;
    }
    if (opened) {
      port_ = port;
      break;
    }
    closeUnstarted();
    if (opened.error() != std::errc::address_in_use) break;
  }
  if (!opened) return opened;
  for (Shard& shard : shards_) {
    for (auto& l : shard.udp) l->start();
    for (auto& l : shard.tcp) l->start();
  }
  return ok();
}

void DnsProxy::shutdown() {
  for (Shard& shard : shards_) {
    if (shard.udp.empty() && shard.tcp.empty()) continue;
    boost::asio::dispatch(shard.executor, [udp = std::move(shard.udp), tcp = std::move(shard.tcp)] {
      for (auto& l : udp) l->close();
      for (auto& l : tcp) l->close();
    });
    shard.udp.clear();
    shard.tcp.clear();
  }
}

DnsCounterValues DnsProxy::counters() const {
  DnsCounterValues sum;
  for (const Shard& shard : shards_) sum += shard.gate->counters();
  return sum;
}

uint32_t DnsProxy::inFlight() const {
  uint32_t sum = 0;
  for (const Shard& shard : shards_) sum += shard.gate->inFlight();
  return sum;
}

}  // namespace portcullis::proxy
