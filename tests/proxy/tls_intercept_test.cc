// TLS interception on loopback (issue 7): a client trusting the test CA talks HTTPS to the TLS
// listener, which terminates with a leaf minted for the SNI, judges each request with the
// terminatingTLS rule's `http` entries and forwards allowed ones over TLS to an HTTPS origin that
// it verifies with the rule's originatingTLS bundle.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "http_test_support.h"
#include "policy/compiled_policy.h"
#include "proxy/http_counters.h"
#include "proxy/tls_interception.h"
#include "proxy/tls_interception_store.h"
#include "proxy/tls_proxy.h"
#include "tests/proxy/tls_certificates.h"
#include "tests/proxy/tls_proxy_fixture.h"

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using http_testing::setReceiveTimeout;
using tls_testing::pem;

constexpr const char* kName = "api.example.test";

// An HTTPS origin: answers every request head with 200 and body "origin", keep-alive, and
// records the request lines it served.
class HttpsOrigin {
 public:
  HttpsOrigin(X509* cert, EVP_PKEY* key)
      : context_(ssl::context::tls_server), acceptor_(io_, {asio::ip::address_v4::loopback(), 0}) {
    SSL_CTX_use_certificate(context_.native_handle(), cert);
    SSL_CTX_use_PrivateKey(context_.native_handle(), key);
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HttpsOrigin() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int handshakes() const { return handshakes_.load(); }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  struct Connection {
    Connection(Tcp::socket socket, ssl::context& context) : stream(std::move(socket), context) {}
    ssl::stream<Tcp::socket> stream;
    asio::streambuf in;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, Tcp::socket socket) {
      if (ec) return;
      auto c = std::make_shared<Connection>(std::move(socket), context_);
      c->stream.async_handshake(ssl::stream_base::server, [this, c](boost::system::error_code e) {
        if (e) return;
        ++handshakes_;
        serve(c);
      });
      accept();
    });
  }
  void serve(const std::shared_ptr<Connection>& c) {
    asio::async_read_until(c->stream, c->in, "\r\n\r\n",
                           [this, c](boost::system::error_code ec, size_t n) {
                             if (ec) return;
                             std::string head(asio::buffers_begin(c->in.data()),
                                              asio::buffers_begin(c->in.data()) + n);
                             c->in.consume(n);
                             {
                               std::lock_guard lock(mutex_);
                               requests_.push_back(head.substr(0, head.find("\r\n")));
                             }
                             asio::async_write(c->stream, asio::buffer(kResponse),
                                               [this, c](boost::system::error_code e, size_t) {
                                                 if (!e) serve(c);
                                               });
                           });
  }

  static constexpr std::string_view kResponse =
      "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\norigin";
  asio::io_context io_;
  ssl::context context_;
  Tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> handshakes_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
};

struct Response {
  int status = 0;
  std::string body;
};

// A blocking TLS client on plain OpenSSL over a socket with receive and send timeouts (a bug
// makes a test fail, never hang). Verifies the proxy's certificate against the CA and the name.
class Client {
 public:
  Client(X509* ca, const Tcp::endpoint& proxy) : ctx_(tls_testing::clientTrusting(ca)), s_(io_) {
    s_.connect(proxy);
    setReceiveTimeout(s_.native_handle(), std::chrono::seconds(5));
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), s_.native_handle());
    SSL_set_tlsext_host_name(ssl_.get(), kName);
    SSL_set1_host(ssl_.get(), kName);
    static const unsigned char kAlpn[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(ssl_.get(), kAlpn, sizeof kAlpn - 1);
  }
  bool handshake() { return SSL_connect(ssl_.get()) == 1; }
  long verifyResult() const { return SSL_get_verify_result(ssl_.get()); }
  std::string alpn() const {
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl_.get(), &p, &n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string issuer() const {
    tls_testing::Cert peer(SSL_get1_peer_certificate(ssl_.get()));
    char buf[256] = {};
    if (peer) X509_NAME_oneline(X509_get_issuer_name(peer.get()), buf, sizeof buf);
    return buf;
  }

  // Sends a GET and reads one response framed by Content-Length; status 0 on failure.
  Response get(const std::string& path) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: " + std::string(kName) + "\r\n\r\n";
    if (SSL_write(ssl_.get(), request.data(), static_cast<int>(request.size())) <= 0) return {};
    std::string in;
    char buf[4096];
    size_t head_end = std::string::npos;
    size_t length = 0;
    while (head_end == std::string::npos || in.size() < head_end + 4 + length) {
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) return {};
      in.append(buf, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        const size_t cl = in.find("Content-Length: ");
        if (cl != std::string::npos && cl < head_end) length = std::stoul(in.substr(cl + 16));
      }
    }
    Response r;
    r.status = std::stoi(in.substr(9, 3));
    r.body = in.substr(head_end + 4, length);
    return r;
  }

 private:
  asio::io_context io_;
  tls_testing::Ctx ctx_;
  Tcp::socket s_;
  tls_testing::Ssl ssl_;
};

class TlsInterceptTest : public tls_testing::TlsProxyFixture {
 protected:
  TlsInterceptTest()
      : origin_key_(tls_testing::ecKey()),
        origin_ca_("origin CA"),
        good_origin_(origin_ca_.leaf(kName, origin_key_.get()).get(), origin_key_.get()),
        wrong_origin_(origin_ca_.leaf("other.example.test", origin_key_.get()).get(),
                      origin_key_.get()) {
    ca_crt_ = dir_.write("ca.crt", pem(proxy_ca_.ca.get()));
    ca_key_ = dir_.write("ca.key", pem(proxy_ca_.ca_key.get()), 0600);
    bundle_ = dir_.write("origin-ca.crt", pem(origin_ca_.ca.get()));
  }

