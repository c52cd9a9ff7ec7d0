#include "proxy/dns_message.h"

#include <gtest/gtest.h>

#include "proxy/dns_response.h"
#include "tests/proxy/dns_test_support.h"

namespace portcullis::proxy {
namespace {

using namespace testing;  // NOLINT: the test message builders

std::vector<uint8_t> wire(const DnsMessage& m) {
  return {m.question.wire_name.begin(), m.question.wire_name.end()};
}

std::error_code queryError(const std::vector<uint8_t>& m) {
  auto r = parseDnsQuery(m);
  return r ? std::error_code() : r.error();
}

TEST(DnsMessage, ParsesQueryHeaderAndQuestion) {
  auto m = query(0xbeef, "WwW.Example.TEST", kDnsTypeAaaa);
  auto q = parseDnsQuery(m);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q.value().header.id, 0xbeef);
  EXPECT_TRUE(q.value().header.rd());
  EXPECT_FALSE(q.value().header.qr());
  EXPECT_EQ(q.value().question.name, "www.example.test.");
  EXPECT_EQ(q.value().question.type, kDnsTypeAaaa);
  EXPECT_EQ(q.value().question.qclass, kDnsClassIn);
  EXPECT_EQ(wire(q.value()), encodeName("WwW.Example.TEST"));  // case kept
}

TEST(DnsMessage, AWireOnlyParseLeavesThePresentationNameForLater) {
  auto q = parseDnsQuery(query(3, "Api.Example.TEST", kDnsTypeA), DnsNameForm::kWireOnly);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_TRUE(q.value().question.name.empty());
  EXPECT_EQ(wire(q.value()), encodeName("Api.Example.TEST"));
  EXPECT_EQ(q.value().question.type, kDnsTypeA);
  ASSERT_TRUE(fillDnsPresentationName(q.value().question));
  EXPECT_EQ(q.value().question.name, "api.example.test.");
  EXPECT_EQ(dnsPresentationName(q.value().question.wire_name), "api.example.test.");
  // Filled already: kept as it is.
  q.value().question.name = "kept.";
  EXPECT_TRUE(fillDnsPresentationName(q.value().question));
  EXPECT_EQ(q.value().question.name, "kept.");
  // The same checks as a full parse otherwise.
  auto response_message = response(4, "a.test", 1, {});
  EXPECT_FALSE(parseDnsQuery(response_message, DnsNameForm::kWireOnly));
}

TEST(DnsMessage, ExpandsManyNamesOneAfterAnother) {
  // c-ares's allocations go to a per-thread buffer first; each name is complete and its own.
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) {
    auto q = parseDnsQuery(query(static_cast<uint16_t>(i), "n" + std::to_string(i) + ".Test"));
    ASSERT_TRUE(q);
    names.push_back(q.value().question.name);
  }
  EXPECT_EQ(names.front(), "n0.test.");
  EXPECT_EQ(names.back(), "n49.test.");
  // The longest presentation form: 255 wire bytes, escaped.
  std::vector<uint8_t> m = header(8, 0, 1);
  for (int label = 0; label < 4; ++label) {
    m.push_back(label < 3 ? 63 : 61);
    for (int i = 0; i < (label < 3 ? 63 : 61); ++i) m.push_back(0x01);
  }
  append(m, std::vector<uint8_t>{0, 0, 1, 0, 1});
  auto longest = parseDnsQuery(m);
  ASSERT_TRUE(longest) << longest.error().message();
  EXPECT_EQ(longest.value().question.name.size(), 250u * 4 + 4);
}

TEST(DnsMessage, NameHashAndComparisonIgnoreAsciiCaseOnly) {
  const auto name = [](std::string_view text) {
    const auto encoded = encodeName(text);
    return DnsWireName(encoded.begin(), encoded.end());
  };
  EXPECT_EQ(dnsNameHash(name("WWW.Example.TEST")), dnsNameHash(name("www.example.test")));
  EXPECT_NE(dnsNameHash(name("www.example.test")), dnsNameHash(name("www.example.tesu")));
  EXPECT_NE(dnsNameHash(name("a.example.test")), dnsNameHash(name("b.example.test")));
  const auto lowered = name("www.example.test");
  EXPECT_TRUE(dnsNameEqualsLowered(lowered.data(), name("WwW.EXAMPLE.test")));
  EXPECT_FALSE(dnsNameEqualsLowered(lowered.data(), name("www.example.tesu")));
  // '@' and '`' differ by the case bit but are not letters: not the same name.
  const auto backtick = name("x`y.test");
  EXPECT_FALSE(dnsNameEqualsLowered(backtick.data(), name("x@y.test")));
}

