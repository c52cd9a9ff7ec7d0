#include "proxy/dns_learn_throttle.h"

#include <gtest/gtest.h>

#include "tests/proxy/dns_test_support.h"

namespace portcullis::proxy {
namespace {

DnsQuestion question(std::string_view name, uint16_t type = kDnsTypeA) {
  const auto encoded = testing::encodeName(name);
  DnsQuestion q;
  q.wire_name.assign(encoded.begin(), encoded.end());
  q.type = type;
  q.qclass = kDnsClassIn;
  return q;
}

using Clock = DnsLearnThrottle::Clock;

TEST(DnsLearnThrottle, AQuestionIsFreshForOneIntervalAfterItsAnswerWasRead) {
  DnsLearnThrottle throttle(std::chrono::seconds(1));
  const auto t0 = Clock::now();
  EXPECT_FALSE(throttle.fresh(question("www.example.test"), t0));
  throttle.note(question("www.example.test"), t0);
  EXPECT_TRUE(throttle.fresh(question("www.example.test"), t0));
  EXPECT_TRUE(throttle.fresh(question("WWW.Example.TEST"), t0 + std::chrono::milliseconds(999)));
  EXPECT_FALSE(throttle.fresh(question("www.example.test"), t0 + std::chrono::seconds(1)));
}

TEST(DnsLearnThrottle, AnotherNameOrTypeIsNotFresh) {
  DnsLearnThrottle throttle(std::chrono::seconds(1));
  const auto t0 = Clock::now();
  throttle.note(question("www.example.test"), t0);
  EXPECT_FALSE(throttle.fresh(question("www.example.test", kDnsTypeAaaa), t0));
  EXPECT_FALSE(throttle.fresh(question("ww.example.test"), t0));
  EXPECT_FALSE(throttle.fresh(question("www.example.tesu"), t0));
}

TEST(DnsLearnThrottle, ACollisionReplacesTheOlderEntry) {
  // One slot: every question lands in it, and only the last one noted is fresh.
  DnsLearnThrottle throttle(std::chrono::seconds(1), 1);
  const auto t0 = Clock::now();
  throttle.note(question("a.test"), t0);
  throttle.note(question("b.test"), t0);
  EXPECT_FALSE(throttle.fresh(question("a.test"), t0));
  EXPECT_TRUE(throttle.fresh(question("b.test"), t0));
}

}  // namespace
}  // namespace portcullis::proxy
