// One client's DNS-over-TCP connection to a DNS listener. Queries are read one after another
// (RFC 7766 6.2.1: a client may pipeline), each judged by the gate and either answered at once
// or forwarded over the connection's DnsTcpUpstream; answers are written as they complete, in
// whatever order that is (RFC 7766 7: responses may be sent out of order). Reading pauses while
// max_tcp_pipeline queries are pending; the connection closes after tcp_idle_timeout with
// nothing pending, on a framing error, when the client closes and all is answered, or when the
// server closes its side with nothing pending and the client has sent nothing more
// (onServerClosed).
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "policy/compiled_policy.h"
#include "proxy/dns_listener_options.h"
#include "proxy/dns_policy_gate.h"
#include "proxy/dns_tcp_upstream.h"

namespace portcullis::proxy {

class DnsTcpUpstream;

class DnsTcpSession : public std::enable_shared_from_this<DnsTcpSession> {
 public:
  using tcp = boost::asio::ip::tcp;
  using OnClose = std::function<void(DnsTcpSession&)>;

  DnsTcpSession(tcp::socket socket, tcp::endpoint server, policy::Flow flow,
                std::shared_ptr<const DnsListenerOptions> options,
                std::shared_ptr<DnsPolicyGate> gate, OnClose on_close);

  void start();
  void close();

 private:
  void doReadLength();
  void onLength(const boost::system::error_code& ec);
  void onMessage(const boost::system::error_code& ec);
  void handle();
  void onUpstream(DnsTcpUpstream::Query& query, std::error_code ec,
                  std::span<const uint8_t> answer);
  void onServerClosed();
  void send(std::span<const uint8_t> answer);
  void doWrite();
  void onWrite(const boost::system::error_code& ec);
  void armIdleTimer();
  void onIdleTimer(const boost::system::error_code& ec);
  // Reads the next query if reading is allowed and none is being read; closes when done.
  void resume();
  size_t forwarded() const;
  size_t pending() const { return forwarded() + writes_.size(); }

  tcp::socket socket_;
  boost::asio::steady_timer idle_timer_;
  const tcp::endpoint server_;
  const policy::Flow flow_;
  const std::shared_ptr<const DnsListenerOptions> options_;
  std::shared_ptr<DnsPolicyGate> gate_;
  OnClose on_close_;
  DnsFlowMemo memo_;

  std::array<uint8_t, 2> length_{};
  std::vector<uint8_t> message_;
  std::deque<std::vector<uint8_t>> writes_;   // framed answers; the front is being written
  std::shared_ptr<DnsTcpUpstream> upstream_;  // opened at the first allowed query
  std::chrono::steady_clock::time_point last_activity_;
  bool reading_ = false;
  bool in_message_ = false;  // its length read, its body not yet
  bool writing_ = false;
  bool client_done_ = false;  // EOF from the client: answer what is pending, then close
  bool server_done_ = false;  // the server closed: write what is queued, then close
  bool closed_ = false;
};

}  // namespace portcullis::proxy
