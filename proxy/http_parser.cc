#include "proxy/http_parser.h"

#include <llhttp.h>

#include <cstring>
#include <string>
#include <vector>

#include "proxy/proxy_error.h"

namespace portcullis::proxy {
namespace {

enum class State : uint8_t { kIdle, kHead, kBody, kUpgraded, kError };
enum class FieldKind : uint8_t { kOther, kContentLength, kTransferEncoding, kHost, kConnection };

struct Span {
  uint32_t offset = 0;
  uint32_t length = 0;
};

struct RawHeader {
  Span name;
  Span value;
};

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 5.5: field values are VCHAR, obs-text, SP and HTAB; a CR, LF or NUL smuggled into a
// value would split the header when forwarded.
bool validValueByte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// Eight bytes at a time: whether any byte is below 0x20 or is 0x7f (the classic "has less
// than" and "has zero byte" word tricks). Only then are the bytes looked at one by one, since a
// tab is the one control character allowed.
bool plainWord(const char* at) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t w;
  std::memcpy(&w, at, 8);
  const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  const uint64_t x = w ^ (kOnes * 0x7f);
  const uint64_t del = (x - kOnes) & ~x & kHigh;
  return (below_space | del) == 0;
}

bool validBytes(const char* at, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    if (!validValueByte(static_cast<unsigned char>(at[i]))) return false;
  }
  return true;
}

bool validValue(const char* at, size_t length) {
  if (length < 8) return validBytes(at, length);
  size_t i = 0;
  while (i + 8 <= length && plainWord(at + i)) i += 8;
  if (i + 8 <= length) return validBytes(at + i, length - i);  // a word to look at closely
  // The last bytes as one word that overlaps the one before: no byte-by-byte tail.
  return i == length || plainWord(at + length - 8) || validBytes(at + i, length - i);
}

ProxyError fromLlhttp(llhttp_errno_t e) {
  switch (e) {
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      return ProxyError::kInvalidContentLength;
    case HPE_INVALID_TRANSFER_ENCODING:
      return ProxyError::kInvalidTransferEncoding;
    case HPE_INVALID_HEADER_TOKEN:
      return ProxyError::kInvalidHeaderCharacter;
    case HPE_INVALID_VERSION:
      return ProxyError::kUnsupportedVersion;
    default:
      return ProxyError::kMalformed;
  }
}

}  // namespace

struct HttpParser::Impl {
  llhttp_t parser{};
  Type type;
  Limits limits;
  State state = State::kIdle;
  RequestKind request_kind = RequestKind::kNormal;
  bool paused_at_head = false;

  HttpHead head;
  std::string raw;  // the bytes of the head's spans; head's views point here
  Span method;
  Span target;
  Span reason;
  std::vector<RawHeader> raw_headers;
  RawHeader current;
  FieldKind field_kind = FieldKind::kOther;
  uint32_t header_count = 0;
  uint32_t host_count = 0;
  bool seen_content_length = false;
  bool seen_transfer_encoding = false;
  // For HttpHead::hop_by_hop and crlf_lines: what the callbacks saw of this head's fields and
  // line ends; a line end they could not see (it came in an earlier parse() call) is unknown.
  bool hop_by_hop = false;
  bool crlf_lines = true;
  bool crlf_unknown = false;
  std::string transfer_encoding;  // all Transfer-Encoding values, comma-joined

  // Size accounting: bytes of this head consumed by earlier parse() calls, and where the input
  // of the current call starts, so callbacks can tell the head's size so far.
  size_t head_bytes_before = 0;
  size_t trailer_bytes = 0;
  const char* exec_begin = nullptr;
  char last_significant = 0;  // the last byte before exec_begin that is not SP or HTAB

  std::error_code error;
  std::string_view detail;

  // A typical head's spans and fields fit these (nginx's responses have 8 fields, curl's and
  // wrk's requests fewer), so a connection's first message does not grow them step by step; they
  // keep their capacity for its later messages. Modest, since idle connections keep them too.
  Impl(Type t, Limits l) : type(t), limits(l) {
    raw.reserve(256);
    raw_headers.reserve(8);
    head.headers.reserve(8);
  }

  int fail(ProxyError e, const char* why) {
    error = e;
    detail = why;
    llhttp_set_error_reason(&parser, why);
    return HPE_USER;
  }

