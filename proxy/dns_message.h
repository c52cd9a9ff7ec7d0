// DNS wire format, the parts the proxy needs: the header and question of queries (to judge them),
// the header of answers (to match them to their query), and the A/AAAA records an answer gives
// for its question name through its CNAME chain (to learn name -> address). RFC 1035 4.1.
//
// dns_message.cc is the c-ares wrapper: the only file that includes ares.h.
#pragma once

#include <boost/container/static_vector.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace portcullis::proxy {

inline constexpr size_t kDnsHeaderSize = 12;
// A query is a header, one question and at most an OPT record with a few options; anything
// larger is not a query a stub resolver sends (EDNS0 padding, RFC 8467, stays under 512).
inline constexpr size_t kDnsMaxQuerySize = 4096;
inline constexpr size_t kDnsMaxMessageSize = 65535;  // TCP framing's 16-bit length

inline constexpr uint16_t kDnsTypeA = 1;
inline constexpr uint16_t kDnsTypeCname = 5;
inline constexpr uint16_t kDnsTypeAaaa = 28;
inline constexpr uint16_t kDnsClassIn = 1;

enum class DnsRcode : uint8_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
};

// The fixed 12-byte header. Flag accessors follow RFC 1035 4.1.1.
struct DnsHeader {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;

  bool qr() const { return flags & 0x8000; }
  uint8_t opcode() const { return (flags >> 11) & 0xf; }
  bool tc() const { return flags & 0x0200; }
  bool rd() const { return flags & 0x0100; }
  uint8_t rcode() const { return flags & 0xf; }
};

// A decompressed wire name (labels and the final zero byte, at most 255 bytes: RFC 1035 2.3.4),
// held inline: parsing a query or an answer allocates nothing for its names.
using DnsWireName = boost::container::static_vector<uint8_t, 255>;

struct DnsQuestion {
  // Presentation form for policy and cache: ASCII-lowercased, with a trailing dot ("." for the
  // root), RFC 1035 5.1 escapes for bytes that are not printable or are special ("\046", "\.").
  std::string name;
  // The name as it appeared on the wire, decompressed (labels and the final zero byte), case
  // kept: echoed verbatim in locally built answers so 0x20-randomizing clients accept them.
  DnsWireName wire_name;
  uint16_t type = 0;
  uint16_t qclass = 0;
};

// A message's header and first question; the other sections are not read.
struct DnsMessage {
  DnsHeader header;
  DnsQuestion question;
};

enum class DnsParseError {
  kShort = 1,       // fewer than 12 bytes: not even a header
  kOversized,       // larger than a query can be
  kNotQuery,        // QR set: a response sent to the proxy
  kNotImplemented,  // an opcode other than QUERY (RFC 1035 4.1.1)
  kQuestionCount,   // QDCOUNT != 1 (RFC 9619: no DNS software supports more)
  kBadName,         // label too long, name over 255 bytes, bad pointer, pointer loop, NUL label
  kTruncated,       // the question ends before its type and class
};
const std::error_category& dnsParseCategory();
std::error_code make_error_code(DnsParseError e);

// The header alone; nullopt when the message is shorter than 12 bytes.
std::optional<DnsHeader> parseDnsHeader(std::span<const uint8_t> message);

// Header and first question of any message (query or response). QDCOUNT must be at least 1.
Result<DnsMessage> parseDnsMessage(std::span<const uint8_t> message);

// What parsing fills in of the question's name. kWireOnly leaves DnsQuestion::name empty, for a
// caller that judges the wire name through a cache first and asks dnsPresentationName only when
// it needs the name (a cache miss, a log line): a repeated UDP question then costs no c-ares
// call and no allocation.
enum class DnsNameForm : uint8_t { kPresentation, kWireOnly };

// A query the proxy can judge: parseDnsMessage plus QR clear, opcode QUERY, exactly one
// question, at most kDnsMaxQuerySize bytes. When it fails and parseDnsHeader succeeds, the
// sender deserves FORMERR (or NOTIMP for kNotImplemented); otherwise the message is dropped.
// With kWireOnly a name c-ares would reject is only found by dnsPresentationName, which the
// caller then treats as kBadName.
Result<DnsMessage> parseDnsQuery(std::span<const uint8_t> message,
                                 DnsNameForm form = DnsNameForm::kPresentation);

// The presentation form of a wire name that parsing validated (DnsQuestion::name's form);
// nullopt when c-ares cannot expand it.
std::optional<std::string> dnsPresentationName(const DnsWireName& wire);

// Fills question.name from question.wire_name when it is empty (a kWireOnly parse); false when
// the name cannot be expanded (a malformed name: kBadName).
bool fillDnsPresentationName(DnsQuestion& question);

// True when `answer` can be the upstream's answer to `query`: a response with the same ID.
bool isDnsAnswerTo(std::span<const uint8_t> answer, const DnsHeader& query);

// True when `answer` (a response) repeats `question` right after its header, as RFC 1035 4.1.2
// servers do; names compared ASCII-case-insensitively.
bool dnsQuestionMatches(std::span<const uint8_t> answer, const DnsQuestion& question);

// For the per-datagram caches keyed by question name: a hash of a wire name that ignores ASCII
// case, computed eight bytes at a time, and the comparison that goes with it.
uint64_t dnsHashMix(uint64_t h, uint64_t value);
uint64_t dnsNameHash(const DnsWireName& name);
// `lowered` holds name.size() bytes, ASCII-lowercased: true when `name` is the same name.
bool dnsNameEqualsLowered(const uint8_t* lowered, const DnsWireName& name);

struct DnsLearnedAddress {
  IpAddress address;
  uint32_t ttl = 0;  // seconds: the minimum over the record and the CNAMEs leading to it
  auto operator<=>(const DnsLearnedAddress&) const = default;
};

// The A and AAAA records of a NOERROR answer that belong to its question name, directly or
// through a CNAME chain (followed in chain order, whatever the record order, at most
// kDnsMaxCnameChain links). Empty for other rcodes, no data, or a malformed answer section.
inline constexpr int kDnsMaxCnameChain = 16;
std::vector<DnsLearnedAddress> dnsAnswerAddresses(std::span<const uint8_t> answer);
// The same into `out` (cleared first), whose capacity is reused: the relay path's form.
void dnsAnswerAddresses(std::span<const uint8_t> answer, std::vector<DnsLearnedAddress>& out);

}  // namespace portcullis::proxy

namespace std {
template <>
struct is_error_code_enum<portcullis::proxy::DnsParseError> : true_type {};
}  // namespace std
