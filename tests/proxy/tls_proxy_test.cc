// TlsProxy on loopback: SNI passthrough relays the ClientHello and everything after it untouched
// both ways, and resets the client for every kind of deny, with the origin never contacted.
#include "proxy/tls_proxy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <thread>

#include "http_test_support.h"
#include "policy/compiled_policy.h"
#include "tls_proxy_fixture.h"
#include "tls_test_support.h"

namespace portcullis::proxy {
namespace {

using http_testing::closedByPeer;
using http_testing::recvSome;
using http_testing::sendAll;
using http_testing::setReceiveTimeout;
namespace asio = boost::asio;

// Accepts connections, records what arrives and echoes it back; closes on the client's FIN.
class EchoOrigin {
 public:
  EchoOrigin() : acceptor_(io_, {asio::ip::address_v4::loopback(), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoOrigin() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_.load(); }
  std::string received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  struct Connection {
    explicit Connection(asio::io_context& io) : socket(io) {}
    Tcp::socket socket;
    char buffer[4096];
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, Tcp::socket socket) {
      if (ec) return;
      ++connections_;
      auto c = std::make_shared<Connection>(io_);
      c->socket = std::move(socket);
      read(c);
      accept();
    });
  }
  void read(const std::shared_ptr<Connection>& c) {
    c->socket.async_read_some(asio::buffer(c->buffer), [this, c](boost::system::error_code ec,
                                                                 size_t n) {
      if (ec) return;  // EOF: the socket closes with the last reference
      {
        std::lock_guard lock(mutex_);
        received_.append(c->buffer, n);
      }
      asio::async_write(c->socket, asio::buffer(c->buffer, n),
                        [this, c](boost::system::error_code e, size_t) {
                          if (!e) read(c);
                        });
    });
  }

  asio::io_context io_;
  Tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::string received_;
};

std::shared_ptr<const policy::CompiledPolicy> compile(uint16_t port, bool intercept = false) {
  policy::Rule rule;
  rule.name = "tls-egress";
  rule.selector.ports = {{port, policy::Protocol::kTcp}};
  rule.l7 = policy::L7Protocol::kTls;
  if (intercept) {
    rule.terminating_tls = policy::TerminatingTls{"/c.pem", "/k.pem", "", ""};
  } else {
    rule.tls = {{{"api.example.test", "*.cdn.example.test"}, {}}};
  }
  policy::Policy p;
  p.rules.push_back(rule);
  auto compiled = policy::CompiledPolicy::compile(p);
  EXPECT_TRUE(compiled.ok());
  return *compiled.value;
}

class TlsProxyTest : public tls_testing::TlsProxyFixture {
 protected:
  void start(std::chrono::milliseconds header_timeout = std::chrono::seconds(5),
             uint16_t destination_port = 0) {
    const uint16_t port = destination_port != 0 ? destination_port : origin_.port();
    startProxy(port, compile(port, intercept_), [&](TlsProxyOptions& options) {
      options.limits.header_timeout = header_timeout;
      options.limits.max_connections = max_connections_;
    });
  }

  Tcp::socket connect() {
    Tcp::socket s(client_io_);
    s.connect(proxy_->endpoints().front());
    setReceiveTimeout(s.native_handle(), std::chrono::seconds(5));
    return s;
  }

  // Sends `bytes` and expects a reset (not a FIN) in answer.
  void expectReset(const std::string& bytes) {
    Tcp::socket s = connect();
    boost::system::error_code ec;
    sendAll(s, bytes, ec);
    // A reset that comes before the bytes go out is reported to send() (once), EPIPE included:
    // a FIN alone would have let the send succeed.
    if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe) return;
    ASSERT_FALSE(ec) << ec.message();
    char c;
    recvSome(s, &c, 1, ec);
    EXPECT_EQ(ec, asio::error::connection_reset) << ec.message();
  }

  EchoOrigin origin_;
  bool intercept_ = false;
  uint32_t max_connections_ = 100;
  asio::io_context client_io_;
};

TEST_F(TlsProxyTest, AllowedServerNameIsRelayedUntouchedBothWays) {
  start();
  const std::string hello = tls_testing::clientHello(TLS1_3_VERSION, "img.cdn.example.test");
  Tcp::socket s = connect();
  boost::system::error_code ec;
  // The hello in two writes, then later bytes: all reach the origin as sent.
  sendAll(s, hello.substr(0, 10), ec);
  sendAll(s, hello.substr(10), ec);
  sendAll(s, "ping", ec);
  const std::string sent = hello + "ping";
  std::string echoed;
  char buf[8192];
  while (echoed.size() < sent.size() && !ec) echoed.append(buf, recvSome(s, buf, sizeof buf, ec));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(echoed, sent);
  EXPECT_EQ(origin_.received(), sent);
  // Half-close travels: the origin answers our FIN with its own.
  s.shutdown(Tcp::socket::shutdown_send);
  recvSome(s, buf, sizeof buf, ec);
  EXPECT_EQ(ec, asio::error::eof);
  const TlsCountersSnapshot c = proxy_->counters();
  EXPECT_EQ(c.allowed, 1u);
  EXPECT_EQ(c.denied + c.no_sni + c.malformed, 0u);
}

