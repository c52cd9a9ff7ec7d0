// The only user of llhttp: an incremental HTTP/1.x parser for one direction of one connection.
//
// It stops at the two points where a proxy must decide something: after a head (kHead: verdict,
// forwarding) and after a message (kMessageEnd: the next pipelined message stays unparsed).
// Between the two, every consumed byte is body on the wire (chunk framing and trailers included),
// which the caller forwards or discards as it goes: a body is never buffered whole.
//
// Strict: llhttp is built with LLHTTP_STRICT_MODE and no lenient flag, and the callbacks add the
// request-smuggling checks llhttp leaves to its user (see ProxyError).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>

#include "proxy/http_head.h"

namespace portcullis::proxy {

class HttpParser {
 public:
  enum class Type : uint8_t { kRequest, kResponse };

  struct Limits {
    uint32_t max_header_bytes = 65536;  // the whole head: start line, fields, line ends
    uint32_t max_headers = 100;
  };

  enum class Event : uint8_t {
    kNeedMore,    // every byte was consumed; feed more
    kHead,        // head() is complete; the rest of the message (its body) follows
    kMessageEnd,  // the message is complete; later bytes belong to the next one (or a tunnel)
    kError,       // error() says why; nothing more is accepted
  };

  struct Step {
    Event event = Event::kNeedMore;
    size_t consumed = 0;  // bytes of the input that belong to the message(s) parsed so far
  };

  // The request a response answers decides its framing (RFC 9112 6.3).
  enum class RequestKind : uint8_t { kNormal, kHead, kConnect };

  HttpParser(Type type, Limits limits);
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Parses up to the next event. Call again with the unconsumed rest after kHead/kMessageEnd.
  Step parse(std::string_view data);
  // The peer closed. kMessageEnd ends a body delimited by the close; kNeedMore means the
  // connection was between messages; kError (kUnexpectedEof) means a message was cut short.
  Step finish();

  // Responses only: set before the response to each request is parsed.
  void expectResponseTo(RequestKind kind);

  // Valid from kHead until the next message starts.
  const HttpHead& head() const;
  // At kHead: the bytes from the end of the previous message through the end of this head. When
  // it equals that step's `consumed`, the whole head is the first `consumed` bytes of the input
  // just parsed (it can then be forwarded as received).
  size_t headSize() const;
  // No byte of a message has been seen since the last kMessageEnd (or the start).
  bool idle() const;
  // After kMessageEnd of an upgrade (head().upgrade): the rest of the stream is not HTTP.
  bool upgraded() const;
  // After a refused upgrade: treat the following bytes as HTTP again.
  void resumeAfterUpgrade();
  // The bytes that follow come from a new connection: what ended the previous one (its
  // Connection: close, after which llhttp accepts nothing, an error, a cut-short message) is
  // forgotten. Buffers keep their capacity.
  void restart();

  std::error_code error() const;
  std::string_view errorDetail() const;  // llhttp's reason, or the check that failed

  struct Impl;  // defined next to llhttp, the only place that sees it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::proxy
