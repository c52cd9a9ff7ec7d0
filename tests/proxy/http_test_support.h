// Test doubles for the HTTP proxy tests: an origin server on 127.0.0.1 that records what reaches
// it and answers as scripted, and a blocking client with a receive timeout (a bug makes a test
// fail, never hang).
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proxy/http_parser.h"

namespace portcullis::proxy::http_testing {

using Tcp = boost::asio::ip::tcp;

inline void setReceiveTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A head and body as they arrived, copied out of the parser.
struct Message {
  std::string method;
  std::string target;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // on the wire (chunk framing included)
  bool upgrade = false;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (equalsIgnoreCase(n, name)) return v;
    }
    return std::nullopt;
  }
  size_t count(std::string_view name) const {
    size_t c = 0;
    for (const auto& h : headers) c += equalsIgnoreCase(h.first, name) ? 1 : 0;
    return c;
  }
};

inline Message copyHead(const HttpHead& h) {
  Message m;
  m.method = h.method;
  m.target = h.target;
  m.status = h.status;
  for (const HttpHeader& f : h.headers) m.headers.emplace_back(f.name, f.value);
  m.upgrade = h.upgrade;
  return m;
}

// Blocking reads and writes that honour SO_RCVTIMEO/SO_SNDTIMEO (Asio's synchronous operations
// wait in poll() and would ignore them).
inline size_t recvSome(Tcp::socket& socket, char* buf, size_t size, boost::system::error_code& ec) {
  for (;;) {
    const ssize_t n = ::recv(socket.native_handle(), buf, size, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) {
      ec = boost::asio::error::eof;
      return 0;
    }
    if (errno == EINTR) continue;
    ec = boost::system::error_code(errno, boost::system::system_category());
    return 0;
  }
}

inline void sendAll(Tcp::socket& socket, std::string_view bytes, boost::system::error_code& ec) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(socket.native_handle(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ec = boost::system::error_code(errno, boost::system::system_category());
      return;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads one message with `parser` from `socket`, keeping extra bytes in `pending`.
// Returns nullopt on EOF, timeout or parse error before the message ended.
inline std::optional<Message> readMessage(Tcp::socket& socket, HttpParser& parser,
                                          std::string& pending, bool stop_at_head = false) {
  Message m;
  bool in_body = !parser.idle();  // the head was read by an earlier call
  char buf[65536];
  for (;;) {
    while (true) {
      const HttpParser::Step step = parser.parse(pending);
      if (in_body) m.body += pending.substr(0, step.consumed);
      pending.erase(0, step.consumed);
      if (step.event == HttpParser::Event::kError) return std::nullopt;
      if (step.event == HttpParser::Event::kHead) {
        m = copyHead(parser.head());
        in_body = true;
        if (stop_at_head) return m;
        continue;
      }
      if (step.event == HttpParser::Event::kMessageEnd) return m;
      break;
    }
    boost::system::error_code ec;
    const size_t n = recvSome(socket, buf, sizeof buf, ec);
    if (ec == boost::asio::error::eof) {
      const HttpParser::Step step = parser.finish();
      if (step.event == HttpParser::Event::kMessageEnd) return m;
      return std::nullopt;
    }
    if (ec) return std::nullopt;
    pending.append(buf, n);
  }
}

// Whether the peer closed (EOF or reset) within the socket's receive timeout.
inline bool closedByPeer(Tcp::socket& socket) {
  char c;
  boost::system::error_code ec;
  recvSome(socket, &c, 1, ec);
  return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
}

// What the origin does with a complete request.
struct Reply {
  std::string bytes;        // written as they are
  bool close = false;       // close the connection after writing
  bool silent = false;      // write nothing and keep reading
  bool echo_after = false;  // after writing, echo every byte back (a tunnel)
};

class TestOrigin {
 public:
  using Responder = std::function<Reply(const Message&)>;

  explicit TestOrigin(Responder responder)
      : acceptor_(io_, Tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
        responder_(std::move(responder)) {
    accept_thread_ = std::thread([this] { acceptLoop(); });
  }

  ~TestOrigin() { stop(); }

  void stop() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
      threads = std::move(threads_);
    }
    if (accept_thread_.joinable()) accept_thread_.join();
    for (std::thread& t : threads) t.join();
  }

  Tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
  uint16_t port() const { return endpoint().port(); }

  int connections() const {
    std::lock_guard lock(mutex_);
    return connections_;
  }
  std::vector<Message> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  bool waitForRequests(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }
  bool waitForConnections(int n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return connections_ >= n; });
  }

 private:
  void acceptLoop() {
    for (;;) {
      Tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) return;
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      ++connections_;
      fds_.push_back(socket.native_handle());
      threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
      changed_.notify_all();
    }
  }

  void serve(Tcp::socket socket) {
    HttpParser parser(HttpParser::Type::kRequest, {});
    std::string pending;
    for (;;) {
      std::optional<Message> head = readMessage(socket, parser, pending, true);
      if (!head) return;
      if (head->header("expect") == "100-continue") {
        boost::system::error_code ec;
        boost::asio::write(socket,
                           boost::asio::buffer(std::string("HTTP/1.1 100 Continue\r\n\r\n")), ec);
      }
      std::optional<Message> rest = readMessage(socket, parser, pending);
      if (!rest) return;
      head->body = rest->body;
      Reply reply = responder_(*head);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(*head);
        changed_.notify_all();
      }
      if (reply.silent) continue;
      boost::system::error_code ec;
      boost::asio::write(socket, boost::asio::buffer(reply.bytes), ec);
      if (ec) return;
      if (reply.echo_after) {
        if (!pending.empty()) boost::asio::write(socket, boost::asio::buffer(pending), ec);
        char buf[16384];
        for (;;) {
          const size_t n = socket.read_some(boost::asio::buffer(buf), ec);
          if (ec) break;
          boost::asio::write(socket, boost::asio::buffer(buf, n), ec);
          if (ec) break;
        }
        socket.shutdown(Tcp::socket::shutdown_send, ec);
        return;
      }
      if (reply.close) {
        socket.shutdown(Tcp::socket::shutdown_send, ec);
        return;
      }
      if (parser.upgraded()) parser.resumeAfterUpgrade();
    }
  }

  boost::asio::io_context io_;
  Tcp::acceptor acceptor_;
  Responder responder_;
  std::thread accept_thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopped_ = false;
  int connections_ = 0;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::vector<Message> requests_;
};

