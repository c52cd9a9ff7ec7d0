// One allowed UDP query on its way to the original destination and back: its own connected,
// marked socket (a fresh source port per query, so the upstream's answers cannot be confused
// across clients and the query ID needs no rewriting), the client's bytes sent as they are, the
// first datagram that answers the ID taken, proxy.dns.upstream-timeout enforced.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <span>
#include <system_error>

#include "common/duration.h"
#include "proxy/dns_policy_gate.h"

namespace portcullis::proxy {

class DnsUdpExchange : public std::enable_shared_from_this<DnsUdpExchange> {
 public:
  using udp = boost::asio::ip::udp;
  // Called once: the answer's bytes (valid only during the call), or an error
  // (std::errc::timed_out for the timeout, operation_canceled after cancel()).
  using Done = std::function<void(DnsUdpExchange&, std::error_code, std::span<const uint8_t>)>;

  // What the listener needs back when the answer comes.
  struct Context {
    udp::endpoint client;
    udp::endpoint server;  // the original destination: where the answer must come from
    DnsMessage query;
    DnsInFlightSlot slot;
  };

  DnsUdpExchange(const boost::asio::any_io_executor& executor, Context context, Done done);

  // Sends `query` to context.server; errors come through `done` (never synchronously).
  void start(std::span<const uint8_t> query, uint32_t mark, Duration timeout);
  void cancel();
  Context& context() { return context_; }

 private:
  void waitReadable();
  void onReadable(const boost::system::error_code& ec);
  void finish(std::error_code ec, std::span<const uint8_t> answer);

  udp::socket socket_;
  boost::asio::steady_timer timer_;
  Context context_;
  Done done_;
  bool finished_ = false;
};

}  // namespace portcullis::proxy