TEST(DnsMessage, RootNameIsADot) {
  auto q = parseDnsQuery(query(1, ".", 2));
  ASSERT_TRUE(q);
  EXPECT_EQ(q.value().question.name, ".");
  EXPECT_EQ(wire(q.value()), std::vector<uint8_t>{0});
}

TEST(DnsMessage, EscapesSpecialBytesInPresentationForm) {
  std::vector<uint8_t> m = header(7, 0, 1);
  append(m, std::vector<uint8_t>{3, 'a', '.', 'b', 2, 'X', 0x07, 4, 't', 'e', 's', 't', 0, 0, 1, 0,
                                 1});
  auto q = parseDnsQuery(m);
  ASSERT_TRUE(q);
  // A dot inside a label must not read as a label boundary to the policy.
  EXPECT_EQ(q.value().question.name, "a\\.b.x\\007.test.");
}

TEST(DnsMessage, FollowsACompressionPointerInTheQuestion) {
  // The question "www" + pointer to "example.test" placed after it (c-ares and this parser
  // accept any in-bounds pointer; the name's end is where the pointer is).
  std::vector<uint8_t> m = header(9, 0, 1);
  append(m, std::vector<uint8_t>{3, 'w', 'w', 'w', 0xc0, 22, 0, 1, 0, 1});
  append(m, encodeName("example.test"));
  auto q = parseDnsQuery(m);
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q.value().question.name, "www.example.test.");
  EXPECT_EQ(wire(q.value()), encodeName("www.example.test"));
  EXPECT_EQ(q.value().question.type, 1);
}

TEST(DnsMessage, RejectsTruncatedMessages) {
  const auto full = query(3, "www.example.test");
  EXPECT_EQ(queryError({full.begin(), full.begin() + 11}), DnsParseError::kShort);
  EXPECT_FALSE(parseDnsHeader(std::vector<uint8_t>(full.begin(), full.begin() + 11)));
  EXPECT_EQ(queryError({full.begin(), full.begin() + 12}), DnsParseError::kTruncated);
  EXPECT_EQ(queryError({full.begin(), full.begin() + 16}), DnsParseError::kTruncated);  // mid-label
  EXPECT_EQ(queryError({full.begin(), full.end() - 1}), DnsParseError::kTruncated);     // class cut
  std::vector<uint8_t> dangling = header(3, 0, 1);
  append(dangling, std::vector<uint8_t>{3, 'w', 'w', 'w', 0xc0});  // half a pointer
  EXPECT_EQ(queryError(dangling), DnsParseError::kTruncated);
  EXPECT_TRUE(parseDnsHeader(dangling));  // the header parses: FORMERR is possible
}

TEST(DnsMessage, RejectsCompressionPointerLoops) {
  std::vector<uint8_t> self = header(4, 0, 1);
  append(self, std::vector<uint8_t>{0xc0, 12, 0, 1, 0, 1});  // points at itself
  EXPECT_EQ(queryError(self), DnsParseError::kBadName);

  std::vector<uint8_t> pair = header(4, 0, 1);
  append(pair, std::vector<uint8_t>{0xc0, 14, 0xc0, 12, 0, 1, 0, 1});  // two pointing at each other
  EXPECT_EQ(queryError(pair), DnsParseError::kBadName);

  std::vector<uint8_t> growing = header(4, 0, 1);
  append(growing, std::vector<uint8_t>{1, 'a', 0xc0, 12, 0, 1, 0, 1});  // "a.a.a.a..." forever
  EXPECT_EQ(queryError(growing), DnsParseError::kBadName);

  std::vector<uint8_t> outside = header(4, 0, 1);
  append(outside, std::vector<uint8_t>{0xc1, 0, 0, 1, 0, 1});  // past the end
  EXPECT_EQ(queryError(outside), DnsParseError::kBadName);
}

