// The one TCP transparent listener of the proxy (HTTP, DNS over TCP, TLS): an IP_TRANSPARENT
// acceptor so TPROXY can hand it connections addressed anywhere, IPV6_V6ONLY on ::1 so the v4
// and v6 listeners stay apart, SO_REUSEPORT when one acceptor per I/O context shares the port,
// one accept loop for every thread model (a readiness wait, then accept4 in bounded batches,
// backing off on EMFILE), and admission against a shared ConnectionLimit.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/result.h"
#include "proxy/node_addresses.h"
#include "proxy/socket_options.h"

namespace portcullis::proxy {

// max-connections of one proxy, shared by all its acceptors and released by its sessions.
class ConnectionLimit {
 public:
  explicit ConnectionLimit(uint32_t max) : max_(max) {}
  // False when `max` connections are open already, or once stopAdmitting() was called.
  bool tryAdmit();
  void release() { active_.fetch_sub(1, std::memory_order_relaxed); }
  void stopAdmitting() { admitting_.store(false, std::memory_order_relaxed); }
  bool admitting() const { return admitting_.load(std::memory_order_relaxed); }
  uint32_t active() const { return active_.load(std::memory_order_relaxed); }
  uint32_t max() const { return max_; }

 private:
  const uint32_t max_;
  std::atomic<uint32_t> active_{0};
  std::atomic<bool> admitting_{true};
};

// Where an accepted connection was going: under TPROXY the accepted socket keeps the client's
// original destination as its own (local) address.
Tcp::endpoint originalDestinationOf(const Tcp::socket& socket, std::error_code& ec);

// What an upstream socket binds to (prepareUpstream): nothing (the proxy's own address), or
// with preserve-source the client's, except toward this host itself. A local origin's answers
// to the client's address are made in OUTPUT, where no rule can find the proxy's transparent
// socket, and would be routed out to the client: that connection never completes.
std::optional<boost::asio::ip::address> upstreamSource(bool preserve_source,
                                                       const boost::asio::ip::address& client,
                                                       const boost::asio::ip::address& destination,
                                                       const NodeAddresses& node);

// Whether a connection's original destination is one of a proxy's own listeners, on any of the
// node's addresses: relaying it would loop through the proxy forever (and make it an open relay
// to itself).
bool isOwnEndpoint(const Tcp::endpoint& destination, const std::vector<Tcp::endpoint>& listeners,
                   const NodeAddresses& node);

class TransparentListener : public std::enable_shared_from_this<TransparentListener> {
 public:
  struct Options {
    bool transparent = true;
    bool reuse_port = false;
    // The executor's context is run by several threads: each accepted socket gets its own strand,
    // and the listener's own handlers run on one strand, so that stop() never races the loop.
    bool strand_per_connection = false;
    int backlog = 4096;
    bool delayed_ack = false;  // setDelayedAck() on the listener, so on every accepted socket
    // SO_MARK of the listener, so of its SYN-ACKs and accepted sockets (0: none). The proxy's
    // answer mark (answerMark(), 0xb00): the datapath leaves redirected flows untracked, and the
    // answers must be untracked too, or conntrack sees a SYN-ACK without its SYN (INVALID,
    // dropped by hardened hosts).
    uint32_t mark = 0;
    bool no_delay = false;  // TCP_NODELAY on the listener, inherited by every accepted socket
    // Admission: an accepted connection beyond the limit is reset at once (rather than left
    // hanging in the backlog) and on_refused runs, unless the limit stopped admitting
    // (shutdown). Null: every connection is handed on.
    std::shared_ptr<ConnectionLimit> limit;
    std::function<void()> on_refused;
  };
  // The accepted (and admitted: the handler owns one unit of the limit) socket and its peer,
  // which accept(2) reports anyway.
  using Handler = std::function<void(Tcp::socket, const Tcp::endpoint& client)>;

  static Result<std::shared_ptr<TransparentListener>> open(
      const boost::asio::any_io_executor& executor, const Tcp::endpoint& endpoint,
      Options options, Handler on_accept);

  Tcp::endpoint endpoint() const { return endpoint_; }
  void start();  // accept until stop()
  void stop();   // thread-safe: the acceptor closes on the loop's executor
  // Closes the acceptor now: before start(), or on an executor that runs one handler at a time
  // (a context run by one thread, a strand) without strand_per_connection; else use stop().
  void close();

 private:
  // What the accept loop does next; acceptNext() is the one place that continues it.
  enum class Next : uint8_t {
    kBatch,     // connections may be queued (start, a full batch): accept now, after a post
    kReadable,  // the queue was empty (EAGAIN): wait until it is not
    kBackOff,   // out of descriptors or memory: retry after a pause, rather than spin
  };

  TransparentListener(const boost::asio::any_io_executor& executor, Options options,
                      Handler on_accept);
  void acceptNext(Next next, const std::error_code& why = {});
  void acceptBatch();  // accept4 until EAGAIN, at most a batch
  // executor_, or with strand_per_connection a new strand of it.
  const boost::asio::any_io_executor& nextSocketExecutor();
  void admit(Tcp::socket socket, const Tcp::endpoint& client);

  boost::asio::any_io_executor executor_;  // of the acceptor, and of accepted sockets
  boost::asio::any_io_executor serial_;    // of the loop's handlers: executor_ or a strand of it
  boost::asio::any_io_executor next_strand_;
  Tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  // The failed accepts of the current run of failures (EMFILE can last minutes: one warning on
  // the first, then at most one per kWarnEvery with the count, and one line when it ends).
  uint64_t failed_accepts_ = 0;
  std::chrono::steady_clock::time_point last_warning_;
  Options options_;
  Handler on_accept_;
  Tcp::endpoint endpoint_;
};

// The acceptors of one proxy: one per bind endpoint and executor (SO_REUSEPORT when there are
// several), all on one port: the first endpoint's, or the kernel's pick for port 0. `binds`
// comes back with that port filled in. on_accept and on_refused learn the executor's index (the
// counter shard). On error nothing stays open, and the log line names `name` and the endpoint.
using ShardedAccept = std::function<void(size_t shard, Tcp::socket, const Tcp::endpoint& client)>;
Result<std::vector<std::shared_ptr<TransparentListener>>> openTransparentListeners(
    std::string_view name, const std::vector<boost::asio::any_io_executor>& executors,
    std::vector<Tcp::endpoint>& binds, TransparentListener::Options options,
    ShardedAccept on_accept, std::function<void(size_t shard)> on_refused);

}  // namespace portcullis::proxy
