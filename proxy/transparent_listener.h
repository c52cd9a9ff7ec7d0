// The one TCP transparent listener of the proxy (HTTP, DNS over TCP, TLS): an IP_TRANSPARENT
// acceptor so TPROXY can hand it connections addressed anywhere, IPV6_V6ONLY on ::1 so the v4
// and v6 listeners stay apart, SO_REUSEPORT when one acceptor per I/O context shares the port,
// an accept loop that backs off on EMFILE, and admission against a shared ConnectionLimit.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/result.h"
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

// Every address of this host.
std::vector<boost::asio::ip::address> localAddresses();

// Whether a connection's original destination is one of a proxy's own listeners, on any local
// address: relaying it would loop through the proxy forever (and make it an open relay to
// itself).
bool isOwnEndpoint(const Tcp::endpoint& destination, const std::vector<Tcp::endpoint>& listeners,
                   const std::vector<boost::asio::ip::address>& local_addresses);

class TransparentListener : public std::enable_shared_from_this<TransparentListener> {
 public:
  struct Options {
    bool transparent = true;
    bool reuse_port = false;
    bool strand_per_connection = false;  // accepted sockets get their own strand
    int backlog = 4096;
    bool delayed_ack = false;  // setDelayedAck() on the listener, so on every accepted socket
    // SO_MARK of the listener, so of its SYN-ACKs and accepted sockets (0: none). The proxy's
    // answer mark (answerMark(), 0xb00): the datapath leaves redirected flows untracked, and the
    // answers must be untracked too, or conntrack sees a SYN-ACK without its SYN (INVALID,
    // dropped by hardened hosts).
    uint32_t mark = 0;
    bool no_delay = false;  // TCP_NODELAY on the listener, inherited by every accepted socket
    // The executor is run by one thread (IoPool::Model::kContextPerThread): connections are
    // taken with accept4 (non-blocking, close-on-exec: no ioctl per socket, no EPOLL_CTL_DEL at
    // its close) after a wait for readability. With several threads the wait could miss the
    // edge that another thread's epoll_wait consumed between the last EAGAIN and the wait:
    // Asio's async_accept is used then.
    bool single_thread = false;
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
  void stop();   // thread-safe: the acceptor closes on its own executor
  // Closes the acceptor now: on its executor, or before start().
  void close();

 private:
  TransparentListener(const boost::asio::any_io_executor& executor, Options options,
                      Handler on_accept);
  void accept();
  void onAccept(const boost::system::error_code& ec, Tcp::socket socket);
  void acceptReady();  // single_thread: accept4 until EAGAIN, then wait for readability
  void backOff(const boost::system::error_code& ec);
  void admit(Tcp::socket socket, const Tcp::endpoint& client);

  boost::asio::any_io_executor executor_;
  Tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  Options options_;
  Handler on_accept_;
  Tcp::endpoint endpoint_;
  Tcp::endpoint peer_;  // filled by the accept in flight
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