  bool headTooLarge(const char* end) const {
    return head_bytes_before + static_cast<size_t>(end - exec_begin) > limits.max_header_bytes;
  }

  void append(Span& span, const char* at, size_t length) {
    if (span.length == 0) span.offset = static_cast<uint32_t>(raw.size());
    raw.append(at, length);
    span.length += static_cast<uint32_t>(length);
  }

  std::string_view view(Span s) const { return std::string_view(raw).substr(s.offset, s.length); }

  void startMessage() {
    state = State::kHead;
    paused_at_head = false;
    std::vector<HttpHeader> fields = std::move(head.headers);
    fields.clear();  // keeps its capacity: no allocation per request on a keep-alive connection
    head = HttpHead{};
    head.headers = std::move(fields);
    raw.clear();
    method = target = reason = Span{};
    raw_headers.clear();
    current = RawHeader{};
    field_kind = FieldKind::kOther;
    header_count = host_count = 0;
    seen_content_length = seen_transfer_encoding = false;
    hop_by_hop = false;
    crlf_lines = true;
    crlf_unknown = false;
    transfer_encoding.clear();
    trailer_bytes = 0;
  }

  void endMessage() {
    state = State::kIdle;
    head_bytes_before = 0;
  }

  // --- llhttp callbacks, via the settings table below ---
  int onSpan(Span& span, const char* at, size_t length) {
    if (headTooLarge(at + length)) return fail(ProxyError::kHeaderTooLarge, "head too large");
    append(span, at, length);
    return 0;
  }

  int onHeaderField(const char* at, size_t length) {
    if (state == State::kBody) return onTrailerBytes(length);
    if (headTooLarge(at + length)) return fail(ProxyError::kHeaderTooLarge, "head too large");
    if (current.name.length == 0) checkLineEndBefore(at);
    append(current.name, at, length);
    return 0;
  }

  // A field name starts a line (strict llhttp: no whitespace before it, and obs-fold is
  // refused), so the two bytes before it end the previous line. With the final CRLF CRLF, which
  // forwarding checks itself, these are all the line ends of a head.
  void checkLineEndBefore(const char* at) {
    if (at - exec_begin < 2) {
      crlf_unknown = true;
    } else if (at[-2] != '\r' || at[-1] != '\n') {
      crlf_lines = false;
    }
  }

  int onHeaderFieldComplete() {
    if (++header_count > limits.max_headers) {
      return fail(ProxyError::kTooManyHeaders, "too many header fields");
    }
    if (state == State::kBody) return 0;  // a trailer: framing fields there mean nothing
    const std::string_view name = view(current.name);
    field_kind = FieldKind::kOther;
    // By length first: most fields are none of these.
    switch (name.size()) {
      case 2:
      case 7:
      case 16:
        // The hop-by-hop fields forwarding always drops or rewrites (http_forwarding.cc).
        if (equalsLowercase(name, "te") || equalsLowercase(name, "upgrade") ||
            equalsLowercase(name, "proxy-connection")) {
          hop_by_hop = true;
        }
        return 0;
      case 10:
        if (equalsLowercase(name, "connection")) {
          field_kind = FieldKind::kConnection;  // judged by its value
        } else if (equalsLowercase(name, "keep-alive")) {
          hop_by_hop = true;
        }
        return 0;
      case 4:
      case 14:
      case 17:
        break;
      default:
        return 0;
    }
    if (equalsLowercase(name, "content-length")) {
      field_kind = FieldKind::kContentLength;
      // RFC 9112 6.3 items 3 and 5: checked here, before llhttp reads the value, so the error
      // names the smuggling attempt rather than a symptom.
      if (seen_transfer_encoding) {
        return fail(ProxyError::kContentLengthWithTransferEncoding,
                    "Content-Length with Transfer-Encoding");
      }
      if (seen_content_length)
        return fail(ProxyError::kInvalidContentLength, "duplicate Content-Length");
      seen_content_length = true;
    } else if (equalsLowercase(name, "transfer-encoding")) {
      field_kind = FieldKind::kTransferEncoding;
      if (seen_content_length) {
        return fail(ProxyError::kContentLengthWithTransferEncoding,
                    "Transfer-Encoding with Content-Length");
      }
      if (seen_transfer_encoding) transfer_encoding += ',';
      seen_transfer_encoding = true;
    } else if (equalsLowercase(name, "host")) {
      field_kind = FieldKind::kHost;
      ++host_count;
    }
    return 0;
  }

