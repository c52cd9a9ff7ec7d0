// The upstream half of HttpSession: the connection to the original destination, the response
// going back down, and the tunnel of an allowed Upgrade or CONNECT.
#include <array>
#include <boost/asio/write.hpp>
#include <type_traits>
#include <utility>

#include "common/log.h"
#include "proxy/http_forwarding.h"
#include "proxy/http_responses.h"
#include "proxy/http_session.h"
#include "proxy/tls_origin.h"

namespace portcullis::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

// ---------------------------------------------------------------- connect

template <class Stream>
void HttpSession<Stream>::connectUpstream() {
  closeUpstream();
  upstream_reused_ = false;
  response_.restart();  // the previous origin connection may have ended with Connection: close
  Tcp::socket& up = Traits::renew(up_);
  std::error_code setup = openNonBlocking(up, destination_.protocol());
  if (!setup) {
    setup = prepareUpstream(up, destination_.protocol(), options().upstream_mark,
                            context_->upstreamSource(client_, destination_));
  }
  if (setup) {
    log::warn(options().name, ": upstream socket for ", destination_, ": ", setup.message());
    bump(counters_.upstream_unavailable);
    respondAndClose(kServiceUnavailable);
    return;
  }
  setDeadline(Phase::kConnect, options().connect_timeout);
  if constexpr (std::is_same_v<Upstream, Tcp::socket>) {
    // The request head goes out as soon as the connect is started: on a local network the
    // handshake has usually completed inside connect(2), and the head's first send() succeeds;
    // while the handshake runs it fails with EAGAIN and Asio waits for writability, as
    // async_connect would. That skips the wait for EPOLLOUT and the poll()+getsockopt(SO_ERROR)
    // of async_connect: four system calls and a trip through the reactor per new connection.
    // A failed connect surfaces as the write's error (onUpstreamHeadWritten).
    // Delayed ACKs: the handshake's last ACK leaves with the request head, and the response's
    // is never sent when the connection is reset right after it.
    error_code ignored;
    up.set_option(Tcp::no_delay(true), ignored);
    setDelayedAck(up.native_handle());
    if (const std::error_code started = startConnect(up, destination_)) {
      onUpstreamConnect(error_code(started.value(), boost::system::system_category()));
      return;
    }
    upstream_connecting_ = true;
    writeUpstreamHead();
  } else {
    up.async_connect(destination_, [self = this->shared_from_this()](error_code e) {
      self->onUpstreamConnect(e);
    });
  }
}

template <class Stream>
void HttpSession<Stream>::onUpstreamConnect(const error_code& ec) {
  if (!active()) return;
  if (ec) {
    log::debug(options().name, ": 503 for ", client_, ": ", destination_, ": ", ec.message());
    bump(counters_.upstream_unavailable);
    respondAndClose(kServiceUnavailable);
    return;
  }
  error_code ignored;
  Traits::tcp(up_).set_option(Tcp::no_delay(true), ignored);
  Traits::startUpstream(up_, *this, &HttpSession::onUpstreamReady);
}

// The origin connection is ready for the request (for TLS, its handshake is done): a failed TLS
// handshake (the origin's certificate did not verify, or no common protocol) is answered like an
// unreachable origin, 503, with the reason logged.
template <class Stream>
void HttpSession<Stream>::onUpstreamReady(const error_code& ec) {
  if (!active()) return;
  if (ec) {
    log::info(options().name, ": 503 for ", client_, ": TLS to ", destination_, ": ", ec.message());
    bump(counters_.upstream_unavailable);
    respondAndClose(kServiceUnavailable);
    return;
  }
  setDeadline(Phase::kStream, options().limits.idle_timeout);
  writeUpstreamHead();
}

