#include "proxy/dns_udp_upstream.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <memory>
#include <random>

#include "proxy/dns_socket.h"

namespace portcullis::proxy {
namespace {

constexpr size_t kAnswersPerRead = 16;
// Enough reads per wakeup to drain a burst without starving the listener.
constexpr int kMaxReadsPerWakeup = 4;

// Answers are read into buffers of the thread (heap, taken at its first answer) and relayed from
// them before the next read.
struct AnswerBuffers {
  std::array<std::array<uint8_t, kDnsMaxMessageSize>, kAnswersPerRead> data;
  std::array<iovec, kAnswersPerRead> iovecs;
  std::array<mmsghdr, kAnswersPerRead> headers;
};

AnswerBuffers& answerBuffers() {
  thread_local const std::unique_ptr<AnswerBuffers> buffers = std::make_unique<AnswerBuffers>();
  return *buffers;
}

// Upstream IDs: unpredictable to anyone who cannot see the proxy's upstream traffic. Seeded once
// per thread: std::random_device is a system call.
uint16_t randomId() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return static_cast<uint16_t>(random());
}

std::pmr::memory_resource* heap(const std::shared_ptr<std::pmr::memory_resource>& memory) {
  return memory ? memory.get() : std::pmr::get_default_resource();
}

}  // namespace

DnsUdpUpstream::DnsUdpUpstream(const boost::asio::any_io_executor& executor, udp::endpoint server,
                               uint32_t mark, Duration timeout, Done done, Drained drained,
                               std::shared_ptr<std::pmr::memory_resource> memory)
    : memory_(std::move(memory)),
      socket_(executor),
      server_(std::move(server)),
      mark_(mark),
      done_(std::move(done)),
      drained_(std::move(drained)),
      pending_(executor, timeout,
               [this](PendingQueries::Iterator it, std::error_code ec) { finish(it, ec, {}); },
               heap(memory_)),
      unsent_(heap(memory_)),
      send_headers_(heap(memory_)),
      by_id_(heap(memory_)) {}

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
  const auto it = pending_.push({std::move(query), id}, shared_from_this());
  by_id_.emplace(id, it);
  unsent_.push_back({{datagram.data(), datagram.size()}, it});
  if (unsent_.size() >= kMaxUnsent) flush();
}

void DnsUdpUpstream::flush() {
  send_headers_.resize(unsent_.size());
  for (size_t i = 0; i < unsent_.size(); ++i) {
    msghdr& h = send_headers_[i].msg_hdr;
    h = {};
    h.msg_iov = &unsent_[i].datagram;
    h.msg_iovlen = 1;
  }
  size_t first = 0;
  while (first < unsent_.size() && !closed_) {
    const int sent = ::sendmmsg(socket_.native_handle(), &send_headers_[first],
                                static_cast<unsigned>(unsent_.size() - first), MSG_DONTWAIT);
    if (sent > 0) {
      first += static_cast<size_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    // The first unsent query failed (EAGAIN: the socket buffer is full); the rest go on.
    finish(unsent_[first++].query, {sent < 0 ? errno : EIO, std::system_category()}, {});
  }
  unsent_.clear();
  if (!closed_ && !waiting_ && !pending_.empty()) waitReadable();
}

void DnsUdpUpstream::waitReadable() {
  waiting_ = true;
  socket_.async_wait(udp::socket::wait_read,
                     DnsMemoryHandler(wait_memory_, [self = shared_from_this()](
                                                        const boost::system::error_code& ec) {
                       self->onReadable(ec);
                     }));
}

void DnsUdpUpstream::onReadable(const boost::system::error_code& ec) {
  waiting_ = false;
  if (closed_) return;
  if (ec) return pending_.failAll(toStdError(ec));
  AnswerBuffers& buffers = answerBuffers();
  for (int read = 0; read < kMaxReadsPerWakeup && !closed_; ++read) {
    for (size_t i = 0; i < kAnswersPerRead; ++i) {
      buffers.iovecs[i] = {buffers.data[i].data(), buffers.data[i].size()};
      buffers.headers[i].msg_hdr = {};
      buffers.headers[i].msg_hdr.msg_iov = &buffers.iovecs[i];
      buffers.headers[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(socket_.native_handle(), buffers.headers.data(), kAnswersPerRead,
                             MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      pending_.failAll({errno, std::system_category()});  // ECONNREFUSED: the port is closed
      continue;
    }
    for (int i = 0; i < n && !closed_; ++i) {
      onAnswer(std::span<uint8_t>(buffers.data[i].data(), buffers.headers[i].msg_len));
    }
    // Before the buffers are read into again.
    if (drained_) drained_();
    if (n < static_cast<int>(kAnswersPerRead)) break;
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
  unsent_.clear();
  pending_.close();
  boost::system::error_code ignored;
  socket_.close(ignored);
  by_id_.clear();
}

}  // namespace portcullis::proxy