  int onHeaderValue(const char* at, size_t length) {
    if (foldedBefore(at)) return fail(ProxyError::kObsoleteLineFolding, "obsolete line folding");
    if (!validValue(at, length)) {
      return fail(ProxyError::kInvalidHeaderCharacter, "invalid character in a header value");
    }
    if (state == State::kBody) return onTrailerBytes(length);
    if (headTooLarge(at + length)) return fail(ProxyError::kHeaderTooLarge, "head too large");
    append(current.value, at, length);
    if (field_kind == FieldKind::kTransferEncoding) transfer_encoding.append(at, length);
    return 0;
  }

  // obs-fold (RFC 9112 5.2): llhttp accepts a continuation line as more value bytes, or skips it
  // as whitespace when the first line was empty; either way a value span then starts after a
  // line feed and nothing but whitespace.
  bool foldedBefore(const char* at) const {
    const char* p = at;
    while (p > exec_begin && (p[-1] == ' ' || p[-1] == '\t')) --p;
    return (p > exec_begin ? p[-1] : last_significant) == '\n';
  }

  int onHeaderValueComplete() {
    if (state == State::kBody) return 0;
    if (field_kind == FieldKind::kConnection && !hop_by_hop) {
      // "Connection: keep-alive" says what HTTP/1.1 means by default; any other option names a
      // field to drop or asks for a close.
      const std::string_view value = trimmed(view(current.value));
      if (!equalsLowercase(value, "keep-alive")) {
        forEachListElement(value, [&](std::string_view option) {
          if (!equalsLowercase(option, "keep-alive")) hop_by_hop = true;
        });
      }
    }
    raw_headers.push_back(current);
    current = RawHeader{};
    return 0;
  }

  int onTrailerBytes(size_t length) {
    trailer_bytes += length;
    if (trailer_bytes > limits.max_header_bytes) {
      return fail(ProxyError::kHeaderTooLarge, "trailer section too large");
    }
    return 0;
  }

  // RFC 9112 6.1: chunked must be the final coding of a request and may appear only once; a
  // response whose final coding is not chunked is delimited by the close instead (llhttp).
  // llhttp reads the list itself to frame the body; where its reading differs from ours (it
  // does not take a trailing HTAB as whitespace, for one), the message is refused: the origin
  // gets the trimmed value and could frame the body otherwise.
  bool transferEncodingValid() const {
    int chunked = 0;
    bool last_chunked = false;
    forEachListElement(transfer_encoding, [&](std::string_view coding) {
      last_chunked = equalsIgnoreCase(coding, "chunked");
      chunked += last_chunked ? 1 : 0;
    });
    if (last_chunked != ((parser.flags & F_CHUNKED) != 0)) return false;
    if (type == Type::kRequest) return chunked == 1 && last_chunked;
    return chunked == 0 || (chunked == 1 && last_chunked);
  }

  int onHeadersComplete() {
    if (parser.http_major != 1 || parser.http_minor > 1) {
      return fail(ProxyError::kUnsupportedVersion, "only HTTP/1.0 and HTTP/1.1");
    }
    if (seen_transfer_encoding && !transferEncodingValid()) {
      return fail(ProxyError::kInvalidTransferEncoding, "chunked is not the single final coding");
    }
    if (type == Type::kRequest) {
      if (host_count > 1) return fail(ProxyError::kDuplicateHost, "more than one Host");
      if (host_count == 0 && parser.http_minor == 1) {
        return fail(ProxyError::kMissingHost, "HTTP/1.1 request without Host");
      }
    } else {
      applyResponseFraming();
    }
    buildHead();
    state = State::kBody;
    paused_at_head = true;
    // Pausing (rather than returning 1 or 2) lets parse() report where the head ends; the body
    // framing decisions above went into the flags llhttp reads when it resumes.
    return HPE_PAUSED;
  }

