// The per-protocol record builders: what an HTTP exchange, a DNS query and a TLS connection put
// in the log.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "proxy/access_log_dns_entries.h"
#include "proxy/access_log_http_entry.h"
#include "proxy/access_log_tls.h"
#include "proxy/http_responses.h"

namespace portcullis::proxy {
namespace {

namespace fs = std::filesystem;

class AccessLogEntriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = fs::temp_directory_path() /
            ("portcullis-entries-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".log");
    fs::remove(file_);
    auto opened = AccessLog::open({.path = file_.string()});
    ASSERT_TRUE(opened);
    log_ = std::move(opened.value());
    log_->start();
  }
  void TearDown() override { fs::remove(file_); }

  std::vector<std::string> lines() {
    log_->flush();
    std::ifstream in(file_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  static DnsMessage query(std::string name, uint16_t id, uint16_t type = 1) {
    DnsMessage m;
    m.header.id = id;
    m.question.name = std::move(name);
    m.question.wire_name = {0};
    m.question.type = type;
    m.question.qclass = 1;
    return m;
  }

  static policy::Flow flow(policy::Protocol protocol = policy::Protocol::kUdp) {
    return {policy::Direction::kEgress, *IpAddress::parse("198.18.1.2"),
            *IpAddress::parse("198.18.2.53"), 53, protocol};
  }

  // A NOERROR answer header (the entries read only its rcode).
  static std::vector<uint8_t> answerHeader(uint16_t id, uint8_t rcode) {
    return {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x81,
            static_cast<uint8_t>(0x80 | rcode), 0, 1, 0, 0, 0, 0, 0, 0};
  }

  fs::path file_;
  std::unique_ptr<AccessLog> log_;
};

bool has(const std::string& line, std::string_view part) {
  return line.find(part) != std::string::npos;
}

TEST_F(AccessLogEntriesTest, HttpForwardedExchange) {
  AccessLogHttpEntry e;
  e.attach(log_.get(), "portcullis-http-egress", policy::Direction::kEgress,
           {boost::asio::ip::make_address("198.18.1.2"), 40000},
           {boost::asio::ip::make_address("198.18.2.2"), 80});
  e.begin("GET", "example.test", "/public/a", "web-egress");
  EXPECT_TRUE(e.pending());
  e.setStatus(200);
  e.addResponseBytes(100);
  e.addResponseBytes(23);
  e.end(AccessVerdict::kForwarded);
  e.end(AccessVerdict::kError);  // already logged: nothing more
  const auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(has(got[0], R"("verdict":"forwarded","protocol":"http","rule":"web-egress")"));
  EXPECT_TRUE(has(got[0], R"("source":{"ip":"198.18.1.2","port":40000})"));
  EXPECT_TRUE(has(got[0], R"("method":"GET","host":"example.test","target":"/public/a","status":200,"response_bytes":123)"))
      << got[0];
}

TEST_F(AccessLogEntriesTest, HttpCannedAnswersAreDeniedOrErrors) {
  AccessLogHttpEntry e;
  e.attach(log_.get(), "portcullis-http-egress", policy::Direction::kEgress,
           {boost::asio::ip::make_address("::1"), 1}, {boost::asio::ip::make_address("::2"), 2});
  e.begin("POST", "h", "/", "");
  e.endWithAnswer(kForbidden, false);
  e.begin("GET", "h", "/slow", "web");
  e.endWithAnswer(kGatewayTimeout, false);
  e.beginMalformed();
  e.endWithAnswer(kBadRequest, false);
  e.begin("GET", "h", "/cut", "web");
  e.setStatus(200);
  e.endWithAnswer(kBadGateway, true);  // mid-response: the origin's status stays
  const auto got = lines();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(has(got[0], R"("verdict":"denied")") && has(got[0], R"("status":403)") &&
              !has(got[0], R"("rule")"))
      << got[0];
  EXPECT_TRUE(has(got[0], R"("response_bytes":)" + std::to_string(kForbidden.size())));
  EXPECT_TRUE(has(got[1], R"("verdict":"error")") && has(got[1], R"("status":504)") &&
              has(got[1], R"("info":"upstream timed out")"))
      << got[1];
  EXPECT_TRUE(has(got[2], R"("method":"","host":"","target":"","status":400)")) << got[2];
  EXPECT_TRUE(has(got[3], R"("status":200)") && has(got[3], R"("info":"response cut")")) << got[3];
}

TEST_F(AccessLogEntriesTest, HttpOffCostsNothingAndLogsNothing) {
  AccessLogHttpEntry e;
  e.attach(nullptr, "x", policy::Direction::kEgress, {}, {});
  e.begin("GET", "h", "/", "r");
  EXPECT_FALSE(e.pending());
  e.end(AccessVerdict::kForwarded);
  EXPECT_TRUE(lines().empty());
}

TEST_F(AccessLogEntriesTest, DnsForwardedQueryCompletedByItsAnswer) {
  std::shared_ptr<AccessLog> shared(log_.get(), [](AccessLog*) {});
  AccessLogDnsEntries entries(shared, "portcullis-dns-egress", 16);
  const DnsMessage a = query("example.test.", 7);
  const DnsMessage b = query("other.test.", 7);
  entries.forwarded(flow(), 5353, a, nullptr, "dns-egress");
  entries.forwarded(flow(policy::Protocol::kTcp), 5354, b, nullptr, "dns-egress");
  EXPECT_EQ(entries.pending(), 2u);
  const std::vector<DnsLearnedAddress> learned = {{*IpAddress::parse("198.18.2.2"), 300},
                                                  {*IpAddress::parse("198.18.2.3"), 60}};
  entries.answered(b, answerHeader(7, 3), {});  // NXDOMAIN for the second
  entries.answered(a, answerHeader(7, 0), learned);
  entries.answered(a, answerHeader(7, 0), learned);  // a duplicate answer: nothing pending
  EXPECT_EQ(entries.pending(), 0u);
  const auto got = lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(has(got[0], R"("source":{"ip":"198.18.1.2","port":5354})")) << got[0];
  EXPECT_TRUE(has(got[0], R"("query":"other.test.","type":"A","rcode":"NXDOMAIN","answers":[],"transport":"tcp")"))
      << got[0];
  EXPECT_TRUE(has(got[1], R"("verdict":"forwarded","protocol":"dns","rule":"dns-egress")"));
  EXPECT_TRUE(has(got[1], R"("answers":["198.18.2.2","198.18.2.3"],"ttl":60,"transport":"udp")"))
      << got[1];
}

TEST_F(AccessLogEntriesTest, DnsLocalAnswersAndFailures) {
  std::shared_ptr<AccessLog> shared(log_.get(), [](AccessLog*) {});
  AccessLogDnsEntries entries(shared, "portcullis-dns-egress", 16);
  const DnsMessage q = query("blocked.test.", 9, 28);
  entries.answeredLocally(flow(), 1000, &q, "", AccessVerdict::kDenied, DnsRcode::kRefused);
  entries.answeredLocally(flow(), 1001, nullptr, "", AccessVerdict::kError, DnsRcode::kFormErr,
                          "malformed query");
  const DnsMessage slow = query("slow.test.", 10);
  entries.forwarded(flow(), 1002, slow, nullptr, "dns-egress");
  entries.failed(slow, true);
  const auto got = lines();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(has(got[0], R"("verdict":"denied")") &&
              has(got[0], R"("query":"blocked.test.","type":"AAAA","rcode":"REFUSED")"))
      << got[0];
  EXPECT_TRUE(has(got[1], R"("rcode":"FORMERR")") && has(got[1], R"("info":"malformed query")"));
  EXPECT_TRUE(has(got[2], R"("verdict":"error")") && has(got[2], R"("rcode":"SERVFAIL")") &&
              has(got[2], R"("info":"upstream timed out")"))
      << got[2];
}

TEST_F(AccessLogEntriesTest, DnsEntriesAreFoundByIdTypeAndNameWhileTheirNodesAreReused) {
  std::shared_ptr<AccessLog> shared(log_.get(), [](AccessLog*) {});
  AccessLogDnsEntries entries(shared, "portcullis-dns-egress", 1000);
  // Stands for the policy a pending entry keeps alive (the aliasing constructor shares `owner`'s
  // count; the entries never dereference it).
  auto owner = std::make_shared<int>(0);
  const PolicyStore::Pointer policy(owner, nullptr);
  constexpr uint16_t kQueries = 40;
  std::vector<std::string> expected;
  for (int round = 0; round < 3; ++round) {
    // The same name under every ID, and one ID under two types: only (ID, type, name) tells
    // them apart. Answered in reverse order, each record must carry its own client port.
    for (uint16_t id = 0; id < kQueries; ++id) {
      entries.forwarded(flow(), static_cast<uint16_t>(1000 + id), query("same.test.", id, 1),
                        policy, "r");
    }
    entries.forwarded(flow(), 2000, query("same.test.", 0, 28), policy, "r");
    EXPECT_EQ(owner.use_count(), 2 + kQueries + 1);  // `owner`, `policy`, the entries
    entries.answered(query("same.test.", 0, 28), answerHeader(0, 0), {});
    expected.push_back(R"("port":2000})");
    for (int id = kQueries - 1; id >= 0; --id) {
      entries.answered(query("same.test.", static_cast<uint16_t>(id), 1),
                       answerHeader(static_cast<uint16_t>(id), 0), {});
      expected.push_back(R"("port":)" + std::to_string(1000 + id) + "}");
    }
    EXPECT_EQ(entries.pending(), 0u);
    EXPECT_EQ(owner.use_count(), 2);  // answered entries keep no policy alive
  }
  const auto got = lines();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(has(got[i], expected[i])) << i << ": " << got[i];
}

TEST_F(AccessLogEntriesTest, DnsPendingEntriesAreBounded) {
  std::shared_ptr<AccessLog> shared(log_.get(), [](AccessLog*) {});
  AccessLogDnsEntries entries(shared, "portcullis-dns-egress", 4);
  for (uint16_t id = 0; id < 10; ++id) entries.forwarded(flow(), 1, query("x.", id), nullptr, "r");
  EXPECT_LE(entries.pending(), 4u);
}

TEST_F(AccessLogEntriesTest, TlsVerdictsCarrySniRuleAndEndpoints) {
  const policy::Flow f{policy::Direction::kEgress, *IpAddress::parse("2001:db8:1::2"),
                       *IpAddress::parse("2001:db8:2::2"), 443, policy::Protocol::kTcp};
  logTlsVerdict(log_.get(), {"portcullis-tls-egress", f, 40001, AccessVerdict::kForwarded,
                             "tls-egress", "api.example.test", {}});
  logTlsVerdict(log_.get(), {"portcullis-tls-egress", f, 40002, AccessVerdict::kDenied,
                             "tls-egress", "evil\"name.test", "SNI not allowed"});
  logTlsVerdict(log_.get(), {"portcullis-tls-egress", f, 40003, AccessVerdict::kDenied, {}, {},
                             "no SNI"});
  logTlsVerdict(nullptr, {"portcullis-tls-egress", f, 40004, AccessVerdict::kDenied, {}, {}, {}});
  const auto got = lines();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(has(got[0], R"("direction":"egress","verdict":"forwarded","protocol":"tls","rule":"tls-egress","listener":"portcullis-tls-egress")"))
      << got[0];
  EXPECT_TRUE(has(got[0], R"("source":{"ip":"2001:db8:1::2","port":40001},"destination":{"ip":"2001:db8:2::2","port":443})"))
      << got[0];
  EXPECT_TRUE(has(got[0], R"("tls":{"sni":"api.example.test"})")) << got[0];
  EXPECT_FALSE(has(got[0], R"("info")")) << got[0];
  EXPECT_TRUE(has(got[1], R"("verdict":"denied")")) << got[1];
  EXPECT_TRUE(has(got[1], R"("sni":"evil\"name.test")")) << got[1];
  EXPECT_TRUE(has(got[1], R"("info":"SNI not allowed")")) << got[1];
  EXPECT_FALSE(has(got[2], R"("rule")")) << got[2];  // no rule selected the flow
  EXPECT_TRUE(has(got[2], R"("info":"no SNI")")) << got[2];
}

}  // namespace
}  // namespace portcullis::proxy