template <class Stream>
void HttpSession<Stream>::writeUpstreamHead() {
  upstream_sent_ = LatencyHistogram::start();
  std::array<asio::const_buffer, 2> out = {asio::buffer(up_head_), asio::const_buffer()};
  error_code failed;  // a refused connect, say
  if (sendAtOnce(Traits::tcp(up_), out, &failed)) {
    ++inline_sends_;
    onUpstreamHeadWritten(failed);
    --inline_sends_;
    return;
  }
  asio::async_write(
      Traits::stream(up_), out,
      [self = this->shared_from_this()](error_code e, size_t) { self->onUpstreamHeadWritten(e); });
}

template <class Stream>
void HttpSession<Stream>::onUpstreamHeadWritten(const error_code& ec) {
  if (!active()) return;
  if (std::exchange(upstream_connecting_, false)) {
    if (ec) {
      onUpstreamConnect(ec);  // the connect failed: 503, as from async_connect
      return;
    }
    setDeadline(Phase::kStream, options().limits.idle_timeout);
  }
  if (ec) {
    if (retryOnFreshConnection()) return;
    bump(counters_.upstream_errors);
    respondAndClose(kBadGateway);
    return;
  }
  touch();
  readResponse();
  if (exchange_.request_done) {  // a retry: the request had ended before
    setDeadline(Phase::kResponse, options().response_timeout);
    return;
  }
  pumpRequestBody();
}

// A reused connection may have been closed by the origin just as the request went out (its
// keep-alive timeout); a request whose body has not been sent can safely go again, once.
template <class Stream>
bool HttpSession<Stream>::retryOnFreshConnection() {
  if (!upstream_reused_ || exchange_.retried || exchange_.response_started ||
      request_.head().hasBody() || !response_.idle()) {
    return false;
  }
  exchange_.retried = true;
  connectUpstream();
  return true;
}

// ---------------------------------------------------------------- response

template <class Stream>
void HttpSession<Stream>::readResponse() {
  // A head forwarded as received stays in up_in_ until written, followed by its body bytes.
  const std::string_view input = up_in_.data().substr(exchange_.raw_head);
  const HttpParser::Step step = response_.parse(input);
  switch (step.event) {
    case HttpParser::Event::kHead: {
      // A head is always written before the next one is parsed: no raw head is pending here.
      const bool whole = step.consumed == response_.headSize();
      if (!onResponseHead(whole ? input.substr(0, step.consumed) : std::string_view{})) return;
      if (exchange_.raw_head == 0) up_in_.consume(step.consumed);
      readResponse();  // body bytes already here leave with the head
      return;
    }
    case HttpParser::Event::kError:
      log::debug(options().name, ": bad response from ", destination_, ": ",
                 response_.error().message(), " (", response_.errorDetail(), ")");
      bump(counters_.upstream_errors);
      respondAndClose(kBadGateway);
      return;
    case HttpParser::Event::kNeedMore:
    case HttpParser::Event::kMessageEnd:
      break;
  }
  // Before a head, consumed bytes are that head's, already copied by the parser.
  const bool body = exchange_.response_started || exchange_.response_interim;
  const size_t body_bytes = body ? step.consumed : 0;
  if (!body) up_in_.consume(step.consumed);
  if (!exchange_.head_pending && body_bytes == 0) {
    onResponseWritten({}, step.event, 0);
    return;
  }
  if (exchange_.raw_head > 0) {
    // The head as received and the body bytes after it: one buffer, one send(2).
    const size_t bytes = exchange_.raw_head + body_bytes;
    std::array<asio::const_buffer, 2> out = {asio::buffer(up_in_.data().data(), bytes),
                                             asio::const_buffer()};
    if (sendAtOnce(Traits::tcp(down_), out)) {
      exchange_.head_pending = false;
      exchange_.raw_head = 0;
      up_in_.consume(bytes);
      ++inline_sends_;
      onResponseWritten({}, step.event, bytes);
      --inline_sends_;
      return;
    }
    const size_t sent = bytes - out[0].size();
    asio::async_write(
        down_, out,
        [self = this->shared_from_this(), event = step.event, bytes, sent](error_code e, size_t n) {
          if (!self->active()) return;
          if (!e) {
            self->exchange_.head_pending = false;
            self->exchange_.raw_head = 0;
            self->up_in_.consume(bytes);
          }
          self->onResponseWritten(e, event, sent + n);
        });
    return;
  }
  // One write for the rewritten head and the body bytes that came with it.
  std::array<asio::const_buffer, 2> out = {
      asio::buffer(down_head_.data(), exchange_.head_pending ? down_head_.size() : 0),
      asio::buffer(up_in_.data().data(), body_bytes)};
  const size_t bytes = out[0].size() + out[1].size();
  if (sendAtOnce(Traits::tcp(down_), out)) {
    exchange_.head_pending = false;
    up_in_.consume(body_bytes);
    ++inline_sends_;
    onResponseWritten({}, step.event, bytes);
    --inline_sends_;
    return;
  }
  const size_t sent = bytes - out[0].size() - out[1].size();
  asio::async_write(
      down_, out,
      [self = this->shared_from_this(), event = step.event, body_bytes, sent](error_code e,
                                                                              size_t n) {
        if (!self->active()) return;
        if (!e) {
          self->exchange_.head_pending = false;
          self->up_in_.consume(body_bytes);
        }
        self->onResponseWritten(e, event, sent + n);
      });
}

