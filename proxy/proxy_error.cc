#include "proxy/proxy_error.h"

#include <string>

namespace portcullis::proxy {
namespace {

class ProxyCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "portcullis.proxy"; }

  std::string message(int code) const override {
    switch (static_cast<ProxyError>(code)) {
      case ProxyError::kMalformed:
        return "malformed HTTP message";
      case ProxyError::kHeaderTooLarge:
        return "header block larger than max-header-bytes";
      case ProxyError::kTooManyHeaders:
        return "too many header fields";
      case ProxyError::kObsoleteLineFolding:
        return "obsolete line folding in a header value";
      case ProxyError::kInvalidHeaderCharacter:
        return "invalid character in a header";
      case ProxyError::kContentLengthWithTransferEncoding:
        return "both Content-Length and Transfer-Encoding";
      case ProxyError::kInvalidContentLength:
        return "duplicate or invalid Content-Length";
      case ProxyError::kInvalidTransferEncoding:
        return "Transfer-Encoding whose final coding is not a single chunked";
      case ProxyError::kMissingHost:
        return "HTTP/1.1 request without Host";
      case ProxyError::kDuplicateHost:
        return "more than one Host header";
      case ProxyError::kUnsupportedVersion:
        return "unsupported HTTP version";
      case ProxyError::kUnexpectedEof:
        return "connection closed inside a message";
      case ProxyError::kLoop:
        return "original destination is the proxy itself";
      case ProxyError::kUpstreamUnreachable:
        return "upstream refused or unreachable";
      case ProxyError::kUpstreamTimeout:
        return "upstream timed out";
      case ProxyError::kUpstreamClosed:
        return "upstream closed before a complete response";
    }
    return "unknown proxy error";
  }
};

}  // namespace

const std::error_category& proxyCategory() {
  static const ProxyCategory category;
  return category;
}

}  // namespace portcullis::proxy