  // What llhttp would do if on_headers_complete returned 1 ("no body") or 2 ("upgrade"), done
  // through the flags because this callback must pause instead.
  void applyResponseFraming() {
    const int status = parser.status_code;
    const bool informational = status / 100 == 1;
    if (informational || status == 204 || status == 304 || request_kind == RequestKind::kHead) {
      // RFC 9112 6.3 item 1: these never have content, whatever their Content-Length says.
      parser.flags |= F_SKIPBODY;
    }
    if (request_kind == RequestKind::kConnect && status / 100 == 2) {
      parser.upgrade = 1;  // RFC 9110 9.3.6: the connection becomes a tunnel
      parser.flags |= F_SKIPBODY;
    }
  }

  void buildHead() {
    head.method = view(method);
    head.target = view(target);
    head.status = static_cast<uint16_t>(parser.status_code);
    head.reason = view(reason);
    head.version_major = parser.http_major;
    head.version_minor = parser.http_minor;
    head.headers.reserve(raw_headers.size());
    for (const RawHeader& h : raw_headers) {
      // Strict llhttp refuses whitespace in or around a field name: only values need trimming.
      head.headers.push_back({view(h.name), trimmed(view(h.value))});
    }
    head.chunked = (parser.flags & F_CHUNKED) != 0;
    if ((parser.flags & F_CONTENT_LENGTH) != 0 && (parser.flags & F_SKIPBODY) == 0) {
      head.content_length = parser.content_length;
    } else if ((parser.flags & F_CONTENT_LENGTH) != 0) {
      head.content_length = 0;  // a response without content, whatever the field said
    }
    head.upgrade = parser.upgrade != 0;
    head.keep_alive = llhttp_should_keep_alive(&parser) != 0;
    head.body_until_close = type == Type::kResponse && llhttp_message_needs_eof(&parser) != 0;
    head.hop_by_hop = hop_by_hop ? HttpHead::Known::kYes : HttpHead::Known::kNo;
    if (!crlf_unknown) head.crlf_lines = crlf_lines ? HttpHead::Known::kYes : HttpHead::Known::kNo;
  }

  int onMessageComplete() {
    // An upgrade ends with llhttp's own HPE_PAUSED_UPGRADE, which marks where the tunnel starts.
    return parser.upgrade != 0 ? 0 : HPE_PAUSED;
  }

  Step failStep(size_t consumed) {
    state = State::kError;
    if (!error) {
      const llhttp_errno_t e = llhttp_get_errno(&parser);
      error = fromLlhttp(e);
      const char* why = llhttp_get_error_reason(&parser);
      detail = why != nullptr ? why : llhttp_errno_name(e);
    }
    return {Event::kError, consumed};
  }
};

namespace {

HttpParser::Impl& self(llhttp_t* p) { return *static_cast<HttpParser::Impl*>(p->data); }

// One constant table for every parser (nghttpx's pattern); the per-parser state is in p->data.
constexpr llhttp_settings_t kSettings = {
    .on_message_begin =
        [](llhttp_t* p) {
          self(p).startMessage();
          return 0;
        },
    .on_url = [](llhttp_t* p, const char* at,
                 size_t n) { return self(p).onSpan(self(p).target, at, n); },
    .on_status = [](llhttp_t* p, const char* at,
                    size_t n) { return self(p).onSpan(self(p).reason, at, n); },
    .on_method = [](llhttp_t* p, const char* at,
                    size_t n) { return self(p).onSpan(self(p).method, at, n); },
    .on_version = nullptr,
    .on_header_field = [](llhttp_t* p, const char* at,
                          size_t n) { return self(p).onHeaderField(at, n); },
    .on_header_value = [](llhttp_t* p, const char* at,
                          size_t n) { return self(p).onHeaderValue(at, n); },
    .on_chunk_extension_name = nullptr,
    .on_chunk_extension_value = nullptr,
    .on_headers_complete = [](llhttp_t* p) { return self(p).onHeadersComplete(); },
    .on_body = nullptr,
    .on_message_complete = [](llhttp_t* p) { return self(p).onMessageComplete(); },
    .on_url_complete = nullptr,
    .on_status_complete = nullptr,
    .on_method_complete = nullptr,
    .on_version_complete = nullptr,
    .on_header_field_complete = [](llhttp_t* p) { return self(p).onHeaderFieldComplete(); },
    .on_header_value_complete = [](llhttp_t* p) { return self(p).onHeaderValueComplete(); },
    .on_chunk_extension_name_complete = nullptr,
    .on_chunk_extension_value_complete = nullptr,
    .on_chunk_header = nullptr,
    .on_chunk_complete = nullptr,
    .on_reset = nullptr,
};

}  // namespace

