// The proxy layer's error enum and its std::error_category: why a request was refused or a
// connection ended. Asio and system errors keep their own categories.
#pragma once

#include <cstdint>
#include <system_error>

namespace portcullis::proxy {

enum class ProxyError : uint8_t {
  kMalformed = 1,   // llhttp rejected the bytes; the detail names the rule
  kHeaderTooLarge,  // limits.max-header-bytes
  kTooManyHeaders,
  kObsoleteLineFolding,                // RFC 9112 5.2
  kInvalidHeaderCharacter,             // RFC 9110 5.5
  kContentLengthWithTransferEncoding,  // RFC 9112 6.1: smuggling vector
  kInvalidContentLength,               // RFC 9110 8.6: duplicate, empty or not a number
  kInvalidTransferEncoding,            // RFC 9112 6.1: chunked must be the final coding, once
  kMissingHost,                        // RFC 9112 3.2: an HTTP/1.1 request without Host
  kDuplicateHost,                      // RFC 9112 3.2: more than one Host
  kUnsupportedVersion,                 // only HTTP/1.0 and HTTP/1.1
  kUnexpectedEof,                      // the peer closed inside a message
  kLoop,                               // the original destination is one of our own listeners
  kUpstreamUnreachable,
  kUpstreamTimeout,
  kUpstreamClosed,  // the origin closed before a complete response head
};

const std::error_category& proxyCategory();

inline std::error_code make_error_code(ProxyError e) {  // NOLINT(readability-identifier-naming)
  return {static_cast<int>(e), proxyCategory()};
}

}  // namespace portcullis::proxy

template <>
struct std::is_error_code_enum<portcullis::proxy::ProxyError> : std::true_type {};
