// The admin endpoint on 127.0.0.1 port 0: routing, methods, limits; the /status JSON; the
// policy file digest.
// GCC 12 with -fsanitize=address,undefined reports -Wmaybe-uninitialized inside std::regex and
// boost::optional (property_tree's get<T>): false positives in library code, not in ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "proxy/admin_server.h"
#include "proxy/file_digest.h"
#include "proxy/status_report.h"

namespace portcullis::proxy {
namespace {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class AdminServerTest : public ::testing::Test {
 protected:
  void start(AdminServer::Options options = {}) {
    options.endpoint = Tcp::endpoint(asio::ip::address_v4::loopback(), 0);
    server_ = std::make_unique<AdminServer>(io_, options);
    server_->route("/healthz", [] { return AdminServer::Response{200, "text/plain", "ok\n"}; });
    server_->route("/metrics", [this] {
      ++scrapes_;
      return AdminServer::Response{200, "text/plain; version=0.0.4", "x_total 1\n"};
    });
    ASSERT_TRUE(server_->start());
    thread_ = std::thread([this] { io_.run_for(20s); });
  }
  void TearDown() override {
    asio::post(io_, [this] { server_->stop(); });
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // AdminServer lives on its io_context's thread (its gauges are plain members): read them there.
  template <class F>
  auto onServerThread(F read) {
    std::promise<decltype(read())> value;
    asio::post(io_, [&] { value.set_value(read()); });
    return value.get_future().get();
  }
  uint32_t activeConnections() {
    return onServerThread([this] { return server_->activeConnections(); });
  }
  uint64_t rejectedConnections() {
    return onServerThread([this] { return server_->rejectedConnections(); });
  }

  Tcp::socket connect() {
    Tcp::socket s(client_io_);
    s.connect(Tcp::endpoint(asio::ip::address_v4::loopback(), server_->port()));
    return s;
  }
  // Sends `request`, reads until the server closes; "" when it closed without answering.
  std::string exchange(const std::string& request) {
    Tcp::socket s = connect();
    asio::write(s, asio::buffer(request));
    return readAll(s);
  }
  static std::string readAll(Tcp::socket& s) {
    std::string out;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(out), ec);
    return out;
  }

  asio::io_context io_;
  asio::io_context client_io_;
  std::unique_ptr<AdminServer> server_;
  std::thread thread_;
  int scrapes_ = 0;
};

TEST_F(AdminServerTest, GetOfARouteAnswersItsBodyAndCloses) {
  start();
  const std::string r = exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4\r\n"), std::string::npos);
  EXPECT_NE(r.find("Content-Length: 10\r\n"), std::string::npos);
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 10), "x_total 1\n");
}

