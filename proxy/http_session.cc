// The downstream half of HttpSession: reading requests, the verdict, canned answers, endings and
// timeouts. The upstream half (connect, response, tunnel) is in http_session_upstream.cc.
#include "proxy/http_session.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <boost/asio/write.hpp>
#include <cstring>
#include <type_traits>

#include "common/log.h"
#include "proxy/asio_address.h"
#include "proxy/http_forwarding.h"
#include "proxy/http_responses.h"
#include "proxy/tls_origin.h"

namespace portcullis::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

template <class Stream>
HttpSession<Stream>::HttpSession(Stream downstream, Tcp::endpoint client,
                                 std::shared_ptr<HttpProxyContext> context,
                                 HttpCounters::Shard& counters, Upstream upstream)
    : down_(std::move(downstream)),
      up_(std::move(upstream)),
      timer_(down_.get_executor()),
      context_(std::move(context)),
      counters_(counters),
      client_(client),
      request_(HttpParser::Type::kRequest,
               {options().limits.max_header_bytes, options().max_headers}),
      response_(HttpParser::Type::kResponse,
                {options().limits.max_header_bytes, options().max_headers}),
      down_in_(options().buffer_bytes),
      up_in_(options().buffer_bytes) {
  bump(counters_.connections_accepted);
  bump(counters_.connections_active);
}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
  drop(counters_.connections_active);
  context_->release();
  context_->remove(this);
}

template <class Stream>
void HttpSession<Stream>::start() {
  std::error_code dst_ec;
  destination_ = context_->originalDestination(Traits::tcp(down_), dst_ec);
  if (dst_ec) {
    close(true);
    return;
  }
  if (context_->isOwnEndpoint(destination_)) {
    bump(counters_.loops_refused);
    log::debug(options().name, ": refused a connection to the proxy itself from ", client_);
    close(true);
    return;
  }
  flow_ = {options().direction, flowAddress(client_.address()), flowAddress(destination_.address()),
           destination_.port(), policy::Protocol::kTcp};
  // A plain session's socket comes from HttpProxy's listener, which has TCP_NODELAY for its
  // accepted sockets to inherit.
  if constexpr (!std::is_same_v<Stream, Tcp::socket>) {
    error_code ignored;
    Traits::tcp(down_).set_option(Tcp::no_delay(true), ignored);
  }
  log_entry_.attach(options().access_log.get(), options().name, options().direction, client_,
                    destination_);
  setDeadline(Phase::kHeader, options().limits.header_timeout);
  readRequestHead();
}

template <class Stream>
void HttpSession<Stream>::drain() {
  if (!active() || draining_) return;
  draining_ = true;
  if (phase_ == Phase::kIdle || phase_ == Phase::kHeader) {
    // Between requests no exchange is left to finish, but the last response may still sit in
    // the socket buffers for a client that reads slowly: a reset now would destroy it.
    stage_ = Stage::kClosing;
    closeUpstream();
    resetWhenDelivered();
    return;
  }
  exchange_.keep_downstream = false;  // the response head, if still to come, says close
}

template <class Stream>
void HttpSession<Stream>::abort() {
  if (stage_ != Stage::kClosed) close(true);
}

// ---------------------------------------------------------------- request head

