// One TCP acceptor of a transparent listener: IP_TRANSPARENT so TPROXY can hand it connections
// addressed anywhere, IPV6_V6ONLY on ::1 so the v4 and v6 listeners stay apart, SO_REUSEPORT
// when one acceptor per I/O thread shares the port.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>

#include "common/result.h"
#include "proxy/socket_options.h"

namespace portcullis::proxy {

class TransparentListener : public std::enable_shared_from_this<TransparentListener> {
 public:
  struct Options {
    bool transparent = true;
    bool reuse_port = false;
    bool strand_per_connection = false;  // accepted sockets get their own strand
    int backlog = 4096;
  };
  // The accepted socket and its peer (the client), which accept(2) reports anyway.
  using Handler = std::function<void(Tcp::socket, const Tcp::endpoint&)>;

  static Result<std::shared_ptr<TransparentListener>> open(boost::asio::io_context& context,
                                                           const Tcp::endpoint& endpoint,
                                                           const Options& options,
                                                           Handler on_accept);

  Tcp::endpoint endpoint() const { return endpoint_; }
  void start();  // accept until stop()
  void stop();   // thread-safe: the acceptor closes on its own executor

 private:
  TransparentListener(boost::asio::io_context& context, Options options, Handler on_accept);
  void accept();
  void onAccept(const boost::system::error_code& ec, Tcp::socket socket);

  boost::asio::io_context& context_;
  Tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  Options options_;
  Handler on_accept_;
  Tcp::endpoint endpoint_;
  Tcp::endpoint peer_;  // filled by the accept in flight
};

}  // namespace portcullis::proxy
