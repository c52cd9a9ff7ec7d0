#include "proxy/dns_udp_upstream.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <random>

#include "proxy/dns_socket.h"

namespace portcullis::proxy {
namespace {

// Answers are read into one buffer per thread and relayed from it before the next read.
std::span<uint8_t> answerBuffer() {
  thread_local std::array<uint8_t, kDnsMaxMessageSize> buffer;
  return buffer;
}

// Upstream IDs: unpredictable to anyone who cannot see the proxy's upstream traffic. Seeded once
// per thread: std::random_device is a system call.
uint16_t randomId() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return static_cast<uint16_t>(random());
}

// Enough answers per wakeup to drain a burst without starving the listener.
constexpr int kMaxAnswersPerWakeup = 64;

}  // namespace

DnsUdpUpstream::DnsUdpUpstream(const boost::asio::any_io_executor& executor, udp::endpoint server,
                               uint32_t mark, Duration timeout, Done done)
    : socket_(executor),
      server_(std::move(server)),
      mark_(mark),
      done_(std::move(done)),
      pending_(executor, timeout,
               [this](PendingQueries::Iterator it, std::error_code ec) { finish(it, ec, {}); }) {}

std::error_code DnsUdpUpstream::open() {
  boost::system::error_code ec;
  socket_.open(server_.protocol(), ec);
  if (ec) return toStdError(ec);
  if (auto error = setMark(socket_.native_handle(), mark_)) return error;
  socket_.connect(server_, ec);
  if (ec) return toStdError(ec);
  opened_ = Clock::now();
  return {};
}

bool DnsUdpUpstream::worn() const {
  return queries_ >= kQueriesPerSocket || Clock::now() - opened_ >= kSocketLifetime;
}

uint16_t DnsUdpUpstream::freshId() {
  for (;;) {
    const uint16_t id = randomId();
    if (!by_id_.contains(id)) return id;
  }
}

void DnsUdpUpstream::forward(std::span<uint8_t> datagram, Query query) {
  ++queries_;
  used_ = true;
  const uint16_t id = freshId();
  datagram[0] = static_cast<uint8_t>(id >> 8);
  datagram[1] = static_cast<uint8_t>(id);
  if (::send(socket_.native_handle(), datagram.data(), datagram.size(), MSG_DONTWAIT) < 0) {
    const std::error_code error(errno, std::system_category());
    done_(query, error, {});
    return;
  }
  by_id_.emplace(id, pending_.push({std::move(query), id}, shared_from_this()));
  if (!waiting_) waitReadable();
}

void DnsUdpUpstream::waitReadable() {
  waiting_ = true;
  socket_.async_wait(
      udp::socket::wait_read,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->onReadable(ec); });
}

void DnsUdpUpstream::onReadable(const boost::system::error_code& ec) {
  waiting_ = false;
  if (closed_) return;
  if (ec) return pending_.failAll(toStdError(ec));
  const std::span<uint8_t> buffer = answerBuffer();
  for (int i = 0; i < kMaxAnswersPerWakeup && !closed_; ++i) {
    const ssize_t n = ::recv(socket_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      pending_.failAll({errno, std::system_category()});  // ECONNREFUSED: the port is closed
      continue;
    }
    onAnswer(buffer.first(static_cast<size_t>(n)));
  }
  if (!closed_ && !pending_.empty()) waitReadable();
}

void DnsUdpUpstream::onAnswer(std::span<uint8_t> answer) {
  const auto header = parseDnsHeader(answer);
  if (!header || !header->qr()) return;
  const auto found = by_id_.find(header->id);
  // A late answer (timed out already) or a spoofed one: dropped.
  if (found == by_id_.end()) return;
  const auto it = found->second;
  if (!dnsQuestionMatches(answer, it->query.query.query.question)) return;
  const uint16_t client_id = it->query.query.query.header.id;
  answer[0] = static_cast<uint8_t>(client_id >> 8);
  answer[1] = static_cast<uint8_t>(client_id);
  finish(it, {}, answer);
}

void DnsUdpUpstream::finish(PendingQueries::Iterator it, std::error_code ec,
                            std::span<const uint8_t> answer) {
  by_id_.erase(it->query.id);
  Pending pending = pending_.take(it);
  if (!closed_) done_(pending.query, ec, answer);
  closeIfRetiredAndIdle();
}

void DnsUdpUpstream::retire() {
  retired_ = true;
  closeIfRetiredAndIdle();
}

void DnsUdpUpstream::closeIfRetiredAndIdle() {
  if (retired_ && pending_.empty()) close();
}

void DnsUdpUpstream::close() {
  if (closed_) return;
  closed_ = true;
  pending_.close();
  boost::system::error_code ignored;
  socket_.close(ignored);
  by_id_.clear();
}

}  // namespace portcullis::proxy
