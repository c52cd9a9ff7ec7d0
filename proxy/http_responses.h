// The answers the proxy itself gives (SPEC.md "Verdicts on the wire").
#pragma once

#include <string_view>

namespace portcullis::proxy {

inline constexpr std::string_view kForbidden =
    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n\r\n"
    "Access denied\r\n";
inline constexpr std::string_view kForbiddenClose =
    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 15\r\n"
    "Connection: close\r\n\r\nAccess denied\r\n";
inline constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Connection: close\r\n\r\nBad request\r\n";
inline constexpr std::string_view kBadGateway =
    "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Connection: close\r\n\r\nBad gateway\r\n";
inline constexpr std::string_view kServiceUnavailable =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
    "Connection: close\r\n\r\nService unavailable\r\n";
inline constexpr std::string_view kGatewayTimeout =
    "HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n"
    "Connection: close\r\n\r\nGateway timeout\r\n";

}  // namespace portcullis::proxy