HttpParser::HttpParser(Type type, Limits limits) : impl_(std::make_unique<Impl>(type, limits)) {
  llhttp_init(&impl_->parser, type == Type::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, &kSettings);
  impl_->parser.data = impl_.get();
}

HttpParser::~HttpParser() = default;

HttpParser::Step HttpParser::parse(std::string_view data) {
  Impl& s = *impl_;
  if (s.state == State::kError || s.state == State::kUpgraded) return {Event::kError, 0};
  s.exec_begin = data.data();
  const llhttp_errno_t e = llhttp_execute(&s.parser, data.data(), data.size());
  const size_t consumed = e == HPE_OK
                              ? data.size()
                              : static_cast<size_t>(llhttp_get_error_pos(&s.parser) - data.data());
  for (size_t i = consumed; i > 0; --i) {
    if (data[i - 1] != ' ' && data[i - 1] != '\t') {
      s.last_significant = data[i - 1];
      break;
    }
  }
  switch (e) {
    case HPE_OK:
      if (s.state == State::kHead || s.state == State::kIdle) {
        // Padding llhttp skips without a callback (whitespace) still counts against the limit.
        s.head_bytes_before += consumed;
        if (s.head_bytes_before > s.limits.max_header_bytes) {
          s.fail(ProxyError::kHeaderTooLarge, "head too large");
          return s.failStep(consumed);
        }
      }
      return {Event::kNeedMore, consumed};
    case HPE_PAUSED:
      llhttp_resume(&s.parser);
      if (s.paused_at_head) {
        s.paused_at_head = false;
        s.head_bytes_before += consumed;
        if (s.head_bytes_before > s.limits.max_header_bytes) {
          s.fail(ProxyError::kHeaderTooLarge, "head too large");
          return s.failStep(consumed);
        }
        return {Event::kHead, consumed};
      }
      s.endMessage();
      return {Event::kMessageEnd, consumed};
    case HPE_PAUSED_UPGRADE:
      s.state = State::kUpgraded;
      s.head_bytes_before = 0;
      return {Event::kMessageEnd, consumed};
    default:
      return s.failStep(consumed);
  }
}

HttpParser::Step HttpParser::finish() {
  Impl& s = *impl_;
  if (s.state == State::kError) return {Event::kError, 0};
  if (s.state == State::kIdle && s.head_bytes_before == 0) return {Event::kNeedMore, 0};
  if (s.state == State::kBody) {
    const llhttp_errno_t e = llhttp_finish(&s.parser);
    if (e == HPE_PAUSED) {  // on_message_complete: the close delimited the body
      llhttp_resume(&s.parser);
      s.endMessage();
      return {Event::kMessageEnd, 0};
    }
  }
  s.state = State::kError;
  s.error = ProxyError::kUnexpectedEof;
  s.detail = "connection closed inside a message";
  return {Event::kError, 0};
}

void HttpParser::expectResponseTo(RequestKind kind) { impl_->request_kind = kind; }
const HttpHead& HttpParser::head() const { return impl_->head; }
size_t HttpParser::headSize() const { return impl_->head_bytes_before; }
bool HttpParser::idle() const {
  return impl_->state == State::kIdle && impl_->head_bytes_before == 0;
}
bool HttpParser::upgraded() const { return impl_->state == State::kUpgraded; }

void HttpParser::resumeAfterUpgrade() {
  if (impl_->state != State::kUpgraded) return;
  llhttp_resume_after_upgrade(&impl_->parser);
  impl_->state = State::kIdle;
}

void HttpParser::restart() {
  Impl& s = *impl_;
  llhttp_init(&s.parser, s.type == Type::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, &kSettings);
  s.parser.data = &s;
  s.state = State::kIdle;
  s.paused_at_head = false;
  s.head_bytes_before = 0;
  s.error = {};
  s.detail = {};
}

std::error_code HttpParser::error() const { return impl_->error; }
std::string_view HttpParser::errorDetail() const { return impl_->detail; }

}  // namespace portcullis::proxy
