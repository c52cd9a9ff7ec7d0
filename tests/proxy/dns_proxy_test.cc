// The DNS proxy end to end on loopback, without privileges: plain (not transparent) listeners on
// 127.0.0.1 and ::1, the original destination mapped to a fake upstream, answers sent from the
// listener. The transparent reply path needs root and TPROXY: the integration test's job.
#include "proxy/dns_proxy.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "policy/compiled_policy.h"
#include "policy/parser.h"
#include "proxy/dns_udp_upstream.h"
#include "tests/proxy/dns_client_support.h"
#include "tests/proxy/dns_fake_upstream.h"

namespace portcullis::proxy {
namespace {

using namespace testing;  // NOLINT: the test message builders and clients
using std::chrono::milliseconds;

std::shared_ptr<const policy::CompiledPolicy> compilePolicy(const std::string& yaml) {
  auto parsed = policy::parsePolicy(yaml, "test-policy.yaml");
  for (const auto& e : parsed.errors) ADD_FAILURE() << e.toString();
  if (!parsed.ok()) return nullptr;
  auto compiled = policy::CompiledPolicy::compile(*parsed.value);
  for (const auto& e : compiled.errors) ADD_FAILURE() << e.toString();
  return compiled.ok() ? *compiled.value : nullptr;
}

// Allows names under example.test (SPEC.md matchPattern) and exact "allowed.test" on `port`.
std::string examplePolicy(uint16_t port) {
  return "rules:\n"
         "  - name: dns-test\n"
         "    direction: egress\n"
         "    selector:\n"
         "      ports: [{port: " +
         std::to_string(port) +
         ", protocol: ANY}]\n"
         "    dns:\n"
         "      - matchName: allowed.test\n"
         "      - matchPattern: \"*.example.test\"\n";
}

std::string denyAllPolicy(uint16_t port) {
  return "rules:\n"
         "  - name: dns-nothing\n"
         "    direction: egress\n"
         "    selector:\n"
         "      ports: [{port: " +
         std::to_string(port) +
         ", protocol: ANY}]\n"
         "    dns:\n"
         "      - matchName: nothing.invalid\n";
}

std::vector<uint8_t> withId(std::vector<uint8_t> m, uint16_t id) {
  if (m.size() >= 2) {
    m[0] = static_cast<uint8_t>(id >> 8);
    m[1] = static_cast<uint8_t>(id);
  }
  return m;
}

bool hasIpv6Loopback() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_loopback;
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

class DnsProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<FakeDnsUpstream>(io_);
    upstream_->start();
  }

  void TearDown() override {
    if (thread_.joinable()) {
      onIo([&] {
        proxy_->shutdown();
        upstream_->close();
      });
      work_.reset();
      thread_.join();
    }
  }

  // Starts the proxy; `tweak` adjusts the config before.
  void startProxy(const std::function<void(DnsProxyConfig&)>& tweak = {}) {
    if (!store_.load()) store_.store(compilePolicy(examplePolicy(upstream_->port())));
    DnsProxyConfig config;
    config.bind_v6 = hasIpv6Loopback() ? IpAddress::parse("::1") : std::nullopt;
    config.listener.transparent = false;
    config.listener.upstream_mark = 0;
    const auto fake = upstream_->endpoint();
    config.listener.original_destination = [fake](const auto&) { return fake; };
    config.dns.upstream_timeout = milliseconds(2000);
    if (tweak) tweak(config);
    proxy_ = std::make_unique<DnsProxy>(
        executors(), std::move(config), store_, names_, [this](const DnsQueryEvent& e) {
          std::lock_guard lock(events_mutex_);
          events_.push_back(std::string(e.name) + " " + (e.allowed ? "allowed" : "denied") + " " +
                            std::string(e.rule));
        });
    auto started = proxy_->start();
    ASSERT_TRUE(started) << started.error().message();
    ASSERT_NE(proxy_->port(), 0);
    thread_ = std::thread([this] { io_.run(); });
  }