template <class Stream>
void HttpSession<Stream>::readRequestHead() {
  exchange_ = Exchange{};
  const std::string_view input = down_in_.data();
  const HttpParser::Step step = request_.parse(input);
  down_in_.consume(step.consumed);  // the bytes stay where they are until the next read
  switch (step.event) {
    case HttpParser::Event::kHead:
      onRequestHead(step.consumed == request_.headSize() ? input.substr(0, step.consumed)
                                                         : std::string_view{});
      return;
    case HttpParser::Event::kError: {
      bump(counters_.parse_errors);
      log_entry_.beginMalformed();
      log::debug(options().name, ": 400 for ", client_, ": ", request_.error().message(), " (",
                 request_.errorDetail(), ")");
      respondAndClose(kBadRequest);
      return;
    }
    case HttpParser::Event::kMessageEnd:  // a head always comes first
    case HttpParser::Event::kNeedMore:
      break;
  }
  if (!request_.idle()) {
    // Part of a head is here: from now on the rest must come within header-timeout.
    if (phase_ != Phase::kHeader) setDeadline(Phase::kHeader, options().limits.header_timeout);
    down_.async_read_some(down_in_.space(),
                          [self = this->shared_from_this()](error_code e, size_t n) {
                            self->onRequestHeadRead(e, n);
                          });
    return;
  }
  if constexpr (Traits::kIdleWaitWithoutBuffer) {
    // Between requests: no buffer held (idle connections are cheap). down_in_ is empty here,
    // and the read is no larger than it, so onIdleRead can always move the bytes there.
    down_in_.release();
    up_in_.release();
    const size_t size = std::min(idle_read_.size(), options().buffer_bytes);
    down_.async_read_some(asio::buffer(idle_read_.data(), size),
                          [self = this->shared_from_this()](error_code e, size_t n) {
                            self->onIdleRead(e, n);
                          });
  } else {
    down_.async_read_some(down_in_.space(),
                          [self = this->shared_from_this()](error_code e, size_t n) {
                            self->onRequestHeadRead(e, n);
                          });
  }
}

template <class Stream>
void HttpSession<Stream>::onIdleRead(const error_code& ec, size_t n) {
  if (!active()) return;
  if (!ec) {
    const asio::mutable_buffer space = down_in_.space();
    std::memcpy(space.data(), idle_read_.data(), std::min(n, space.size()));
  }
  onRequestHeadRead(ec, n);
}

template <class Stream>
void HttpSession<Stream>::onRequestHeadRead(const error_code& ec, size_t n) {
  if (!active()) return;
  if (Traits::endOfStream(ec)) {
    // The client closed: between requests that is the normal end of a keep-alive connection.
    close(false);
    return;
  }
  if (ec) return fail(ec, "read request");
  down_in_.commit(n);
  readRequestHead();
}

template <class Stream>
void HttpSession<Stream>::onRequestHead(std::string_view raw) {
  const HttpHead& head = request_.head();
  exchange_.connect = head.isConnect();
  exchange_.keep_downstream = head.keep_alive && !head.isHttp10() && !draining_;
  exchange_.client_closes = !head.keep_alive;
  const std::string_view host = requestHost(head);
  const policy::HttpVerdict verdict = judge(head, host);
  log_entry_.begin(head.method, host, head.target, verdict.rule);
  if (!verdict.allowed) {
    bump(counters_.requests_denied);
    log::debug(options().name, ": 403 ", head.method, " ", head.target, " from ", client_, " to ",
               destination_, verdict.rule.empty() ? "" : " rule ", verdict.rule);
    deny();
    return;
  }
  bump(counters_.requests_allowed);
  exchange_.upgrade = head.upgrade;
  // The origin's hop is managed apart from the client's (Connection is hop-by-hop, RFC 9110
  // 7.6.1): it is asked to stay open even when the client's is closing, and reset once the
  // response is complete (finishExchange), as HAProxy does. The origin then neither sends a FIN
  // nor keeps a TIME_WAIT socket, and the proxy receives two segments fewer per connection.
  ConnectionMode mode = ConnectionMode::kKeepAlive;
  if (head.upgrade && !exchange_.connect) mode = ConnectionMode::kUpgrade;
  up_head_.clear();
  if (!raw.empty() && requestForwardableAsIs(head, verdict.edits, mode, raw)) {
    up_head_.assign(raw);  // kept for a retry: the buffer it is in is reused
  } else {
    writeRequestHead(head, verdict.edits, mode, up_head_);
  }
  response_.expectResponseTo(head.method == "HEAD" ? HttpParser::RequestKind::kHead
                             : exchange_.connect   ? HttpParser::RequestKind::kConnect
                                                   : HttpParser::RequestKind::kNormal);
  if (Traits::tcp(up_).is_open() && upstream_reusable_) {
    upstream_reused_ = true;
    setDeadline(Phase::kStream, options().limits.idle_timeout);
    writeUpstreamHead();
  } else {
    connectUpstream();
  }
}

