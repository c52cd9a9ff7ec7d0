// The c-ares wrapper (the only file that includes ares.h).
//
// Debian 12's c-ares 1.18 has no ares_dns_parse, so the header and the record framing are read
// here and c-ares turns names into presentation form (ares_expand_name: RFC 1035 5.1 escaping).
// Names are first walked and validated here, for two c-ares 1.18 behaviours that matter to a
// policy proxy:
//  - ares_expand_name writes a one-byte label holding 0x00 unescaped (its root-name special
//    case), which ends the C string early: "allowed.test.\000.evil.test" would be judged as
//    "allowed.test". Such names are rejected.
//  - ares_parse_a_reply follows every CNAME in record order whatever its owner (its source says
//    "seems wrong as it introduces order dependency") and caps TTLs by unrelated CNAMEs, so the
//    answer's chain is followed here instead.
#include "proxy/dns_message.h"

#include <ares.h>

#include <algorithm>
#include <array>
#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

namespace portcullis::proxy {
namespace {

constexpr size_t kMaxWireName = 255;  // RFC 1035 2.3.4
constexpr size_t kMaxLabel = 63;
// Each label between two pointers adds at least two bytes, so a legal name needs fewer hops
// than this; more means a loop of pointers to pointers.
constexpr int kMaxPointerHops = 128;

uint16_t read16(std::span<const uint8_t> m, size_t at) {
  return static_cast<uint16_t>(m[at] << 8 | m[at + 1]);
}

uint32_t read32(std::span<const uint8_t> m, size_t at) {
  return uint32_t{m[at]} << 24 | uint32_t{m[at + 1]} << 16 | uint32_t{m[at + 2]} << 8 |
         uint32_t{m[at + 3]};
}

struct WireName {
  DnsWireName bytes;  // decompressed: labels and the terminating zero
  size_t next = 0;    // offset just past the name where it started
};

// Validates and decompresses the name at `offset` (RFC 1035 4.1.4 compression). A name that
// runs off the end of the message is kTruncated; a pointer outside it, or any other violation,
// is kBadName.
Result<WireName> readWireName(std::span<const uint8_t> m, size_t offset) {
  WireName name;
  std::optional<size_t> next;
  size_t pos = offset;
  int hops = 0;
  for (;;) {
    if (pos >= m.size()) return hops ? DnsParseError::kBadName : DnsParseError::kTruncated;
    const uint8_t len = m[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= m.size()) return DnsParseError::kTruncated;
      if (++hops > kMaxPointerHops) return DnsParseError::kBadName;
      if (!next) next = pos + 2;
      pos = size_t{len & 0x3fu} << 8 | m[pos + 1];
      continue;
    }
    if (len > kMaxLabel) return DnsParseError::kBadName;  // 01/10 prefixes: retired (RFC 6891)
    if (len == 0) {
      name.bytes.push_back(0);
      name.next = next.value_or(pos + 1);
      return name;
    }
    if (pos + 1 + len > m.size()) {
      return hops ? DnsParseError::kBadName : DnsParseError::kTruncated;
    }
    const uint8_t* label = m.data() + pos + 1;
    if (std::memchr(label, 0, len) != nullptr) return DnsParseError::kBadName;
    // Leaves room for the terminating zero within the 255 bytes (and the buffer's capacity).
    if (name.bytes.size() + 1 + len + 1 > kMaxWireName) return DnsParseError::kBadName;
    name.bytes.push_back(len);
    name.bytes.insert(name.bytes.end(), label, label + len);
    pos += 1 + len;
  }
}

// ASCII-only lowercasing: length bytes are at most 63, below 'A', so a whole wire name can go
// through it.
void lowercase(DnsWireName& bytes) {
  for (uint8_t& c : bytes) {
    if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + ('a' - 'A'));
  }
}

struct AresStringDeleter {
  void operator()(char* s) const { ares_free_string(s); }
};