  // Runs `f` on the io_context thread and waits for it.
  void onIo(std::function<void()> f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  DnsCounterValues counters() {
    DnsCounterValues v;
    onIo([&] { v = proxy_->counters(); });
    return v;
  }

  uint16_t port() const { return proxy_->port(); }
  std::vector<DnsProxy::Executor> executors() { return {io_.get_executor()}; }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::thread thread_;
  PolicyStore store_;
  std::shared_ptr<DnsNameCache> names_ = std::make_shared<DnsNameCache>(1000);
  std::unique_ptr<FakeDnsUpstream> upstream_;
  std::unique_ptr<DnsProxy> proxy_;
  std::mutex events_mutex_;
  std::vector<std::string> events_;
};

TEST_F(DnsProxyTest, UdpAllowedQueryIsRelayedVerbatimAndLearned) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(0x1111, "WWW.example.test"));
  ASSERT_TRUE(answer);
  // The upstream's bytes, with the client's ID back in place of the one the proxy chose.
  EXPECT_EQ(*answer, withId(upstream_->sentFor("WWW"), 0x1111));
  EXPECT_EQ(rcodeOf(*answer), 0);
  EXPECT_EQ(upstream_->received(), 1u);
  EXPECT_EQ(names_->lookup("www.example.test.", DnsNameCache::Clock::now()),
            std::vector<IpAddress>{*IpAddress::parse("198.18.5.1")});
  EXPECT_EQ(counters().allowed, 1u);
  std::lock_guard lock(events_mutex_);
  EXPECT_EQ(events_, std::vector<std::string>{"www.example.test. allowed dns-test"});
}

TEST_F(DnsProxyTest, UdpDeniedQueryIsRefusedWithTheQuestionEchoed) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  for (const char* name : {"example.test", "a.b.example.test", "allowed.test.evil"}) {
    const auto q = query(0x2222, name);
    auto answer = client.ask(q);
    ASSERT_TRUE(answer) << name;
    EXPECT_EQ(idOf(*answer), 0x2222);
    EXPECT_EQ(rcodeOf(*answer), 5) << name;  // REFUSED
    EXPECT_EQ(std::vector<uint8_t>(answer->begin() + 12, answer->end()),
              std::vector<uint8_t>(q.begin() + 12, q.end()));
  }
  EXPECT_EQ(rcodeOf(*client.ask(query(3, "Allowed.Test."))), 0);  // matchName, any case
  EXPECT_EQ(upstream_->received(), 1u);
  EXPECT_EQ(counters().denied, 3u);
}

