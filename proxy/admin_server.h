// The admin endpoint (SPEC.md `proxy.admin`, issue 6): a tiny HTTP/1.1 server for /metrics,
// /status and /healthz. It runs on the daemon's lifecycle io_context, never on the proxy's I/O
// threads, and is bounded so that it cannot be used to starve the proxy: one request per
// connection (the response closes it), a small request head, a deadline for the whole exchange,
// and a connection limit beyond which new connections are closed at once.
//
//   AdminServer admin(io, {.endpoint = {address, 9964}});
//   admin.route("/healthz", [&] { return AdminServer::Response{200, "text/plain", "ok\n"}; });
//   if (auto started = admin.start(); !started) ...
//
// Handlers run on the io_context's thread and should be quick (they render a snapshot).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/duration.h"
#include "common/result.h"

namespace portcullis::proxy {

class AdminServer {
 public:
  using Tcp = boost::asio::ip::tcp;

  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  using Handler = std::function<Response()>;

  struct Options {
    Tcp::endpoint endpoint{boost::asio::ip::address_v4::loopback(), 9964};
    uint32_t max_connections = 16;
    uint32_t max_request_bytes = 8192;  // the request head; GET needs no more
    Duration timeout = std::chrono::seconds(5);  // accept to response written
  };

  AdminServer(boost::asio::io_context& io, Options options);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // GET and HEAD on exactly `path` (the query string is ignored); other methods get 405.
  void route(std::string path, Handler handler);

  // Binds and starts accepting; errors name the errno (EADDRINUSE when the port is taken).
  Result<void> start();
  // Closes the acceptor and every open connection.
  void stop();

  uint16_t port() const;  // the bound port (for port 0 in tests)
  // On the io_context's thread, like the handlers.
  uint32_t activeConnections() const;
  uint64_t rejectedConnections() const;  // closed unserved: over max_connections

  class Connection;  // one exchange, defined in admin_server.cc

 private:
  struct State;
  void accept();

  std::shared_ptr<State> state_;
};

}  // namespace portcullis::proxy
