#include "proxy/dns_udp_exchange.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/post.hpp>

#include "proxy/dns_socket.h"

namespace portcullis::proxy {
namespace {

// Answers are read into one buffer per thread and relayed from it before the next read: no
// 64 KiB buffer per query in flight.
std::span<uint8_t> answerBuffer() {
  thread_local std::array<uint8_t, kDnsMaxMessageSize> buffer;
  return buffer;
}

std::error_code toStd(const boost::system::error_code& ec) {
  return {ec.value(), std::system_category()};
}

}  // namespace

DnsUdpExchange::DnsUdpExchange(const boost::asio::any_io_executor& executor, Context context,
                               Done done)
    : socket_(executor), timer_(executor), context_(std::move(context)), done_(std::move(done)) {}

void DnsUdpExchange::start(std::span<const uint8_t> query, uint32_t mark, Duration timeout) {
  boost::system::error_code ec;
  socket_.open(context_.server.protocol(), ec);
  std::error_code failure = toStd(ec);
  if (!failure) failure = setMark(socket_.native_handle(), mark);
  if (!failure) {
    socket_.connect(context_.server, ec);
    failure = toStd(ec);
  }
  if (!failure && ::send(socket_.native_handle(), query.data(), query.size(), MSG_DONTWAIT) < 0) {
    failure = {errno, std::system_category()};
  }
  if (failure) {
    boost::asio::post(socket_.get_executor(),
                      [self = shared_from_this(), failure] { self->finish(failure, {}); });
    return;
  }
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& timer_ec) {
    if (!timer_ec) self->finish(std::make_error_code(std::errc::timed_out), {});
  });
  waitReadable();
}

void DnsUdpExchange::cancel() {
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->finish(std::make_error_code(std::errc::operation_canceled), {});
  });
}

void DnsUdpExchange::waitReadable() {
  socket_.async_wait(
      udp::socket::wait_read,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->onReadable(ec); });
}

void DnsUdpExchange::onReadable(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) return finish(toStd(ec), {});
  const std::span<uint8_t> buffer = answerBuffer();
  for (;;) {
    const ssize_t n = ::recv(socket_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      // ECONNREFUSED: the ICMP port unreachable a connected UDP socket reports.
      return finish({errno, std::system_category()}, {});
    }
    const auto answer = buffer.first(static_cast<size_t>(n));
    // A stray or late datagram for another ID (the port was reused) is ignored.
    if (isDnsAnswerTo(answer, context_.query.header)) return finish({}, answer);
  }
  waitReadable();
}

void DnsUdpExchange::finish(std::error_code ec, std::span<const uint8_t> answer) {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  socket_.close(ignored);
  Done done = std::move(done_);
  done(*this, ec, answer);
}

}  // namespace portcullis::proxy
