// A parsed HTTP/1.x request or response head. Views point into the HttpParser that produced it
// and stay valid until that parser starts its next message.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace portcullis::proxy {

struct HttpHeader {
  std::string_view name;
  std::string_view value;  // without surrounding whitespace
};

struct HttpHead {
  std::string_view method;  // requests
  std::string_view target;  // requests: as on the request line
  uint16_t status = 0;      // responses
  std::string_view reason;  // responses
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  std::vector<HttpHeader> headers;  // in the order received, duplicates kept
  bool keep_alive = false;          // the sender allows another message on this connection
  // Requests: CONNECT, or Upgrade with "Connection: upgrade". Responses: a 101 that accepts
  // the upgrade, or a 2xx to CONNECT. The bytes after this message are not HTTP.
  bool upgrade = false;
  bool chunked = false;
  std::optional<uint64_t> content_length;
  bool body_until_close = false;  // responses: neither length nor chunked, the close ends it

  // Facts HttpParser learns while parsing, so that forwarding need not scan the head again
  // (http_forwarding.h). A head built otherwise leaves them kUnknown, and is scanned.
  enum class Known : uint8_t { kUnknown, kNo, kYes };
  // A field that forwarding drops or rewrites: TE, Upgrade, Keep-Alive, Proxy-Connection, or a
  // Connection listing anything but "keep-alive".
  Known hop_by_hop = Known::kUnknown;
  // Every line of the head, from its first byte, ends in CRLF.
  Known crlf_lines = Known::kUnknown;

  bool isConnect() const { return method == "CONNECT"; }
  bool isHttp10() const { return version_major == 1 && version_minor == 0; }
  // Whether a request carries content (RFC 9112 6.3: no Content-Length or chunked means none).
  bool hasBody() const { return chunked || content_length.value_or(0) > 0; }
  // The first header of that name (case-insensitive), or nullptr.
  const HttpHeader* find(std::string_view name) const;
  // Whether any header of that name lists `token` in its comma-separated value, ignoring case
  // ("Connection: keep-alive, Upgrade" has the token "upgrade").
  bool hasToken(std::string_view name, std::string_view token) const;
  // RFC 9110 10.1.1.
  bool expectsContinue() const { return hasToken("expect", "100-continue"); }
};

// ASCII case folding (field names are case-insensitive, RFC 9110 5.1). Inline: it runs a few
// times per header field of every message.
inline char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

// Whether `name` is `lower` (lowercase letters, digits and '-': a fixed field name) in any ASCII
// case. Eight bytes at a time: where `lower` has a letter, the case bit of `name` is forced on
// (only the two cases of that letter then compare equal); elsewhere the bytes must be equal.
inline bool equalsLowercase(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  constexpr uint64_t kToHigh = 0x1f1f1f1f1f1f1f1fULL;  // 'a'..'z' + 0x1f sets the high bit
  size_t i = 0;
  for (; i + 8 <= name.size(); i += 8) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, name.data() + i, 8);
    std::memcpy(&b, lower.data() + i, 8);
    const uint64_t case_bits = ((b + kToHigh) & kHigh) >> 2;
    if ((a | case_bits) != b) return false;
  }
  for (; i < name.size(); ++i) {
    const char case_bit = lower[i] >= 'a' ? 0x20 : 0;
    if (static_cast<char>(name[i] | case_bit) != lower[i]) return false;
  }
  return true;
}

// Calls f(token) for each comma-separated, whitespace-trimmed, non-empty element of a list.
template <class F>
void forEachListElement(std::string_view list, F&& f) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) f(item);
  }
}

}  // namespace portcullis::proxy
