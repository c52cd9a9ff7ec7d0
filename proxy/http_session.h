// One downstream connection accepted by an HTTP listener, and the upstream connection it opens
// to the original destination (Boost.Beast's advanced server is the model: one object per
// connection, enable_shared_from_this, do/on pairs, one place where errors end).
//
// Requests are handled one at a time, so responses go back strictly in order; pipelined
// requests wait, unparsed, in the downstream buffer. Within a request both directions stream at
// once (a request body goes up while the response comes down), each through one bounded buffer
// that is not refilled before it was written out (backpressure). The upstream connection is
// reused for the next request when both sides allow it.
//
// Closing: see lingerClose(). At shutdown, sockets are reset (SO_LINGER 0) rather than left in
// TIME_WAIT with the original destination's 4-tuple.
//
// The same code serves plain HTTP (Stream = Tcp::socket, the http listeners) and HTTP inside an
// intercepted TLS connection (Stream = TlsStream, see tls_origin.h). What differs between the two
// (the origin connection, half-closes, the rules that judge a request) is in
// HttpStreamTraits<Stream>; the members are defined in http_session*.cc and instantiated there
// for both streams, so the plain path is the same code as before, without virtual calls.
#pragma once

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/compiled_policy.h"
#include "proxy/access_log_http_entry.h"
#include "proxy/byte_buffer.h"
#include "proxy/http_counters.h"
#include "proxy/http_parser.h"
#include "proxy/http_proxy_context.h"
#include "proxy/http_stream_traits.h"

namespace portcullis::proxy {

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
  using Traits = HttpStreamTraits<Stream>;

 public:
  // The connection to the origin, re-made for each new upstream connection.
  using Upstream = typename Traits::Upstream;

  HttpSession(Stream downstream, Tcp::endpoint client, std::shared_ptr<HttpProxyContext> context,
              HttpCounters::Shard& counters, Upstream upstream);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void start();
  // Shutdown, step 1: finish the exchange in flight announcing Connection: close; an idle
  // connection is reset once the client has acknowledged its last response. Call on executor().
  void drain();
  // Shutdown, step 2 (the grace period is over): reset both connections. Call on executor().
  void abort();

  Tcp::socket::executor_type executor() { return down_.get_executor(); }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Stage : uint8_t { kActive, kClosing, kClosed };
  enum class Phase : uint8_t { kHeader, kIdle, kConnect, kResponse, kStream, kLinger, kFlush };

  // State of the request/response exchange in progress.
  struct Exchange {
    bool connect = false;  // CONNECT
    bool upgrade = false;  // Upgrade or CONNECT, allowed and forwarded
    bool keep_downstream = false;
    bool client_closes = false;  // the request said it is the last one (Connection: close)
    bool request_done = false;
    bool response_started = false;  // a byte of the final response went downstream
    bool response_interim = false;  // the head being forwarded is a 1xx
    bool response_done = false;
    bool response_until_close = false;
    bool close_announced = false;  // the response head said Connection: close
    bool head_pending = false;     // the response head is not yet written
    // The pending head goes down as received: the first raw_head bytes of up_in_, else down_head_.
    uint32_t raw_head = 0;
    bool upstream_keep = false;
    bool retried = false;
    uint64_t discarded = 0;
  };

  // --- request side (http_session.cc) ---
  void readRequestHead();
  void onIdleRead(const boost::system::error_code& ec, size_t n);
  void onRequestHeadRead(const boost::system::error_code& ec, size_t n);
  // `raw`: the whole head as received, or empty when it came in more than one read.
  void onRequestHead(std::string_view raw);
  // `host`: requestHost(head), which the access log records too.
  policy::HttpVerdict judge(const HttpHead& head, std::string_view host);
  void deny();
  void discardRequestBody();
  void onDiscardRead(const boost::system::error_code& ec, size_t n);
  void pumpRequestBody();
  void onRequestBodyWritten(const boost::system::error_code& ec, HttpParser::Event event, size_t n);
  void afterRequestBody(HttpParser::Event event);
  void onRequestBodyRead(const boost::system::error_code& ec, size_t n);
  void finishExchange();