template <class Stream>
policy::HttpVerdict HttpSession<Stream>::judge(const HttpHead& head, std::string_view host) {
  if (context_->policies().refresh(policy_, policy_generation_)) {
    // matchFlow once per connection, again only when a reload swapped the policy.
    rules_ = policy_ ? Traits::rules(*policy_, flow_, up_) : policy::FlowRules{};
  }
  if (!policy_) return {};  // no policy loaded: nothing is allowed
  header_views_.clear();
  header_views_.reserve(head.headers.size());  // one allocation, not one per doubling
  for (const HttpHeader& h : head.headers) header_views_.push_back({h.name, h.value});
  const policy::HttpRequestView view{head.method, head.target, host, header_views_};
  return policy_->http(rules_, view);
}

// ---------------------------------------------------------------- denied requests

template <class Stream>
void HttpSession<Stream>::deny() {
  const HttpHead& head = request_.head();
  // The connection survives a 403 only if the request's body can be read off it first: a CONNECT
  // would be followed by tunnel bytes, a client waiting for 100-continue may never send the body.
  const bool unframed = exchange_.connect || (head.hasBody() && head.expectsContinue()) ||
                        head.content_length.value_or(0) > options().max_discard_bytes;
  if (unframed) exchange_.keep_downstream = false;
  if (unframed || !exchange_.keep_downstream) {
    respondAndClose(kForbiddenClose);
    return;
  }
  log_entry_.endWithAnswer(kForbidden, false);
  setDeadline(Phase::kStream, options().limits.idle_timeout);
  discardRequestBody();
}

template <class Stream>
void HttpSession<Stream>::discardRequestBody() {
  const HttpParser::Step step = request_.parse(down_in_.data());
  down_in_.consume(step.consumed);
  exchange_.discarded += step.consumed;
  if (exchange_.discarded > options().max_discard_bytes) {
    respondAndClose(kForbiddenClose);
    return;
  }
  switch (step.event) {
    case HttpParser::Event::kMessageEnd:
      request_.resumeAfterUpgrade();  // a refused Upgrade: the connection stays HTTP
      respond(kForbidden, true);
      return;
    case HttpParser::Event::kError:
      bump(counters_.parse_errors);
      respondAndClose(kBadRequest);
      return;
    case HttpParser::Event::kHead:
    case HttpParser::Event::kNeedMore:
      break;
  }
  down_.async_read_some(
      down_in_.space(),
      [self = this->shared_from_this()](error_code e, size_t n) { self->onDiscardRead(e, n); });
}

template <class Stream>
void HttpSession<Stream>::onDiscardRead(const error_code& ec, size_t n) {
  if (!active()) return;
  if (ec) return fail(ec, "read denied body");
  touch();
  down_in_.commit(n);
  discardRequestBody();
}

// ---------------------------------------------------------------- request body

template <class Stream>
void HttpSession<Stream>::pumpRequestBody() {
  const HttpParser::Step step = request_.parse(down_in_.data());
  if (step.event == HttpParser::Event::kError) {
    // The head went upstream already; the origin sees a cut request, the client a 400 if no
    // response started, and neither connection is reused.
    bump(counters_.parse_errors);
    respondAndClose(kBadRequest);
    return;
  }
  if (step.consumed == 0) {
    afterRequestBody(step.event);
    return;
  }
  asio::async_write(Traits::stream(up_), asio::buffer(down_in_.data().substr(0, step.consumed)),
                    [self = this->shared_from_this(), event = step.event](error_code e, size_t n) {
                      self->onRequestBodyWritten(e, event, n);
                    });
}

