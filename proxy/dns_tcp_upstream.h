// The upstream side of one client's DNS-over-TCP connection: one TCP connection to the original
// destination, opened at the first allowed query and kept while the client's stays, so the
// server sees as many connections as there are clients (a connection per query would exhaust
// servers that serve few TCP clients at a time, dnsmasq's 20 for one). Queries are pipelined
// (RFC 7766 6.2.1.1), those forwarded in the same turn of the event loop in one write, and
// answers matched by ID in whatever order they come, all those of one read (DnsTcpReader) at once.
//
// proxy.dns.upstream-timeout per query (DnsPendingQueries). When the server closes
// or resets the connection with queries unanswered, each is sent once more on a new connection
// (servers may close after any answer, RFC 7766 6.2.3); a second loss, or a failed connect,
// fails them. When the server closes with nothing pending, `closed` is called: the session
// closes the client's connection the same way, as the server would have (see
// DnsTcpSession::onServerClosed).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "common/duration.h"
#include "proxy/dns_pending_queries.h"
#include "proxy/dns_policy_gate.h"
#include "proxy/dns_tcp_reader.h"

namespace portcullis::proxy {

class DnsTcpUpstream : public std::enable_shared_from_this<DnsTcpUpstream> {
 public:
  using tcp = boost::asio::ip::tcp;
  using Clock = std::chrono::steady_clock;

  struct Query {
    DnsMessage query;
    DnsInFlightSlot slot;
  };
  // Called once per forwarded query: the answer (valid during the call) or an error
  // (std::errc::timed_out, or the connection's). Not called after close().
  using Done = std::function<void(Query&, std::error_code, std::span<const uint8_t>)>;
  // The server ended the connection with no query pending on it. Not called after close().
  using Closed = std::function<void()>;

  DnsTcpUpstream(const boost::asio::any_io_executor& executor, tcp::endpoint server, uint32_t mark,
                 Duration timeout, Done done, Closed closed = {});

  // Copies `message` and sends it (connecting first if needed).
  void forward(std::span<const uint8_t> message, Query query);
  // Closes the connection; pending queries are dropped without `done`.
  void close();
  size_t pending() const { return pending_.size(); }

 private:
  using Bytes = std::shared_ptr<const std::vector<uint8_t>>;
  struct Pending {
    Query query;
    Bytes framed;
    bool resent = false;  // had its second chance on a new connection
  };
  using PendingQueries = DnsPendingQueries<Pending>;

  void connect();
  void onConnect(uint64_t generation, const boost::system::error_code& ec);
  void doWrite();
  void onWrite(uint64_t generation, const boost::system::error_code& ec);
  void doRead();
  void onRead(uint64_t generation, const boost::system::error_code& ec, size_t n);
  void onAnswer(std::span<const uint8_t> answer);
  // The connection ended: resend what may be resent, fail the rest.
  void onConnectionLost(std::error_code ec);
  void finish(PendingQueries::Iterator it, std::error_code ec, std::span<const uint8_t> answer);

  boost::asio::any_io_executor executor_;
  tcp::socket socket_;
  const tcp::endpoint server_;
  const uint32_t mark_;
  Done done_;
  Closed closed_by_server_;
  PendingQueries pending_;
  // What to write on the connection, in order; a query that timed out meanwhile is still
  // written (its answer, unmatched, is dropped).
  std::deque<Bytes> to_write_;
  size_t writing_count_ = 0;                       // the front ones of to_write_, being written
  std::vector<boost::asio::const_buffer> gather_;  // their buffers (asio copies the list)
  DnsTcpReader reader_;      // one per connection: a new one for each new connection
  uint64_t generation_ = 0;  // of the connection: handlers of a lost one are ignored
  enum class State : uint8_t { kIdle, kConnecting, kConnected } state_ = State::kIdle;
  bool writing_ = false;
  bool write_posted_ = false;
  bool closed_ = false;
};

}  // namespace portcullis::proxy