TEST(DnsMessage, RejectsOversizedMessagesNamesAndLabels) {
  auto big = ednsQuery(5, "www.example.test", 1232);
  big.resize(kDnsMaxQuerySize + 1, 0);
  EXPECT_EQ(queryError(big), DnsParseError::kOversized);

  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";  // 4*64+1 = 257 bytes
  EXPECT_EQ(queryError(query(5, long_name)), DnsParseError::kBadName);
  std::string max_name;
  for (int i = 0; i < 3; ++i) max_name += std::string(63, 'a') + ".";
  max_name += std::string(61, 'b');  // 3*64 + 62 + 1 = 255 bytes: the longest legal name
  ASSERT_EQ(encodeName(max_name).size(), 255u);
  EXPECT_EQ(queryError(query(5, max_name)), std::error_code());

  std::vector<uint8_t> label64 = header(5, 0, 1);
  label64.push_back(64);  // 0x40: a retired extended label type
  label64.insert(label64.end(), 64, 'a');
  append(label64, std::vector<uint8_t>{0, 0, 1, 0, 1});
  EXPECT_EQ(queryError(label64), DnsParseError::kBadName);
}

TEST(DnsMessage, RejectsANameWithAZeroByteLabel) {
  // c-ares 1.18 writes this label unescaped, which would cut the name at "allowed.test".
  std::vector<uint8_t> m = header(6, 0, 1);
  append(m, std::vector<uint8_t>{7, 'a', 'l', 'l', 'o', 'w', 'e', 'd', 4, 't', 'e', 's', 't',
                                 1, 0,   4,   'e', 'v', 'i', 'l', 0,   0, 1,   0,   1});
  EXPECT_EQ(queryError(m), DnsParseError::kBadName);
}

TEST(DnsMessage, RejectsWhatIsNotAQuery) {
  EXPECT_EQ(queryError(response(1, "a.test", 1, {})), DnsParseError::kNotQuery);
  EXPECT_EQ(queryError(query(1, "a.test", 1, 0x1000)), DnsParseError::kNotImplemented);  // STATUS
  auto two = query(1, "a.test");
  two[5] = 2;
  EXPECT_EQ(queryError(two), DnsParseError::kQuestionCount);
  auto none = header(1, 0, 0);
  EXPECT_EQ(queryError(none), DnsParseError::kQuestionCount);
  EXPECT_EQ(queryError({}), DnsParseError::kShort);
}

TEST(DnsMessage, GarbageNeverParsesIntoAnOutOfBoundsName) {
  // A deterministic spread of byte soups: whatever parses must have a sane name.
  uint32_t state = 12345;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> m(12 + round % 60);
    for (uint8_t& b : m) {
      state = state * 1103515245 + 12345;
      b = static_cast<uint8_t>(state >> 16);
    }
    m[2] = 0;  // a query, opcode QUERY
    m[4] = 0;
    m[5] = 1;
    auto q = parseDnsQuery(m);
    if (!q) continue;
    EXPECT_LE(q.value().question.wire_name.size(), 255u);
    EXPECT_EQ(q.value().question.name.back(), '.');
  }
}

TEST(DnsMessage, BuildsRejectionsThatEchoIdQuestionAndFlags) {
  auto m = query(0x1234, "Denied.Example.TEST", kDnsTypeA, kRdFlag | 0x0010 /* CD */);
  auto q = parseDnsQuery(m);
  ASSERT_TRUE(q);
  for (DnsRcode rcode : {DnsRcode::kRefused, DnsRcode::kNxDomain, DnsRcode::kServFail}) {
    auto answer = buildDnsAnswer(q.value(), rcode);
    auto parsed = parseDnsMessage(answer);
    ASSERT_TRUE(parsed);
    const DnsHeader& h = parsed.value().header;
    EXPECT_EQ(h.id, 0x1234);
    EXPECT_TRUE(h.qr());
    EXPECT_EQ(h.opcode(), 0);
    EXPECT_TRUE(h.rd());
    EXPECT_TRUE(h.flags & 0x0080);   // RA
    EXPECT_TRUE(h.flags & 0x0010);   // CD copied
    EXPECT_FALSE(h.flags & 0x0400);  // not authoritative
    EXPECT_FALSE(h.tc());
    EXPECT_EQ(h.rcode(), static_cast<int>(rcode));
    EXPECT_EQ(h.qdcount, 1);
    EXPECT_EQ(h.ancount + h.nscount + h.arcount, 0);
    // The question is byte-identical to the query's, mixed case included.
    EXPECT_EQ(std::vector<uint8_t>(answer.begin() + 12, answer.end()),
              std::vector<uint8_t>(m.begin() + 12, m.end()));
    EXPECT_TRUE(isDnsAnswerTo(answer, q.value().header));
  }
  auto no_rd = parseDnsQuery(query(9, "x.test", 1, 0));
  ASSERT_TRUE(no_rd);
  EXPECT_FALSE(parseDnsHeader(buildDnsAnswer(no_rd.value(), DnsRcode::kRefused))->rd());
}

