// One allowed TCP query on its way to the original destination and back, over its own marked
// TCP connection (RFC 1035 4.2.2 framing: a 2-byte length, then the message), so answers of one
// client connection come back as each completes, whatever the upstream's pipelining support.
// proxy.dns.upstream-timeout covers connect, write and read.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "common/duration.h"
#include "proxy/dns_policy_gate.h"

namespace portcullis::proxy {

class DnsTcpExchange : public std::enable_shared_from_this<DnsTcpExchange> {
 public:
  using tcp = boost::asio::ip::tcp;
  // Called once: the answer's bytes (valid during the call), or an error (std::errc::timed_out,
  // operation_canceled after cancel(), a socket error, or bad_message for an answer that does
  // not match the query's ID).
  using Done = std::function<void(DnsTcpExchange&, std::error_code, std::span<const uint8_t>)>;

  DnsTcpExchange(const boost::asio::any_io_executor& executor, tcp::endpoint server,
                 DnsMessage query, DnsInFlightSlot slot, Done done);

  // Copies `query`; errors come through `done`, never synchronously.
  void start(std::span<const uint8_t> query, uint32_t mark, Duration timeout);
  void cancel();
  const DnsMessage& query() const { return query_; }
  DnsInFlightSlot& slot() { return slot_; }

 private:
  void onConnect(const boost::system::error_code& ec);
  void onWrite(const boost::system::error_code& ec);
  void onLength(const boost::system::error_code& ec);
  void onAnswer(const boost::system::error_code& ec);
  void finish(std::error_code ec, std::span<const uint8_t> answer);

  tcp::socket socket_;
  boost::asio::steady_timer timer_;
  tcp::endpoint server_;
  DnsMessage query_;
  DnsInFlightSlot slot_;
  Done done_;
  std::vector<uint8_t> buffer_;  // the framed query, then the answer
  std::array<uint8_t, 2> length_{};
  bool finished_ = false;
};

}  // namespace portcullis::proxy
