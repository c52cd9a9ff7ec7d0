// fuzz-links: portcullis_proxy
// The DNS proxy's parsing path, fed whatever a client or an upstream could send: the query parser
// (and the answers built from what it accepts), the answer header check and the answer walker
// that learns addresses. Round-trip invariants turn silent mistakes into crashes.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proxy/dns_message.h"
#include "proxy/dns_response.h"

using namespace portcullis::proxy;  // NOLINT

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void checkQuery(const DnsMessage& query) {
  const std::string& name = query.question.name;
  require(!name.empty() && name.back() == '.');
  require(query.question.wire_name.size() <= 255 && query.question.wire_name.back() == 0);
  for (char c : name) require(c < 'A' || c > 'Z');

  for (DnsRcode rcode : {DnsRcode::kRefused, DnsRcode::kNxDomain, DnsRcode::kServFail}) {
    const auto answer = buildDnsAnswer(query, rcode);
    require(isDnsAnswerTo(answer, query.header));
    auto echoed = parseDnsMessage(answer);
    require(static_cast<bool>(echoed));
    require(echoed.value().question.name == name);
    require(echoed.value().question.wire_name == query.question.wire_name);
    require(echoed.value().header.rcode() == static_cast<uint8_t>(rcode));
    require(dnsAnswerAddresses(answer).empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> message(data, size);
  auto query = parseDnsQuery(message);
  if (query) {
    checkQuery(query.value());
  } else if (auto header = parseDnsHeader(message)) {
    const auto formerr = buildDnsHeaderAnswer(*header, DnsRcode::kFormErr);
    require(formerr.size() == kDnsHeaderSize && isDnsAnswerTo(formerr, *header));
  }
  if (auto header = parseDnsHeader(message)) (void)isDnsAnswerTo(message, *header);
  if (auto parsed = parseDnsMessage(message)) {
    require(dnsQuestionMatches(message, parsed.value().question));  // its own question
  }
  for (const DnsLearnedAddress& learned : dnsAnswerAddresses(message)) {
    require(learned.ttl < 0x80000000u);
  }
  return 0;
}
