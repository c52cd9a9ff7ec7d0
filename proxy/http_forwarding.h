// How heads are rewritten when forwarded, as a proxy must (RFC 9110 7.6.1): the hop-by-hop fields
// (Connection, the fields it names, Keep-Alive, Proxy-Connection, TE, Upgrade) end here and
// each hop gets its own Connection field; the policy's header edits apply to the request.
// Framing fields (Content-Length, Transfer-Encoding) always pass unchanged, since the body bytes
// are forwarded exactly as received.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "policy/compiled_policy.h"
#include "proxy/http_head.h"

namespace portcullis::proxy {

enum class ConnectionMode : uint8_t {
  kKeepAlive,  // another message may follow on this hop
  kClose,      // this hop ends after the message
  kUpgrade,    // the hop switches protocols: Upgrade is kept, "Connection: upgrade" added
};

// Appends the request head as sent upstream.
void writeRequestHead(const HttpHead& head, std::span<const policy::HeaderEdit> edits,
                      ConnectionMode mode, std::string& out);

// Appends the response head as sent downstream. Always says HTTP/1.1 (RFC 9110 6.2: a proxy
// sends its own version).
void writeResponseHead(const HttpHead& head, ConnectionMode mode, std::string& out);

// Whether a head may go on byte for byte, as received (`raw`: all of it, from its first byte),
// instead of rewritten: when the rewrite would say the same, with fewer instructions and, for a
// response, one buffer with its body. So: the version this hop sends (HTTP/1.1), the connection
// mode kKeepAlive (which the rewrite expresses by saying nothing), no edit, no hop-by-hop field but
// Connection fields listing only "keep-alive" (what HTTP/1.1 means by default), and every line
// ending in CRLF, as the rewrite ends them.
bool requestForwardableAsIs(const HttpHead& head, std::span<const policy::HeaderEdit> edits,
                            ConnectionMode mode, std::string_view raw);
bool responseForwardableAsIs(const HttpHead& head, ConnectionMode mode, std::string_view raw);

// Whether an edit may be applied: a policy must not rewrite framing or hop-by-hop fields, nor
// smuggle a line break into a value.
bool editAllowed(const policy::HeaderEdit& edit);

// The Host the policy judges (SPEC.md: "the Host header without port"). For an absolute-form
// target (RFC 9112 3.2.2) the target's authority wins over the Host field.
std::string_view requestHost(const HttpHead& head);

}  // namespace portcullis::proxy