TEST(DnsMessage, BuildsHeaderOnlyFormErr) {
  std::vector<uint8_t> bad = header(0x4321, kRdFlag, 1);
  append(bad, std::vector<uint8_t>{0xc0, 12, 0, 1, 0, 1});
  ASSERT_FALSE(parseDnsQuery(bad));
  auto h = parseDnsHeader(bad);
  ASSERT_TRUE(h);
  auto answer = buildDnsHeaderAnswer(*h, DnsRcode::kFormErr);
  ASSERT_EQ(answer.size(), 12u);
  EXPECT_EQ(idOf(answer), 0x4321);
  EXPECT_EQ(flagsOf(answer), 0x8000 | 0x0100 | 0x0080 | 1);
  EXPECT_EQ(answer[5], 0);  // no question
}

TEST(DnsMessage, MatchesAnswersByIdAndQr) {
  DnsHeader q{.id = 77};
  EXPECT_TRUE(isDnsAnswerTo(response(77, "a.test", 1, {}), q));
  EXPECT_FALSE(isDnsAnswerTo(response(78, "a.test", 1, {}), q));
  EXPECT_FALSE(isDnsAnswerTo(query(77, "a.test"), q));  // not a response
  EXPECT_FALSE(isDnsAnswerTo(std::vector<uint8_t>{0, 77, 0x80}, q));
}

TEST(DnsMessage, MatchesAnAnswersQuestionCaseInsensitivelyAndThroughCompression) {
  auto q = parseDnsQuery(query(1, "Www.Example.TEST", kDnsTypeAaaa));
  ASSERT_TRUE(q);
  const DnsQuestion& question = q.value().question;
  EXPECT_TRUE(dnsQuestionMatches(response(1, "www.example.test", kDnsTypeAaaa, {}), question));
  EXPECT_FALSE(dnsQuestionMatches(response(1, "www.example.test", kDnsTypeA, {}), question));
  EXPECT_FALSE(dnsQuestionMatches(response(1, "ww.example.test", kDnsTypeAaaa, {}), question));
  EXPECT_FALSE(dnsQuestionMatches(response(1, "www.example.tes", kDnsTypeAaaa, {}), question));
  auto cut = response(1, "www.example.test", kDnsTypeAaaa, {});
  cut.pop_back();  // the class is cut short
  EXPECT_FALSE(dnsQuestionMatches(cut, question));
  // "www" + a pointer to "example.test" placed after the question.
  std::vector<uint8_t> compressed = header(1, 0x8180, 1);
  append(compressed, std::vector<uint8_t>{3, 'w', 'w', 'w', 0xc0, 22, 0, 28, 0, 1});
  append(compressed, encodeName("example.test"));
  EXPECT_TRUE(dnsQuestionMatches(compressed, question));
}

std::vector<DnsLearnedAddress> learned(const std::vector<uint8_t>& answer) {
  return dnsAnswerAddresses(answer);
}

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(DnsAnswer, LearnsDirectAddresses) {
  auto a = response(
      1, "Www.Example.Test", 1,
      {aRecord("www.example.test", 198, 18, 2, 1, 60),
       aRecord("WWW.EXAMPLE.TEST", 198, 18, 2, 2, 30), aRecord("other.test", 198, 18, 2, 3, 60)});
  EXPECT_EQ(learned(a),
            (std::vector<DnsLearnedAddress>{{ip("198.18.2.1"), 60}, {ip("198.18.2.2"), 30}}));
  auto aaaa = response(1, "www.example.test", 28, {aaaaRecord("www.example.test", 5, 120)});
  EXPECT_EQ(learned(aaaa), (std::vector<DnsLearnedAddress>{{ip("2001:db8::5"), 120}}));
}

