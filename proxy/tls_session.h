// One connection to portcullis-tls-egress (SNI passthrough, issue 7): reads until the whole
// ClientHello is in (at most kMaxClientHelloBuffer bytes, within header-timeout), judges its
// SNI with CompiledPolicy::tls, then connects to the original destination (SO_MARK 0xa00) and
// relays the buffered bytes and everything after, both ways, untouched; or resets the client
// (SO_LINGER 0) when the SNI is denied or missing, the ClientHello is malformed or oversized,
// or it does not arrive in time (SPEC.md "Verdicts on the wire").
//
// Relay: one bounded buffer per direction, read again only once written (backpressure); a FIN
// is passed on and the other direction keeps going; an error resets both sides.
//
// Interception: when a terminatingTLS rule that selects the flow allows the SNI, the connection
// is intercepted, never relayed (a flow the policy asks to inspect does not pass unexamined,
// even when a passthrough rule would allow its SNI). The TLS handshake with the client is done
// here with the rule's certificate (or a leaf minted for the SNI), fed the ClientHello already
// read, within what is left of header-timeout; then the connection goes on as an
// HttpSession<TlsStream> of TlsProxyContext::http(), which judges each request with the `http`
// entries of the intercepting rules and speaks TLS to the origin (tls_origin.h). This session
// ends there; its connection-limit unit goes with the connection.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "common/duration.h"
#include "policy/compiled_policy.h"
#include "proxy/byte_buffer.h"
#include "proxy/http_stream_traits.h"
#include "proxy/socket_options.h"
#include "proxy/tls_client_hello.h"
#include "proxy/tls_counters.h"

namespace portcullis::proxy {

class TlsProxyContext;
class TlsInterceptionSet;

class TlsSession : public std::enable_shared_from_this<TlsSession> {
 public:
  // `shard`: the accepting I/O thread's counter shard (TLS and, once intercepted, HTTP).
  TlsSession(Tcp::socket downstream, Tcp::endpoint client, std::shared_ptr<TlsProxyContext> context,
             size_t shard);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  void start();
  // Shutdown: a connection still waiting for its ClientHello is reset; a relay goes on.
  void drain();
  void abort();  // resets both sides
  Tcp::socket::executor_type executor() { return down_.get_executor(); }

 private:
  enum class Phase : uint8_t { kHello, kHandshake, kConnect, kRelay, kClosed };

  void readHello();
  void onHelloRead(const boost::system::error_code& ec, size_t n);
  void judge(const ClientHelloPeek& hello);
  void deny(const char* reason, std::string_view rule = {});
  // --- interception (terminatingTLS) ---
  void intercept(std::shared_ptr<const TlsInterceptionSet> set, uint32_t rule);
  void onHandshake(const boost::system::error_code& ec);
  void connectUpstream();
  void onUpstreamConnect(const boost::system::error_code& ec);
  void relay(bool to_upstream);
  void onRelayRead(bool to_upstream, const boost::system::error_code& ec, size_t n);
  void onRelayWritten(bool to_upstream, const boost::system::error_code& ec, size_t n);
  void setDeadline(Duration after);
  void onDeadline(const boost::system::error_code& ec);
  void close(bool reset);
  Tcp::socket& downstream();
  const std::string& name() const;

  Tcp::socket down_;
  Tcp::socket up_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<TlsProxyContext> context_;
  size_t shard_;
  TlsCounters::Shard& counters_;
  Tcp::endpoint client_;
  Tcp::endpoint destination_;
  policy::Flow flow_;
  ByteBuffer down_in_;  // client -> origin; holds the ClientHello while it is peeked
  ByteBuffer up_in_;    // origin -> client
  Phase phase_ = Phase::kHello;
  int relay_open_ = 0;  // directions not yet ended by a FIN
  std::string server_name_;
  // While intercepting: the client-facing TLS stream over down_'s socket, and what the origin
  // side will need (the set keeps the rule's contexts alive).
  std::unique_ptr<TlsStream> tls_;
  std::shared_ptr<const TlsInterceptionSet> interceptions_;
  std::shared_ptr<const void> server_context_;
  uint32_t intercepting_rule_ = 0;
  bool handed_off_ = false;  // the connection (and its limit unit) now belongs to an HttpSession
  std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace portcullis::proxy
