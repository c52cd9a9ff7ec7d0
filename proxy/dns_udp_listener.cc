#include "proxy/dns_udp_listener.h"

#include <boost/asio/ip/v6_only.hpp>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "proxy/asio_address.h"
#include "proxy/dns_socket.h"
#include "proxy/socket_options.h"

namespace portcullis::proxy {
namespace {

// Enough batches per wakeup to drain a burst, few enough that other handlers (answers coming
// back) are not starved.
constexpr int kMaxBatchesPerWakeup = 4;
// Upstream sockets: idle ones are closed after one sweep period; past the bound, at once.
constexpr Duration kUpstreamSweep = std::chrono::seconds(30);
constexpr size_t kMaxUpstreams = 4096;
constexpr int kReceiveBuffer = 4 << 20;

DnsUdpListener::udp::endpoint endpointOf(const sockaddr_storage& from, socklen_t length) {
  DnsUdpListener::udp::endpoint e;
  std::memcpy(e.data(), &from, std::min<size_t>(length, sizeof from));
  return e;
}

policy::Flow flowOf(policy::Direction direction, const DnsUdpListener::udp::endpoint& client,
                    const DnsUdpListener::udp::endpoint& server) {
  return {direction, flowAddress(client.address()), flowAddress(server.address()), server.port(),
          policy::Protocol::kUdp};
}

}  // namespace

Result<std::shared_ptr<DnsUdpListener>> DnsUdpListener::open(
    const boost::asio::any_io_executor& executor, const udp::endpoint& bind,
    std::shared_ptr<const DnsListenerOptions> options, std::shared_ptr<DnsPolicyGate> gate) {
  const bool transparent = options->transparent;
  const bool reuse_port = options->reuse_port;
  auto listener = std::make_shared<DnsUdpListener>(executor, std::move(options), std::move(gate));
  udp::socket& s = listener->socket_;
  const bool v6 = bind.address().is_v6();
  boost::system::error_code ec;
  s.open(bind.protocol(), ec);
  if (ec) return toStdError(ec);
  if (transparent) {
    if (auto error = setTransparent(s.native_handle(), v6)) return error;
  }
  if (auto error = enableOriginalDestination(s.native_handle(), v6)) return error;
  if (v6) s.set_option(boost::asio::ip::v6_only(true), ec);
  // Bursts wait here while the proxy works; the kernel caps it at net.core.rmem_max.
  if (!ec) s.set_option(udp::socket::receive_buffer_size(kReceiveBuffer), ec);
  if (!ec && reuse_port) {
    s.set_option(boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  }
  if (!ec) s.bind(bind, ec);
  if (!ec) s.non_blocking(true, ec);
  if (!ec) listener->local_ = s.local_endpoint(ec);
  if (ec) return toStdError(ec);
  return listener;
}

DnsUdpListener::DnsUdpListener(const boost::asio::any_io_executor& executor,
                               std::shared_ptr<const DnsListenerOptions> options,
                               std::shared_ptr<DnsPolicyGate> gate)
    : executor_(executor),
      options_(std::move(options)),
      gate_(std::move(gate)),
      socket_(executor),
      reply_sockets_(executor, answerMark(options_->upstream_mark)),
      slots_(kBatch),
      headers_(kBatch),
      upstream_memory_(std::make_shared<std::pmr::unsynchronized_pool_resource>()),
      replies_([this](const udp::endpoint& client, std::error_code error) {
        replyFailed(client, error);
      }),
      sweep_timer_(executor) {}

void DnsUdpListener::start() { waitReadable(); }

void DnsUdpListener::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  reply_sockets_.close();
  sweep_timer_.cancel();
  for (auto& [server, upstream] : upstreams_) upstream->close();
  upstreams_.clear();
  unflushed_.clear();
}

void DnsUdpListener::waitReadable() {
  socket_.async_wait(udp::socket::wait_read,
                     DnsMemoryHandler(wait_memory_, [self = shared_from_this()](
                                                        const boost::system::error_code& ec) {
                       self->onReadable(ec);
                     }));
}

void DnsUdpListener::onReadable(const boost::system::error_code& ec) {
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    log::error("dns: udp listener ", local_.address().to_string(), ":", local_.port(), ": ",
               ec.message());
    return;
  }
  for (int batch = 0; batch < kMaxBatchesPerWakeup && !closed_; ++batch) {
    for (size_t i = 0; i < kBatch; ++i) {
      Slot& slot = slots_[i];
      slot.iov = {slot.data.data(), slot.data.size()};
      msghdr& h = headers_[i].msg_hdr;
      h = {};
      h.msg_name = &slot.from;
      h.msg_namelen = sizeof slot.from;
      h.msg_iov = &slot.iov;
      h.msg_iovlen = 1;
      h.msg_control = slot.control.data();
      h.msg_controllen = slot.control.size();
    }
    const int n =
        ::recvmmsg(socket_.native_handle(), headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;  // EAGAIN: drained. Other errors (ICMP reports) are per-datagram noise.
    for (int i = 0; i < n && !closed_; ++i) {
      const msghdr& h = headers_[i].msg_hdr;
      const udp::endpoint client = endpointOf(slots_[i].from, h.msg_namelen);
      // Without IP_ORIGDSTADDR the datagram was not redirected: it was sent to the listener.
      const udp::endpoint observed = originalDestination(h).value_or(local_);
      handle(std::span<uint8_t>(slots_[i].data.data(), headers_[i].msg_len), client, observed);
    }
    // Before the slots are read into again: the queued queries point into them.
    for (auto& upstream : unflushed_) upstream->flush();
    unflushed_.clear();
    if (n < static_cast<int>(kBatch)) break;
  }
  if (!closed_) waitReadable();
}

void DnsUdpListener::handle(std::span<uint8_t> datagram, const udp::endpoint& client,
                            const udp::endpoint& observed) {
  const udp::endpoint server =
      options_->original_destination ? options_->original_destination(observed) : observed;
  if (server == local_) {
    // Forwarding would send the query back to this listener.
    bump(gate_->counters().not_redirected);
    return;
  }
  DnsDecision decision =
      gate_->judge(flowOf(options_->direction, client, server), datagram, client.port());
  switch (decision.kind) {
    case DnsDecision::Kind::kDrop:
      return;
    case DnsDecision::Kind::kAnswer:
      return reply(server, client, decision.answer);
    case DnsDecision::Kind::kForward:
      return forward(std::move(decision), datagram, client, server);
  }
}

void DnsUdpListener::forward(DnsDecision decision, std::span<uint8_t> datagram,
                             const udp::endpoint& client, const udp::endpoint& server) {
  DnsUdpUpstream::Query query{client, std::move(decision.query), std::move(decision.slot)};
  auto upstream = upstreamFor(server);
  if (!upstream) return onUpstream(server, query, std::make_error_code(std::errc::io_error), {});
  if (!upstream->hasUnsent()) unflushed_.push_back(upstream);
  upstream->forward(datagram, std::move(query));
}

std::shared_ptr<DnsUdpUpstream> DnsUdpListener::upstreamFor(const udp::endpoint& server) {
  auto it = upstreams_.find(server);
  if (it != upstreams_.end()) {
    if (!it->second->worn()) return it->second;
    it->second->retire();
    upstreams_.erase(it);
  }
  if (upstreams_.size() >= kMaxUpstreams) sweepUpstreams(true);
  auto upstream = std::make_shared<DnsUdpUpstream>(
      executor_, server, options_->upstream_mark, gate_->options().upstream_timeout,
      [weak = weak_from_this(), server](DnsUdpUpstream::Query& query, std::error_code ec,
                                        std::span<const uint8_t> answer) {
        if (auto self = weak.lock()) self->onUpstream(server, query, ec, answer);
      },
      [weak = weak_from_this()] {
        if (auto self = weak.lock()) self->replies_.flush();
      },
      upstream_memory_);
  if (auto error = upstream->open()) {
    log::debug("dns: upstream socket for ", server.address().to_string(), ":", server.port(), ": ",
               error.message());
    return nullptr;
  }
  upstreams_.emplace(server, upstream);
  armSweep();
  return upstream;
}

void DnsUdpListener::onUpstream(const udp::endpoint& server, DnsUdpUpstream::Query& query,
                                std::error_code ec, std::span<const uint8_t> answer) {
  query.slot.reset();
  if (closed_) return;
  if (ec) {
    fillDnsPresentationName(query.query.question);  // judged from the cache: for the log line
    log::debug("dns: upstream ", server.address().to_string(), ":", server.port(), " for ",
               query.query.question.name, ": ", ec.message());
    return reply(server, query.client, gate_->failed(query.query, ec == std::errc::timed_out));
  }
  gate_->answered(query.query, answer);
  replyLater(server, query.client, answer);
}

void DnsUdpListener::armSweep() {
  if (sweeping_) return;
  sweeping_ = true;
  sweep_timer_.expires_after(kUpstreamSweep);
  sweep_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->sweeping_ = false;
    if (ec || self->closed_) return;
    self->sweepUpstreams(false);
    if (!self->upstreams_.empty()) self->armSweep();
  });
}

