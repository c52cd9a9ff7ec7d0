#include "proxy/admin_server.h"

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <set>
#include <string_view>

#include "common/log.h"
#include "proxy/http_parser.h"

namespace portcullis::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

// Shared with the connections, so a connection outliving the server (its handler is queued when
// the server is destroyed) still finds the routes and the registry it removes itself from.
struct AdminServer::State {
  State(asio::io_context& context, Options o)
      : io(context), options(o), acceptor(context), retry(context) {}
  asio::io_context& io;
  Options options;
  Tcp::acceptor acceptor;
  asio::steady_timer retry;  // after an accept error (EMFILE): do not spin
  std::map<std::string, Handler, std::less<>> routes;
  std::set<std::shared_ptr<Connection>> open;
  uint64_t rejected = 0;
  bool stopped = false;
};

namespace {

const char* reasonOf(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

}  // namespace

class AdminServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<State> state, Tcp::socket socket)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        timer_(state_->io),
        parser_(HttpParser::Type::kRequest, {state_->options.max_request_bytes, 64}) {}

  void start() {
    timer_.expires_after(state_->options.timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->close();  // slow or silent client
    });
    read();
  }

  void close() {
    error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
    state_->open.erase(shared_from_this());
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](error_code ec, size_t n) {
      self->onRead(ec, n);
    });
  }

  void onRead(const error_code& ec, size_t n) {
    if (ec) {
      close();  // the client went away, or close() cancelled the read
      return;
    }
    std::string_view data(buffer_.data(), n);
    const HttpParser::Step step = parser_.parse(data);
    switch (step.event) {
      case HttpParser::Event::kNeedMore:
        read();
        return;
      case HttpParser::Event::kError:
        respond({400, "text/plain; charset=utf-8", "bad request\n"}, false);
        return;
      case HttpParser::Event::kHead:
      case HttpParser::Event::kMessageEnd:
        dispatch(parser_.head());
        return;
    }
  }

  void dispatch(const HttpHead& head) {
    std::string_view path = head.target;
    if (const size_t query = path.find('?'); query != std::string_view::npos) {
      path = path.substr(0, query);
    }
    const auto route = state_->routes.find(path);
    if (route == state_->routes.end()) {
      respond({404, "text/plain; charset=utf-8", "not found\n"}, false);
      return;
    }
    const bool head_only = head.method == "HEAD";
    if (head.method != "GET" && !head_only) {
      respond({405, "text/plain; charset=utf-8", "method not allowed\n"}, false);
      return;
    }
    respond(route->second(), head_only);
  }

  void respond(const AdminServer::Response& r, bool head_only) {
    out_ = "HTTP/1.1 " + std::to_string(r.status) + " " + reasonOf(r.status) +
           "\r\nContent-Type: " + r.content_type +
           "\r\nContent-Length: " + std::to_string(r.body.size()) +
           "\r\nCache-Control: no-store\r\nConnection: close\r\n";
    if (r.status == 405) out_ += "Allow: GET, HEAD\r\n";
    out_ += "\r\n";
    if (!head_only) out_ += r.body;
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](error_code, size_t) {
      error_code ignored;
      self->socket_.shutdown(Tcp::socket::shutdown_send, ignored);
      self->close();
    });
  }

  std::shared_ptr<State> state_;
  Tcp::socket socket_;
  asio::steady_timer timer_;
  HttpParser parser_;
  std::array<char, 2048> buffer_{};
  std::string out_;
};

AdminServer::AdminServer(asio::io_context& io, Options options)
    : state_(std::make_shared<State>(io, options)) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::route(std::string path, Handler handler) {
  state_->routes[std::move(path)] = std::move(handler);
}

Result<void> AdminServer::start() {
  error_code ec;
  Tcp::acceptor& a = state_->acceptor;
  const Tcp::endpoint& at = state_->options.endpoint;
  a.open(at.protocol(), ec);
  if (!ec) a.set_option(Tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(at, ec);
  if (!ec) a.listen(64, ec);
  if (ec) {
    error_code ignored;
    a.close(ignored);
    return std::error_code(ec.value(), std::system_category());
  }
  accept();
  return ok();
}

void AdminServer::accept() {
  std::weak_ptr<State> weak = state_;
  state_->acceptor.async_accept([this, weak](error_code ec, Tcp::socket socket) {
    const auto state = weak.lock();
    if (!state || state->stopped || ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (state->open.size() >= state->options.max_connections) {
        ++state->rejected;  // closed unread: a scraper retries, a flood costs one accept each
      } else {
        auto connection = std::make_shared<Connection>(state, std::move(socket));
        state->open.insert(connection);
        connection->start();
      }
    } else {
      log::warn("admin endpoint: accept: ", ec.message());
      state->retry.expires_after(std::chrono::milliseconds(100));
      state->retry.async_wait([this, weak](const error_code& e) {
        const auto s = weak.lock();
        if (!e && s && !s->stopped) accept();
      });
      return;
    }
    accept();
  });
}

void AdminServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
  auto open = state_->open;  // close() erases from the set
  for (const auto& c : open) c->close();
}

uint16_t AdminServer::port() const {
  error_code ec;
  const auto at = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : at.port();
}

uint32_t AdminServer::activeConnections() const {
  return static_cast<uint32_t>(state_->open.size());
}

uint64_t AdminServer::rejectedConnections() const { return state_->rejected; }

}  // namespace portcullis::proxy
