// `portcullis status`: the address option, the table from a /status document, and the command
// against a live admin endpoint and an unreachable one.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string_view>
#include <thread>
#include <vector>

#include "app/admin_client.h"
#include "app/commands.h"
#include "app/status_table.h"
#include "proxy/admin_server.h"
#include "proxy/status_report.h"

namespace portcullis::app {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

proxy::StatusReport sampleReport() {
  proxy::StatusReport r;
  r.version = "portcullis 0.1.0";
  r.started_at = "2026-11-27T05:00:00Z";
  r.uptime_seconds = 7;
  r.healthy = true;
  r.policy_generation = 2;
  r.reloads_ok = 1;
  r.policy_files = {{"/etc/portcullis/policy.yaml", "ab12", ""}};
  r.rules = {{"web-egress", "egress", "http"}, {"dns-egress", "egress", "dns"}};
  r.listeners = {
      {"portcullis-http-egress", "egress", "http", "tcp", 39799, 0x779b0200, true, 12, 3, 1, 0, 2},
      {"portcullis-dns-egress", "egress", "dns", "tcp+udp", 15503, 0x8f3c0200, true, 40, 5, 0, 1, 0}};
  r.datapath_installed = true;
  r.iptables_backend = "nft";
  r.last_check = "2026-11-27T05:00:05Z";
  r.learned_names_count = 4;
  return r;
}

TEST(AdminAddress, ParsesV4AndBracketedV6AndRejectsTheRest) {
  auto v4 = parseAdminAddress("127.0.0.1:9964");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4.value().host, "127.0.0.1");
  EXPECT_EQ(v4.value().port, 9964);
  auto v6 = parseAdminAddress("[::1]:19964");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6.value().host, "::1");
  EXPECT_EQ(v6.value().port, 19964);
  for (const char* bad : {"127.0.0.1", "::1:9964", "[127.0.0.1]:1", "host:99", "127.0.0.1:0",
                          "127.0.0.1:70000", "127.0.0.1:9x"}) {
    EXPECT_FALSE(parseAdminAddress(bad)) << bad;
  }
}

TEST(StatusTable, ShowsListenersPortsMarksRulesAndCounters) {
  auto table = statusTable(proxy::toJson(sampleReport()));
  ASSERT_TRUE(table);
  const std::string& t = table.value();
  EXPECT_NE(t.find("healthy"), std::string::npos) << t;
  EXPECT_NE(t.find("policy: generation 2, reloads 1 ok / 0 failed"), std::string::npos) << t;
  EXPECT_NE(t.find("ab12  /etc/portcullis/policy.yaml"), std::string::npos) << t;
  EXPECT_NE(t.find("last repair never"), std::string::npos) << t;
  for (const char* row : {"portcullis-http-egress", "39799", "0x779b0200", "portcullis-dns-egress",
                          "15503", "0x8f3c0200", "tcp+udp", "web-egress", "dns-egress",
                          "4 learned names"}) {
    EXPECT_NE(t.find(row), std::string::npos) << row << " missing in\n" << t;
  }
  // The http row carries its counters in order: allowed, denied, parse errors, upstream, active.
  EXPECT_NE(t.find(" 12          3        1        0       2"), std::string::npos) << t;
}

TEST(StatusTable, RejectsWhatIsNotAStatusDocument) {
  EXPECT_FALSE(statusTable("not json"));
  EXPECT_FALSE(statusTable("{\"a\": 1}"));
}

int run(std::vector<std::string_view> args) { return statusCommand(Args(args)); }

TEST(StatusCommand, UnreachableDaemonExitsWith3) {
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, {asio::ip::address_v4::loopback(), 0});
  const std::string at = "127.0.0.1:" + std::to_string(probe.local_endpoint().port());
  probe.close();  // nothing listens there now
  EXPECT_EQ(run({"--admin", at}), kExitRuntime);
  EXPECT_EQ(run({"--admin", "nonsense"}), kExitRuntime);
  EXPECT_EQ(run({"--bogus"}), kExitRuntime);
}

TEST(StatusCommand, ReadsTheStatusOfALiveEndpoint) {
  asio::io_context io;
  proxy::AdminServer server(io, {.endpoint = {asio::ip::address_v4::loopback(), 0}});
  int served = 0;
  server.route("/status", [&] {
    ++served;
    return proxy::AdminServer::Response{200, "application/json", proxy::toJson(sampleReport())};
  });
  ASSERT_TRUE(server.start());
  std::thread thread([&] { io.run_for(10s); });
  const std::string at = "127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(run({"--admin", at}), kExitOk);
  EXPECT_EQ(run({"--admin", at, "--json"}), kExitOk);
  auto raw = adminGet(parseAdminAddress(at).value(), "/status", 2s);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw.value().status, 200);
  EXPECT_EQ(raw.value().body, proxy::toJson(sampleReport()));
  auto missing = adminGet(parseAdminAddress(at).value(), "/nope", 2s);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing.value().status, 404);
  io.stop();
  thread.join();
  EXPECT_EQ(served, 3);
}

}  // namespace
}  // namespace portcullis::app