TEST_F(DnsProxyTest, NxdomainRejectMode) {
  startProxy([](DnsProxyConfig& c) { c.dns.reject = policy::DnsReject::kNxdomain; });
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(7, "denied.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 3);
  EXPECT_EQ(upstream_->received(), 0u);
}

TEST_F(DnsProxyTest, UdpUpstreamTimeoutIsServfail) {
  startProxy([](DnsProxyConfig& c) { c.dns.upstream_timeout = milliseconds(100); });
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(8, "drop.example.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(idOf(*answer), 8);
  EXPECT_EQ(rcodeOf(*answer), 2);
  EXPECT_EQ(counters().upstream_timeouts, 1u);
  EXPECT_EQ(counters().allowed, 1u);
  onIo([&] { EXPECT_EQ(proxy_->inFlight(), 0u); });
}

TEST_F(DnsProxyTest, UnreachableUpstreamIsServfail) {
  // A port nothing listens on: ICMP port unreachable (UDP), connection refused (TCP).
  uint16_t dead_port;
  {
    boost::asio::io_context scratch;
    boost::asio::ip::udp::socket s(scratch, {boost::asio::ip::make_address("127.0.0.1"), 0});
    dead_port = s.local_endpoint().port();
  }
  store_.store(compilePolicy(examplePolicy(dead_port)));
  startProxy([&](DnsProxyConfig& c) {
    const boost::asio::ip::udp::endpoint dead(boost::asio::ip::make_address("127.0.0.1"),
                                              dead_port);
    c.listener.original_destination = [dead](const auto&) { return dead; };
  });
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(9, "www.example.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 2);
  TcpClient tcp("127.0.0.1", port());
  tcp.send(query(10, "www.example.test"));
  auto tcp_answer = tcp.receive();
  ASSERT_TRUE(tcp_answer);
  EXPECT_EQ(idOf(*tcp_answer), 10);
  EXPECT_EQ(rcodeOf(*tcp_answer), 2);
  EXPECT_EQ(counters().upstream_failures, 2u);
}

TEST_F(DnsProxyTest, OverTheInFlightLimitQueriesGetServfail) {
  startProxy([](DnsProxyConfig& c) { c.dns.max_in_flight = 2; });
  UdpClient a("127.0.0.1", port());
  UdpClient b("127.0.0.1", port());
  UdpClient c("127.0.0.1", port());
  a.send(query(1, "hold.example.test"));
  b.send(query(2, "hold.example.test"));
  ASSERT_TRUE(upstream_->waitReceived(2));
  auto refused = c.ask(query(3, "www.example.test"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(idOf(*refused), 3);
  EXPECT_EQ(rcodeOf(*refused), 2);
  EXPECT_EQ(upstream_->received(), 2u);
  EXPECT_EQ(counters().over_limit, 1u);
  upstream_->releaseHeld();
  auto first = a.receive();
  auto second = b.receive();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(rcodeOf(*first), 0);
  EXPECT_EQ(rcodeOf(*second), 0);
  // Slots are given back: the next query goes through.
  EXPECT_EQ(rcodeOf(*c.ask(query(4, "www.example.test"))), 0);
}

TEST_F(DnsProxyTest, AHeldQueryDoesNotDelayOthers) {
  startProxy();
  UdpClient held("127.0.0.1", port());
  held.send(query(100, "hold.example.test"));
  ASSERT_TRUE(upstream_->waitReceived(1));
  UdpClient client("127.0.0.1", port());
  for (uint16_t id = 1; id <= 50; ++id) client.send(query(id, "www.example.test"));
  std::set<uint16_t> ids;
  for (int i = 0; i < 50; ++i) {
    auto answer = client.receive();
    ASSERT_TRUE(answer) << "after " << i << " answers";
    ids.insert(idOf(*answer));
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_FALSE(held.receive(milliseconds(0)));
  upstream_->releaseHeld();
  auto late = held.receive();
  ASSERT_TRUE(late);
  EXPECT_EQ(idOf(*late), 100);
}

TEST_F(DnsProxyTest, UpstreamIdsAreRandomAndMappedBackToEachClient) {
  startProxy();
  UdpClient a("127.0.0.1", port());
  UdpClient b("127.0.0.1", port());
  a.send(query(0x1111, "hold.example.test"));
  b.send(query(0x1111, "hold.example.test"));  // the same ID from another client, both in flight
  ASSERT_TRUE(upstream_->waitReceived(2));
  const auto ids = upstream_->receivedIds();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]);
  upstream_->releaseHeld();
  auto to_a = a.receive();
  auto to_b = b.receive();
  ASSERT_TRUE(to_a && to_b);
  EXPECT_EQ(idOf(*to_a), 0x1111);
  EXPECT_EQ(idOf(*to_b), 0x1111);
  EXPECT_EQ(rcodeOf(*to_a), 0);
}

TEST_F(DnsProxyTest, AnAnswerToAnotherQuestionIsNotRelayed) {
  startProxy([](DnsProxyConfig& c) { c.dns.upstream_timeout = milliseconds(200); });
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(query(0x3333, "wrongq.example.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 2);  // the real answer never came: SERVFAIL at the timeout
  EXPECT_EQ(counters().upstream_timeouts, 1u);
}

TEST_F(DnsProxyTest, UpstreamSourcePortsRotate) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  for (uint16_t id = 0; id < 3 * DnsUdpUpstream::kQueriesPerSocket; ++id) {
    auto answer = client.ask(query(id, "www.example.test"));
    ASSERT_TRUE(answer);
    ASSERT_EQ(idOf(*answer), id);
  }
  const auto ports = upstream_->udpSourcePorts();
  EXPECT_GE(std::set<uint16_t>(ports.begin(), ports.end()).size(), 3u);
}

TEST_F(DnsProxyTest, TruncatedAnswerAndEdnsPassThroughUntouched) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  auto answer = client.ask(ednsQuery(0x07c0, "tc.example.test", 1232));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, withId(upstream_->sentFor("tc"), 0x07c0));
  EXPECT_TRUE(flagsOf(*answer) & 0x0200);  // TC
  EXPECT_EQ((*answer)[11], 1);             // the OPT record is still there
}

TEST_F(DnsProxyTest, MalformedDatagramsAreCountedAndDoNotDisturbTheNextQuery) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  client.send({0x12, 0x34, 0x01});  // not even a header: dropped
  std::vector<uint8_t> loop = header(0x4444, kRdFlag, 1);
  append(loop, std::vector<uint8_t>{0xc0, 12, 0, 1, 0, 1});
  client.send(loop);  // header parses: FORMERR
  auto formerr = client.receive();
  ASSERT_TRUE(formerr);
  EXPECT_EQ(idOf(*formerr), 0x4444);
  EXPECT_EQ(rcodeOf(*formerr), 1);
  auto notimp = client.ask(query(0x5555, "www.example.test", 1, 0x2000));  // opcode 4 (NOTIFY)
  ASSERT_TRUE(notimp);
  EXPECT_EQ(rcodeOf(*notimp), 4);
  client.send(response(0x6666, "www.example.test", 1, {}));  // a response: dropped
  auto ok = client.ask(query(0x7777, "www.example.test"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(idOf(*ok), 0x7777);
  EXPECT_EQ(rcodeOf(*ok), 0);
  EXPECT_EQ(counters().malformed, 4u);
  EXPECT_EQ(upstream_->received(), 1u);
}

TEST_F(DnsProxyTest, OversizedDatagramGetsFormerr) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  auto big = query(0x0b16, "www.example.test");
  big.resize(kDnsMaxQuerySize + 100, 0);
  auto answer = client.ask(big);
  ASSERT_TRUE(answer);
  EXPECT_EQ(idOf(*answer), 0x0b16);
  EXPECT_EQ(rcodeOf(*answer), 1);
  EXPECT_EQ(upstream_->received(), 0u);
}

TEST_F(DnsProxyTest, LearnsThroughCnameChains) {
  startProxy();
  UdpClient client("127.0.0.1", port());
  ASSERT_TRUE(client.ask(query(1, "cname.example.test")));
  auto snapshot = names_->snapshot(DnsNameCache::Clock::now());
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].name, "cname.example.test.");
  ASSERT_EQ(snapshot[0].addresses.size(), 1u);
  EXPECT_EQ(snapshot[0].addresses[0].address, *IpAddress::parse("198.18.6.1"));
  // The chain's TTL (the CNAME's 30 s) bounds the address's 300 s.
  EXPECT_LE(snapshot[0].addresses[0].expires,
            DnsNameCache::Clock::now() + std::chrono::seconds(30));
}

TEST_F(DnsProxyTest, TcpQueriesOnOneConnectionAreAnsweredAsTheyComplete) {
  startProxy();
  TcpClient client("127.0.0.1", port());
  ASSERT_TRUE(client.connected());
  client.send(query(1, "hold.example.test"));
  ASSERT_TRUE(upstream_->waitReceived(1));
  client.send(query(2, "www.example.test"));
  client.send(query(3, "denied.test"));
  std::map<uint16_t, int> rcodes;
  for (int i = 0; i < 2; ++i) {
    auto answer = client.receive();
    ASSERT_TRUE(answer);
    rcodes[idOf(*answer)] = rcodeOf(*answer);
  }
  EXPECT_EQ(rcodes, (std::map<uint16_t, int>{{2, 0}, {3, 5}}));  // before the held one
  upstream_->releaseHeld();
  auto held = client.receive();
  ASSERT_TRUE(held);
  EXPECT_EQ(idOf(*held), 1);
  EXPECT_EQ(*held, withId(upstream_->sentFor("hold"), 1));
}

TEST_F(DnsProxyTest, TcpQueriesOfOneConnectionShareOneUpstreamConnection) {
  startProxy();
  TcpClient client("127.0.0.1", port());
  for (uint16_t id = 1; id <= 10; ++id) client.send(query(id, "www.example.test"));
  std::set<uint16_t> ids;
  for (int i = 0; i < 10; ++i) {
    auto answer = client.receive();
    ASSERT_TRUE(answer);
    ids.insert(idOf(*answer));
  }
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(upstream_->tcpConnections(), 1u);
  TcpClient other("127.0.0.1", port());
  other.send(query(11, "www.example.test"));
  ASSERT_TRUE(other.receive());
  EXPECT_EQ(upstream_->tcpConnections(), 2u);
}

TEST_F(DnsProxyTest, TcpQueriesLostToAnUpstreamCloseAreSentAgain) {
  startProxy();
  TcpClient client("127.0.0.1", port());
  // The server answers "closer" and closes: the queries pipelined behind it go out again on a
  // new connection.
  client.send(query(1, "closer.example.test"));
  client.send(query(2, "www.example.test"));
  client.send(query(3, "www.example.test"));
  std::map<uint16_t, int> rcodes;
  for (int i = 0; i < 3; ++i) {
    auto answer = client.receive();
    ASSERT_TRUE(answer) << "after " << i;
    rcodes[idOf(*answer)] = rcodeOf(*answer);
  }
  EXPECT_EQ(rcodes, (std::map<uint16_t, int>{{1, 0}, {2, 0}, {3, 0}}));
  EXPECT_EQ(upstream_->tcpConnections(), 2u);
}

TEST_F(DnsProxyTest, TcpLargeAnswerPassesThrough) {
  startProxy();
  TcpClient client("127.0.0.1", port());
  client.send(query(0x0b19, "big.example.test"));
  auto answer = client.receive();
  ASSERT_TRUE(answer);
  EXPECT_GT(answer->size(), 48000u);
  EXPECT_EQ(*answer, withId(upstream_->sentFor("big"), 0x0b19));
  EXPECT_EQ(names_->lookup("big.example.test.", DnsNameCache::Clock::now()).size(),
            DnsNameCache::kMaxAddressesPerName);
}

TEST_F(DnsProxyTest, TcpUpstreamTimeoutIsServfailAndTheConnectionStaysUsable) {
  startProxy([](DnsProxyConfig& c) { c.dns.upstream_timeout = milliseconds(100); });
  TcpClient client("127.0.0.1", port());
  client.send(query(1, "drop.example.test"));
  auto failed = client.receive();
  ASSERT_TRUE(failed);
  EXPECT_EQ(rcodeOf(*failed), 2);
  client.send(query(2, "www.example.test"));
  auto answer = client.receive();
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 0);
  EXPECT_EQ(counters().upstream_timeouts, 1u);
}

