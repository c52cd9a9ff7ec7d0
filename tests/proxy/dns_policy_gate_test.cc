#include "proxy/dns_policy_gate.h"

#include <gtest/gtest.h>

#include "policy/parser.h"
#include "proxy/dns_response.h"
#include "tests/proxy/dns_test_support.h"

namespace portcullis::proxy {
namespace {

using namespace testing;  // NOLINT: the test message builders

std::shared_ptr<const policy::CompiledPolicy> gatePolicy(const char* rule = "dns-53",
                                                        const char* pattern = "**.corp.test") {
  auto parsed = policy::parsePolicy(
      std::string("rules:\n"
                  "  - name: ") + rule + "\n"
      "    direction: egress\n"
      "    selector:\n"
      "      destination-cidrs: [\"198.18.0.0/24\"]\n"
      "      ports: [{port: 53, protocol: UDP}]\n"
      "    dns:\n"
      "      - matchPattern: \"" + pattern + "\"\n",
      "gate.yaml");
  for (const auto& e : parsed.errors) ADD_FAILURE() << e.toString();
  auto compiled = policy::CompiledPolicy::compile(*parsed.value);
  for (const auto& e : compiled.errors) ADD_FAILURE() << e.toString();
  return *compiled.value;
}

policy::Flow flowTo(const char* destination, uint16_t port = 53) {
  return {policy::Direction::kEgress, *IpAddress::parse("198.18.1.1"),
          *IpAddress::parse(destination), port, policy::Protocol::kUdp};
}

class DnsPolicyGateTest : public ::testing::Test {
 protected:
  PolicyStore store_{gatePolicy()};
  policy::DnsOptions options_{policy::DnsReject::kRefused, std::chrono::seconds(1), 2};
  std::vector<std::string> seen_;
  DnsPolicyGate gate_{
      store_, options_, nullptr, [this](const DnsQueryEvent& e) {
        seen_.push_back(std::string(e.name) + (e.allowed ? " +" : " -") + std::string(e.rule));
      }};
};

TEST_F(DnsPolicyGateTest, JudgesTheQuestionNameForTheFlowsRules) {
  auto allowed = gate_.judge(flowTo("198.18.0.53"), query(1, "a.b.Corp.Test"));
  EXPECT_EQ(allowed.kind, DnsDecision::Kind::kForward);
  EXPECT_EQ(allowed.query.question.name, "a.b.corp.test.");
  // "**." needs at least one label before the suffix.
  auto bare = gate_.judge(flowTo("198.18.0.53"), query(2, "corp.test"));
  EXPECT_EQ(bare.kind, DnsDecision::Kind::kAnswer);
  EXPECT_EQ(rcodeOf(bare.answer), 5);
  // Outside the selector (another server, another port): no rule, deny.
  EXPECT_EQ(rcodeOf(gate_.judge(flowTo("198.18.9.53"), query(3, "x.corp.test")).answer), 5);
  EXPECT_EQ(rcodeOf(gate_.judge(flowTo("198.18.0.53", 5353), query(4, "x.corp.test")).answer), 5);
  EXPECT_EQ(seen_, (std::vector<std::string>{"a.b.corp.test. +dns-53", "corp.test. -dns-53",
                                             "x.corp.test. -", "x.corp.test. -"}));
  const DnsCounterValues c = gate_.counters().values();
  EXPECT_EQ(c.allowed, 1u);
  EXPECT_EQ(c.denied, 3u);
}

TEST_F(DnsPolicyGateTest, RepeatedDatagramsAreJudgedFromTheVerdictCache) {
  const auto flow = flowTo("198.18.0.53");
  EXPECT_EQ(gate_.judge(flow, query(1, "a.corp.test")).kind, DnsDecision::Kind::kForward);
  EXPECT_EQ(gate_.judge(flow, query(2, "A.CORP.test")).kind, DnsDecision::Kind::kForward);
  EXPECT_EQ(rcodeOf(gate_.judge(flow, query(3, "corp.test")).answer), 5);
  EXPECT_EQ(rcodeOf(gate_.judge(flow, query(4, "corp.test")).answer), 5);
  EXPECT_EQ(gate_.verdictCache().hits(), 2u);
  // A cached verdict is reported like a fresh one, with the query's own name.
  EXPECT_EQ(seen_, (std::vector<std::string>{"a.corp.test. +dns-53", "a.corp.test. +dns-53",
                                             "corp.test. -dns-53", "corp.test. -dns-53"}));
  EXPECT_EQ(gate_.counters().values().allowed, 2u);
  EXPECT_EQ(gate_.counters().values().denied, 2u);
}

TEST_F(DnsPolicyGateTest, AReloadClearsTheVerdictCache) {
  const auto flow = flowTo("198.18.0.53");
  EXPECT_EQ(gate_.judge(flow, query(1, "a.corp.test")).kind, DnsDecision::Kind::kForward);
  EXPECT_EQ(gate_.judge(flow, query(2, "a.corp.test")).kind, DnsDecision::Kind::kForward);
  // The new policy denies what the old one allowed and allows what it denied; its rule has
  // another name, so a verdict kept from the old policy would show.
  store_.store(gatePolicy("dns-other", "corp.test"));
  auto denied = gate_.judge(flow, query(3, "a.corp.test"));
  EXPECT_EQ(denied.kind, DnsDecision::Kind::kAnswer);
  EXPECT_EQ(rcodeOf(denied.answer), 5);
  EXPECT_EQ(gate_.judge(flow, query(4, "corp.test")).kind, DnsDecision::Kind::kForward);
  EXPECT_EQ(gate_.judge(flow, query(5, "corp.test")).kind, DnsDecision::Kind::kForward);
  EXPECT_EQ(seen_.back(), "corp.test. +dns-other");
  EXPECT_EQ(seen_[2], "a.corp.test. -dns-other");
  // Policy removed: deny, not a verdict remembered from before.
  store_.store(nullptr);
  EXPECT_EQ(rcodeOf(gate_.judge(flow, query(6, "corp.test")).answer), 5);
}

TEST_F(DnsPolicyGateTest, InFlightSlotsBoundForwardsAndAreGivenBack) {
  auto first = gate_.judge(flowTo("198.18.0.53"), query(1, "a.corp.test"));
  auto second = gate_.judge(flowTo("198.18.0.53"), query(2, "b.corp.test"));
  EXPECT_EQ(gate_.inFlight(), 2u);
  auto third = gate_.judge(flowTo("198.18.0.53"), query(3, "c.corp.test"));
  EXPECT_EQ(third.kind, DnsDecision::Kind::kAnswer);
  EXPECT_EQ(rcodeOf(third.answer), 2);
  EXPECT_EQ(gate_.counters().values().over_limit, 1u);

  DnsInFlightSlot moved = std::move(first.slot);
  EXPECT_FALSE(first.slot);
  EXPECT_EQ(gate_.inFlight(), 2u);
  moved.reset();
  EXPECT_EQ(gate_.inFlight(), 1u);
  second = DnsDecision{};  // destroying the decision gives its slot back
  EXPECT_EQ(gate_.inFlight(), 0u);
}

TEST_F(DnsPolicyGateTest, MalformedMessagesAreDroppedOrAnsweredFromTheHeader) {
  EXPECT_EQ(gate_.judge(flowTo("198.18.0.53"), std::vector<uint8_t>{1, 2, 3}).kind,
            DnsDecision::Kind::kDrop);
  EXPECT_EQ(gate_.judge(flowTo("198.18.0.53"), response(5, "a.corp.test", 1, {})).kind,
            DnsDecision::Kind::kDrop);
  auto two_questions = query(6, "a.corp.test");
  two_questions[5] = 2;
  auto formerr = gate_.judge(flowTo("198.18.0.53"), two_questions);
  EXPECT_EQ(formerr.kind, DnsDecision::Kind::kAnswer);
  EXPECT_EQ(idOf(formerr.answer), 6);
  EXPECT_EQ(rcodeOf(formerr.answer), 1);
  EXPECT_EQ(gate_.counters().values().malformed, 3u);
  EXPECT_TRUE(seen_.empty());
}

TEST_F(DnsPolicyGateTest, NxdomainModeAndUpstreamFailures) {
  DnsPolicyGate nx(store_, {policy::DnsReject::kNxdomain, std::chrono::seconds(1), 10}, nullptr);
  auto denied = nx.judge(flowTo("198.18.0.53"), query(1, "other.test"));
  EXPECT_EQ(rcodeOf(denied.answer), 3);
  auto allowed = nx.judge(flowTo("198.18.0.53"), query(2, "x.corp.test"));
  ASSERT_EQ(allowed.kind, DnsDecision::Kind::kForward);
  EXPECT_EQ(rcodeOf(nx.failed(allowed.query, true)), 2);
  EXPECT_EQ(rcodeOf(nx.failed(allowed.query, false)), 2);
  EXPECT_EQ(nx.counters().values().upstream_timeouts, 1u);
  EXPECT_EQ(nx.counters().values().upstream_failures, 1u);
}

TEST_F(DnsPolicyGateTest, LearnsOnlyFromAddressQuestions) {
  auto names = std::make_shared<DnsNameCache>(10);
  DnsPolicyGate gate(store_, options_, names);
  auto a = gate.judge(flowTo("198.18.0.53"), query(1, "x.corp.test"));
  gate.answered(a.query,
                response(1, "x.corp.test", 1, {aRecord("x.corp.test", 198, 18, 0, 9, 60)}));
  EXPECT_EQ(names->lookup("x.corp.test.", DnsNameCache::Clock::now()),
            std::vector<IpAddress>{*IpAddress::parse("198.18.0.9")});
  auto txt = gate.judge(flowTo("198.18.0.53"), query(2, "y.corp.test", 16));
  gate.answered(txt.query,
                response(2, "y.corp.test", 16, {aRecord("y.corp.test", 1, 2, 3, 4, 60)}));
  EXPECT_TRUE(names->lookup("y.corp.test.", DnsNameCache::Clock::now()).empty());
}

TEST_F(DnsPolicyGateTest, AnAnswerAskedAgainWithinASecondIsNotParsedAgain) {
  auto names = std::make_shared<DnsNameCache>(10);
  DnsPolicyGate gate(store_, options_, names);
  auto first = gate.judge(flowTo("198.18.0.53"), query(1, "x.corp.test"));
  gate.answered(first.query,
                response(1, "x.corp.test", 1, {aRecord("x.corp.test", 198, 18, 0, 9, 60)}));
  first = DnsDecision{};
  // The same question again at once: what the first answer taught is fresh, this one is not read.
  auto again = gate.judge(flowTo("198.18.0.53"), query(2, "X.Corp.Test"));
  gate.answered(again.query,
                response(2, "X.Corp.Test", 1, {aRecord("X.Corp.Test", 198, 18, 0, 10, 60)}));
  again = DnsDecision{};
  EXPECT_EQ(names->lookup("x.corp.test.", DnsNameCache::Clock::now()),
            std::vector<IpAddress>{*IpAddress::parse("198.18.0.9")});
  // Another type of the same name is another question.
  auto aaaa = gate.judge(flowTo("198.18.0.53"), query(3, "x.corp.test", kDnsTypeAaaa));
  gate.answered(aaaa.query,
                response(3, "x.corp.test", kDnsTypeAaaa, {aaaaRecord("x.corp.test", 7, 60)}));
  EXPECT_EQ(names->lookup("x.corp.test.", DnsNameCache::Clock::now()).size(), 2u);
}

TEST_F(DnsPolicyGateTest, AVerdictFromTheCacheNeedsNoPresentationName) {
  DnsPolicyGate gate(store_, options_, nullptr);  // no observer, no access log
  const auto flow = flowTo("198.18.0.53");
  auto miss = gate.judge(flow, query(1, "a.corp.test"));
  ASSERT_EQ(miss.kind, DnsDecision::Kind::kForward);
  EXPECT_EQ(miss.query.question.name, "a.corp.test.");  // made to judge it
  miss = DnsDecision{};
  auto hit = gate.judge(flow, query(2, "A.corp.TEST"));
  ASSERT_EQ(hit.kind, DnsDecision::Kind::kForward);
  EXPECT_TRUE(hit.query.question.name.empty());
  EXPECT_EQ(hit.query.header.id, 2);
  ASSERT_TRUE(fillDnsPresentationName(hit.query.question));
  EXPECT_EQ(hit.query.question.name, "a.corp.test.");
  hit = DnsDecision{};
  // A denied one from the cache still echoes its own question, case kept.
  EXPECT_EQ(rcodeOf(gate.judge(flow, query(3, "corp.test")).answer), 5);
  auto denied = gate.judge(flow, query(4, "CORP.test"));
  EXPECT_EQ(rcodeOf(denied.answer), 5);
  EXPECT_EQ(denied.answer, buildDnsAnswer(denied.query, DnsRcode::kRefused));
  EXPECT_EQ(std::vector<uint8_t>(denied.answer.begin() + 12, denied.answer.end() - 4),
            encodeName("CORP.test"));
  EXPECT_EQ(gate.verdictCache().hits(), 2u);
}

}  // namespace
}  // namespace portcullis::proxy
