// One client's DNS-over-TCP connection to a DNS listener. The stream is read a segment at a time
// (DnsTcpReader) and every query framed in it (RFC 7766 6.2.1: a client may pipeline) is judged
// by the gate and either answered at once or forwarded over the connection's DnsTcpUpstream;
// answers are written as they complete, in whatever order that is (RFC 7766 7: responses may be
// sent out of order), those ready in the same turn of the event loop in one write. Framing and
// reading pause while max_tcp_pipeline queries are pending; the connection closes after
// tcp_idle_timeout with nothing pending, on a framing error, when the client closes and all is
// answered, or when the server closes its side with nothing pending and the client has sent nothing
// more (onServerClosed).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "policy/compiled_policy.h"
#include "proxy/dns_listener_options.h"
#include "proxy/dns_policy_gate.h"
#include "proxy/dns_tcp_reader.h"
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
  void doRead();
  void onRead(const boost::system::error_code& ec, size_t n);
  void handle(std::span<const uint8_t> message);
  void onUpstream(DnsTcpUpstream::Query& query, std::error_code ec,
                  std::span<const uint8_t> answer);
  void onServerClosed();
  // Frames `answer` behind those not yet written; the write starts once the current handler is
  // done, so the answers it produces leave together.
  void send(std::span<const uint8_t> answer);
  void doWrite();
  void onWrite(const boost::system::error_code& ec);
  void armIdleTimer();
  void onIdleTimer(const boost::system::error_code& ec);
  // Handles the queries already read while the pipeline has room, then reads more if none is
  // being read; closes when done.
  void resume();
  size_t forwarded() const;
  size_t pending() const { return forwarded() + queued_answers_ + writing_answers_; }

  tcp::socket socket_;
  boost::asio::steady_timer idle_timer_;
  const tcp::endpoint server_;
  const policy::Flow flow_;
  const std::shared_ptr<const DnsListenerOptions> options_;
  std::shared_ptr<DnsPolicyGate> gate_;
  OnClose on_close_;
  DnsFlowMemo memo_;

  DnsTcpReader reader_;
  std::vector<uint8_t> queued_;          // framed answers waiting for the next write
  std::vector<uint8_t> writing_buffer_;  // framed answers being written
  size_t queued_answers_ = 0;
  size_t writing_answers_ = 0;
  std::shared_ptr<DnsTcpUpstream> upstream_;  // opened at the first allowed query
  std::chrono::steady_clock::time_point last_activity_;
  bool reading_ = false;
  bool writing_ = false;
  bool write_posted_ = false;
  bool client_done_ = false;  // EOF from the client: answer what is pending, then close
  bool server_done_ = false;  // the server closed: write what is queued, then close
  bool closed_ = false;
};

}  // namespace portcullis::proxy
