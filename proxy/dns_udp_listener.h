// The UDP half of a DNS listener: one socket on (bind address, port), IP_TRANSPARENT under
// TPROXY, each datagram's original destination read from IP_ORIGDSTADDR. Datagrams are read in
// batches (recvmmsg); each is judged by the gate and answered at once (denied, malformed, over
// the limit) or forwarded through the DnsUdpUpstream of its original destination, where it
// waits for its own answer, so a slow query or server blocks nothing else; the queries of one
// batch leave together (one sendmmsg per upstream). Answers leave from the original
// destination (DnsReplySockets), those relayed from one upstream read together
// (DnsUdpReplyBatch).
//
// Its executor must run one handler at a time (an io_context run by one thread, or a strand).
#pragma once

#include <sys/socket.h>

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <memory_resource>
#include <span>
#include <vector>

#include "common/result.h"
#include "proxy/dns_handler_memory.h"
#include "proxy/dns_listener_options.h"
#include "proxy/dns_message.h"
#include "proxy/dns_policy_gate.h"
#include "proxy/dns_reply_sockets.h"
#include "proxy/dns_socket.h"
#include "proxy/dns_udp_reply_batch.h"
#include "proxy/dns_udp_upstream.h"

namespace portcullis::proxy {

class DnsUdpListener : public std::enable_shared_from_this<DnsUdpListener> {
 public:
  using udp = boost::asio::ip::udp;
  static constexpr size_t kBatch = 32;

  // Binds; the error is the bind's (EADDRINUSE: the daemon draws another port).
  static Result<std::shared_ptr<DnsUdpListener>> open(
      const boost::asio::any_io_executor& executor, const udp::endpoint& bind,
      std::shared_ptr<const DnsListenerOptions> options, std::shared_ptr<DnsPolicyGate> gate);
  DnsUdpListener(const boost::asio::any_io_executor& executor,
                 std::shared_ptr<const DnsListenerOptions> options,
                 std::shared_ptr<DnsPolicyGate> gate);

  void start();
  // Stops reading and drops the queries in flight (their clients get nothing).
  void close();
  udp::endpoint localEndpoint() const { return local_; }

 private:
  struct Slot {
    std::array<uint8_t, kDnsMaxQuerySize + 1> data;  // one more: MSG_TRUNC marks oversized
    alignas(cmsghdr) std::array<uint8_t, kOriginalDestinationControlSize> control;
    sockaddr_storage from;
    iovec iov;
  };

  void waitReadable();
  void onReadable(const boost::system::error_code& ec);
  // The datagram is ours: forwarding rewrites its ID in place.
  void handle(std::span<uint8_t> datagram, const udp::endpoint& client,
              const udp::endpoint& observed);
  void forward(DnsDecision decision, std::span<uint8_t> datagram, const udp::endpoint& client,
               const udp::endpoint& server);
  std::shared_ptr<DnsUdpUpstream> upstreamFor(const udp::endpoint& server);
  void onUpstream(const udp::endpoint& server, DnsUdpUpstream::Query& query, std::error_code ec,
                  std::span<const uint8_t> answer);
  void reply(const udp::endpoint& server, const udp::endpoint& client,
             std::span<const uint8_t> answer);
  // A relayed answer, left in the upstream's buffer: queued in replies_, sent when the upstream
  // has read its batch.
  void replyLater(const udp::endpoint& server, const udp::endpoint& client,
                  std::span<const uint8_t> answer);
  void replyFailed(const udp::endpoint& client, std::error_code error);
  void armSweep();
  // Closes idle upstream sockets: those no query used since the last sweep, or all idle ones.
  void sweepUpstreams(bool all_idle);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<const DnsListenerOptions> options_;
  std::shared_ptr<DnsPolicyGate> gate_;
  DnsHandlerMemory wait_memory_;  // before socket_: its wait's memory outlives the socket
  udp::socket socket_;
  udp::endpoint local_;
  DnsReplySockets reply_sockets_;
  std::vector<Slot> slots_;
  std::vector<mmsghdr> headers_;
  std::map<udp::endpoint, std::shared_ptr<DnsUdpUpstream>> upstreams_;
  // The upstreams' pending queries: nodes are reused across queries and across the upstream
  // sockets that replace each other every kQueriesPerSocket queries. Used on this listener's
  // executor only; each upstream holds it, so it outlives them all.
  std::shared_ptr<std::pmr::unsynchronized_pool_resource> upstream_memory_;
  std::vector<std::shared_ptr<DnsUdpUpstream>> unflushed_;  // forwarded to in this batch
  DnsUdpReplyBatch replies_;
  boost::asio::steady_timer sweep_timer_;
  bool sweeping_ = false;
  bool closed_ = false;
};

}  // namespace portcullis::proxy