  // --- upstream side (http_session_upstream.cc) ---
  void connectUpstream();
  void onUpstreamConnect(const boost::system::error_code& ec);
  void onUpstreamReady(const boost::system::error_code& ec);
  void writeUpstreamHead();
  void onUpstreamHeadWritten(const boost::system::error_code& ec);
  void readResponse();
  void onResponseRead(const boost::system::error_code& ec, size_t n);
  bool onResponseHead(std::string_view raw);
  void onResponseWritten(const boost::system::error_code& ec, HttpParser::Event event, size_t n);
  void onResponseEnd();
  bool retryOnFreshConnection();
  void startTunnel();
  void tunnel(bool to_upstream);
  void onTunnelRead(bool to_upstream, const boost::system::error_code& ec, size_t n);
  void onTunnelWritten(bool to_upstream, const boost::system::error_code& ec, size_t n);
  // Plain TCP: sends what the socket takes at once (one sendmsg, MSG_DONTWAIT), advancing
  // `buffers` past it; true when all of it went, and the caller continues at once instead of
  // through async_write's operation, reactor and scheduler trip. Anything else (EAGAIN, an
  // error, TLS, continuations nested too deep) is left to async_write, errors included; with
  // `error`, an error (a refused connect) is reported there instead, with true, since the
  // socket reports it only once.
  bool sendAtOnce(Tcp::socket& socket, std::array<boost::asio::const_buffer, 2>& buffers,
                  boost::system::error_code* error = nullptr);

  // --- endings and time (http_session.cc) ---
  void respond(std::string_view canned, bool keep_alive);
  void respondAndClose(std::string_view canned);
  void endAfterResponse(bool close_announced);
  void lingerClose();
  void resetWhenDelivered();
  void afterCloseSend();
  void lingerRead();
  void closeUpstream(bool abortive = false);
  void close(bool abortive);
  void fail(const boost::system::error_code& ec, std::string_view where);
  void setDeadline(Phase phase, Duration timeout);
  void touch();
  void armTimer();
  void onTimer(const boost::system::error_code& ec, uint64_t seq);
  void onTimeout();
  bool active() const { return stage_ == Stage::kActive; }
  const HttpProxyOptions& options() const { return context_->options(); }

  Stream down_;
  Upstream up_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<HttpProxyContext> context_;
  HttpCounters::Shard& counters_;

  Tcp::endpoint client_;
  Tcp::endpoint destination_;
  policy::Flow flow_;
  PolicyStore::Pointer policy_;
  uint64_t policy_generation_ = 0;
  policy::FlowRules rules_;
  std::vector<policy::HeaderView> header_views_;

  HttpParser request_;
  HttpParser response_;
  ByteBuffer down_in_;
  ByteBuffer up_in_;
  // Between requests, the next one is read here rather than into down_in_, so that an idle
  // connection holds no buffer. A read, unlike a wait for readability, costs no epoll_ctl
  // (Asio re-arms the descriptor for every wait) and completes inside the reactor; a typical
  // request head fits, a longer one continues into down_in_.
  static constexpr size_t kIdleReadBytes = 512;
  std::array<char, kIdleReadBytes> idle_read_;
  std::string up_head_;    // the request head as sent upstream (kept for one retry)
  std::string down_head_;  // the response head as sent downstream

  Exchange exchange_;
  AccessLogHttpEntry log_entry_;  // the exchange's access-log record
  bool upstream_reusable_ = false;
  bool upstream_reused_ = false;
  // The connect is in progress and the request head is being written (plain TCP origins).
  bool upstream_connecting_ = false;
  // When the request head went upstream; cleared at the first response head (latency metric).
  std::chrono::steady_clock::time_point upstream_sent_{};
  bool draining_ = false;
  int tunnel_open_ = 0;  // directions of a tunnel still carrying bytes
  // Continuations run inside sendAtOnce's caller: bounded, since a peer sending many pipelined
  // messages at once could otherwise nest one exchange inside the other without end.
  uint8_t inline_sends_ = 0;
  Stage stage_ = Stage::kActive;

  Phase phase_ = Phase::kHeader;
  Clock::time_point deadline_;
  Clock::time_point timer_expiry_;
  bool timer_armed_ = false;
  uint64_t timer_seq_ = 0;
};

using PlainHttpSession = HttpSession<Tcp::socket>;
extern template class HttpSession<Tcp::socket>;  // http_session*.cc

}  // namespace portcullis::proxy