TEST_F(DnsProxyTest, TcpIdleConnectionsAreClosed) {
  startProxy([](DnsProxyConfig& c) { c.listener.tcp_idle_timeout = milliseconds(150); });
  TcpClient idle("127.0.0.1", port());
  ASSERT_TRUE(idle.connected());
  EXPECT_TRUE(idle.closedByPeer());
  TcpClient stalled("127.0.0.1", port());
  stalled.sendRaw({0, 40, 0x12});  // a length, then 1 of its 40 bytes
  EXPECT_TRUE(stalled.closedByPeer());
  EXPECT_EQ(counters().tcp_open, 0u);
}

TEST_F(DnsProxyTest, TcpClientHalfCloseStillGetsItsAnswers) {
  startProxy();
  TcpClient client("127.0.0.1", port());
  client.send(query(1, "www.example.test"));
  client.send(query(2, "denied.test"));
  client.shutdownWrite();
  std::set<uint16_t> ids;
  for (int i = 0; i < 2; ++i) {
    auto answer = client.receive();
    ASSERT_TRUE(answer);
    ids.insert(idOf(*answer));
  }
  EXPECT_EQ(ids, (std::set<uint16_t>{1, 2}));
  EXPECT_TRUE(client.closedByPeer());
}

TEST_F(DnsProxyTest, TcpMalformedQueryGetsFormerrAndTheConnectionGoesOn) {
  startProxy();
  TcpClient client("127.0.0.1", port());
  client.sendRaw({0, 0});  // an empty frame
  std::vector<uint8_t> loop = header(0x4444, kRdFlag, 1);
  append(loop, std::vector<uint8_t>{0xc0, 12, 0, 1, 0, 1});
  client.send(loop);
  auto formerr = client.receive();
  ASSERT_TRUE(formerr);
  EXPECT_EQ(rcodeOf(*formerr), 1);
  client.send(query(5, "www.example.test"));
  auto answer = client.receive();
  ASSERT_TRUE(answer);
  EXPECT_EQ(idOf(*answer), 5);
  EXPECT_EQ(counters().malformed, 2u);
}

