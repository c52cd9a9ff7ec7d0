// One line of the access log (issue 6), modeled on Cilium's L7 log record
// (pkg/proxy/accesslog/record.go): when, which direction and verdict, the deciding rule, both
// endpoints, and the protocol's own part (HTTP request and response, DNS question and answer,
// TLS server name). Views only: a record is formatted at once on the thread that fills it.
//
// JSON shape (one object per line, keys always in this order, absent parts left out):
//   {"time":"2026-11-27T05:01:02.123456Z","direction":"egress","verdict":"denied",
//    "protocol":"http","rule":"web-egress","listener":"portcullis-http-egress",
//    "source":{"ip":"198.18.1.2","port":40112},"destination":{"ip":"198.18.2.2","port":80},
//    "http":{"method":"GET","host":"example.test","target":"/x","status":403,
//            "response_bytes":91,"duration_us":210}}
//   "dns":{"query":"example.test.","type":"A","rcode":"NOERROR","answers":["198.18.2.2"],
//          "ttl":300,"transport":"udp"}
//   "tls":{"sni":"api.example.test"}
//   "info":"upstream timed out"        (why, for verdict "error")
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/ip_address.h"
#include "policy/model.h"

namespace portcullis::proxy {

enum class AccessVerdict : uint8_t { kForwarded, kDenied, kError };
enum class AccessProtocol : uint8_t { kHttp, kDns, kTls };

const char* toString(AccessVerdict v);
const char* toString(AccessProtocol p);

struct AccessEndpoint {
  IpAddress address;
  uint16_t port = 0;
};

struct HttpAccessInfo {
  std::string_view method;
  std::string_view host;
  std::string_view target;
  uint16_t status = 0;  // 0: no response was sent (left out)
  uint64_t response_bytes = 0;
  std::chrono::microseconds duration{0};  // from the request head to the end of the response
};

struct DnsAccessInfo {
  std::string_view query;  // presentation form, lowercased, trailing dot
  uint16_t type = 0;
  int rcode = -1;  // -1: no answer (dropped)
  std::span<const IpAddress> answers;
  int64_t ttl = -1;  // -1: no address in the answer (left out)
  bool tcp = false;
};

struct TlsAccessInfo {
  std::string_view sni;
};

struct AccessRecord {
  std::chrono::system_clock::time_point time;
  policy::Direction direction = policy::Direction::kEgress;
  AccessVerdict verdict = AccessVerdict::kDenied;
  AccessProtocol protocol = AccessProtocol::kHttp;
  std::string_view rule;      // empty: no rule selected the flow (left out)
  std::string_view listener;  // "portcullis-http-egress"
  AccessEndpoint source;
  AccessEndpoint destination;
  HttpAccessInfo http;  // protocol kHttp
  DnsAccessInfo dns;    // protocol kDns
  TlsAccessInfo tls;    // protocol kTls
  std::string_view info;
};

// Appends the record as one JSON object and a newline. Every string is escaped so that the line
// is valid JSON and valid UTF-8 whatever the bytes: a client controls the method, target, Host
// and query name.
void appendAccessJson(const AccessRecord& record, std::string& out);

// Appends `text` as a JSON string (quotes included), RFC 8259 section 7: quote, backslash and
// control characters escaped, DEL as \u007f, well-formed UTF-8 kept, every byte of an ill-formed
// sequence (overlong, surrogate, above U+10FFFF, truncated) replaced by \ufffd.
void appendJsonString(std::string_view text, std::string& out);

// RFC 3339 UTC with microseconds: "2026-11-27T05:01:02.123456Z".
void appendRfc3339(std::chrono::system_clock::time_point time, std::string& out);

// "A", "AAAA", ... for common types, else "TYPE<n>" (RFC 3597).
std::string_view dnsTypeName(uint16_t type, char (&scratch)[16]);
// "NOERROR", "REFUSED", ..., else "RCODE<n>".
std::string_view dnsRcodeName(int rcode, char (&scratch)[16]);

}  // namespace portcullis::proxy
