// HttpProxy end to end on 127.0.0.1 with real Asio: a client, the proxy (its original destination
// faked to point at a test origin), the origin. No privileges: no IP_TRANSPARENT, no SO_MARK.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "policy/compiled_policy.h"
#include "proxy/http_proxy.h"
#include "tests/proxy/http_loopback.h"
#include "tests/proxy/http_proxy_fixture.h"
#include "tests/proxy/http_test_support.h"

namespace portcullis::proxy {
namespace {

using namespace std::chrono_literals;
using http_testing::Client;
using http_testing::closedByPeer;
using http_testing::httpEntry;
using http_testing::Message;
using http_testing::Reply;
using http_testing::TestOrigin;

std::shared_ptr<const policy::CompiledPolicy> compile(uint16_t port,
                                                      std::vector<policy::HttpRule> http) {
  auto compiled = http_testing::httpPolicy(port, std::move(http));
  EXPECT_TRUE(compiled);
  return compiled;
}

std::vector<policy::HttpRule> defaultEntries() {
  policy::HttpRule ws = httpEntry("GET", "/ws");
  ws.headers = {"Upgrade: websocket"};
  policy::HttpRule edit = httpEntry("GET", "/edit");
  edit.header_matches = {{"X-Token", "s3cr3t", policy::MismatchAction::kReplace},
                         {"X-Debug", "off", policy::MismatchAction::kDelete},
                         {"X-Added", "1", policy::MismatchAction::kAdd}};
  return {httpEntry("GET|HEAD|POST|PUT", "/public/.*"), ws, edit,
          httpEntry("CONNECT", "tunnel\\.test:443")};
}

// Echoes what it got: the target as the body, or the request body for /public/echo.
Reply echoTarget(const Message& m) {
  if (m.target == "/public/echo") return {http_testing::okResponse(m.body)};
  return {http_testing::okResponse(m.target)};
}

// /proc/net/tcp{,6} entries in TIME_WAIT (state 06) whose local port is `port`.
int timeWaitCount(uint16_t port) {
  int count = 0;
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const uint16_t local_port =
          static_cast<uint16_t>(std::stoul(local.substr(local.find(':') + 1), nullptr, 16));
      if (local_port == port && state == "06") ++count;
    }
  }
  return count;
}

int statusOf(const std::optional<Message>& m) { return m ? m->status : -1; }
std::string bodyOf(const std::optional<Message>& m) { return m ? m->body : "<no response>"; }

class HttpSessionTest : public http_testing::HttpProxyFixture {
 protected:
  void SetUp() override { origin_ = std::make_unique<TestOrigin>(echoTarget); }

  void startProxy(const std::function<void(HttpProxyOptions&)>& tweak = {}) {
    if (!destination_) destination_ = origin_->endpoint();
    if (!store_.load()) store_.store(compile(destination_->port(), defaultEntries()));
    HttpProxyOptions options = http_testing::loopbackOptions([this] { return *destination_; });
    if (tweak) tweak(options);
    startProxyWith(std::move(options));
  }

  std::unique_ptr<TestOrigin> origin_;
  std::optional<Tcp::endpoint> destination_;
};

TEST_F(HttpSessionTest, AllowedRequestGetsTheOriginsResponse) {
  startProxy();
  Client client(proxyEndpoint());
  const auto r =
      client.roundTrip("GET /public/a?b=1 HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "/public/a?b=1");
  ASSERT_EQ(origin_->requests().size(), 1u);
  const Message seen = origin_->requests()[0];
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.header("host"), "example.test");
  EXPECT_EQ(seen.header("accept"), "*/*");
  EXPECT_EQ(proxy_->counters().requests_allowed, 1u);
}

TEST_F(HttpSessionTest, DeniedRequestGets403AndTheConnectionStaysUsable) {
  startProxy();
  Client client(proxyEndpoint());
  const auto denied = client.roundTrip("GET /private HTTP/1.1\r\nHost: example.test\r\n\r\n");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(denied->body, "Access denied\r\n");
  EXPECT_EQ(denied->header("content-type"), "text/plain");
  EXPECT_FALSE(denied->header("connection"));

  const auto allowed = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: example.test\r\n\r\n");
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200);
  ASSERT_EQ(origin_->requests().size(), 1u);
  EXPECT_EQ(origin_->requests()[0].target, "/public/x");
  EXPECT_EQ(proxy_->counters().requests_denied, 1u);
}