template <class Stream>
void HttpSession<Stream>::onRequestBodyWritten(const error_code& ec, HttpParser::Event event,
                                               size_t n) {
  if (!active()) return;
  if (ec) {
    // The origin stopped reading; if it answered early, that answer is on its way down.
    log::debug(options().name, ": upstream write: ", ec.message());
    if (!exchange_.response_started) {
      bump(counters_.upstream_errors);
      respondAndClose(kBadGateway);
    }
    return;
  }
  down_in_.consume(n);
  afterRequestBody(event);
}

template <class Stream>
void HttpSession<Stream>::afterRequestBody(HttpParser::Event event) {
  touch();
  if (event == HttpParser::Event::kMessageEnd) {
    exchange_.request_done = true;
    if (!exchange_.response_started) {
      setDeadline(Phase::kResponse, options().response_timeout);
    }
    if (exchange_.response_done) finishExchange();
    return;
  }
  down_.async_read_some(
      down_in_.space(),
      [self = this->shared_from_this()](error_code e, size_t n) { self->onRequestBodyRead(e, n); });
}

template <class Stream>
void HttpSession<Stream>::onRequestBodyRead(const error_code& ec, size_t n) {
  if (!active()) return;
  if (ec) return fail(ec, "read request body");
  down_in_.commit(n);
  pumpRequestBody();
}

// Both the request and its final response are complete.
template <class Stream>
void HttpSession<Stream>::finishExchange() {
  log_entry_.end(AccessVerdict::kForwarded);
  // An origin connection that will not carry another request is reset: its response is
  // complete, so nothing is lost, and neither side goes through FIN/ACK or keeps a TIME_WAIT
  // socket.
  if (!exchange_.upstream_keep || !exchange_.keep_downstream || draining_) closeUpstream(true);
  upstream_reusable_ = exchange_.upstream_keep && Traits::tcp(up_).is_open();
  if (!exchange_.keep_downstream || draining_) {
    endAfterResponse(exchange_.close_announced || exchange_.response_until_close);
    return;
  }
  request_.resumeAfterUpgrade();  // an Upgrade the origin declined
  setDeadline(Phase::kIdle, options().limits.idle_timeout);
  readRequestHead();
}

// ---------------------------------------------------------------- endings

template <class Stream>
void HttpSession<Stream>::respond(std::string_view canned, bool keep_alive) {
  asio::async_write(down_, asio::buffer(canned),
                    [self = this->shared_from_this(), keep_alive](error_code e, size_t) {
                      if (!self->active()) return;
                      if (e) return self->fail(e, "write response");
                      if (!keep_alive || self->draining_)
                        return self->endAfterResponse(!keep_alive);
                      self->setDeadline(Phase::kIdle, self->options().limits.idle_timeout);
                      self->readRequestHead();
                    });
}

template <class Stream>
void HttpSession<Stream>::respondAndClose(std::string_view canned) {
  if (!active()) return;
  log_entry_.endWithAnswer(canned, exchange_.response_started);
  closeUpstream();
  if (exchange_.response_started) {
    close(true);  // mid-response: the client can only learn of the failure by the reset
    return;
  }
  exchange_.response_started = true;
  stage_ = Stage::kClosing;
  error_code ignored;
  Traits::tcp(down_).cancel(ignored);  // a pending body read must not race the answer
  setDeadline(Phase::kLinger, options().linger_timeout);
  asio::async_write(down_, asio::buffer(canned),
                    [self = this->shared_from_this()](error_code e, size_t) {
                      if (self->stage_ != Stage::kClosing) return;
                      if (e) return self->close(true);
                      self->lingerClose();
                    });
}