template <class Stream>
void HttpSession<Stream>::onResponseWritten(const error_code& ec, HttpParser::Event event,
                                            size_t written) {
  if (!active()) return;
  if (ec) return fail(ec, "write response");
  log_entry_.addResponseBytes(written);
  touch();
  if (event == HttpParser::Event::kMessageEnd) {
    onResponseEnd();
    return;
  }
  Traits::stream(up_).async_read_some(
      up_in_.space(),
      [self = this->shared_from_this()](error_code e, size_t n) { self->onResponseRead(e, n); });
}

template <class Stream>
void HttpSession<Stream>::onResponseRead(const error_code& ec, size_t n) {
  if (!active()) return;
  if (!ec) {
    touch();
    up_in_.commit(n);
    readResponse();
    return;
  }
  if (ec == asio::error::operation_aborted) return;
  if (response_.idle() && !exchange_.response_started && retryOnFreshConnection()) return;
  if (Traits::endOfStream(ec)) {
    const HttpParser::Step step = response_.finish();
    exchange_.upstream_keep = false;
    if (step.event == HttpParser::Event::kMessageEnd) {
      onResponseWritten({}, step.event, 0);  // the close delimited the body
      return;
    }
  }
  log::debug(options().name, ": upstream ", destination_, " ended the response: ", ec.message());
  bump(counters_.upstream_errors);
  respondAndClose(kBadGateway);  // or, mid-response, a reset: the client must not trust it
}

// Decides how the response goes down; returns false when it ended the exchange instead.
template <class Stream>
bool HttpSession<Stream>::onResponseHead(std::string_view raw) {
  const HttpHead& head = response_.head();
  counters_.upstream_latency.observeSince(std::exchange(upstream_sent_, {}));
  const bool informational = head.status / 100 == 1 && !head.upgrade;
  if ((head.status == 101 && !head.upgrade) || (head.upgrade && !exchange_.upgrade)) {
    // Switching protocols without a protocol to switch to, or one nobody asked for.
    bump(counters_.upstream_errors);
    respondAndClose(kBadGateway);
    return false;
  }
  ConnectionMode mode = ConnectionMode::kKeepAlive;
  if (!informational) {
    exchange_.response_interim = false;
    exchange_.response_started = true;
    log_entry_.setStatus(head.status);
    exchange_.response_until_close = head.body_until_close;
    exchange_.upstream_keep = head.keep_alive && !head.upgrade;
    // A body delimited by the close can only reach the client the same way.
    if (head.body_until_close || draining_) exchange_.keep_downstream = false;
    if (head.upgrade) {
      mode = exchange_.connect ? ConnectionMode::kKeepAlive : ConnectionMode::kUpgrade;
    } else if (!exchange_.keep_downstream) {
      mode = ConnectionMode::kClose;
      exchange_.close_announced = true;
    }
    setDeadline(Phase::kStream, options().limits.idle_timeout);
  } else {
    exchange_.response_interim = true;  // 100 Continue, 103 Early Hints: forwarded as they are
  }
  down_head_.clear();
  if (!raw.empty() && responseForwardableAsIs(head, mode, raw)) {
    exchange_.raw_head = static_cast<uint32_t>(raw.size());
  } else {
    writeResponseHead(head, mode, down_head_);
  }
  exchange_.head_pending = true;
  return true;
}