TEST_F(AdminServerTest, QueryStringIsIgnoredAndHeadHasNoBody) {
  start();
  EXPECT_EQ(exchange("GET /healthz?verbose=1 HTTP/1.1\r\nHost: a\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  const std::string r = exchange("HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_NE(r.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 4), "\r\n\r\n") << "HEAD carried a body: " << r;
}

TEST_F(AdminServerTest, UnknownPathIs404AndOtherMethodsAre405) {
  start();
  EXPECT_EQ(exchange("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n").rfind("HTTP/1.1 404 Not Found", 0), 0u);
  EXPECT_EQ(exchange("GET /metricsx HTTP/1.1\r\nHost: a\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  const std::string r = exchange("POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(r.rfind("HTTP/1.1 405 Method Not Allowed", 0), 0u) << r;
  EXPECT_NE(r.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(scrapes_, 0);
}

TEST_F(AdminServerTest, MalformedAndOversizedRequestsAre400) {
  start({.max_request_bytes = 256});
  EXPECT_EQ(exchange("GARBAGE\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  const std::string big = "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(1000, 'a') + "\r\n\r\n";
  EXPECT_EQ(exchange(big).rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(scrapes_, 0);
}

TEST_F(AdminServerTest, RequestSplitAcrossWritesIsServed) {
  start();
  Tcp::socket s = connect();
  asio::write(s, asio::buffer(std::string("GET /hea")));
  std::this_thread::sleep_for(20ms);
  asio::write(s, asio::buffer(std::string("lthz HTTP/1.1\r\nHost: a\r\n\r\n")));
  EXPECT_EQ(readAll(s).rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(AdminServerTest, SilentClientIsClosedAtTheDeadline) {
  start({.timeout = 200ms});
  Tcp::socket s = connect();
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_EQ(readAll(s), "");  // closed without an answer
  const auto waited = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 5s);
}

TEST_F(AdminServerTest, ConnectionsOverTheLimitAreClosedAndTheOthersStillServed) {
  start({.max_connections = 2, .timeout = 3s});
  Tcp::socket a = connect();
  Tcp::socket b = connect();
  // Wait until both are registered: the third is then over the limit.
  for (int i = 0; i < 200 && activeConnections() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(activeConnections(), 2u);
  Tcp::socket c = connect();
  asio::write(c, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")));
  EXPECT_EQ(readAll(c), "");
  EXPECT_EQ(rejectedConnections(), 1u);
  asio::write(a, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")));
  EXPECT_EQ(readAll(a).rfind("HTTP/1.1 200", 0), 0u);
  // A closed connection frees its place.
  for (int i = 0; i < 200 && activeConnections() > 1; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(exchange("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(AdminServer, TakenPortIsReportedAsAddressInUse) {
  asio::io_context io;
  AdminServer first(io, {.endpoint = Tcp::endpoint(asio::ip::address_v4::loopback(), 0)});
  ASSERT_TRUE(first.start());
  AdminServer second(io, {.endpoint = Tcp::endpoint(asio::ip::address_v4::loopback(), first.port())});
  const auto started = second.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), std::errc::address_in_use);
}

TEST(StatusReport, JsonParsesAndCarriesEveryField) {
  StatusReport r;
  r.version = "portcullis 0.1.0";
  r.started_at = "2026-11-27T05:00:00Z";
  r.uptime_seconds = 42;
  r.policy_generation = 2;
  r.reloads_ok = 2;
  r.policy_files = {{"/etc/p.yaml", std::string(64, 'a'), ""}, {"/gone.yaml", "", "No such file"}};
  r.rules = {{"web-egress", "egress", "http"}};
  r.listeners = {{"portcullis-http-egress", "egress", "http", "tcp", 39799, 0x779b0200, true, 5, 3,
                  1, 0, 2}};
  r.datapath_installed = true;
  r.iptables_backend = "nft";
  r.datapath_repairs = 1;
  r.last_repair = "2026-11-27T05:01:00Z";
  r.learned_names_count = 1;
  r.learned_names = {{"weird\"name\x01\xff.test.", {"198.18.2.2", "2001:db8:2::2"}}};
  r.healthy = true;
  const std::string json = toJson(r);
  boost::property_tree::ptree tree;
  std::istringstream in(json);
  ASSERT_NO_THROW(boost::property_tree::read_json(in, tree)) << json;
  EXPECT_EQ(tree.get<std::string>("version"), "portcullis 0.1.0");
  EXPECT_EQ(tree.get<int>("uptime_seconds"), 42);
  EXPECT_EQ(tree.get<bool>("healthy"), true);
  EXPECT_EQ(tree.get<int>("policy.generation"), 2);
  EXPECT_EQ(tree.get_child("policy.files").size(), 2u);
  EXPECT_EQ(tree.get_child("policy.files").front().second.get<std::string>("sha256"),
            std::string(64, 'a'));
  EXPECT_EQ(tree.get_child("policy.files").back().second.get<std::string>("error"), "No such file");
  const auto& listener = tree.get_child("listeners").front().second;
  EXPECT_EQ(listener.get<std::string>("name"), "portcullis-http-egress");
  EXPECT_EQ(listener.get<int>("port"), 39799);
  EXPECT_EQ(listener.get<std::string>("mark"), "0x779b0200");  // SPEC.md's example
  EXPECT_EQ(listener.get<int>("counters.denied"), 3);
  EXPECT_EQ(tree.get<std::string>("datapath.last_repair"), "2026-11-27T05:01:00Z");
  EXPECT_EQ(tree.get<std::string>("datapath.last_check"), "null");
  EXPECT_NE(json.find(R"("weird\"name\u0001\u00ff.test.")"), std::string::npos) << json;
  EXPECT_EQ(tree.get_child("dns.names").front().second.get_child("addresses").size(), 2u);
}

TEST(StatusReport, FormatsMarksAndTimes) {
  EXPECT_EQ(formatMark(0x8f3c0200), "0x8f3c0200");
  EXPECT_EQ(formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(1798347794))),
            "2026-12-27T05:03:14Z");
}

TEST(FileDigest, Sha256OfAFileMatchesTheKnownValue) {
  const std::string path = ::testing::TempDir() + "/digest_test.txt";
  std::ofstream(path) << "abc";
  const auto digest = sha256OfFile(path);
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest.value(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const auto missing = sha256OfFile(path + ".missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace portcullis::proxy