// A client told "Connection: close" closes by itself; one that was promised keep-alive before a
// shutdown began would wait: it is reset once it has acknowledged the whole response.
template <class Stream>
void HttpSession<Stream>::endAfterResponse(bool close_announced) {
  if (draining_ && !close_announced) {
    stage_ = Stage::kClosing;
    closeUpstream();
    resetWhenDelivered();
    return;
  }
  lingerClose();
}

template <class Stream>
void HttpSession<Stream>::resetWhenDelivered() {
  if (unsentBytes(Traits::tcp(down_)) == 0) {
    close(true);
    return;
  }
  setDeadline(Phase::kFlush, std::chrono::milliseconds(10));
}

// Ends the connection after the last response: our FIN goes out at once, and what the client
// still sends is read and dropped until it closes too (so that unread bytes do not turn the
// close into a reset that could destroy the response in flight; nginx's lingering close).
// While draining for shutdown the client, told "Connection: close", is left to close first:
// the proxy's socket then never enters TIME_WAIT with the original destination's 4-tuple.
// Inside TLS, our close_notify goes first; what follows it is read below the TLS layer.
template <class Stream>
void HttpSession<Stream>::lingerClose() {
  if (stage_ == Stage::kClosed) return;
  if constexpr (std::is_same_v<Stream, Tcp::socket>) {
    if (exchange_.client_closes && exchange_.request_done && down_in_.empty() && !draining_) {
      // The client said this request was its last and all of it was read: it sends nothing
      // more that could turn the close into a reset, so close now, as HAProxy does (the FIN
      // leaves at the same moment as with the lingering close, so TIME_WAIT falls on the
      // same side), without a read, a wakeup and a timer for its FIN.
      close(false);
      return;
    }
  }
  stage_ = Stage::kClosing;
  closeUpstream();
  error_code ignored;
  Traits::tcp(down_).cancel(ignored);  // a pending request read gives way to the linger read
  setDeadline(Phase::kLinger, options().linger_timeout);
  Traits::closeSend(down_, !draining_ || exchange_.response_until_close, *this,
                    &HttpSession::afterCloseSend);
}

template <class Stream>
void HttpSession<Stream>::afterCloseSend() {
  if (stage_ == Stage::kClosing) lingerRead();
}

template <class Stream>
void HttpSession<Stream>::lingerRead() {
  down_in_.consume(down_in_.data().size());
  Traits::tcp(down_).async_read_some(down_in_.space(),
                                     [self = this->shared_from_this()](error_code e, size_t n) {
                                       if (self->stage_ != Stage::kClosing) return;
                                       if (e) return self->close(false);
                                       self->down_in_.commit(n);
                                       self->lingerRead();
                                     });
}

template <class Stream>
void HttpSession<Stream>::closeUpstream(bool abortive) {
  error_code ignored;
  Tcp::socket& up = Traits::tcp(up_);
  if (up.is_open()) {
    // An idle origin connection (its last response complete, no request sent on it since) is
    // reset too, as one not kept is (finishExchange): nothing is in flight, and a FIN would
    // leave the proxy a TIME_WAIT socket holding an ephemeral port toward that origin for a
    // minute, one for every keep-alive client that leaves.
    const bool idle = upstream_reusable_ && (phase_ == Phase::kIdle || phase_ == Phase::kHeader);
    if (abortive || idle) setAbortiveClose(up);
    up.close(ignored);
  }
  upstream_reusable_ = false;
  upstream_connecting_ = false;
}

template <class Stream>
void HttpSession<Stream>::close(bool abortive) {
  if (stage_ == Stage::kClosed) return;
  stage_ = Stage::kClosed;
  log_entry_.end(AccessVerdict::kError, "connection closed");
  error_code ignored;
  timer_.cancel();
  closeUpstream();
  if (abortive) setAbortiveClose(Traits::tcp(down_));
  Traits::tcp(down_).close(ignored);
}

