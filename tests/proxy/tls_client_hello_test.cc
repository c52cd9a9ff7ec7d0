#include "proxy/tls_client_hello.h"

#include <gtest/gtest.h>

#include "policy/compiled_policy.h"
#include "tls_test_support.h"

namespace portcullis::proxy {
namespace {

using Status = ClientHelloPeek::Status;
using tls_testing::clientHello;
using tls_testing::handMade;
using tls_testing::refragment;
using tls_testing::sniExtension;

struct Version {
  int max_version;
  const char* name;
};

class ClientHelloVersionTest : public ::testing::TestWithParam<Version> {};

TEST_P(ClientHelloVersionTest, ReadsTheServerName) {
  const std::string hello = clientHello(GetParam().max_version, "api.example.test");
  const ClientHelloPeek peek = peekClientHello(hello);
  ASSERT_EQ(peek.status, Status::kComplete);
  EXPECT_EQ(peek.server_name, "api.example.test");
  EXPECT_EQ(peek.record_bytes, hello.size());
}

TEST_P(ClientHelloVersionTest, NoServerNameIsCompleteAndEmpty) {
  const ClientHelloPeek peek = peekClientHello(clientHello(GetParam().max_version, ""));
  ASSERT_EQ(peek.status, Status::kComplete);
  EXPECT_EQ(peek.server_name, "");
}

TEST_P(ClientHelloVersionTest, EveryPrefixNeedsMore) {
  const std::string hello = clientHello(GetParam().max_version, "www.cdn.example.test");
  for (size_t cut = 0; cut < hello.size(); ++cut) {
    ASSERT_EQ(peekClientHello(std::string_view(hello).substr(0, cut)).status, Status::kNeedMore)
        << "cut at " << cut;
  }
}

TEST_P(ClientHelloVersionTest, SplitAcrossRecordsOfEverySize) {
  const std::string hello = clientHello(GetParam().max_version, "api.example.test");
  const size_t handshake = hello.size() - 5;
  // At most kMaxClientHelloRecords records are accepted; fewer bytes per record than that
  // allows is refused as oversized.
  const size_t smallest = (handshake + kMaxClientHelloRecords - 1) / kMaxClientHelloRecords;
  for (size_t size = 1; size <= handshake; ++size) {
    const std::string records = refragment(hello, size);
    const ClientHelloPeek peek = peekClientHello(records);
    if (size < smallest) {
      ASSERT_EQ(peek.status, Status::kTooLarge) << "records of " << size;
      continue;
    }
    ASSERT_EQ(peek.status, Status::kComplete) << "records of " << size;
    EXPECT_EQ(peek.server_name, "api.example.test");
    EXPECT_EQ(peek.record_bytes, records.size());
  }
  // And every read boundary of a hello in several records.
  const std::string records = refragment(hello, smallest + 7);
  for (size_t cut = 0; cut < records.size(); ++cut) {
    ASSERT_EQ(peekClientHello(std::string_view(records).substr(0, cut)).status, Status::kNeedMore)
        << "cut at " << cut;
  }
}

TEST_P(ClientHelloVersionTest, BytesAfterTheHelloAreNotPartOfIt) {
  const std::string hello = clientHello(GetParam().max_version, "api.example.test");
  const ClientHelloPeek peek = peekClientHello(hello + "\x17\x03\x03\x00\x05hello");
  ASSERT_EQ(peek.status, Status::kComplete);
  EXPECT_EQ(peek.record_bytes, hello.size());
}

TEST_P(ClientHelloVersionTest, TruncatedInsideIsMalformed) {
  // Shorten the handshake by one byte and fix up the record and handshake lengths: the
  // extensions no longer add up.
  std::string hello = clientHello(GetParam().max_version, "api.example.test");
  ASSERT_LT(hello.size(), 16384u);
  hello.pop_back();
  const size_t record = hello.size() - 5;
  hello[3] = static_cast<char>(record >> 8);
  hello[4] = static_cast<char>(record & 0xff);
  const size_t body = record - 4;
  hello[6] = static_cast<char>(body >> 16);
  hello[7] = static_cast<char>(body >> 8 & 0xff);
  hello[8] = static_cast<char>(body & 0xff);
  EXPECT_EQ(peekClientHello(hello).status, Status::kMalformed);
}

INSTANTIATE_TEST_SUITE_P(Versions, ClientHelloVersionTest,
                         ::testing::Values(Version{TLS1_2_VERSION, "tls12"},
                                           Version{TLS1_3_VERSION, "tls13"}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ClientHelloTest, NotTlsIsMalformedFromTheFirstByte) {
  EXPECT_EQ(peekClientHello("G").status, Status::kMalformed);
  EXPECT_EQ(peekClientHello("GET / HTTP/1.1\r\n").status, Status::kMalformed);
  EXPECT_EQ(peekClientHello(std::string("\x16\x02", 2)).status, Status::kMalformed);
  // An application-data record first, or a handshake that is not a ClientHello.
  EXPECT_EQ(peekClientHello(std::string("\x17\x03\x03\x00\x01x", 6)).status, Status::kMalformed);
  EXPECT_EQ(peekClientHello(std::string("\x16\x03\x03\x00\x04\x02\x00\x00\x00", 9)).status,
            Status::kMalformed);
  // Zero-length and over-long records.
  EXPECT_EQ(peekClientHello(std::string("\x16\x03\x01\x00\x00", 5)).status, Status::kMalformed);
  EXPECT_EQ(peekClientHello(std::string("\x16\x03\x01\x40\x01", 5)).status, Status::kMalformed);
}

TEST(ClientHelloTest, OversizedIsRefusedBeforeItIsAllIn) {
  // A handshake header announcing 16 KiB of body: refused on the first record.
  std::string hello("\x16\x03\x01\x00\x04\x01\x00\x40\x00", 9);
  EXPECT_EQ(peekClientHello(hello).status, Status::kTooLarge);
  // Just within the bound still waits for more.
  hello = std::string("\x16\x03\x01\x00\x04\x01\x00\x3f\xfc", 9);
  EXPECT_EQ(peekClientHello(hello).status, Status::kNeedMore);
  // Records beyond kMaxClientHelloRecords.
  std::string many;
  many += std::string("\x16\x03\x01\x00\x04\x01\x00\x01\x00", 9);
  for (size_t i = 1; i < kMaxClientHelloRecords; ++i) many += std::string("\x16\x03\x01\x00\x01x", 6);
  EXPECT_EQ(peekClientHello(many).status, Status::kNeedMore);
  many += std::string("\x16\x03\x01", 3);
  EXPECT_EQ(peekClientHello(many).status, Status::kNeedMore);
  many += std::string("\x00\x01", 2);
  EXPECT_EQ(peekClientHello(many).status, Status::kTooLarge);
}

TEST(ClientHelloTest, HandMadeExtensions) {
  EXPECT_EQ(peekClientHello(handMade({{0, sniExtension({"A.Example.test"})}})).server_name,
            "A.Example.test");
  // TLS 1.2 allows a ClientHello without an extensions block at all.
  const ClientHelloPeek bare = peekClientHello(handMade({}, false));
  EXPECT_EQ(bare.status, Status::kComplete);
  EXPECT_EQ(bare.server_name, "");
  // Another name type is skipped.
  std::string other = sniExtension({"x"});
  other[2] = 7;
  EXPECT_EQ(peekClientHello(handMade({{0, other}})).status, Status::kComplete);
  EXPECT_EQ(peekClientHello(handMade({{0, other}})).server_name, "");

  const auto malformed = [](const std::string& hello) {
    return peekClientHello(hello).status == Status::kMalformed;
  };
  EXPECT_TRUE(malformed(handMade({{0, sniExtension({"a.test", "b.test"})}})));
  EXPECT_TRUE(malformed(handMade({{0, sniExtension({"a.test"})}, {0, sniExtension({"a.test"})}})));
  EXPECT_TRUE(malformed(handMade({{16, "x"}, {16, "y"}})));  // any duplicate extension
  EXPECT_TRUE(malformed(handMade({{0, sniExtension({""})}})));
  EXPECT_TRUE(malformed(handMade({{0, sniExtension({std::string("a\0b.test", 8)})}})));
  EXPECT_TRUE(malformed(handMade({{0, sniExtension({"a b.test"})}})));
  EXPECT_TRUE(malformed(handMade({{0, sniExtension({".test"})}})));
  EXPECT_TRUE(malformed(handMade({{0, sniExtension({std::string(256, 'a')})}})));
  EXPECT_TRUE(malformed(handMade({{0, ""}})));
  EXPECT_TRUE(malformed(handMade({{0, std::string("\x00\x00", 2)}})));  // empty name list
}

// SNI verdicts as the TLS listener asks them: exact names and "*." patterns, case-insensitive.
TEST(TlsPolicyTest, ServerNamesExactAndWildcard) {
  policy::Rule rule;
  rule.name = "tls-egress";
  rule.selector.ports = {{443, policy::Protocol::kTcp}};
  rule.l7 = policy::L7Protocol::kTls;
  rule.tls = {{{"api.example.test", "*.cdn.example.test"}, {}}};
  policy::Policy p;
  p.rules.push_back(rule);
  auto compiled = policy::CompiledPolicy::compile(p);
  ASSERT_TRUE(compiled.ok());
  const policy::CompiledPolicy& policy = **compiled.value;
  const policy::Flow flow{policy::Direction::kEgress, IpAddress::v4(0xc6120101),
                          IpAddress::v4(0xc6120201), 443, policy::Protocol::kTcp};
  const auto allowed = [&](std::string_view sni) { return policy.tls(flow, sni).allowed; };
  EXPECT_TRUE(allowed("api.example.test"));
  EXPECT_TRUE(allowed("API.Example.Test"));
  EXPECT_TRUE(allowed("api.example.test."));
  EXPECT_TRUE(allowed("img.cdn.example.test"));
  EXPECT_FALSE(allowed("cdn.example.test"));
  EXPECT_FALSE(allowed("a.b.cdn.example.test"));
  EXPECT_FALSE(allowed("api.example.test.evil"));
  EXPECT_FALSE(allowed("other.example.test"));
  EXPECT_FALSE(allowed(""));
  EXPECT_EQ(policy.tls(flow, "api.example.test").rule, "tls-egress");
  // Another port: no rule selects the flow.
  policy::Flow other = flow;
  other.port = 8443;
  EXPECT_FALSE(policy.tls(other, "api.example.test").allowed);
}

}  // namespace
}  // namespace portcullis::proxy
