#include "proxy/dns_udp_listener.h"

#include <boost/asio/ip/v6_only.hpp>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "proxy/dns_socket.h"
#include "proxy/dns_udp_exchange.h"

namespace portcullis::proxy {
namespace {

// Enough batches per wakeup to drain a burst, few enough that other handlers (answers coming
// back) are not starved.
constexpr int kMaxBatchesPerWakeup = 4;

std::error_code toStd(const boost::system::error_code& ec) {
  return {ec.value(), std::system_category()};
}

DnsUdpListener::udp::endpoint endpointOf(const sockaddr_storage& from, socklen_t length) {
  DnsUdpListener::udp::endpoint e;
  std::memcpy(e.data(), &from, std::min<size_t>(length, sizeof from));
  return e;
}

policy::Flow flowOf(policy::Direction direction, const DnsUdpListener::udp::endpoint& client,
                    const DnsUdpListener::udp::endpoint& server) {
  return {direction, toIpAddress(client.address()), toIpAddress(server.address()), server.port(),
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
  if (ec) return toStd(ec);
  if (transparent) {
    if (auto error = setTransparent(s.native_handle(), v6)) return error;
  }
  if (auto error = enableOriginalDestination(s.native_handle(), v6)) return error;
  if (v6) s.set_option(boost::asio::ip::v6_only(true), ec);
  if (!ec && reuse_port) {
    s.set_option(boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  }
  if (!ec) s.bind(bind, ec);
  if (!ec) s.non_blocking(true, ec);
  if (!ec) listener->local_ = s.local_endpoint(ec);
  if (ec) return toStd(ec);
  return listener;
}

DnsUdpListener::DnsUdpListener(const boost::asio::any_io_executor& executor,
                               std::shared_ptr<const DnsListenerOptions> options,
                               std::shared_ptr<DnsPolicyGate> gate)
    : executor_(executor),
      options_(std::move(options)),
      gate_(std::move(gate)),
      socket_(executor),
      reply_sockets_(executor),
      slots_(kBatch),
      headers_(kBatch) {}

void DnsUdpListener::start() { waitReadable(); }

void DnsUdpListener::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  reply_sockets_.close();
  for (auto& [raw, weak] : in_flight_) {
    if (auto exchange = weak.lock()) exchange->cancel();
  }
}

void DnsUdpListener::waitReadable() {
  socket_.async_wait(
      udp::socket::wait_read,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->onReadable(ec); });
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
      handle(std::span<const uint8_t>(slots_[i].data.data(), headers_[i].msg_len), client,
             observed);
    }
    if (n < static_cast<int>(kBatch)) break;
  }
  if (!closed_) waitReadable();
}

void DnsUdpListener::handle(std::span<const uint8_t> datagram, const udp::endpoint& client,
                            const udp::endpoint& observed) {
  const udp::endpoint server =
      options_->original_destination ? options_->original_destination(observed) : observed;
  if (server == local_) {
    // Forwarding would send the query back to this listener.
    DnsCounters::bump(gate_->counters().not_redirected);
    return;
  }
  DnsDecision decision = gate_->judge(flowOf(options_->direction, client, server), datagram);
  switch (decision.kind) {
    case DnsDecision::Kind::kDrop:
      return;
    case DnsDecision::Kind::kAnswer:
      return reply(server, client, decision.answer);
    case DnsDecision::Kind::kForward:
      return forward(std::move(decision), datagram, client, server);
  }
}

void DnsUdpListener::forward(DnsDecision decision, std::span<const uint8_t> datagram,
                             const udp::endpoint& client, const udp::endpoint& server) {
  auto exchange = std::make_shared<DnsUdpExchange>(
      executor_,
      DnsUdpExchange::Context{client, server, std::move(decision.query), std::move(decision.slot)},
      [self = shared_from_this()](DnsUdpExchange& e, std::error_code ec,
                                  std::span<const uint8_t> answer) {
        self->onUpstream(e, ec, answer);
      });
  in_flight_.emplace(exchange.get(), exchange);
  exchange->start(datagram, options_->upstream_mark, gate_->options().upstream_timeout);
}

void DnsUdpListener::onUpstream(DnsUdpExchange& exchange, std::error_code ec,
                                std::span<const uint8_t> answer) {
  in_flight_.erase(&exchange);
  DnsUdpExchange::Context& c = exchange.context();
  c.slot.reset();
  if (closed_ || ec == std::errc::operation_canceled) return;
  if (ec) {
    log::debug("dns: upstream ", c.server.address().to_string(), ":", c.server.port(), " for ",
               c.query.question.name, ": ", ec.message());
    return reply(c.server, c.client, gate_->failed(c.query, ec == std::errc::timed_out));
  }
  gate_->answered(c.query, answer);
  reply(c.server, c.client, answer);
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
    DnsCounters::bump(gate_->counters().reply_failures);
    log::debug("dns: answer to ", client.address().to_string(), ":", client.port(), " from ",
               server.address().to_string(), ":", server.port(), ": ", error.message());
  }
}

}  // namespace portcullis::proxy
