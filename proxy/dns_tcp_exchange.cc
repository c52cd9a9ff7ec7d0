#include "proxy/dns_tcp_exchange.h"

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "proxy/dns_socket.h"

namespace portcullis::proxy {
namespace {

std::error_code toStd(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::eof) return std::make_error_code(std::errc::connection_reset);
  return {ec.value(), std::system_category()};
}

}  // namespace

DnsTcpExchange::DnsTcpExchange(const boost::asio::any_io_executor& executor, tcp::endpoint server,
                               DnsMessage query, DnsInFlightSlot slot, Done done)
    : socket_(executor),
      timer_(executor),
      server_(std::move(server)),
      query_(std::move(query)),
      slot_(std::move(slot)),
      done_(std::move(done)) {}

void DnsTcpExchange::start(std::span<const uint8_t> query, uint32_t mark, Duration timeout) {
  buffer_.reserve(query.size() + 2);
  buffer_.push_back(static_cast<uint8_t>(query.size() >> 8));
  buffer_.push_back(static_cast<uint8_t>(query.size()));
  buffer_.insert(buffer_.end(), query.begin(), query.end());

  boost::system::error_code ec;
  socket_.open(server_.protocol(), ec);
  std::error_code failure = toStd(ec);
  if (!failure) failure = setMark(socket_.native_handle(), mark);
  if (!failure) socket_.set_option(tcp::no_delay(true), ec);
  if (!failure) failure = toStd(ec);
  if (failure) {
    boost::asio::post(socket_.get_executor(),
                      [self = shared_from_this(), failure] { self->finish(failure, {}); });
    return;
  }
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& timer_ec) {
    if (!timer_ec) self->finish(std::make_error_code(std::errc::timed_out), {});
  });
  socket_.async_connect(server_, [self = shared_from_this()](const boost::system::error_code& e) {
    self->onConnect(e);
  });
}

void DnsTcpExchange::cancel() {
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->finish(std::make_error_code(std::errc::operation_canceled), {});
  });
}

void DnsTcpExchange::onConnect(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) return finish(toStd(ec), {});
  boost::asio::async_write(socket_, boost::asio::buffer(buffer_),
                           [self = shared_from_this()](const boost::system::error_code& e, size_t) {
                             self->onWrite(e);
                           });
}

void DnsTcpExchange::onWrite(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) return finish(toStd(ec), {});
  boost::asio::async_read(socket_, boost::asio::buffer(length_),
                          [self = shared_from_this()](const boost::system::error_code& e, size_t) {
                            self->onLength(e);
                          });
}

void DnsTcpExchange::onLength(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) return finish(toStd(ec), {});
  const size_t length = size_t{length_[0]} << 8 | length_[1];
  if (length < kDnsHeaderSize) return finish(std::make_error_code(std::errc::bad_message), {});
  buffer_.resize(length);
  boost::asio::async_read(socket_, boost::asio::buffer(buffer_),
                          [self = shared_from_this()](const boost::system::error_code& e, size_t) {
                            self->onAnswer(e);
                          });
}

void DnsTcpExchange::onAnswer(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) return finish(toStd(ec), {});
  if (!isDnsAnswerTo(buffer_, query_.header)) {
    return finish(std::make_error_code(std::errc::bad_message), {});
  }
  finish({}, buffer_);
}

void DnsTcpExchange::finish(std::error_code ec, std::span<const uint8_t> answer) {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  Done done = std::move(done_);
  done(*this, ec, answer);
}

}  // namespace portcullis::proxy
