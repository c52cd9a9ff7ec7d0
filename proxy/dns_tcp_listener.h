// The TCP half of a DNS listener: a TransparentListener on (bind address, port); under TPROXY
// an accepted socket's local address is the client's original destination. Each connection
// gets a DnsTcpSession; beyond max_tcp_connections new ones are reset at once.
//
// Its executor must run one handler at a time (an io_context run by one thread, or a strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <unordered_map>

#include "common/result.h"
#include "proxy/dns_listener_options.h"
#include "proxy/dns_policy_gate.h"
#include "proxy/transparent_listener.h"

namespace portcullis::proxy {

class DnsTcpSession;

class DnsTcpListener : public std::enable_shared_from_this<DnsTcpListener> {
 public:
  using tcp = boost::asio::ip::tcp;

  static Result<std::shared_ptr<DnsTcpListener>> open(
      const boost::asio::any_io_executor& executor, const tcp::endpoint& bind,
      std::shared_ptr<const DnsListenerOptions> options, std::shared_ptr<DnsPolicyGate> gate);
  DnsTcpListener(std::shared_ptr<const DnsListenerOptions> options,
                 std::shared_ptr<DnsPolicyGate> gate);

  void start();
  // Stops accepting and closes every connection; on the executor, or before start().
  void close();
  tcp::endpoint localEndpoint() const { return local_; }
  size_t connections() const { return sessions_.size(); }

 private:
  void onAccept(tcp::socket socket, const tcp::endpoint& client);

  std::shared_ptr<const DnsListenerOptions> options_;
  std::shared_ptr<DnsPolicyGate> gate_;
  std::shared_ptr<ConnectionLimit> limit_;
  std::shared_ptr<TransparentListener> listener_;
  tcp::endpoint local_;
  std::unordered_map<DnsTcpSession*, std::weak_ptr<DnsTcpSession>> sessions_;
  bool closed_ = false;
};

}  // namespace portcullis::proxy