void DnsUdpListener::sweepUpstreams(bool all_idle) {
  std::erase_if(upstreams_, [all_idle](auto& item) {
    DnsUdpUpstream& upstream = *item.second;
    const bool unused = upstream.unusedSinceLastSweep();
    if (upstream.pending() > 0 || !(all_idle || unused)) return false;
    upstream.close();
    return true;
  });
}

void DnsUdpListener::replyLater(const udp::endpoint& server, const udp::endpoint& client,
                                std::span<const uint8_t> answer) {
  if (!options_->transparent) return replies_.add(socket_.native_handle(), client, answer);
  auto fd = reply_sockets_.socketFor(server);
  if (fd) return replies_.add(fd.value(), client, answer);
  // No room for one more kept socket: a socket for this answer alone.
  if (fd.error() == std::errc::no_buffer_space) return reply(server, client, answer);
  replyFailed(client, fd.error());
}

void DnsUdpListener::replyFailed(const udp::endpoint& client, std::error_code error) {
  bump(gate_->counters().reply_failures);
  log::debug("dns: answer to ", client.address().to_string(), ":", client.port(), ": ",
             error.message());
}

void DnsUdpListener::reply(const udp::endpoint& server, const udp::endpoint& client,
                           std::span<const uint8_t> answer) {
  std::error_code error;
  if (options_->transparent) {
    error = reply_sockets_.send(server, client, answer);
  } else if (::sendto(socket_.native_handle(), answer.data(), answer.size(), MSG_DONTWAIT,
                      client.data(), static_cast<socklen_t>(client.size())) < 0) {
    error = {errno, std::system_category()};
  }
  if (error) {
    bump(gate_->counters().reply_failures);
    log::debug("dns: answer to ", client.address().to_string(), ":", client.port(), " from ",
               server.address().to_string(), ":", server.port(), ": ", error.message());
  }
}

}  // namespace portcullis::proxy