TEST_F(TlsProxyTest, Tls12HelloSplitAcrossRecordsIsAllowed) {
  start();
  const std::string hello =
      tls_testing::refragment(tls_testing::clientHello(TLS1_2_VERSION, "api.example.test"), 100);
  Tcp::socket s = connect();
  boost::system::error_code ec;
  sendAll(s, hello, ec);
  std::string echoed;
  char buf[8192];
  while (echoed.size() < hello.size() && !ec) echoed.append(buf, recvSome(s, buf, sizeof buf, ec));
  EXPECT_EQ(echoed, hello);
  EXPECT_EQ(proxy_->counters().allowed, 1u);
}

TEST_F(TlsProxyTest, DeniedServerNameIsResetAndNeverReachesTheOrigin) {
  start();
  expectReset(tls_testing::clientHello(TLS1_3_VERSION, "evil.example.test"));
  EXPECT_EQ(proxy_->counters().denied, 1u);
  EXPECT_EQ(origin_.connections(), 0);
}

TEST_F(TlsProxyTest, NoServerNameIsReset) {
  start();
  expectReset(tls_testing::clientHello(TLS1_2_VERSION, ""));
  EXPECT_EQ(proxy_->counters().no_sni, 1u);
  EXPECT_EQ(origin_.connections(), 0);
}

TEST_F(TlsProxyTest, PlainHttpIsResetAsMalformed) {
  start();
  expectReset("GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n");
  EXPECT_EQ(proxy_->counters().malformed, 1u);
  EXPECT_EQ(origin_.connections(), 0);
}

TEST_F(TlsProxyTest, IncompleteHelloIsResetAfterTheHeaderTimeout) {
  start(std::chrono::milliseconds(200));
  const std::string hello = tls_testing::clientHello(TLS1_3_VERSION, "api.example.test");
  const auto began = std::chrono::steady_clock::now();
  expectReset(hello.substr(0, hello.size() / 2));
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(3));
  EXPECT_EQ(proxy_->counters().hello_timeouts, 1u);
  EXPECT_EQ(origin_.connections(), 0);
}

TEST_F(TlsProxyTest, UnreachableOriginIsReset) {
  uint16_t closed_port = 0;
  {
    Tcp::acceptor probe(client_io_, {asio::ip::address_v4::loopback(), 0});
    closed_port = probe.local_endpoint().port();
  }
  start(std::chrono::seconds(5), closed_port);
  expectReset(tls_testing::clientHello(TLS1_3_VERSION, "api.example.test"));
  EXPECT_EQ(proxy_->counters().upstream_unavailable, 1u);
}

// A terminatingTLS rule whose certificates were never loaded (no interception set published):
// the flow it would intercept must not pass unexamined.
TEST_F(TlsProxyTest, InterceptionRuleFailsClosed) {
  intercept_ = true;
  start();
  expectReset(tls_testing::clientHello(TLS1_3_VERSION, "api.example.test"));
  EXPECT_EQ(origin_.connections(), 0);
}

// Polls `done` for up to 5 s: for state only the proxy's thread changes.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

TEST_F(TlsProxyTest, BeyondMaxConnectionsIsResetAndCounted) {
  max_connections_ = 1;
  start();
  Tcp::socket first = connect();
  boost::system::error_code ec;
  sendAll(first, "\x16\x03", ec);  // holds its slot while the ClientHello is awaited
  ASSERT_TRUE(eventually([&] { return proxy_->activeConnections() == 1; }));
  expectReset(tls_testing::clientHello(TLS1_3_VERSION, "api.example.test"));
  EXPECT_EQ(proxy_->counters().connections_over_limit, 1u);
  EXPECT_EQ(origin_.connections(), 0);
}

TEST_F(TlsProxyTest, ShutdownResetsWaitingConnectionsAndRelaysUntilTheGrace) {
  start();
  Tcp::socket waiting = connect();
  boost::system::error_code ec;
  sendAll(waiting, "\x16\x03\x01", ec);
  Tcp::socket relaying = connect();
  const std::string hello = tls_testing::clientHello(TLS1_3_VERSION, "api.example.test");
  sendAll(relaying, hello, ec);
  std::string echoed;
  char buf[8192];
  while (echoed.size() < hello.size() && !ec) echoed.append(buf, recvSome(relaying, buf, sizeof buf, ec));
  ASSERT_EQ(echoed, hello);
  ASSERT_TRUE(eventually([&] { return proxy_->activeConnections() == 2; }));

  auto done = std::make_shared<std::promise<void>>();
  proxy_->shutdown(std::chrono::milliseconds(300), [done] { done->set_value(); });
  recvSome(waiting, buf, 1, ec);
  EXPECT_EQ(ec, asio::error::connection_reset) << ec.message();
  // The relay still works within the grace...
  ec = {};
  sendAll(relaying, "more", ec);
  const size_t n = recvSome(relaying, buf, sizeof buf, ec);
  EXPECT_EQ(std::string(buf, n), "more");
  // ...and is reset after it.
  recvSome(relaying, buf, 1, ec);
  EXPECT_EQ(ec, asio::error::connection_reset) << ec.message();
  EXPECT_EQ(done->get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(proxy_->activeConnections(), 0u);
}

}  // namespace
}  // namespace portcullis::proxy