template <class Stream>
void HttpSession<Stream>::fail(const error_code& ec, std::string_view where) {
  if (ec == asio::error::operation_aborted || !active()) return;
  const bool end = Traits::endOfStream(ec);
  if (!end && ec != asio::error::connection_reset) {
    log::debug(options().name, ": ", where, ": ", ec.message(), " (client ", client_, ")");
  }
  close(!end);
}

template <class Stream>
bool HttpSession<Stream>::sendAtOnce(Tcp::socket& socket,
                                     std::array<asio::const_buffer, 2>& buffers,
                                     error_code* error) {
  if constexpr (!std::is_same_v<Stream, Tcp::socket>) {
    return false;  // TLS: the bytes must go through the TLS stream
  } else {
    constexpr uint8_t kMaxNested = 4;
    if (inline_sends_ >= kMaxNested) return false;
    std::array<iovec, 2> iov{};
    size_t count = 0;
    size_t total = 0;
    for (const asio::const_buffer& b : buffers) {
      if (b.size() == 0) continue;
      // iovec takes a non-const pointer; sendmsg only reads through it.
      iov[count++] = {const_cast<void*>(b.data()), b.size()};
      total += b.size();
    }
    if (total == 0) return true;
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    const ssize_t n = ::sendmsg(socket.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && error != nullptr && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      *error = error_code(errno, boost::system::system_category());
      return true;
    }
    if (n <= 0) return false;
    size_t left = static_cast<size_t>(n);
    for (asio::const_buffer& b : buffers) {
      const size_t taken = std::min(left, b.size());
      b += taken;
      left -= taken;
    }
    return static_cast<size_t>(n) == total;
  }
}

// ---------------------------------------------------------------- time

// One timer per session, re-armed only when a deadline moves earlier: moving it later (the
// common case, every request) costs a clock read and no system call.
template <class Stream>
void HttpSession<Stream>::setDeadline(Phase phase, Duration timeout) {
  phase_ = phase;
  deadline_ = Clock::now() + timeout;
  if (!timer_armed_ || deadline_ < timer_expiry_) armTimer();
}

template <class Stream>
void HttpSession<Stream>::touch() {
  if (phase_ == Phase::kStream) deadline_ = Clock::now() + options().limits.idle_timeout;
}

template <class Stream>
void HttpSession<Stream>::armTimer() {
  timer_armed_ = true;
  timer_expiry_ = deadline_;
  timer_.expires_at(deadline_);
  timer_.async_wait([self = this->shared_from_this(), seq = ++timer_seq_](error_code e) {
    self->onTimer(e, seq);
  });
}

template <class Stream>
void HttpSession<Stream>::onTimer(const error_code& /*ec*/, uint64_t seq) {
  if (seq != timer_seq_ || stage_ == Stage::kClosed) return;
  timer_armed_ = false;
  if (Clock::now() < deadline_) {
    armTimer();
    return;
  }
  onTimeout();
}

template <class Stream>
void HttpSession<Stream>::onTimeout() {
  switch (phase_) {
    case Phase::kHeader:
      bump(counters_.header_timeouts);
      log::debug(options().name, ": header timeout for ", client_);
      close(true);
      return;
    case Phase::kIdle:
      bump(counters_.idle_timeouts);
      close(false);
      return;
    case Phase::kConnect:
    case Phase::kResponse:
      bump(counters_.upstream_timeouts);
      log::debug(options().name, ": 504 for ", client_, ": ", destination_, " timed out");
      respondAndClose(kGatewayTimeout);
      return;
    case Phase::kStream:
      bump(counters_.idle_timeouts);
      close(true);
      return;
    case Phase::kLinger:
      close(draining_);
      return;
    case Phase::kFlush:
      resetWhenDelivered();
      return;
  }
}

template class HttpSession<Tcp::socket>;
template class HttpSession<TlsStream>;

}  // namespace portcullis::proxy