// c-ares allocates every expanded name (ares_expand_name) and the caller frees it at once, so
// one buffer per thread serves them all: c-ares's allocator is pointed here (once per process,
// before its first use: this is the only file that calls c-ares), and whatever does not fit, or
// arrives while the buffer is taken, goes to the heap.
struct AresScratch {
  // The longest presentation name: 255 wire bytes, each escaped as "\DDD" at worst.
  alignas(std::max_align_t) std::array<char, 4 * kMaxWireName + 8> bytes;
  bool taken = false;
};
thread_local AresScratch ares_scratch;

void* aresMalloc(size_t size) {
  AresScratch& s = ares_scratch;
  if (s.taken || size > s.bytes.size()) return std::malloc(size);
  s.taken = true;
  return s.bytes.data();
}

void aresFree(void* p) {
  AresScratch& s = ares_scratch;
  if (p == s.bytes.data()) {
    s.taken = false;
  } else {
    std::free(p);
  }
}

void* aresRealloc(void* p, size_t size) {
  AresScratch& s = ares_scratch;
  if (p != s.bytes.data()) return std::realloc(p, size);
  if (size <= s.bytes.size()) return p;
  void* moved = std::malloc(size);
  if (moved != nullptr) {
    std::memcpy(moved, s.bytes.data(), s.bytes.size());
    s.taken = false;
  }
  return moved;
}

void useAresScratch() {
  static const bool initialized =
      ares_library_init_mem(ARES_LIB_INIT_ALL, aresMalloc, aresFree, aresRealloc) == ARES_SUCCESS;
  (void)initialized;  // on failure c-ares keeps malloc: slower, not wrong
}

std::optional<std::string> presentationName(const DnsWireName& wire) {
  useAresScratch();
  char* raw = nullptr;
  long consumed = 0;
  if (ares_expand_name(wire.data(), wire.data(), static_cast<int>(wire.size()), &raw, &consumed) !=
      ARES_SUCCESS) {
    return std::nullopt;
  }
  std::unique_ptr<char, AresStringDeleter> owned(raw);
  std::string name(raw);
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  name += '.';  // c-ares strips the final dot and writes the root as ""
  return name;
}

class DnsParseCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "dns"; }
  std::string message(int e) const override {
    switch (static_cast<DnsParseError>(e)) {
      case DnsParseError::kShort:
        return "message shorter than a DNS header";
      case DnsParseError::kOversized:
        return "message larger than a DNS query can be";
      case DnsParseError::kNotQuery:
        return "message is a response, not a query";
      case DnsParseError::kNotImplemented:
        return "opcode is not QUERY";
      case DnsParseError::kQuestionCount:
        return "question count is not 1";
      case DnsParseError::kBadName:
        return "malformed question name";
      case DnsParseError::kTruncated:
        return "question truncated";
    }
    return "unknown DNS parse error";
  }
};

struct Record {
  DnsWireName owner;  // lowercased
  uint16_t type = 0;
  uint32_t ttl = 0;
  DnsWireName target;                // CNAME: lowercased
  std::optional<IpAddress> address;  // A, AAAA
};
// Room for a typical answer section on the stack; longer ones spill to the heap.
using Records = boost::container::small_vector<Record, 8>;

// RFC 2181 8: a TTL with the top bit set is treated as zero.
uint32_t sanitizeTtl(uint32_t ttl) { return ttl & 0x80000000u ? 0 : ttl; }