TEST_F(DnsProxyTest, ANewPolicyAppliesToTheNextQueryOnUdpAndOnAnOpenTcpConnection) {
  startProxy();
  UdpClient udp("127.0.0.1", port());
  TcpClient tcp("127.0.0.1", port());
  EXPECT_EQ(rcodeOf(*udp.ask(query(1, "www.example.test"))), 0);
  tcp.send(query(2, "www.example.test"));
  EXPECT_EQ(rcodeOf(*tcp.receive()), 0);
  store_.store(compilePolicy(denyAllPolicy(upstream_->port())));
  EXPECT_EQ(rcodeOf(*udp.ask(query(3, "www.example.test"))), 5);
  tcp.send(query(4, "www.example.test"));
  EXPECT_EQ(rcodeOf(*tcp.receive()), 5);
}

TEST_F(DnsProxyTest, NoPolicyMeansDeny) {
  PolicyStore empty;
  DnsProxyConfig config;
  config.bind_v6 = std::nullopt;
  config.listener.transparent = false;
  config.listener.upstream_mark = 0;
  const auto fake = upstream_->endpoint();
  config.listener.original_destination = [fake](const auto&) { return fake; };
  proxy_ = std::make_unique<DnsProxy>(executors(), config, empty, names_);
  ASSERT_TRUE(proxy_->start());
  thread_ = std::thread([this] { io_.run(); });
  UdpClient client("127.0.0.1", port());
  EXPECT_EQ(rcodeOf(*client.ask(query(1, "www.example.test"))), 5);
}