template <class Stream>
void HttpSession<Stream>::onResponseEnd() {
  if (exchange_.response_interim) {
    exchange_.response_interim = false;
    readResponse();  // the final response follows
    return;
  }
  if (response_.upgraded()) {
    if (!exchange_.request_done) {  // an Upgrade with a body still streaming: no clean switch
      close(true);
      return;
    }
    startTunnel();
    return;
  }
  exchange_.response_done = true;
  if (exchange_.request_done) {
    finishExchange();
    return;
  }
  // The origin answered before the request body ended (413, an early 401...): the rest of that
  // body cannot be framed for another request, so both connections end here.
  exchange_.keep_downstream = false;
  exchange_.upstream_keep = false;
  finishExchange();
}

// ---------------------------------------------------------------- tunnel

template <class Stream>
void HttpSession<Stream>::startTunnel() {
  bump(counters_.tunnels);
  log_entry_.end(AccessVerdict::kForwarded);
  upstream_reusable_ = false;
  setDeadline(Phase::kStream, options().limits.idle_timeout);
  tunnel_open_ = 2;
  tunnel(true);
  tunnel(false);
}

// Moves what is buffered for one direction, then reads more: down_in_ carries client bytes
// upstream, up_in_ carries origin bytes downstream.
template <class Stream>
void HttpSession<Stream>::tunnel(bool to_upstream) {
  ByteBuffer& buffer = to_upstream ? down_in_ : up_in_;
  Stream& from = to_upstream ? down_ : Traits::stream(up_);
  Stream& to = to_upstream ? Traits::stream(up_) : down_;
  if (!buffer.empty()) {
    asio::async_write(to, asio::buffer(buffer.data()),
                      [self = this->shared_from_this(), to_upstream](error_code e, size_t n) {
                        self->onTunnelWritten(to_upstream, e, n);
                      });
    return;
  }
  from.async_read_some(buffer.space(),
                       [self = this->shared_from_this(), to_upstream](error_code e, size_t n) {
                         self->onTunnelRead(to_upstream, e, n);
                       });
}

template <class Stream>
void HttpSession<Stream>::onTunnelRead(bool to_upstream, const error_code& ec, size_t n) {
  if (!active()) return;
  if (Traits::endOfStream(ec)) {
    // Half-close: pass the FIN on and keep the other direction going until it ends too.
    const bool other_goes_on =
        to_upstream ? Traits::halfClose(Traits::stream(up_)) : Traits::halfClose(down_);
    if (--tunnel_open_ == 0 || !other_goes_on) close(false);
    return;
  }
  if (ec) return fail(ec, "tunnel read");
  touch();
  (to_upstream ? down_in_ : up_in_).commit(n);
  tunnel(to_upstream);
}

template <class Stream>
void HttpSession<Stream>::onTunnelWritten(bool to_upstream, const error_code& ec, size_t n) {
  if (!active()) return;
  if (ec) return fail(ec, "tunnel write");
  touch();
  (to_upstream ? down_in_ : up_in_).consume(n);
  tunnel(to_upstream);
}

template class HttpSession<Tcp::socket>;
template class HttpSession<TlsStream>;

}  // namespace portcullis::proxy