// The answer section's IN-class CNAME, A and AAAA records; nullopt when its framing is broken.
bool readAnswerRecords(std::span<const uint8_t> m, size_t pos, uint16_t count, Records& records) {
  for (uint16_t i = 0; i < count; ++i) {
    auto owner_or = readWireName(m, pos);
    if (!owner_or || owner_or.value().next + 10 > m.size()) return false;
    WireName& owner = owner_or.value();
    pos = owner.next;
    const uint16_t type = read16(m, pos);
    const uint16_t klass = read16(m, pos + 2);
    const uint32_t ttl = sanitizeTtl(read32(m, pos + 4));
    const size_t rdlength = read16(m, pos + 8);
    const size_t rdata = pos + 10;
    if (rdata + rdlength > m.size()) return false;
    pos = rdata + rdlength;
    if (klass != kDnsClassIn) continue;

    if (type != kDnsTypeCname && !(type == kDnsTypeA && rdlength == 4) &&
        !(type == kDnsTypeAaaa && rdlength == 16)) {
      continue;
    }
    Record& r = records.emplace_back();
    r.owner = owner.bytes;
    r.type = type;
    r.ttl = ttl;
    if (type == kDnsTypeCname) {
      auto target = readWireName(m, rdata);
      if (!target || target.value().next != pos) return false;
      r.target = target.value().bytes;
      lowercase(r.target);
    } else if (type == kDnsTypeA) {
      r.address = IpAddress::v4(read32(m, rdata));
    } else {
      std::array<uint8_t, 16> bytes;
      std::memcpy(bytes.data(), m.data() + rdata, 16);
      r.address = IpAddress::v6(bytes);
    }
    lowercase(r.owner);
  }
  return true;
}

}  // namespace

const std::error_category& dnsParseCategory() {
  static const DnsParseCategory category;
  return category;
}

std::error_code make_error_code(DnsParseError e) {
  return {static_cast<int>(e), dnsParseCategory()};
}

std::optional<DnsHeader> parseDnsHeader(std::span<const uint8_t> m) {
  if (m.size() < kDnsHeaderSize) return std::nullopt;
  return DnsHeader{read16(m, 0), read16(m, 2), read16(m, 4),
                   read16(m, 6), read16(m, 8), read16(m, 10)};
}

namespace {

Result<DnsMessage> parseMessage(std::span<const uint8_t> m, DnsNameForm form) {
  auto header = parseDnsHeader(m);
  if (!header) return DnsParseError::kShort;
  if (header->qdcount == 0) return DnsParseError::kQuestionCount;
  auto wire_or = readWireName(m, kDnsHeaderSize);
  if (!wire_or) return wire_or.error();
  WireName& wire = wire_or.value();
  if (wire.next + 4 > m.size()) return DnsParseError::kTruncated;
  DnsMessage message;
  if (form == DnsNameForm::kPresentation) {
    auto name = presentationName(wire.bytes);
    if (!name) return DnsParseError::kBadName;
    message.question.name = std::move(*name);
  }
  message.header = *header;
  message.question.wire_name = wire.bytes;
  message.question.type = read16(m, wire.next);
  message.question.qclass = read16(m, wire.next + 2);
  return message;
}

}  // namespace

Result<DnsMessage> parseDnsMessage(std::span<const uint8_t> m) {
  return parseMessage(m, DnsNameForm::kPresentation);
}

std::optional<std::string> dnsPresentationName(const DnsWireName& wire) {
  return presentationName(wire);
}

bool fillDnsPresentationName(DnsQuestion& question) {
  if (!question.name.empty()) return true;
  auto name = presentationName(question.wire_name);
  if (!name) return false;
  question.name = std::move(*name);
  return true;
}

Result<DnsMessage> parseDnsQuery(std::span<const uint8_t> m, DnsNameForm form) {
  auto header = parseDnsHeader(m);
  if (!header) return DnsParseError::kShort;
  if (m.size() > kDnsMaxQuerySize) return DnsParseError::kOversized;
  if (header->qr()) return DnsParseError::kNotQuery;
  if (header->opcode() != 0) return DnsParseError::kNotImplemented;
  if (header->qdcount != 1) return DnsParseError::kQuestionCount;
  return parseMessage(m, form);
}

bool isDnsAnswerTo(std::span<const uint8_t> answer, const DnsHeader& query) {
  auto header = parseDnsHeader(answer);
  return header && header->qr() && header->id == query.id;
}