TEST_F(DnsProxyTest, QueriesSentStraightToTheListenerAreDropped) {
  // Without the mapping hook and without TPROXY, the original destination is the listener
  // itself: forwarding would loop.
  startProxy([](DnsProxyConfig& c) { c.listener.original_destination = nullptr; });
  UdpClient client("127.0.0.1", port());
  client.send(query(1, "www.example.test"));
  TcpClient tcp("127.0.0.1", port());
  EXPECT_TRUE(tcp.closedByPeer());
  for (int i = 0; i < 2000 && counters().not_redirected < 2; ++i) {
    std::this_thread::sleep_for(milliseconds(1));  // the counter is the only observable
  }
  EXPECT_EQ(counters().not_redirected, 2u);
  EXPECT_FALSE(client.receive(milliseconds(0)));
  EXPECT_EQ(upstream_->received(), 0u);
}

TEST_F(DnsProxyTest, Ipv6ListenersServeUdpAndTcp) {
  if (!hasIpv6Loopback()) GTEST_SKIP() << "no ::1 on this host";
  startProxy();
  UdpClient udp("::1", port());
  auto answer = udp.ask(query(0x0661, "www.example.test"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(rcodeOf(*answer), 0);
  TcpClient tcp("::1", port());
  tcp.send(query(0x0662, "denied.test"));
  auto refused = tcp.receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ(rcodeOf(*refused), 5);
}

// Several shards on one port (SO_REUSEPORT), in both IoPool models: every query is answered by
// exactly one shard and the counters add up.
class DnsProxyShardsTest : public ::testing::TestWithParam<IoPool::Model> {};

TEST_P(DnsProxyShardsTest, ServesFromEveryShardAndSumsCounters) {
  boost::asio::io_context upstream_io;
  auto upstream_work = boost::asio::make_work_guard(upstream_io);
  FakeDnsUpstream upstream(upstream_io);
  upstream.start();
  std::thread upstream_thread([&] { upstream_io.run(); });

  PolicyStore store(compilePolicy(examplePolicy(upstream.port())));
  auto names = std::make_shared<DnsNameCache>(100);
  IoPool pool(2, GetParam());
  DnsProxyConfig config;
  config.bind_v6 = std::nullopt;
  config.listener.transparent = false;
  config.listener.upstream_mark = 0;
  const auto fake = upstream.endpoint();
  config.listener.original_destination = [fake](const auto&) { return fake; };
  auto proxy = std::make_unique<DnsProxy>(DnsProxy::executorsFor(pool), config, store, names);
  ASSERT_TRUE(proxy->start());
  pool.start();

  constexpr int kClients = 40;
  std::vector<std::unique_ptr<UdpClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<UdpClient>("127.0.0.1", proxy->port()));
    clients.back()->send(query(static_cast<uint16_t>(i), "www.example.test"));
    clients.back()->send(query(static_cast<uint16_t>(1000 + i), "denied.test"));
  }
  for (auto& client : clients) {
    std::set<int> rcodes;
    for (int j = 0; j < 2; ++j) {
      auto answer = client->receive();
      ASSERT_TRUE(answer);
      rcodes.insert(rcodeOf(*answer));
    }
    EXPECT_EQ(rcodes, (std::set<int>{0, 5}));
  }
  for (int i = 0; i < 4; ++i) {
    TcpClient tcp("127.0.0.1", proxy->port());
    tcp.send(query(static_cast<uint16_t>(2000 + i), "www.example.test"));
    auto answer = tcp.receive();
    ASSERT_TRUE(answer);
    EXPECT_EQ(rcodeOf(*answer), 0);
  }
  const DnsCounterValues c = proxy->counters();
  EXPECT_EQ(c.allowed, kClients + 4u);
  EXPECT_EQ(c.denied, static_cast<uint64_t>(kClients));
  EXPECT_EQ(c.tcp_connections, 4u);

  proxy->shutdown();
  pool.stop();
  pool.join();
  proxy.reset();
  upstream_io.post([&] { upstream.close(); });
  upstream_work.reset();
  upstream_thread.join();
}

INSTANTIATE_TEST_SUITE_P(Models, DnsProxyShardsTest,
                         ::testing::Values(IoPool::Model::kContextPerThread,
                                           IoPool::Model::kSharedContext),
                         [](const auto& model) {
                           return model.param == IoPool::Model::kContextPerThread
                                      ? std::string("ContextPerThread")
                                      : std::string("SharedContextStrands");
                         });

}  // namespace
}  // namespace portcullis::proxy
