#include "proxy/dns_response.h"

namespace portcullis::proxy {
namespace {

constexpr uint16_t kQr = 0x8000;
constexpr uint16_t kOpcodeMask = 0x7800;
constexpr uint16_t kRd = 0x0100;
constexpr uint16_t kRa = 0x0080;
constexpr uint16_t kCd = 0x0010;  // RFC 4035 3.2.2: copied into the response

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void putHeader(std::vector<uint8_t>& out, const DnsHeader& query, DnsRcode rcode,
               uint16_t qdcount) {
  put16(out, query.id);
  put16(out, static_cast<uint16_t>(kQr | (query.flags & (kOpcodeMask | kRd | kCd)) | kRa |
                                   static_cast<uint16_t>(rcode)));
  put16(out, qdcount);
  put16(out, 0);
  put16(out, 0);
  put16(out, 0);
}

}  // namespace

std::vector<uint8_t> buildDnsAnswer(const DnsMessage& query, DnsRcode rcode) {
  std::vector<uint8_t> out;
  out.reserve(kDnsHeaderSize + query.question.wire_name.size() + 4);
  putHeader(out, query.header, rcode, 1);
  out.insert(out.end(), query.question.wire_name.begin(), query.question.wire_name.end());
  put16(out, query.question.type);
  put16(out, query.question.qclass);
  return out;
}

std::vector<uint8_t> buildDnsHeaderAnswer(const DnsHeader& query, DnsRcode rcode) {
  std::vector<uint8_t> out;
  out.reserve(kDnsHeaderSize);
  putHeader(out, query, rcode, 0);
  return out;
}

}  // namespace portcullis::proxy
