#include "proxy/tls_client_hello.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace portcullis::proxy {
namespace {

using Status = ClientHelloPeek::Status;

constexpr uint8_t kContentHandshake = 22;   // RFC 8446 5.1
constexpr uint8_t kHandshakeClientHello = 1;
constexpr uint16_t kExtensionServerName = 0;  // RFC 6066 3
constexpr uint8_t kNameTypeHostName = 0;
constexpr size_t kRecordHeader = 5;
constexpr size_t kHandshakeHeader = 4;
constexpr size_t kMaxRecordPayload = 1 << 14;  // TLSPlaintext.length, RFC 8446 5.1
constexpr size_t kMaxHostName = 255;

// Big-endian reads from a span that only shrinks; every read checks what is left.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool empty() const { return bytes_.empty(); }
  size_t left() const { return bytes_.size(); }

  std::optional<uint32_t> number(size_t width) {
    if (bytes_.size() < width) return std::nullopt;
    uint32_t value = 0;
    for (size_t i = 0; i < width; ++i) value = value << 8 | static_cast<uint8_t>(bytes_[i]);
    bytes_.remove_prefix(width);
    return value;
  }
  std::optional<std::string_view> take(size_t n) {
    if (bytes_.size() < n) return std::nullopt;
    std::string_view out = bytes_.substr(0, n);
    bytes_.remove_prefix(n);
    return out;
  }
  // A vector with a `width`-byte length prefix (RFC 8446 3.4).
  std::optional<std::string_view> vector(size_t width) {
    const auto n = number(width);
    if (!n) return std::nullopt;
    return take(*n);
  }

 private:
  std::string_view bytes_;
};

bool validHostName(std::string_view name) {
  // RFC 6066 3: an ASCII DNS host name; '_' too, as the policy's names allow it.
  if (name.empty() || name.size() > kMaxHostName || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

// The server_name extension's body: one host_name at most (RFC 6066 3: no two names of one type).
std::optional<std::string> serverName(std::string_view body) {
  Reader r(body);
  const auto list = r.vector(2);
  if (!list || !r.empty() || list->empty()) return std::nullopt;
  Reader names(*list);
  std::optional<std::string> host;
  while (!names.empty()) {
    const auto type = names.number(1);
    const auto name = names.vector(2);
    if (!type || !name) return std::nullopt;
    if (*type != kNameTypeHostName) continue;
    if (host || !validHostName(*name)) return std::nullopt;
    host = std::string(*name);
  }
  return host ? host : std::string();
}

// RFC 8446 4.1.2 (and RFC 5246 7.4.1.2, whose ClientHello may end before the extensions).
ClientHelloPeek parseBody(std::string_view body, size_t record_bytes) {
  ClientHelloPeek out{Status::kMalformed, {}, 0};
  Reader r(body);
  const auto version = r.number(2);
  if (!version || (*version >> 8) != 3) return out;
  const auto random = r.take(32);
  const auto session_id = r.vector(1);
  const auto suites = r.vector(2);
  const auto compression = r.vector(1);
  if (!random || !session_id || session_id->size() > 32 || !suites || suites->empty() ||
      suites->size() % 2 != 0 || !compression || compression->empty()) {
    return out;
  }
  std::string host;
  if (!r.empty()) {
    const auto extensions = r.vector(2);
    if (!extensions || !r.empty()) return out;
    Reader e(*extensions);
    std::vector<uint16_t> seen;
    while (!e.empty()) {
      const auto type = e.number(2);
      const auto data = e.vector(2);
      if (!type || !data) return out;
      seen.push_back(static_cast<uint16_t>(*type));
      if (*type != kExtensionServerName) continue;
      auto name = serverName(*data);
      if (!name) return out;
      host = std::move(*name);
    }
    // RFC 8446 4.2: at most one extension of each type.
    std::sort(seen.begin(), seen.end());
    if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) return out;
  }
  out.status = Status::kComplete;
  out.server_name = std::move(host);
  out.record_bytes = record_bytes;
  return out;
}

}  // namespace

ClientHelloPeek peekClientHello(std::string_view bytes) {
  std::string handshake;  // the ClientHello's fragments, joined; at most kMaxClientHelloBytes
  size_t pos = 0;
  for (size_t records = 0;; ++records) {
    const std::string_view header = bytes.substr(pos, kRecordHeader);
    // Judge a header byte as soon as it is here: plain HTTP on port 443 is refused at once.
    if (!header.empty() && static_cast<uint8_t>(header[0]) != kContentHandshake) {
      return {Status::kMalformed, {}, 0};
    }
    if (header.size() >= 2 && header[1] != 3) return {Status::kMalformed, {}, 0};
    if (header.size() < kRecordHeader) return {Status::kNeedMore, {}, 0};
    if (records == kMaxClientHelloRecords) return {Status::kTooLarge, {}, 0};
    const size_t length = static_cast<uint8_t>(header[3]) << 8 | static_cast<uint8_t>(header[4]);
    // Zero-length handshake fragments are forbidden (RFC 8446 5.1).
    if (length == 0 || length > kMaxRecordPayload) return {Status::kMalformed, {}, 0};
    if (bytes.size() - pos - kRecordHeader < length) return {Status::kNeedMore, {}, 0};
    const std::string_view fragment = bytes.substr(pos + kRecordHeader, length);
    pos += kRecordHeader + length;
    if (handshake.size() + fragment.size() > kMaxClientHelloBytes) {
      return {Status::kTooLarge, {}, 0};
    }
    handshake.append(fragment);
    if (handshake.size() < kHandshakeHeader) continue;
    if (static_cast<uint8_t>(handshake[0]) != kHandshakeClientHello) {
      return {Status::kMalformed, {}, 0};
    }
    const size_t body = static_cast<uint8_t>(handshake[1]) << 16 |
                        static_cast<uint8_t>(handshake[2]) << 8 | static_cast<uint8_t>(handshake[3]);
    if (kHandshakeHeader + body > kMaxClientHelloBytes) return {Status::kTooLarge, {}, 0};
    if (handshake.size() < kHandshakeHeader + body) continue;
    // Nothing may follow the ClientHello before the server answers.
    if (handshake.size() > kHandshakeHeader + body) return {Status::kMalformed, {}, 0};
    return parseBody(std::string_view(handshake).substr(kHandshakeHeader), pos);
  }
}

const char* toString(ClientHelloPeek::Status status) {
  switch (status) {
    case Status::kNeedMore: return "incomplete ClientHello";
    case Status::kComplete: return "ClientHello";
    case Status::kMalformed: return "malformed ClientHello";
    case Status::kTooLarge: return "oversized ClientHello";
  }
  return "?";
}

}  // namespace portcullis::proxy
