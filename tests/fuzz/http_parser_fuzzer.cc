// fuzz-links: portcullis_proxy
// The HTTP proxy's request path, fed whatever a client could send: the llhttp wrapper, then the
// head rewriting a session forwards. Invariants turn silent mistakes into crashes:
//   - the parse does not depend on how TCP splits the bytes (the first input byte picks a cut);
//   - consumed counts never exceed the input;
//   - a head the proxy accepts, rewritten for the origin, parses again with the same method,
//     target and body framing: what the proxy forwards cannot be read differently (smuggling);
//   - a head forwarded as received (requestForwardableAsIs) parses again like the rewrite: same
//     method, target, framing and fields (Connection aside, which only says keep-alive there).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http_forwarding.h"
#include "proxy/http_parser.h"

namespace {

using portcullis::proxy::ConnectionMode;
using portcullis::proxy::HttpHead;
using portcullis::proxy::HttpParser;

void check(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  std::vector<std::string> heads;  // rewritten for the origin
  std::vector<std::string> bodies;
  int messages = 0;
  int error = 0;

  bool operator==(const Outcome&) const = default;
};

// The parsed fields the origin must agree on.
std::string framing(const HttpHead& h) {
  return std::string(h.method) + ' ' + std::string(h.target) + ' ' + std::to_string(h.chunked) +
         ' ' + (h.content_length ? std::to_string(*h.content_length) : "-") + ' ' +
         std::to_string(h.upgrade);
}

void reparse(const HttpHead& head, const std::string& forwarded) {
  HttpParser again(HttpParser::Type::kRequest, {.max_header_bytes = 1 << 20, .max_headers = 1000});
  const HttpParser::Step step = again.parse(forwarded);
  check(step.event == HttpParser::Event::kHead);
  check(step.consumed == forwarded.size());
  check(framing(again.head()) == framing(head));
}

// The fields a receiver acts on, but for Connection.
std::string endToEndFields(const HttpHead& h) {
  std::string out;
  for (const auto& f : h.headers) {
    if (portcullis::proxy::equalsIgnoreCase(f.name, "connection")) continue;
    out.append(f.name).append(":").append(f.value).append("\n");
  }
  return out;
}

void reparseAsIs(const HttpHead& head, const std::string& rewritten, const std::string& raw) {
  HttpParser as_is(HttpParser::Type::kRequest, {.max_header_bytes = 1 << 20, .max_headers = 1000});
  const HttpParser::Step step = as_is.parse(raw);
  check(step.event == HttpParser::Event::kHead);
  check(step.consumed == raw.size());
  check(framing(as_is.head()) == framing(head));
  HttpParser again(HttpParser::Type::kRequest, {.max_header_bytes = 1 << 20, .max_headers = 1000});
  check(again.parse(rewritten).event == HttpParser::Event::kHead);
  check(endToEndFields(as_is.head()) == endToEndFields(again.head()));
}

Outcome run(const std::vector<std::string_view>& pieces) {
  HttpParser parser(HttpParser::Type::kRequest, {.max_header_bytes = 4096, .max_headers = 50});
  Outcome out;
  std::string pending;
  bool in_body = false;
  for (std::string_view piece : pieces) {
    pending.append(piece);
    for (int guard = 0; guard < 10000; ++guard) {
      const HttpParser::Step step = parser.parse(pending);
      check(step.consumed <= pending.size());
      // The session's test for a head that is all in this read.
      const std::string raw = step.event == HttpParser::Event::kHead &&
                                      step.consumed == parser.headSize()
                                  ? pending.substr(0, step.consumed)
                                  : std::string();
      if (in_body) out.bodies.back().append(pending, 0, step.consumed);
      pending.erase(0, step.consumed);
      if (step.event == HttpParser::Event::kNeedMore) {
        check(pending.empty());
        break;
      }
      if (step.event == HttpParser::Event::kError) {
        out.error = parser.error().value();
        check(out.error != 0);
        return out;
      }
      if (step.event == HttpParser::Event::kHead) {
        std::string forwarded;
        const HttpHead& head = parser.head();
        const ConnectionMode mode = head.upgrade && !head.isConnect() ? ConnectionMode::kUpgrade
                                                                      : ConnectionMode::kKeepAlive;
        writeRequestHead(head, {}, mode, forwarded);
        reparse(head, forwarded);
        if (!raw.empty() && requestForwardableAsIs(head, {}, mode, raw)) {
          reparseAsIs(head, forwarded, raw);
        }
        out.heads.push_back(std::move(forwarded));
        out.bodies.emplace_back();
        in_body = true;
        continue;
      }
      ++out.messages;  // kMessageEnd
      in_body = false;
      if (parser.upgraded()) return out;  // the rest is a tunnel
    }
  }
  return out;
}

// Equal, except where a request fails inside a streamed body: the session forwards the body as
// it arrives and stops at the step that fails (nothing of that step is sent), and how far into
// the body llhttp reports the failure depends on where the reads ended (a span callback's error
// is placed at the end of its span). There the body seen before the failure may be longer on one
// side, but the failure, the heads and the message count must agree, and each body must be a
// prefix of the other: the cut never changes a forwarded byte or how the stream is framed.
bool consistent(const Outcome& whole, const Outcome& split) {
  if (whole.error == 0 && split.error == 0) return whole == split;
  if (whole.error != split.error || whole.heads != split.heads ||
      whole.messages != split.messages || whole.bodies.size() != split.bodies.size()) {
    return false;
  }
  for (size_t i = 0; i < whole.bodies.size(); ++i) {
    const std::string& a = whole.bodies[i];
    const std::string& b = split.bodies[i];
    if (a.compare(0, b.size(), b) != 0 && b.compare(0, a.size(), a) != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = data[0] % (input.size() + 1);
  const Outcome whole = run({input});
  const Outcome split = run({input.substr(0, cut), input.substr(cut)});
  check(consistent(whole, split));
  return 0;
}