TEST_F(HttpSessionTest, DeniedRequestBodyIsReadAndDropped) {
  startProxy();
  Client client(proxyEndpoint());
  client.send(
      "POST /private HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
      "PUT /private HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
      "GET /public/after HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(statusOf(client.response()), 403);
  EXPECT_EQ(statusOf(client.response()), 403);
  const auto r = client.response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/public/after");
}

TEST_F(HttpSessionTest, DeniedBodyOverTheDiscardLimitClosesTheConnection) {
  startProxy([](HttpProxyOptions& o) { o.max_discard_bytes = 1000; });
  Client client(proxyEndpoint());
  const auto r =
      client.roundTrip("POST /private HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client.closed());
}

TEST_F(HttpSessionTest, MalformedRequestGets400AndNothingReachesTheOrigin) {
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip(
      "POST /public/x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: "
      "chunked\r\n\r\n"
      "0\r\n\r\nGET /public/smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client.closed());
  EXPECT_EQ(origin_->connections(), 0);
  EXPECT_EQ(proxy_->counters().parse_errors, 1u);
}

TEST_F(HttpSessionTest, MalformedRequestAfterAGoodOneIsNotForwarded) {
  startProxy();
  Client client(proxyEndpoint());
  client.send(
      "GET /public/first HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /public/second HTTP/1.1\r\nHost: a\r\nX: folded\r\n line\r\n\r\n");
  EXPECT_EQ(statusOf(client.response()), 200);
  EXPECT_EQ(statusOf(client.response()), 400);
  EXPECT_TRUE(client.closed());
  ASSERT_EQ(origin_->requests().size(), 1u);
  EXPECT_EQ(origin_->requests()[0].target, "/public/first");
}

TEST_F(HttpSessionTest, ClosedUpstreamPortGets503) {
  {
    boost::asio::io_context io;
    Tcp::acceptor probe(io, Tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    destination_ = probe.local_endpoint();
  }  // closed: nothing listens there now
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(client.closed());
  EXPECT_EQ(proxy_->counters().upstream_unavailable, 1u);
}

TEST_F(HttpSessionTest, SilentUpstreamGets504AfterTheResponseTimeout) {
  origin_ =
      std::make_unique<TestOrigin>([](const Message&) { return http_testing::silentReply(); });
  startProxy([](HttpProxyOptions& o) { o.response_timeout = 200ms; });
  Client client(proxyEndpoint());
  const auto start = std::chrono::steady_clock::now();
  const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_TRUE(client.closed());
  EXPECT_EQ(proxy_->counters().upstream_timeouts, 1u);
}

TEST_F(HttpSessionTest, UpstreamThatNeverAcceptsGets504AfterTheConnectTimeout) {
  // A listener whose accept queue is full drops further SYNs: the connect hangs.
  boost::asio::io_context io;
  Tcp::acceptor full(io, Tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(fd, full.local_endpoint().data(), full.local_endpoint().size());  // EINPROGRESS
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(100ms);  // let the handshakes that can complete, complete
  destination_ = full.local_endpoint();
  store_.store(compile(destination_->port(), defaultEntries()));
  startProxy([](HttpProxyOptions& o) { o.connect_timeout = 300ms; });
  Client client(proxyEndpoint());
  const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(proxy_->counters().upstream_timeouts, 1u);
  for (int fd : fillers) ::close(fd);
}

TEST_F(HttpSessionTest, HeaderEditsAndHopByHopRemovalAreVisibleAtTheOrigin) {
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip(
      "GET /edit HTTP/1.1\r\nHost: a\r\nX-Token: wrong\r\nX-Debug: on\r\nConnection: X-Hop\r\n"
      "X-Hop: private\r\nKeep-Alive: timeout=9\r\nX-Keep: yes\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(origin_->requests().size(), 1u);
  const Message seen = origin_->requests()[0];
  EXPECT_EQ(seen.header("x-token"), "s3cr3t");
  EXPECT_EQ(seen.count("x-token"), 1u);
  EXPECT_FALSE(seen.header("x-debug"));
  EXPECT_EQ(seen.header("x-added"), "1");
  EXPECT_FALSE(seen.header("x-hop"));
  EXPECT_FALSE(seen.header("keep-alive"));
  EXPECT_FALSE(seen.header("connection"));
  EXPECT_EQ(seen.header("x-keep"), "yes");
}

// A response head the rewrite would not change goes on byte for byte with its body; one with a
// hop-by-hop field is rewritten. Requests on the same connection alternate between the two.
TEST_F(HttpSessionTest, ResponseHeadGoesOnAsReceivedWhenTheRewriteWouldSayTheSame) {
  const std::string as_is =
      "HTTP/1.1 200 OK\r\nX-Spaced:   v  \r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";
  const std::string hop = "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok";
  origin_ = std::make_unique<TestOrigin>([&](const Message& m) {
    return Reply{m.target == "/public/hop" ? hop : as_is};
  });
  startProxy();
  Client client(proxyEndpoint());
  for (int i = 0; i < 2; ++i) {
    client.send("GET /public/as-is HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(client.readBytes(as_is.size()), as_is);
    const auto r = client.roundTrip("GET /public/hop HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->header("keep-alive"));
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(origin_->connections(), 1);
}

TEST_F(HttpSessionTest, PipelinedRequestsAreAnsweredInOrder) {
  startProxy();
  Client client(proxyEndpoint());
  std::string batch;
  const std::vector<std::string> targets = {"/public/1", "/private", "/public/3", "/public/4"};
  for (const std::string& t : targets) batch += "GET " + t + " HTTP/1.1\r\nHost: a\r\n\r\n";
  client.send(batch);
  EXPECT_EQ(bodyOf(client.response()), "/public/1");
  EXPECT_EQ(statusOf(client.response()), 403);
  EXPECT_EQ(bodyOf(client.response()), "/public/3");
  EXPECT_EQ(bodyOf(client.response()), "/public/4");
  EXPECT_EQ(origin_->requests().size(), 3u);
  EXPECT_EQ(origin_->connections(), 1);  // and the upstream connection was reused
}

TEST_F(HttpSessionTest, SeveralMegabytesStreamIntactBothWays) {
  startProxy();
  std::string body(8 << 20, '\0');
  std::mt19937 random(42);
  for (char& c : body) c = static_cast<char>(random());
  Client client(proxyEndpoint(), 20s);
  std::thread writer([&] {
    client.send("POST /public/echo HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  const auto r = client.response();
  writer.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body);
  ASSERT_EQ(origin_->requests().size(), 1u);
  EXPECT_TRUE(origin_->requests()[0].body == body);
}

TEST_F(HttpSessionTest, ChunkedRequestBodyIsForwardedAsSent) {
  startProxy();
  Client client(proxyEndpoint());
  const std::string chunked = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
  const auto r = client.roundTrip(
      "POST /public/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, chunked);
  EXPECT_EQ(origin_->requests().at(0).header("transfer-encoding"), "chunked");
}

TEST_F(HttpSessionTest, ExpectContinueIsRelayed) {
  startProxy();
  Client client(proxyEndpoint());
  client.send(
      "PUT /public/echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  const auto interim = client.response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  client.send("hello");
  const auto r = client.response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(HttpSessionTest, DeniedExpectContinueIsAnsweredAndClosed) {
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip(
      "PUT /private HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->header("connection"), "close");
}

TEST_F(HttpSessionTest, HeadResponseHasNoBodyAndTheConnectionContinues) {
  origin_ = std::make_unique<TestOrigin>([](const Message& m) {
    if (m.method == "HEAD") return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"};
    return Reply{http_testing::okResponse("after head")};
  });
  startProxy();
  Client client(proxyEndpoint());
  client.send("HEAD /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
  const auto head = client.response(HttpParser::RequestKind::kHead);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("content-length"), "1000");
  EXPECT_EQ(head->body, "");
  const auto next = client.roundTrip("GET /public/y HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "after head");
}

TEST_F(HttpSessionTest, ResponseWithoutLengthIsDelimitedByTheClose) {
  origin_ = std::make_unique<TestOrigin>([](const Message&) {
    return http_testing::closingReply(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
  });
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "until the end");
  EXPECT_EQ(r->header("connection"), "close");
}

TEST_F(HttpSessionTest, Http10ClientIsAnsweredAndClosed) {
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip("GET /public/old HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/public/old");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client.closed());
}

TEST_F(HttpSessionTest, ConnectionCloseFromTheClientIsHonoured) {
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client.closed());
  // The origin's hop is the proxy's to manage: asked to stay open, then reset once the response
  // is complete (the origin sees the reset, not a FIN).
  ASSERT_EQ(origin_->requests().size(), 1u);
  EXPECT_FALSE(origin_->requests()[0].header("connection"));
}

TEST_F(HttpSessionTest, AllowedWebSocketUpgradeTunnelsBothWays) {
  origin_ = std::make_unique<TestOrigin>([](const Message& m) {
    if (!m.upgrade) return Reply{http_testing::okResponse("no")};
    return http_testing::tunnelReply(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  });
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip(
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
      "Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  EXPECT_EQ(r->header("upgrade"), "websocket");
  EXPECT_EQ(origin_->requests().at(0).header("upgrade"), "websocket");
  const std::string frame = "\x81\x05hello, not HTTP at all\r\n\r\n";
  client.send(frame);
  EXPECT_EQ(client.readBytes(frame.size()), frame);
  client.socket().shutdown(Tcp::socket::shutdown_send);  // the origin echoes the FIN back
  EXPECT_TRUE(closedByPeer(client.socket()));
  EXPECT_EQ(proxy_->counters().tunnels, 1u);
}

TEST_F(HttpSessionTest, DeniedUpgradeGets403AndTheConnectionStaysHttp) {
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip(
      "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  const auto next = client.roundTrip("GET /public/y HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "/public/y");
  EXPECT_EQ(origin_->connections(), 1);
}

TEST_F(HttpSessionTest, ConnectOnlyWhenAllowed) {
  origin_ = std::make_unique<TestOrigin>([](const Message&) {
    return http_testing::tunnelReply("HTTP/1.1 200 Connection established\r\n\r\n");
  });
  startProxy();
  Client denied(proxyEndpoint());
  const auto no =
      denied.roundTrip("CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n");
  ASSERT_TRUE(no);
  EXPECT_EQ(no->status, 403);
  EXPECT_TRUE(denied.closed());

  Client allowed(proxyEndpoint());
  allowed.send("CONNECT tunnel.test:443 HTTP/1.1\r\nHost: tunnel.test:443\r\n\r\n");
  const auto yes = allowed.response(HttpParser::RequestKind::kConnect);
  ASSERT_TRUE(yes);
  EXPECT_EQ(yes->status, 200);
  const std::string tls = "\x16\x03\x01 tls bytes";
  allowed.send(tls);
  EXPECT_EQ(allowed.readBytes(tls.size()), tls);
}

TEST_F(HttpSessionTest, SlowlorisIsCutAtTheHeaderTimeout) {
  startProxy([](HttpProxyOptions& o) { o.limits.header_timeout = 200ms; });
  Client client(proxyEndpoint());
  client.send("GET /public/x HTTP/1.1\r\nHo");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.closed());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  EXPECT_EQ(proxy_->counters().header_timeouts, 1u);
  EXPECT_EQ(origin_->connections(), 0);
}

TEST_F(HttpSessionTest, KeepAliveConnectionClosesAfterTheIdleTimeout) {
  startProxy([](HttpProxyOptions& o) { o.limits.idle_timeout = 200ms; });
  Client client(proxyEndpoint());
  ASSERT_TRUE(client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(client.closed());
  EXPECT_EQ(proxy_->counters().idle_timeouts, 1u);
}

TEST_F(HttpSessionTest, ConnectionToTheProxyItselfIsRefused) {
  startProxy([](HttpProxyOptions& o) {
    o.original_destination = [](const Tcp::socket& s, std::error_code& ec) {
      ec.clear();
      return s.local_endpoint();  // what TPROXY would give for a connection to the listener
    };
  });
  Client client(proxyEndpoint());
  EXPECT_TRUE(client.closed());  // at once, before any request
  EXPECT_EQ(proxy_->counters().loops_refused, 1u);
  EXPECT_EQ(origin_->connections(), 0);
}

TEST_F(HttpSessionTest, ConnectionsBeyondTheLimitAreAcceptedAndClosed) {
  startProxy([](HttpProxyOptions& o) { o.limits.max_connections = 1; });
  Client first(proxyEndpoint());
  ASSERT_TRUE(first.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n"));
  Client second(proxyEndpoint());
  EXPECT_TRUE(second.closed());
  EXPECT_EQ(proxy_->counters().connections_over_limit, 1u);
  EXPECT_TRUE(first.roundTrip("GET /public/y HTTP/1.1\r\nHost: a\r\n\r\n"));
}

TEST_F(HttpSessionTest, ReloadedPolicyAppliesFromTheNextRequest) {
  startProxy();
  Client client(proxyEndpoint());
  EXPECT_EQ(statusOf(client.roundTrip("GET /private HTTP/1.1\r\nHost: a\r\n\r\n")), 403);
  store_.store(compile(destination_->port(), {httpEntry("GET", "/private")}));
  EXPECT_EQ(statusOf(client.roundTrip("GET /private HTTP/1.1\r\nHost: a\r\n\r\n")), 200);
  EXPECT_EQ(statusOf(client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n")), 403);
}

TEST_F(HttpSessionTest, HostRulesJudgeTheHostWithoutPort) {
  policy::HttpRule only_host = httpEntry("GET", "/.*");
  only_host.host = "example\\.test";
  destination_ = origin_->endpoint();
  store_.store(compile(destination_->port(), {only_host}));
  startProxy();
  Client client(proxyEndpoint());
  EXPECT_EQ(statusOf(client.roundTrip("GET / HTTP/1.1\r\nHost: EXAMPLE.test:8080\r\n\r\n")), 200);
  EXPECT_EQ(statusOf(client.roundTrip("GET / HTTP/1.1\r\nHost: other.test\r\n\r\n")), 403);
}

TEST_F(HttpSessionTest, ShutdownResetsIdleConnectionsAndLeavesNoTimeWait) {
  startProxy();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(proxyEndpoint()));
    ASSERT_TRUE(clients.back()->roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n"));
  }
  std::promise<void> done;
  proxy_->shutdown(10s, [&] { done.set_value(); });  // idle connections do not wait for the grace
  ASSERT_EQ(done.get_future().wait_for(2s), std::future_status::ready);
  for (auto& c : clients) EXPECT_TRUE(c->closed());
  EXPECT_EQ(timeWaitCount(proxyEndpoint().port()), 0);
  EXPECT_EQ(proxy_->activeConnections(), 0u);
}

TEST_F(HttpSessionTest, ShutdownLetsAnExchangeInFlightFinish) {
  origin_ = std::make_unique<TestOrigin>([](const Message& m) {
    std::this_thread::sleep_for(300ms);
    return Reply{http_testing::okResponse(m.target)};
  });
  startProxy();
  Client client(proxyEndpoint());
  client.send("GET /public/slow HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(origin_->waitForConnections(1));
  std::promise<void> done;
  proxy_->shutdown(3s, [&] { done.set_value(); });
  const auto r = client.response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/public/slow");
  EXPECT_EQ(r->header("connection"), "close");
  client.socket().close();  // the client closes first, as told
  ASSERT_EQ(done.get_future().wait_for(2s), std::future_status::ready);
  EXPECT_EQ(timeWaitCount(proxyEndpoint().port()), 0);
}

// Polls until the proxy holds `n` connections; false after `timeout`.
bool waitForActive(const HttpProxy& proxy, uint32_t n, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (proxy.activeConnections() != n) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A raw origin for one connection: reads one request head, writes `response` and leaves the
// connection open, then reports how its next read ended (connection_reset when the proxy resets
// it, eof for a FIN).
class OneShotOrigin {
 public:
  explicit OneShotOrigin(std::string response)
      : acceptor_(io_, Tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
        thread_([this, response = std::move(response)] { serve(response); }) {}
  ~OneShotOrigin() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes an accept still waiting
    thread_.join();
  }
  Tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
  std::future<boost::system::error_code> afterResponse() { return after_response_.get_future(); }

 private:
  void serve(const std::string& response) {
    Tcp::socket socket(io_);
    boost::system::error_code ec;
    acceptor_.accept(socket, ec);
    if (ec) return after_response_.set_value(ec);
    http_testing::setReceiveTimeout(socket.native_handle(), 5000ms);
    std::string request;
    char buf[1024];
    while (request.find("\r\n\r\n") == std::string::npos && !ec) {
      request.append(buf, http_testing::recvSome(socket, buf, sizeof buf, ec));
    }
    boost::asio::write(socket, boost::asio::buffer(response), ec);
    http_testing::recvSome(socket, buf, sizeof buf, ec);
    after_response_.set_value(ec);
  }

  boost::asio::io_context io_;
  Tcp::acceptor acceptor_;
  std::promise<boost::system::error_code> after_response_;
  std::thread thread_;  // last: it uses the members above
};

TEST_F(HttpSessionTest, OriginConnectionNotKeptIsResetOnceTheResponseIsComplete) {
  // A raw origin that answers "Connection: close" but leaves the connection open: the proxy,
  // holding the whole response, resets it rather than exchanging FINs.
  OneShotOrigin origin(http_testing::okResponse("ok", "Connection: close\r\n"));
  destination_ = origin.endpoint();
  startProxy();
  Client client(proxyEndpoint());
  const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(bodyOf(r), "ok");
  auto result = origin.afterResponse();
  ASSERT_EQ(result.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(result.get(), boost::asio::error::connection_reset);
}

TEST_F(HttpSessionTest, IdleOriginConnectionIsResetWhenTheClientLeaves) {
  // A keep-alive client ends its connection between requests: the origin connection, idle and
  // kept for the next request, is reset rather than closed with a FIN that would leave the proxy
  // a TIME_WAIT socket (README: connections).
  OneShotOrigin origin(http_testing::okResponse("ok"));
  destination_ = origin.endpoint();
  startProxy();
  {
    Client client(proxyEndpoint());
    const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(bodyOf(r), "ok");
    client.socket().shutdown(Tcp::socket::shutdown_send);
    EXPECT_TRUE(closedByPeer(client.socket()));
  }
  auto result = origin.afterResponse();
  ASSERT_EQ(result.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(result.get(), boost::asio::error::connection_reset);
}

TEST_F(HttpSessionTest, ClientThatSaidCloseIsClosedWithoutWaitingForItsFin) {
  startProxy([](HttpProxyOptions& o) { o.linger_timeout = 10s; });
  Client client(proxyEndpoint());
  const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(bodyOf(r), "/public/x");
  // The client keeps its end open: the proxy's session ends all the same.
  EXPECT_TRUE(waitForActive(*proxy_, 0, 2000ms));
  EXPECT_TRUE(client.closed());
}

TEST_F(HttpSessionTest, ClientToldToCloseByTheProxyIsStillLingeredFor) {
  // The client did not ask for the close (a body delimited by the close can only reach it that
  // way): it may have pipelined more, so the proxy reads until the client's FIN rather than
  // risk resetting the response.
  origin_ = std::make_unique<TestOrigin>([](const Message&) {
    return http_testing::closingReply("HTTP/1.1 200 OK\r\n\r\nuntil the end");
  });
  startProxy([](HttpProxyOptions& o) { o.linger_timeout = 10s; });
  Client client(proxyEndpoint());
  const auto r = client.roundTrip("GET /public/x HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "until the end");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client.closed());  // our FIN came
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(proxy_->activeConnections(), 1u);  // lingering
  client.socket().close();
  EXPECT_TRUE(waitForActive(*proxy_, 0, 2000ms));
}

// Between requests is not "nothing in flight": the last response may still wait in the socket
// buffers for a client that reads slowly (curl --limit-rate). The reset at shutdown waits until
// the client has acknowledged it all (http_reload_test's download failed when SIGTERM came after
// the proxy had written the whole response).
TEST_F(HttpSessionTest, ShutdownDeliversTheLastResponseOfAnIdleConnectionBeforeTheReset) {
  const std::string body(1 << 20, 'b');  // fits the sockets' buffers on loopback, not the client's
  origin_ = std::make_unique<TestOrigin>(
      [body](const Message&) { return Reply{http_testing::okResponse(body)}; });
  auto opened = AccessLog::open({.path = "/dev/null"});  // its record: the exchange ended
  ASSERT_TRUE(opened);
  std::shared_ptr<AccessLog> access_log = std::move(opened.value());
  access_log->start();
  startProxy([&access_log](HttpProxyOptions& o) { o.access_log = access_log; });
  Client client(proxyEndpoint());
  client.send("GET /public/big HTTP/1.1\r\nHost: a\r\n\r\n");
  // The proxy wrote the whole response and waits for the next request; the client read nothing.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (access_log->written() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(access_log->written(), 1u);
  std::promise<void> done;
  auto finished = done.get_future();
  proxy_->shutdown(3s, [&] { done.set_value(); });
  // Not done while the client has not taken the response: the connection is not reset yet.
  EXPECT_EQ(finished.wait_for(300ms), std::future_status::timeout);
  const auto r = client.response();
  ASSERT_TRUE(r) << "the response was cut by the reset";
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(client.closed());  // then reset: no TIME_WAIT with the original 4-tuple
  ASSERT_EQ(finished.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(timeWaitCount(proxyEndpoint().port()), 0);
}

TEST_F(HttpSessionTest, ReusedUpstreamClosedByTheOriginIsRetriedOnce) {
  int served = 0;
  origin_ = std::make_unique<TestOrigin>([&served](const Message& m) {
    ++served;
    // The origin closes after each response without saying so: the proxy's next write on the
    // kept connection finds it closed.
    return http_testing::closingReply(http_testing::okResponse(m.target));
  });
  startProxy();
  Client client(proxyEndpoint());
  EXPECT_EQ(bodyOf(client.roundTrip("GET /public/1 HTTP/1.1\r\nHost: a\r\n\r\n")), "/public/1");
  std::this_thread::sleep_for(50ms);  // the origin's FIN arrives
  const auto r = client.roundTrip("GET /public/2 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/public/2");
  EXPECT_EQ(origin_->connections(), 2);
}

}  // namespace
}  // namespace portcullis::proxy

namespace portcullis::proxy {
namespace {

TEST_F(HttpSessionTest, ListensOnIpv4AndIpv6OnOnePort) {
  startProxy(
      [](HttpProxyOptions& o) { o.bind.emplace_back(boost::asio::ip::make_address("::1"), 0); });
  ASSERT_EQ(proxy_->endpoints().size(), 2u);
  const Tcp::endpoint v6 = proxy_->endpoints()[1];
  EXPECT_TRUE(v6.address().is_v6());
  EXPECT_EQ(v6.port(), proxyEndpoint().port());
  Client client(v6);
  EXPECT_EQ(bodyOf(client.roundTrip("GET /public/v6 HTTP/1.1\r\nHost: a\r\n\r\n")), "/public/v6");
}

TEST(HttpProxyOptionsTest, FromConfig) {
  policy::Config config;
  config.proxy.limits.max_connections = 7;
  config.proxy.preserve_source = true;
  HttpProxyOptions o = httpProxyOptions(config, policy::Direction::kIngress, 15503);
  EXPECT_EQ(o.name, "portcullis-http-ingress");
  EXPECT_EQ(o.direction, policy::Direction::kIngress);
  ASSERT_EQ(o.bind.size(), 2u);
  EXPECT_EQ(o.bind[0], Tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 15503));
  EXPECT_EQ(o.bind[1], Tcp::endpoint(boost::asio::ip::make_address("::1"), 15503));
  EXPECT_EQ(o.limits.max_connections, 7u);
  EXPECT_TRUE(o.preserve_source);
  EXPECT_TRUE(o.transparent);
  EXPECT_EQ(o.upstream_mark, 0xa00u);
  config.datapath.ipv6 = false;
  EXPECT_EQ(httpProxyOptions(config, policy::Direction::kEgress, 1).bind.size(), 1u);
}

// Both threading models under concurrent load: every request answered, in order per connection.
class HttpProxyModelTest : public ::testing::TestWithParam<IoPool::Model> {};

TEST_P(HttpProxyModelTest, ManyClientsInParallel) {
  TestOrigin origin(echoTarget);
  PolicyStore store(compile(origin.port(), defaultEntries()));
  IoPool pool(2, GetParam());
  HttpProxy proxy(pool, http_testing::loopbackOptions(origin.endpoint()), store);
  ASSERT_TRUE(proxy.start());
  pool.start();
  constexpr int kClients = 8;
  constexpr int kRequests = 40;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Client client(proxy.endpoints().front());
      for (int r = 0; r < kRequests; ++r) {
        const std::string target = "/public/" + std::to_string(c) + "/" + std::to_string(r);
        const std::string denied = r % 5 == 0 ? "/private" : target;
        const auto response = client.roundTrip("GET " + denied + " HTTP/1.1\r\nHost: a\r\n\r\n");
        if (r % 5 == 0 ? statusOf(response) == 403 : bodyOf(response) == target) ++ok;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  const HttpCountersSnapshot counters = proxy.counters();
  EXPECT_EQ(counters.requests_allowed, uint64_t{kClients * kRequests * 4 / 5});
  EXPECT_EQ(counters.requests_denied, uint64_t{kClients * kRequests / 5});
  EXPECT_EQ(counters.connections_accepted, uint64_t{kClients});
  proxy.stopAccepting();
  pool.stop();
  pool.join();
}

INSTANTIATE_TEST_SUITE_P(Models, HttpProxyModelTest,
                         ::testing::Values(IoPool::Model::kContextPerThread,
                                           IoPool::Model::kSharedContext));

}  // namespace
}  // namespace portcullis::proxy