bool dnsQuestionMatches(std::span<const uint8_t> answer, const DnsQuestion& question) {
  const auto lower = [](uint8_t c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
  const auto sameName = [&](std::span<const uint8_t> a, std::span<const uint8_t> b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](auto x, auto y) { return lower(x) == lower(y); });
  };
  const size_t name = question.wire_name.size();
  size_t next = kDnsHeaderSize + name;
  // Servers repeat the question uncompressed (nothing precedes it to point at): compare in
  // place, and decompress only when that fails.
  const std::span<const uint8_t> asked(question.wire_name.data(), name);
  if (answer.size() < next || !sameName(answer.subspan(kDnsHeaderSize, name), asked)) {
    auto echoed = readWireName(answer, kDnsHeaderSize);
    if (!echoed || !sameName({echoed.value().bytes.data(), echoed.value().bytes.size()}, asked)) {
      return false;
    }
    next = echoed.value().next;
  }
  return next + 4 <= answer.size() && read16(answer, next) == question.type &&
         read16(answer, next + 2) == question.qclass;
}

uint64_t dnsHashMix(uint64_t h, uint64_t value) {
  h = (h ^ value) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

uint64_t dnsNameHash(const DnsWireName& name) {
  // Bit 0x20 set in every byte maps 'A'..'Z' to 'a'..'z', so names differing in case hash alike;
  // the other bytes it merges only make a collision, which the exact comparison settles.
  constexpr uint64_t kCaseBits = 0x2020202020202020ull;
  uint64_t h = name.size();
  size_t i = 0;
  for (; i < name.size(); i += 8) {
    uint64_t v = 0;
    std::memcpy(&v, name.data() + i, std::min<size_t>(8, name.size() - i));
    h = dnsHashMix(h, v | kCaseBits);
  }
  return h;
}

bool dnsNameEqualsLowered(const uint8_t* lowered, const DnsWireName& name) {
  // Clients mostly ask in lowercase: a plain comparison settles most.
  if (std::memcmp(lowered, name.data(), name.size()) == 0) return true;
  for (size_t i = 0; i < name.size(); ++i) {
    const uint8_t c = name[i];
    if (lowered[i] != (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c)) return false;
  }
  return true;
}

std::vector<DnsLearnedAddress> dnsAnswerAddresses(std::span<const uint8_t> answer) {
  std::vector<DnsLearnedAddress> addresses;
  dnsAnswerAddresses(answer, addresses);
  return addresses;
}

void dnsAnswerAddresses(std::span<const uint8_t> answer, std::vector<DnsLearnedAddress>& out) {
  out.clear();
  auto header = parseDnsHeader(answer);
  if (!header || !header->qr() || header->rcode() != 0 || header->qdcount != 1) return;
  auto question = readWireName(answer, kDnsHeaderSize);
  if (!question || question.value().next + 4 > answer.size()) return;
  // No address record, nothing to learn (REFUSED, NXDOMAIN and NODATA answers end here).
  if (header->ancount == 0) return;
  Records records;
  if (!readAnswerRecords(answer, question.value().next + 4, header->ancount, records)) return;

  DnsWireName name = question.value().bytes;
  lowercase(name);
  uint32_t chain_ttl = std::numeric_limits<uint32_t>::max();
  for (int links = 0;; ++links) {
    auto cname = std::find_if(records.begin(), records.end(), [&](const Record& r) {
      return r.type == kDnsTypeCname && r.owner == name;
    });
    if (cname == records.end()) break;
    if (links == kDnsMaxCnameChain) return;  // a loop, or longer than any resolver follows
    chain_ttl = std::min(chain_ttl, cname->ttl);
    name = cname->target;
  }
  for (const Record& r : records) {
    if (r.address && r.owner == name) {
      out.push_back({*r.address, std::min(r.ttl, chain_ttl)});
    }
  }
}

}  // namespace portcullis::proxy
