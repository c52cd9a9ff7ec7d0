// Sockets that send UDP answers from the original destination's address and port, so the client
// sees them come from the server it asked (issue 5). IP_PKTINFO can choose a source address but
// not a source port, so each original destination gets its own IP_TRANSPARENT socket bound to
// it (SO_REUSEADDR: several proxies, or a DNS server on the node, may bind the same one). Each
// is connected to that same address and port, so that it receives nothing: neither a client's
// query (TPROXY's lookup of an established socket, nf_tproxy_get_sock_v4, does not find it, so
// queries to that server keep reaching the listener) nor what the proxy forwards to a server
// on the node itself (dns_reply_sockets.cc). A socket unused for one idle period is closed at
// the next. Its answers carry the proxy's answer mark (answerMark(): 0xb00), so the datapath's
// raw OUTPUT rule exempts them from connection tracking, even towards a local client.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <system_error>

#include "common/duration.h"
#include "common/result.h"

namespace portcullis::proxy {

class DnsReplySockets {
 public:
  using udp = boost::asio::ip::udp;

  // `mark`: SO_MARK of the sockets (0: none, for unprivileged tests).
  explicit DnsReplySockets(const boost::asio::any_io_executor& executor, uint32_t mark = 0,
                           Duration idle = std::chrono::seconds(10), size_t max_sockets = 1024);
  DnsReplySockets(const DnsReplySockets&) = delete;
  DnsReplySockets& operator=(const DnsReplySockets&) = delete;

  // Sends `answer` to `client` from `from`, without blocking.
  std::error_code send(const udp::endpoint& from, const udp::endpoint& client,
                       std::span<const uint8_t> answer);
  // The socket that sends from `from`, opened if needed and kept (for a batch of answers):
  // std::errc::no_buffer_space when max_sockets are open already (send() still works then).
  Result<int> socketFor(const udp::endpoint& from);
  size_t size() const { return sockets_.size(); }
  void close();

 private:
  struct Entry {
    std::unique_ptr<udp::socket> socket;
    bool used = true;  // since the last sweep
  };

  std::error_code open(const udp::endpoint& from, udp::socket& socket);
  void sweep();
  void armSweep();

  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer timer_;
  const uint32_t mark_;
  const Duration idle_;
  const size_t max_sockets_;
  std::map<udp::endpoint, Entry> sockets_;
  bool sweeping_ = false;
};

}  // namespace portcullis::proxy