inline Reply silentReply() {
  Reply r;
  r.silent = true;
  return r;
}
inline Reply closingReply(std::string bytes) {
  Reply r;
  r.bytes = std::move(bytes);
  r.close = true;
  return r;
}
inline Reply tunnelReply(std::string bytes) {
  Reply r;
  r.bytes = std::move(bytes);
  r.echo_after = true;
  return r;
}

inline std::string okResponse(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

// A blocking client connection to the proxy.
class Client {
 public:
  explicit Client(const Tcp::endpoint& proxy,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : socket_(io_), parser_(HttpParser::Type::kResponse, {}) {
    socket_.connect(proxy);
    setReceiveTimeout(socket_.native_handle(), timeout);
  }

  void send(std::string_view bytes) {
    boost::system::error_code ec;
    sendAll(socket_, bytes, ec);
    EXPECT_FALSE(ec) << "send: " << ec.message();
  }

  // Reads until `n` bytes past any response are here (tunnel tests).
  std::string readBytes(size_t n) {
    char buf[4096];
    while (pending_.size() < n) {
      boost::system::error_code ec;
      const size_t got = recvSome(socket_, buf, sizeof buf, ec);
      if (ec) break;
      pending_.append(buf, got);
    }
    std::string out = pending_.substr(0, n);
    pending_.erase(0, out.size());
    return out;
  }

  std::optional<Message> response(HttpParser::RequestKind kind = HttpParser::RequestKind::kNormal) {
    parser_.expectResponseTo(kind);
    return readMessage(socket_, parser_, pending_);
  }

  std::optional<Message> roundTrip(const std::string& request) {
    send(request);
    return response();
  }

  bool closed() { return pending_.empty() && closedByPeer(socket_); }
  std::string& pending() { return pending_; }
  Tcp::socket& socket() { return socket_; }

 private:
  boost::asio::io_context io_;
  Tcp::socket socket_;
  HttpParser parser_;
  std::string pending_;
};

}  // namespace portcullis::proxy::http_testing
