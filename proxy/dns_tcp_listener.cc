#include "proxy/dns_tcp_listener.h"

#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>

#include "common/log.h"
#include "proxy/dns_socket.h"
#include "proxy/dns_tcp_session.h"

namespace portcullis::proxy {
Result<std::shared_ptr<DnsTcpListener>> DnsTcpListener::open(
    const boost::asio::any_io_executor& executor, const tcp::endpoint& bind,
    std::shared_ptr<const DnsListenerOptions> options, std::shared_ptr<DnsPolicyGate> gate) {
  const bool transparent = options->transparent;
  const bool reuse_port = options->reuse_port;
  auto listener = std::make_shared<DnsTcpListener>(executor, std::move(options), std::move(gate));
  tcp::acceptor& a = listener->acceptor_;
  const bool v6 = bind.address().is_v6();
  boost::system::error_code ec;
  a.open(bind.protocol(), ec);
  if (ec) return toStdError(ec);
  if (transparent) {
    if (auto error = setTransparent(a.native_handle(), v6)) return error;
  }
  a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && v6) a.set_option(boost::asio::ip::v6_only(true), ec);
  if (!ec && reuse_port) {
    a.set_option(boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  }
  if (!ec) a.bind(bind, ec);
  if (!ec) a.listen(tcp::acceptor::max_listen_connections, ec);
  if (!ec) listener->local_ = a.local_endpoint(ec);
  if (ec) return toStdError(ec);
  return listener;
}

DnsTcpListener::DnsTcpListener(const boost::asio::any_io_executor& executor,
                               std::shared_ptr<const DnsListenerOptions> options,
                               std::shared_ptr<DnsPolicyGate> gate)
    : executor_(executor),
      options_(std::move(options)),
      gate_(std::move(gate)),
      acceptor_(executor) {}

void DnsTcpListener::start() { doAccept(); }

void DnsTcpListener::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  auto sessions = std::move(sessions_);
  for (auto& [raw, weak] : sessions) {
    if (auto session = weak.lock()) session->close();
  }
}

void DnsTcpListener::doAccept() {
  acceptor_.async_accept(executor_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                                tcp::socket socket) {
    self->onAccept(ec, std::move(socket));
  });
}

void DnsTcpListener::onAccept(const boost::system::error_code& ec, tcp::socket socket) {
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    // EMFILE and friends: keep accepting; the next attempt may succeed.
    log::warn("dns: tcp accept on ", local_.address().to_string(), ":", local_.port(), ": ",
              ec.message());
    return doAccept();
  }
  doAccept();
  DnsCounters& counters = gate_->counters();
  boost::system::error_code local_ec;
  boost::system::error_code peer_ec;
  const tcp::endpoint observed = socket.local_endpoint(local_ec);
  const tcp::endpoint client = socket.remote_endpoint(peer_ec);
  if (local_ec || peer_ec) return;  // reset before we looked
  if (sessions_.size() >= options_->max_tcp_connections) {
    DnsCounters::bump(counters.tcp_rejected);
    return;  // the socket closes as it goes out of scope
  }
  tcp::endpoint server = observed;
  if (options_->original_destination) {
    const auto mapped = options_->original_destination(
        boost::asio::ip::udp::endpoint(observed.address(), observed.port()));
    server = tcp::endpoint(mapped.address(), mapped.port());
  }
  if (server == local_) {
    DnsCounters::bump(counters.not_redirected);
    return;
  }
  DnsCounters::bump(counters.tcp_connections);
  DnsCounters::bump(counters.tcp_open);
  const policy::Flow flow{options_->direction, toIpAddress(client.address()),
                          toIpAddress(server.address()), server.port(), policy::Protocol::kTcp};
  auto session = std::make_shared<DnsTcpSession>(
      std::move(socket), server, flow, options_, gate_,
      [weak = weak_from_this(), gate = gate_](DnsTcpSession& closed) {
        DnsCounters::drop(gate->counters().tcp_open);
        if (auto self = weak.lock()) self->sessions_.erase(&closed);
      });
  sessions_.emplace(session.get(), session);
  session->start();
}

}  // namespace portcullis::proxy
