#include "proxy/dns_tcp_session.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "common/log.h"

namespace portcullis::proxy {

DnsTcpSession::DnsTcpSession(tcp::socket socket, tcp::endpoint server, policy::Flow flow,
                             std::shared_ptr<const DnsListenerOptions> options,
                             std::shared_ptr<DnsPolicyGate> gate, OnClose on_close)
    : socket_(std::move(socket)),
      idle_timer_(socket_.get_executor()),
      server_(std::move(server)),
      flow_(flow),
      options_(std::move(options)),
      gate_(std::move(gate)),
      on_close_(std::move(on_close)) {}

void DnsTcpSession::start() {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  memo_.client_port = socket_.remote_endpoint(ignored).port();  // for the access log
  last_activity_ = std::chrono::steady_clock::now();
  idle_timer_.expires_at(last_activity_ + options_->tcp_idle_timeout);
  armIdleTimer();
  resume();
}

void DnsTcpSession::close() {
  if (closed_) return;
  closed_ = true;
  idle_timer_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (upstream_) upstream_->close();
  if (on_close_) std::exchange(on_close_, nullptr)(*this);
}

void DnsTcpSession::resume() {
  if (closed_) return;
  while (pending() < options_->max_tcp_pipeline) {
    const std::optional<std::span<const uint8_t>> message = reader_.next();
    if (!message) break;
    handle(*message);
  }
  if (client_done_ || server_done_) {
    if (pending() == 0) close();
    return;
  }
  if (reading_ || pending() >= options_->max_tcp_pipeline) return;
  doRead();
}

void DnsTcpSession::doRead() {
  reading_ = true;
  socket_.async_read_some(
      reader_.space(), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        self->onRead(ec, n);
      });
}

void DnsTcpSession::onRead(const boost::system::error_code& ec, size_t n) {
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  reading_ = false;
  if (ec == boost::asio::error::eof && !reader_.holding()) {
    client_done_ = true;
    return resume();
  }
  if (ec) return close();  // EOF inside a message breaks the framing: nothing left to answer
  reader_.commit(n);
  last_activity_ = std::chrono::steady_clock::now();
  resume();
}

void DnsTcpSession::handle(std::span<const uint8_t> message) {
  if (message.empty()) {
    bump(gate_->counters().malformed);
    return;
  }
  DnsDecision decision = gate_->judge(flow_, message, memo_);
  switch (decision.kind) {
    case DnsDecision::Kind::kDrop:
      return;
    case DnsDecision::Kind::kAnswer:
      return send(decision.answer);
    case DnsDecision::Kind::kForward:
      break;
  }
  if (!upstream_) {
    upstream_ = std::make_shared<DnsTcpUpstream>(
        socket_.get_executor(), server_, options_->upstream_mark, gate_->options().upstream_timeout,
        [weak = weak_from_this()](DnsTcpUpstream::Query& query, std::error_code ec,
                                  std::span<const uint8_t> answer) {
          if (auto self = weak.lock()) self->onUpstream(query, ec, answer);
        },
        [weak = weak_from_this()] {
          if (auto self = weak.lock()) self->onServerClosed();
        });
  }
  upstream_->forward(message, {std::move(decision.query), std::move(decision.slot)});
}

size_t DnsTcpSession::forwarded() const { return upstream_ ? upstream_->pending() : 0; }

void DnsTcpSession::onUpstream(DnsTcpUpstream::Query& query, std::error_code ec,
                               std::span<const uint8_t> answer) {
  query.slot.reset();
  if (closed_) return;
  last_activity_ = std::chrono::steady_clock::now();
  if (ec) {
    log::debug("dns: tcp upstream ", server_.address().to_string(), ":", server_.port(), " for ",
               query.query.question.name, ": ", ec.message());
    send(gate_->failed(query.query, ec == std::errc::timed_out));
  } else {
    gate_->answered(query.query, answer);
    send(answer);
  }
  resume();
}

// A transparent proxy's client should see the server's close as it would without the proxy:
// clients that count on it (dnsperf's reconnect after num-queries-per-conn waits on the old
// connection's EOF; bench/README.md "DNS over TCP") would otherwise stall, and the connection
// would stay open toward a server that no longer serves it. A query the client has already sent
// (being read, or waiting in the socket) keeps the connection: it is forwarded on a new
// upstream connection. One still on the wire meets the close as it would meet the server's.
void DnsTcpSession::onServerClosed() {
  if (closed_ || client_done_ || reader_.holding()) return;
  boost::system::error_code ec;
  if (socket_.available(ec) > 0 || ec) return;
  server_done_ = true;
  resume();
}

void DnsTcpSession::send(std::span<const uint8_t> answer) {
  queued_.push_back(static_cast<uint8_t>(answer.size() >> 8));
  queued_.push_back(static_cast<uint8_t>(answer.size()));
  queued_.insert(queued_.end(), answer.begin(), answer.end());
  ++queued_answers_;
  if (writing_ || write_posted_) return;
  write_posted_ = true;
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->write_posted_ = false;
    self->doWrite();
  });
}

void DnsTcpSession::doWrite() {
  if (writing_ || queued_answers_ == 0 || closed_) return;
  writing_ = true;
  std::swap(writing_buffer_, queued_);
  writing_answers_ = std::exchange(queued_answers_, 0);
  boost::asio::async_write(socket_, boost::asio::buffer(writing_buffer_),
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       size_t) { self->onWrite(ec); });
}

void DnsTcpSession::onWrite(const boost::system::error_code& ec) {
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  writing_ = false;
  if (ec) {
    bump(gate_->counters().reply_failures);
    return close();
  }
  writing_buffer_.clear();
  // Kept for the next answers, unless a large batch grew it: idle connections stay small.
  if (writing_buffer_.capacity() > 4 * DnsTcpReader::kStartSize) writing_buffer_ = {};
  writing_answers_ = 0;
  last_activity_ = std::chrono::steady_clock::now();
  doWrite();
  resume();
}

void DnsTcpSession::armIdleTimer() {
  idle_timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) { self->onIdleTimer(ec); });
}

void DnsTcpSession::onIdleTimer(const boost::system::error_code& ec) {
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = last_activity_ + options_->tcp_idle_timeout;
  // Forwarded queries end by their own timeout; a client that stops sending mid-message or
  // stops reading its answers makes no progress and is closed.
  if (forwarded() == 0 && now >= deadline) return close();
  idle_timer_.expires_at(forwarded() == 0 ? deadline : now + options_->tcp_idle_timeout);
  armIdleTimer();
}

}  // namespace portcullis::proxy
