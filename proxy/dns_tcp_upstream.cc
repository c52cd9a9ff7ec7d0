#include "proxy/dns_tcp_upstream.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "proxy/dns_socket.h"

namespace portcullis::proxy {
namespace {

// A server closing the connection is a reset for the queries still on it.
std::error_code toStd(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::eof) return std::make_error_code(std::errc::connection_reset);
  return toStdError(ec);
}

}  // namespace

DnsTcpUpstream::DnsTcpUpstream(const boost::asio::any_io_executor& executor, tcp::endpoint server,
                               uint32_t mark, Duration timeout, Done done, Closed closed)
    : executor_(executor),
      socket_(executor),
      server_(std::move(server)),
      mark_(mark),
      done_(std::move(done)),
      closed_by_server_(std::move(closed)),
      pending_(executor, timeout,
               [this](PendingQueries::Iterator it, std::error_code ec) { finish(it, ec, {}); }) {}

void DnsTcpUpstream::forward(std::span<const uint8_t> message, Query query) {
  auto framed = std::make_shared<std::vector<uint8_t>>(message.size() + 2);
  (*framed)[0] = static_cast<uint8_t>(message.size() >> 8);
  (*framed)[1] = static_cast<uint8_t>(message.size());
  std::copy(message.begin(), message.end(), framed->begin() + 2);
  pending_.push({std::move(query), framed, false}, shared_from_this());
  to_write_.push_back(std::move(framed));
  switch (state_) {
    case State::kIdle:
      return connect();
    case State::kConnecting:
      return;
    case State::kConnected:
      break;
  }
  // Queries forwarded together (a client's pipelined segment) leave in one write.
  if (writing_ || write_posted_) return;
  write_posted_ = true;
  boost::asio::post(executor_, [self = shared_from_this()] {
    self->write_posted_ = false;
    if (!self->closed_ && self->state_ == State::kConnected) self->doWrite();
  });
}

void DnsTcpUpstream::connect() {
  state_ = State::kConnecting;
  const uint64_t generation = ++generation_;
  socket_ = tcp::socket(executor_);
  boost::system::error_code ec;
  socket_.open(server_.protocol(), ec);
  std::error_code failure = toStd(ec);
  if (!failure) failure = setMark(socket_.native_handle(), mark_);
  if (!failure) socket_.set_option(tcp::no_delay(true), ec);
  if (!failure) failure = toStd(ec);
  if (failure) {
    // Reported from the executor, never from inside forward().
    boost::asio::post(executor_, [self = shared_from_this(), generation, failure] {
      if (self->generation_ == generation && !self->closed_) {
        self->state_ = State::kIdle;
        self->to_write_.clear();
        self->pending_.failAll(failure);
      }
    });
    return;
  }
  socket_.async_connect(
      server_, [self = shared_from_this(), generation](const boost::system::error_code& e) {
        self->onConnect(generation, e);
      });
}

void DnsTcpUpstream::onConnect(uint64_t generation, const boost::system::error_code& ec) {
  if (closed_ || generation != generation_) return;
  if (ec) {
    // No connection at all: a second try would meet the same refusal.
    state_ = State::kIdle;
    to_write_.clear();
    return pending_.failAll(toStd(ec));
  }
  state_ = State::kConnected;
  reader_ = DnsTcpReader();
  doWrite();
  doRead();
}

void DnsTcpUpstream::doWrite() {
  if (writing_ || to_write_.empty()) return;
  writing_ = true;
  writing_count_ = to_write_.size();
  auto done = [self = shared_from_this(), generation = generation_](
                  const boost::system::error_code& ec, size_t) { self->onWrite(generation, ec); };
  // to_write_'s front entries stay until the write completes, keeping the bytes alive.
  if (writing_count_ == 1)
    return boost::asio::async_write(socket_, boost::asio::buffer(*to_write_.front()),
                                    std::move(done));
  gather_.clear();
  for (const Bytes& bytes : to_write_) gather_.push_back(boost::asio::buffer(*bytes));
  boost::asio::async_write(socket_, gather_, std::move(done));  // asio copies the sequence
}

void DnsTcpUpstream::onWrite(uint64_t generation, const boost::system::error_code& ec) {
  if (closed_ || generation != generation_) return;
  writing_ = false;
  if (ec) return onConnectionLost(toStd(ec));
  to_write_.erase(to_write_.begin(), to_write_.begin() + static_cast<ptrdiff_t>(writing_count_));
  writing_count_ = 0;
  doWrite();
}

void DnsTcpUpstream::doRead() {
  socket_.async_read_some(reader_.space(), [self = shared_from_this(), generation = generation_](
                                               const boost::system::error_code& ec, size_t n) {
    self->onRead(generation, ec, n);
  });
}

void DnsTcpUpstream::onRead(uint64_t generation, const boost::system::error_code& ec, size_t n) {
  if (closed_ || generation != generation_) return;
  if (ec) return onConnectionLost(toStd(ec));
  reader_.commit(n);
  while (const std::optional<std::span<const uint8_t>> answer = reader_.next()) {
    onAnswer(*answer);
    if (closed_ || generation != generation_) return;
  }
  doRead();
}

void DnsTcpUpstream::onAnswer(std::span<const uint8_t> answer) {
  const auto header = parseDnsHeader(answer);
  if (!header || !header->qr()) return;
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    const DnsMessage& q = it->query.query.query;
    if (q.header.id == header->id && dnsQuestionMatches(answer, q.question)) {
      return finish(it, {}, answer);
    }
  }
  // An unmatched answer (its query timed out) is dropped.
}

void DnsTcpUpstream::onConnectionLost(std::error_code ec) {
  ++generation_;
  state_ = State::kIdle;
  writing_ = false;
  writing_count_ = 0;
  boost::system::error_code ignored;
  socket_.close(ignored);
  to_write_.clear();
  if (pending_.empty()) {
    // Nothing lost: the server closed an idle connection (dnsmasq does after 100 queries).
    if (closed_by_server_) closed_by_server_();
    return;
  }
  for (auto it = pending_.begin(); it != pending_.end() && !closed_;) {
    if (it->query.resent) {
      finish(it++, ec, {});
    } else {
      it->query.resent = true;
      to_write_.push_back(it->query.framed);
      ++it;
    }
  }
  if (!closed_ && !to_write_.empty()) connect();
}

void DnsTcpUpstream::finish(PendingQueries::Iterator it, std::error_code ec,
                            std::span<const uint8_t> answer) {
  Pending pending = pending_.take(it);
  if (!closed_) done_(pending.query, ec, answer);
}

void DnsTcpUpstream::close() {
  if (closed_) return;
  closed_ = true;
  ++generation_;
  pending_.close();
  boost::system::error_code ignored;
  socket_.close(ignored);
  to_write_.clear();
}

}  // namespace portcullis::proxy
