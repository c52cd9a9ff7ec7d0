#include "proxy/dns_tcp_listener.h"

#include "common/log.h"
#include "proxy/asio_address.h"
#include "proxy/dns_socket.h"
#include "proxy/dns_tcp_session.h"
#include "proxy/socket_options.h"

namespace portcullis::proxy {

Result<std::shared_ptr<DnsTcpListener>> DnsTcpListener::open(
    const boost::asio::any_io_executor& executor, const tcp::endpoint& bind,
    std::shared_ptr<const DnsListenerOptions> options, std::shared_ptr<DnsPolicyGate> gate) {
  auto self = std::make_shared<DnsTcpListener>(std::move(options), std::move(gate));
  TransparentListener::Options listener_options;
  listener_options.transparent = self->options_->transparent;
  listener_options.reuse_port = self->options_->reuse_port;
  listener_options.backlog = tcp::acceptor::max_listen_connections;
  listener_options.limit = self->limit_;
  listener_options.mark = answerMark(self->options_->upstream_mark);
  listener_options.on_refused = [gate = self->gate_] {
    bump(gate->counters().tcp_rejected);
  };
  // The listener holds its handler for as long as it lives; a weak reference breaks the cycle.
  auto listener = TransparentListener::open(
      executor, bind, std::move(listener_options),
      [weak = std::weak_ptr<DnsTcpListener>(self)](tcp::socket socket, const tcp::endpoint& client) {
        if (auto s = weak.lock()) s->onAccept(std::move(socket), client);
      });
  if (!listener) return listener.error();
  self->listener_ = std::move(listener).value();
  self->local_ = self->listener_->endpoint();
  return self;
}

DnsTcpListener::DnsTcpListener(std::shared_ptr<const DnsListenerOptions> options,
                               std::shared_ptr<DnsPolicyGate> gate)
    : options_(std::move(options)),
      gate_(std::move(gate)),
      limit_(std::make_shared<ConnectionLimit>(options_->max_tcp_connections)) {}

void DnsTcpListener::start() { listener_->start(); }

void DnsTcpListener::close() {
  if (closed_) return;
  closed_ = true;
  limit_->stopAdmitting();
  listener_->close();
  auto sessions = std::move(sessions_);
  for (auto& [raw, weak] : sessions) {
    if (auto session = weak.lock()) session->close();
  }
}

void DnsTcpListener::onAccept(tcp::socket socket, const tcp::endpoint& client) {
  if (closed_) {
    limit_->release();
    return;
  }
  DnsCounters& counters = gate_->counters();
  std::error_code local_ec;
  const tcp::endpoint observed = originalDestinationOf(socket, local_ec);
  tcp::endpoint server = observed;
  if (!local_ec && options_->original_destination) {
    const auto mapped = options_->original_destination(
        boost::asio::ip::udp::endpoint(observed.address(), observed.port()));
    server = tcp::endpoint(mapped.address(), mapped.port());
  }
  if (local_ec || server == local_) {
    if (!local_ec) bump(counters.not_redirected);
    limit_->release();
    return;  // the socket closes as it goes out of scope
  }
  bump(counters.tcp_connections);
  bump(counters.tcp_open);
  const policy::Flow flow{options_->direction, flowAddress(client.address()),
                          flowAddress(server.address()), server.port(), policy::Protocol::kTcp};
  auto session = std::make_shared<DnsTcpSession>(
      std::move(socket), server, flow, options_, gate_,
      [weak = weak_from_this(), gate = gate_, limit = limit_](DnsTcpSession& closed) {
        drop(gate->counters().tcp_open);
        limit->release();
        if (auto self = weak.lock()) self->sessions_.erase(&closed);
      });
  sessions_.emplace(session.get(), session);
  session->start();
}

}  // namespace portcullis::proxy
