// Allowed UDP queries of one listener on their way to one original destination server, and the
// server's answers on their way back, over one connected, marked socket shared by many queries
// (as dnsdist does): a query costs one send and its answer one receive, instead of a socket's
// whole life. Sends and receives are batched (sendmmsg, recvmmsg): the queries of one listener
// batch leave in one call, and the answers of one wakeup arrive in one call. Each query's ID is
// rewritten to a random one unused on the socket and restored in the answer; an answer must
// also repeat the question. The socket is retired (a new source port) after kQueriesPerSocket
// queries or kSocketLifetime, so an off-path spoofer has to find the port again as well as the
// ID; a retired socket closes when its last query ends.
//
// proxy.dns.upstream-timeout: see DnsPendingQueries. ICMP port unreachable (ECONNREFUSED) fails
// every query pending on the socket: nothing listens on the server's port.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <span>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/duration.h"
#include "proxy/dns_handler_memory.h"
#include "proxy/dns_pending_queries.h"
#include "proxy/dns_policy_gate.h"

namespace portcullis::proxy {

class DnsUdpUpstream : public std::enable_shared_from_this<DnsUdpUpstream> {
 public:
  using udp = boost::asio::ip::udp;
  using Clock = std::chrono::steady_clock;
  static constexpr uint32_t kQueriesPerSocket = 128;
  static constexpr Duration kSocketLifetime = std::chrono::seconds(10);

  struct Query {
    udp::endpoint client;
    DnsMessage query;  // its header keeps the client's ID
    DnsInFlightSlot slot;
  };
  // Called once per forwarded query: the answer with the client's ID restored, or an error
  // (std::errc::timed_out, or the socket's). An answer stays valid until the next `drained`
  // returns. Not called after close().
  using Done = std::function<void(Query&, std::error_code, std::span<const uint8_t>)>;
  // Called after each batch of answers: the moment to send on what `done` was given.
  using Drained = std::function<void()>;
  static constexpr size_t kMaxUnsent = 64;

  // `memory`: where pending queries are kept (a pool shared by the upstreams of one listener, so
  // that queries cost no allocation once it is warm); null: the default heap.
  DnsUdpUpstream(const boost::asio::any_io_executor& executor, udp::endpoint server, uint32_t mark,
                 Duration timeout, Done done, Drained drained,
                 std::shared_ptr<std::pmr::memory_resource> memory = nullptr);

  // Opens the socket: SO_MARK, then connect (answers only from the server are received).
  std::error_code open();
  // Rewrites the datagram's ID in place and queues it: it is sent by the next flush(), and
  // must stay valid until then (kMaxUnsent queued flush at once). A failed send calls `done`.
  void forward(std::span<uint8_t> datagram, Query query);
  // Sends what forward() queued.
  void flush();
  bool hasUnsent() const { return !unsent_.empty(); }

  // Used for kQueriesPerSocket or kSocketLifetime: time for a new socket.
  bool worn() const;
  // Takes no more queries; closes once none is pending.
  void retire();
  // Closes now; pending queries are dropped without `done`.
  void close();
  size_t pending() const { return pending_.size(); }
  // True when no query was forwarded since the previous call.
  bool unusedSinceLastSweep() { return !std::exchange(used_, false); }
  const udp::endpoint& server() const { return server_; }

 private:
  struct Pending {
    Query query;
    uint16_t id = 0;  // the ID on the wire
  };
  using PendingQueries = DnsPendingQueries<Pending>;

  struct Unsent {
    iovec datagram;
    PendingQueries::Iterator query;
  };

  uint16_t freshId();
  void waitReadable();
  void onReadable(const boost::system::error_code& ec);
  void onAnswer(std::span<uint8_t> answer);
  void finish(PendingQueries::Iterator it, std::error_code ec, std::span<const uint8_t> answer);
  void closeIfRetiredAndIdle();

  // Before every member that allocates from it: destroyed after them.
  const std::shared_ptr<std::pmr::memory_resource> memory_;
  DnsHandlerMemory wait_memory_;  // before socket_: its wait's memory outlives the socket
  udp::socket socket_;
  const udp::endpoint server_;
  const uint32_t mark_;
  Done done_;
  Drained drained_;
  PendingQueries pending_;
  std::pmr::vector<Unsent> unsent_;
  std::pmr::vector<mmsghdr> send_headers_;
  std::pmr::unordered_map<uint16_t, PendingQueries::Iterator> by_id_;
  Clock::time_point opened_;
  uint32_t queries_ = 0;
  bool used_ = true;
  bool waiting_ = false;
  bool retired_ = false;
  bool closed_ = false;
};

}  // namespace portcullis::proxy