TEST(DnsAnswer, FollowsCnameChainsInChainOrderWithTheChainsMinimumTtl) {
  // Records deliberately out of chain order, plus an unrelated CNAME that c-ares 1.18 would
  // have followed.
  auto a = response(
      2, "www.example.test", 1,
      {aRecord("edge.cdn.test", 198, 18, 3, 1, 300),
       cnameRecord("unrelated.test", "elsewhere.test", 5),
       cnameRecord("alias.cdn.test", "edge.cdn.test", 40),
       cnameRecord("www.example.test", "alias.cdn.test", 100),
       aRecord("elsewhere.test", 198, 18, 9, 9, 300), aRecord("edge.cdn.test", 198, 18, 3, 2, 20)});
  EXPECT_EQ(learned(a),
            (std::vector<DnsLearnedAddress>{{ip("198.18.3.1"), 40}, {ip("198.18.3.2"), 20}}));
}

TEST(DnsAnswer, FollowsCompressedNames) {
  // www.example.test CNAME cdn.example.test; cdn.example.test A 198.18.4.4, with pointers.
  std::vector<uint8_t> m = header(3, 0x8180, 1, 2);
  append(m, encodeName("www.example.test"));  // at 12; "example.test" at 16
  put16(m, 1);
  put16(m, 1);
  append(m, std::vector<uint8_t>{0xc0, 12});  // owner www.example.test
  put16(m, 5);
  put16(m, 1);
  put32(m, 50);
  put16(m, 6);
  const size_t cdn_at = m.size();
  append(m, std::vector<uint8_t>{3, 'c', 'd', 'n', 0xc0, 16});
  m.push_back(0xc0);
  m.push_back(static_cast<uint8_t>(cdn_at));
  put16(m, 1);
  put16(m, 1);
  put32(m, 70);
  put16(m, 4);
  append(m, std::vector<uint8_t>{198, 18, 4, 4});
  EXPECT_EQ(learned(m), (std::vector<DnsLearnedAddress>{{ip("198.18.4.4"), 50}}));
}

TEST(DnsAnswer, LearnsNothingFromLoopsErrorsAndBrokenAnswers) {
  EXPECT_TRUE(
      learned(response(4, "a.test", 1,
                       {cnameRecord("a.test", "b.test", 60), cnameRecord("b.test", "a.test", 60),
                        aRecord("a.test", 1, 2, 3, 4, 60)}))
          .empty());
  EXPECT_TRUE(
      learned(response(4, "a.test", 1, {aRecord("a.test", 1, 2, 3, 4, 60)}, 0x8183)).empty());
  auto cut = response(4, "a.test", 1, {aRecord("a.test", 1, 2, 3, 4, 60)});
  cut.pop_back();  // rdata runs past the end
  EXPECT_TRUE(learned(cut).empty());
  EXPECT_TRUE(learned(query(4, "a.test")).empty());  // not a response
  Rr odd = aRecord("a.test", 1, 2, 3, 4, 60);
  odd.rdata.push_back(5);  // an A record of 5 bytes is not an address
  EXPECT_TRUE(learned(response(4, "a.test", 1, {odd})).empty());
}

TEST(DnsAnswer, TreatsTtlsWithTheTopBitSetAsZero) {
  auto a = response(5, "a.test", 1, {aRecord("a.test", 198, 18, 0, 1, 0x80000000u)});
  EXPECT_EQ(learned(a), (std::vector<DnsLearnedAddress>{{ip("198.18.0.1"), 0}}));
}

// Appended, not `"n" + std::to_string(i)`, which GCC 12 at -O3 misreads (-Wrestrict).
std::string chainName(int i) {
  std::string name = "n";
  name += std::to_string(i);
  name += ".test";
  return name;
}

TEST(DnsAnswer, LongChainsAreCutAtTheLimit) {
  std::vector<Rr> chain;
  for (int i = 0; i < kDnsMaxCnameChain; ++i) {
    chain.push_back(cnameRecord(chainName(i), chainName(i + 1), 60));
  }
  chain.push_back(aRecord(chainName(kDnsMaxCnameChain), 198, 18, 0, 7, 60));
  EXPECT_EQ(learned(response(6, "n0.test", 1, chain)).size(), 1u);
  chain.insert(chain.begin(), cnameRecord("m.test", "n0.test", 60));
  EXPECT_TRUE(learned(response(6, "m.test", 1, chain)).empty());
}

}  // namespace
}  // namespace portcullis::proxy
