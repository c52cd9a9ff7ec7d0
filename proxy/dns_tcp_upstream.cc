#include "proxy/dns_tcp_upstream.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
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
      return doWrite();
  }
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
  doWrite();
  doReadLength();
}

void DnsTcpUpstream::doWrite() {
  if (writing_ || to_write_.empty()) return;
  writing_ = true;
  const Bytes bytes = to_write_.front();
  boost::asio::async_write(
      socket_, boost::asio::buffer(*bytes),
      [self = shared_from_this(), generation = generation_, bytes](
          const boost::system::error_code& ec, size_t) { self->onWrite(generation, ec); });
}

void DnsTcpUpstream::onWrite(uint64_t generation, const boost::system::error_code& ec) {
  if (closed_ || generation != generation_) return;
  writing_ = false;
  if (ec) return onConnectionLost(toStd(ec));
  to_write_.pop_front();
  doWrite();
}

void DnsTcpUpstream::doReadLength() {
  boost::asio::async_read(
      socket_, boost::asio::buffer(length_),
      [self = shared_from_this(), generation = generation_](
          const boost::system::error_code& ec, size_t) { self->onLength(generation, ec); });
}

void DnsTcpUpstream::onLength(uint64_t generation, const boost::system::error_code& ec) {
  if (closed_ || generation != generation_) return;
  if (ec) return onConnectionLost(toStd(ec));
  answer_.resize(size_t{length_[0]} << 8 | length_[1]);
  boost::asio::async_read(
      socket_, boost::asio::buffer(answer_),
      [self = shared_from_this(), generation](const boost::system::error_code& e, size_t) {
        self->onAnswer(generation, e);
      });
}

void DnsTcpUpstream::onAnswer(uint64_t generation, const boost::system::error_code& ec) {
  if (closed_ || generation != generation_) return;
  if (ec) return onConnectionLost(toStd(ec));
  if (const auto header = parseDnsHeader(answer_); header && header->qr()) {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      const DnsMessage& q = it->query.query.query;
      if (q.header.id == header->id && dnsQuestionMatches(answer_, q.question)) {
        finish(it, {}, answer_);
        break;
      }
    }
  }
  // An unmatched answer (its query timed out) is dropped.
  if (!closed_ && generation == generation_) doReadLength();
}

void DnsTcpUpstream::onConnectionLost(std::error_code ec) {
  ++generation_;
  state_ = State::kIdle;
  writing_ = false;
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