  void start(uint16_t origin_port) {
    policy::Rule rule;
    rule.name = "tls-inspect";
    rule.selector.ports = {{origin_port, policy::Protocol::kTcp}};
    rule.l7 = policy::L7Protocol::kTls;
    rule.terminating_tls = policy::TerminatingTls{"", "", ca_crt_, ca_key_};
    rule.originating_tls = policy::OriginatingTls{bundle_};
    policy::HttpRule allowed;
    allowed.method = "GET";
    allowed.path = "/allowed.*";
    rule.http = {allowed};
    policy::Policy p;
    p.rules.push_back(rule);
    auto compiled = policy::CompiledPolicy::compile(p);
    ASSERT_TRUE(compiled.ok());
    auto set = TlsInterceptionSet::load(*compiled.value, nullptr);
    ASSERT_TRUE(set) << set.error().message();
    interceptions_->store(set.value());
    startProxy(origin_port, *compiled.value,
               [this](TlsProxyOptions& options) { options.interceptions = interceptions_; });
  }

  Client client() { return Client(proxy_ca_.ca.get(), proxy_->endpoints().front()); }

  template <class F>
  static bool eventually(F done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  tls_testing::TempDir dir_;
  tls_testing::Pki proxy_ca_{"portcullis test CA"};
  tls_testing::Key origin_key_;
  tls_testing::Pki origin_ca_;
  HttpsOrigin good_origin_;
  HttpsOrigin wrong_origin_;  // its certificate names another host
  std::string ca_crt_, ca_key_, bundle_;
  std::shared_ptr<TlsInterceptionStore> interceptions_ = std::make_shared<TlsInterceptionStore>();
};

TEST_F(TlsInterceptTest, AllowedPathReachesTheOriginDeniedPathIs403InsideTls) {
  start(good_origin_.port());
  Client c = client();
  ASSERT_TRUE(c.handshake());
  // The client verified a leaf minted for the SNI by the proxy's CA, and got http/1.1 only.
  EXPECT_EQ(c.verifyResult(), X509_V_OK);
  EXPECT_NE(c.issuer().find("portcullis test CA"), std::string::npos) << c.issuer();
  EXPECT_EQ(c.alpn(), "http/1.1");

  const Response allowed = c.get("/allowed/1");
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(allowed.body, "origin");
  // Same connection: denied inside TLS, the connection survives for the next request.
  const Response denied = c.get("/secret");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body, "Access denied\r\n");
  const Response again = c.get("/allowed/2");
  EXPECT_EQ(again.status, 200);

  EXPECT_EQ(good_origin_.requests(),
            (std::vector<std::string>{"GET /allowed/1 HTTP/1.1", "GET /allowed/2 HTTP/1.1"}));
  EXPECT_EQ(good_origin_.handshakes(), 1);  // the origin connection was reused
  EXPECT_EQ(proxy_->counters().intercepted, 1u);
  const HttpCountersSnapshot http = proxy_->interceptedHttpCounters();
  EXPECT_EQ(http.requests_allowed, 2u);
  EXPECT_EQ(http.requests_denied, 1u);
}

TEST_F(TlsInterceptTest, OriginWhoseCertificateDoesNotMatchIsRefusedWith503) {
  start(wrong_origin_.port());
  Client c = client();
  ASSERT_TRUE(c.handshake());
  const Response r = c.get("/allowed/1");
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(wrong_origin_.requests().empty());
  EXPECT_EQ(proxy_->interceptedHttpCounters().upstream_unavailable, 1u);
}

TEST_F(TlsInterceptTest, ClientThatDoesNotTrustTheCaFailsItsHandshake) {
  start(good_origin_.port());
  Client c(origin_ca_.ca.get(), proxy_->endpoints().front());  // trusts another CA
  EXPECT_FALSE(c.handshake());
  EXPECT_TRUE(eventually([&] { return proxy_->counters().handshake_failures == 1u; }));
  EXPECT_EQ(good_origin_.handshakes(), 0);
}

TEST_F(TlsInterceptTest, AnInterceptedConnectionReleasesItsLimitUnitOnce) {
  start(good_origin_.port());
  {
    Client c = client();
    ASSERT_TRUE(c.handshake());
    EXPECT_EQ(c.get("/allowed").status, 200);
    EXPECT_EQ(proxy_->activeConnections(), 1u);
  }
  EXPECT_TRUE(eventually([&] { return proxy_->activeConnections() == 0u; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(proxy_->activeConnections(), 0u);  // not wrapped below zero by a second release
}

TEST_F(TlsInterceptTest, ShutdownEndsInterceptedSessions) {
  start(good_origin_.port());
  Client c = client();
  ASSERT_TRUE(c.handshake());
  ASSERT_EQ(c.get("/allowed").status, 200);
  auto done = std::make_shared<std::promise<void>>();
  proxy_->shutdown(std::chrono::milliseconds(200), [done] { done->set_value(); });
  EXPECT_EQ(done->get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(proxy_->activeConnections(), 0u);
}

}  // namespace
}  // namespace portcullis::proxy
