#include "proxy/http_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/proxy_error.h"

namespace portcullis::proxy {
namespace {

using Event = HttpParser::Event;

// What a caller sees when it drives the parser like a session does: the heads (rendered), the
// body bytes of each message as they were on the wire, and how it ended.
struct Trace {
  std::vector<std::string> heads;
  std::vector<std::string> bodies;
  int messages = 0;
  bool upgraded = false;
  std::string after_upgrade;
  std::error_code error;

  bool operator==(const Trace&) const = default;
};

std::string render(const HttpHead& h) {
  std::string out = std::string(h.method) + " " + std::string(h.target) + " " +
                    std::to_string(h.status) + " " + std::string(h.reason) + " " +
                    std::to_string(h.version_major) + "." + std::to_string(h.version_minor);
  for (const HttpHeader& f : h.headers)
    out += " [" + std::string(f.name) + ":" + std::string(f.value) + "]";
  out += " ka=" + std::to_string(h.keep_alive) + " up=" + std::to_string(h.upgrade) +
         " chunked=" + std::to_string(h.chunked) +
         " cl=" + (h.content_length ? std::to_string(*h.content_length) : "-");
  return out;
}

Trace run(HttpParser& parser, const std::vector<std::string>& chunks, bool eof = false) {
  Trace t;
  std::string pending;
  bool in_body = false;
  for (const std::string& chunk : chunks) {
    if (t.upgraded) {
      t.after_upgrade += chunk;
      continue;
    }
    pending += chunk;
    while (!t.error && !t.upgraded) {
      const HttpParser::Step step = parser.parse(pending);
      if (in_body) t.bodies.back() += pending.substr(0, step.consumed);
      pending.erase(0, step.consumed);
      if (step.event == Event::kNeedMore) break;
      if (step.event == Event::kError) {
        t.error = parser.error();
      } else if (step.event == Event::kHead) {
        t.heads.push_back(render(parser.head()));
        t.bodies.emplace_back();
        in_body = true;
      } else if (step.event == Event::kMessageEnd) {
        ++t.messages;
        in_body = false;
        if (parser.upgraded()) {
          t.upgraded = true;
          t.after_upgrade = pending;
        }
      }
    }
  }
  if (eof && !t.error && !t.upgraded) {
    const HttpParser::Step step = parser.finish();
    if (step.event == Event::kMessageEnd) ++t.messages;
    if (step.event == Event::kError) t.error = parser.error();
  }
  return t;
}

Trace runWhole(HttpParser::Type type, const std::string& input, bool eof = false,
               HttpParser::RequestKind kind = HttpParser::RequestKind::kNormal) {
  HttpParser parser(type, {});
  parser.expectResponseTo(kind);
  return run(parser, {input}, eof);
}

// The property the session relies on: however TCP splits the bytes, the result is the same.
void expectSplitInvariant(HttpParser::Type type, const std::string& input, bool eof = false,
                          HttpParser::RequestKind kind = HttpParser::RequestKind::kNormal) {
  const Trace whole = runWhole(type, input, eof, kind);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    HttpParser parser(type, {});
    parser.expectResponseTo(kind);
    EXPECT_EQ(run(parser, {input.substr(0, cut), input.substr(cut)}, eof), whole)
        << "split at " << cut << " of " << input.size();
  }
  HttpParser bytewise(type, {});
  bytewise.expectResponseTo(kind);
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  EXPECT_EQ(run(bytewise, bytes, eof), whole) << "byte by byte";
}

constexpr auto kRequest = HttpParser::Type::kRequest;
constexpr auto kResponse = HttpParser::Type::kResponse;

TEST(HttpParserTest, SimpleGet) {
  const Trace t =
      runWhole(kRequest, "GET /a?b=c HTTP/1.1\r\nHost: example.test\r\nX-Team:  blue \r\n\r\n");
  ASSERT_FALSE(t.error) << t.error.message();
  ASSERT_EQ(t.heads.size(), 1u);
  EXPECT_EQ(t.heads[0],
            "GET /a?b=c 0  1.1 [Host:example.test] [X-Team:blue] ka=1 up=0 chunked=0 cl=-");
  EXPECT_EQ(t.bodies[0], "");
  EXPECT_EQ(t.messages, 1);
}

TEST(HttpParserTest, PipelinedRequestsWithBodiesAtEverySplit) {
  const std::string input =
      "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
      "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
      "PUT /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
      "DELETE /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  const Trace t = runWhole(kRequest, input);
  ASSERT_FALSE(t.error) << t.error.message();
  ASSERT_EQ(t.messages, 4);
  EXPECT_EQ(t.bodies,
            (std::vector<std::string>{
                "hello", "", "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n", ""}));
  EXPECT_EQ(t.heads[2],
            "PUT /chunked 0  1.1 [Host:a] [Transfer-Encoding:chunked] ka=1 up=0 chunked=1 cl=-");
  EXPECT_EQ(t.heads[3], "DELETE /last 0  1.1 [Host:a] [Connection:close] ka=0 up=0 chunked=0 cl=-");
  expectSplitInvariant(kRequest, input);
}

TEST(HttpParserTest, StopsAfterEachMessageLeavingTheNextUnparsed) {
  HttpParser parser(kRequest, {});
  const std::string input = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  HttpParser::Step step = parser.parse(input);
  ASSERT_EQ(step.event, Event::kHead);
  EXPECT_EQ(parser.head().target, "/1");
  const size_t head_end = step.consumed;
  EXPECT_EQ(head_end, input.find("GET /2"));
  step = parser.parse(std::string_view(input).substr(head_end));
  ASSERT_EQ(step.event, Event::kMessageEnd);
  EXPECT_EQ(step.consumed, 0u);
  EXPECT_TRUE(parser.idle());
  step = parser.parse(std::string_view(input).substr(head_end));
  ASSERT_EQ(step.event, Event::kHead);
  EXPECT_EQ(parser.head().target, "/2");
}

TEST(HttpParserTest, Http10AndConnectionCloseAreNotKeepAlive) {
  EXPECT_EQ(runWhole(kRequest, "GET / HTTP/1.0\r\n\r\n").heads.at(0),
            "GET / 0  1.0 ka=0 up=0 chunked=0 cl=-");
  EXPECT_EQ(runWhole(kRequest, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").heads.at(0),
            "GET / 0  1.0 [Connection:keep-alive] ka=1 up=0 chunked=0 cl=-");
}

struct Rejected {
  const char* name;
  std::string input;
  ProxyError error;
};

class HttpParserRejectTest : public testing::TestWithParam<Rejected> {};

// Each case must fail before a head is reported, so a session never forwards a byte of it.
TEST_P(HttpParserRejectTest, RejectsBeforeAnyHeadAtEverySplit) {
  const Rejected& c = GetParam();
  const Trace t = runWhole(kRequest, c.input);
  EXPECT_EQ(t.error, make_error_code(c.error)) << t.error.message();
  EXPECT_TRUE(t.heads.empty());
  expectSplitInvariant(kRequest, c.input);
}

const Rejected kRejected[] = {
    {"ContentLengthThenTransferEncoding",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     ProxyError::kContentLengthWithTransferEncoding},
    {"TransferEncodingThenContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
     ProxyError::kContentLengthWithTransferEncoding},
    {"DuplicateContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
     ProxyError::kInvalidContentLength},
    {"ContentLengthList", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
     ProxyError::kInvalidContentLength},
    {"ContentLengthNotANumber", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3a\r\n\r\n",
     ProxyError::kInvalidContentLength},
    {"ContentLengthNegative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
     ProxyError::kInvalidContentLength},
    {"ContentLengthEmpty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
     ProxyError::kInvalidContentLength},
    {"ContentLengthOverflow",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
     ProxyError::kInvalidContentLength},
    {"TransferEncodingNotChunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
     ProxyError::kInvalidTransferEncoding},
    {"ChunkedNotFinal", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     ProxyError::kInvalidTransferEncoding},
    {"ChunkedTwice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
     ProxyError::kInvalidTransferEncoding},
    {"ChunkedInTwoFields",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     ProxyError::kInvalidTransferEncoding},
    {"ChunkedMisspelt", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
     ProxyError::kInvalidTransferEncoding},
    // llhttp does not frame this as chunked, while the forwarded (trimmed) value would be.
    {"ChunkedThenTab",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\t\r\n\r\n",
     ProxyError::kInvalidTransferEncoding},
    {"ObsoleteLineFolding", "GET / HTTP/1.1\r\nHost: a\r\nX-Long: first\r\n second\r\n\r\n",
     ProxyError::kObsoleteLineFolding},
    {"ObsoleteLineFoldingWithTab", "GET / HTTP/1.1\r\nHost: a\r\nX-Long: first\r\n\tsecond\r\n\r\n",
     ProxyError::kObsoleteLineFolding},
    {"FoldedEmptyFirstLine", "GET / HTTP/1.1\r\nHost: a\r\nX:\r\n  folded\r\n\r\n",
     ProxyError::kObsoleteLineFolding},
    {"FoldedTransferEncoding",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
     ProxyError::kObsoleteLineFolding},
    {"ControlCharacterInValue", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n"),
     ProxyError::kInvalidHeaderCharacter},
    {"NulInValue", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0z\r\n\r\n", 33),
     ProxyError::kInvalidHeaderCharacter},
    {"DeleteInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n",
     ProxyError::kInvalidHeaderCharacter},
    // Past the first eight bytes of a value, bytes are checked a word at a time.
    {"ControlCharacterDeepInValue",
     std::string("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdef01234\x1fz\r\n\r\n"),
     ProxyError::kInvalidHeaderCharacter},
    {"NulDeepInValue",
     std::string("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\0abcdef\r\n\r\n", 49),
     ProxyError::kInvalidHeaderCharacter},
    {"DeleteDeepInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: \xff\xfe" "0123456789abcdef\x7f\r\n\r\n",
     ProxyError::kInvalidHeaderCharacter},
    {"BareCarriageReturnInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
     ProxyError::kMalformed},
    {"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
     ProxyError::kInvalidHeaderCharacter},
    {"TabBeforeColon", "GET / HTTP/1.1\r\nHost: a\r\nX-Name\t: z\r\n\r\n",
     ProxyError::kInvalidHeaderCharacter},
    {"InvalidNameCharacter", "GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n",
     ProxyError::kInvalidHeaderCharacter},
    {"MissingHost", "GET / HTTP/1.1\r\nX: y\r\n\r\n", ProxyError::kMissingHost},
    {"DuplicateHost", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ProxyError::kDuplicateHost},
    {"Http2Version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ProxyError::kUnsupportedVersion},
    {"BareLineFeeds", "GET / HTTP/1.1\nHost: a\n\n", ProxyError::kInvalidHeaderCharacter},
    {"GarbageMethod", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", ProxyError::kMalformed},
};

INSTANTIATE_TEST_SUITE_P(Smuggling, HttpParserRejectTest, testing::ValuesIn(kRejected),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(HttpParserTest, LongValuesWithTabsAndObsTextAreAccepted) {
  const std::string value = "\x80\xff tab\there ~0123456789abcdefghijklmnopqrstuvwxyz\xc3\xa9!";
  const Trace t = runWhole(kRequest, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + value + "\r\n\r\n");
  ASSERT_FALSE(t.error) << t.error.message();
  ASSERT_EQ(t.heads.size(), 1u);
  EXPECT_NE(t.heads[0].find("[X-Long:" + value + "]"), std::string::npos) << t.heads[0];
}

TEST(HttpParserTest, BadChunkIsReportedAfterTheHeadButBeforeMessageEnd) {
  // The framing error sits in the body: the head was valid, the body fails midway, and the
  // session must then close rather than reuse the connection.
  const Trace t = runWhole(kRequest,
                           "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\nzz\r\n");
  EXPECT_EQ(t.heads.size(), 1u);
  EXPECT_EQ(t.messages, 0);
  EXPECT_EQ(t.error, make_error_code(ProxyError::kMalformed));
}

TEST(HttpParserTest, HeaderBytesLimitCoversTheWholeHead) {
  HttpParser::Limits limits{.max_header_bytes = 64, .max_headers = 100};
  const std::string fits = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(32, 'v') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 64u);
  HttpParser ok(kRequest, limits);
  EXPECT_EQ(run(ok, {fits}).messages, 1);

  const std::string over = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(33, 'v') + "\r\n\r\n";
  HttpParser big(kRequest, limits);
  EXPECT_EQ(run(big, {over}).error, make_error_code(ProxyError::kHeaderTooLarge));

  // Many small fields add up, whichever way they arrive.
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 10; ++i) many += "A: b\r\n";
  many += "\r\n";
  HttpParser split(kRequest, limits);
  std::vector<std::string> bytes;
  for (char c : many) bytes.emplace_back(1, c);
  EXPECT_EQ(run(split, bytes).error, make_error_code(ProxyError::kHeaderTooLarge));

  // Whitespace llhttp skips without a callback still counts.
  const std::string padded = "GET / HTTP/1.1\r\nHost: a\r\nX:" + std::string(100, ' ');
  HttpParser pad(kRequest, limits);
  EXPECT_EQ(run(pad, {padded}).error, make_error_code(ProxyError::kHeaderTooLarge));
}

TEST(HttpParserTest, HeaderCountLimit) {
  HttpParser::Limits limits{.max_header_bytes = 65536, .max_headers = 3};
  HttpParser ok(kRequest, limits);
  EXPECT_EQ(run(ok, {"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"}).messages, 1);
  HttpParser over(kRequest, limits);
  EXPECT_EQ(run(over, {"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"}).error,
            make_error_code(ProxyError::kTooManyHeaders));
}

TEST(HttpParserTest, TrailerSectionIsBoundedToo) {
  HttpParser::Limits limits{.max_header_bytes = 128, .max_headers = 100};
  HttpParser parser(kRequest, limits);
  const Trace t =
      run(parser, {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " +
                   std::string(200, 'v') + "\r\n\r\n"});
  EXPECT_EQ(t.error, make_error_code(ProxyError::kHeaderTooLarge));
}

TEST(HttpParserTest, UpgradeRequestStopsAtTheTunnel) {
  const std::string input =
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: "
      "Upgrade\r\n\r\n\x81\x05hello";
  const Trace t = runWhole(kRequest, input);
  ASSERT_FALSE(t.error);
  EXPECT_TRUE(t.upgraded);
  EXPECT_EQ(t.after_upgrade, "\x81\x05hello");
  EXPECT_EQ(
      t.heads.at(0),
      "GET /ws 0  1.1 [Host:a] [Upgrade:websocket] [Connection:Upgrade] ka=1 up=1 chunked=0 cl=-");
  expectSplitInvariant(kRequest, input);
}

TEST(HttpParserTest, RefusedUpgradeResumesHttp) {
  HttpParser parser(kRequest, {});
  const std::string first =
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
  const std::string second = "GET /plain HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string input = first + second;
  HttpParser::Step step = parser.parse(input);
  ASSERT_EQ(step.event, Event::kHead);
  step = parser.parse(std::string_view(input).substr(step.consumed));
  ASSERT_EQ(step.event, Event::kMessageEnd);
  ASSERT_TRUE(parser.upgraded());
  parser.resumeAfterUpgrade();
  step = parser.parse(second);
  ASSERT_EQ(step.event, Event::kHead);
  EXPECT_EQ(parser.head().target, "/plain");
}

TEST(HttpParserTest, ConnectIsAnUpgrade) {
  const Trace t =
      runWhole(kRequest, "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n\x16\x03\x01");
  EXPECT_TRUE(t.upgraded);
  EXPECT_EQ(t.after_upgrade, "\x16\x03\x01");
}

TEST(HttpParserTest, FinishDistinguishesCleanCloseFromTruncation) {
  HttpParser idle(kRequest, {});
  EXPECT_EQ(run(idle, {"GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, true).error, std::error_code{});
  EXPECT_EQ(idle.finish().event, Event::kNeedMore);

  HttpParser mid_head(kRequest, {});
  EXPECT_EQ(run(mid_head, {"GET / HTTP/1.1\r\nHo"}, true).error,
            make_error_code(ProxyError::kUnexpectedEof));
  HttpParser mid_body(kRequest, {});
  EXPECT_EQ(
      run(mid_body, {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc"}, true).error,
      make_error_code(ProxyError::kUnexpectedEof));
}

// --- responses ---

TEST(HttpParserTest, ResponseWithLengthAndChunked) {
  const std::string input =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
      "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nnay\r\n0\r\n\r\n";
  const Trace t = runWhole(kResponse, input);
  ASSERT_FALSE(t.error);
  EXPECT_EQ(t.heads.at(0), "  200 OK 1.1 [Content-Length:2] ka=1 up=0 chunked=0 cl=2");
  EXPECT_EQ(t.bodies, (std::vector<std::string>{"ok", "3\r\nnay\r\n0\r\n\r\n"}));
  expectSplitInvariant(kResponse, input);
}

TEST(HttpParserTest, ResponseToHeadHasNoBodyWhateverItsLength) {
  const std::string input =
      "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
  const Trace t = runWhole(kResponse, input, false, HttpParser::RequestKind::kHead);
  EXPECT_EQ(t.messages, 2);
  EXPECT_EQ(t.bodies, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(t.heads.at(0), "  200 OK 1.1 [Content-Length:1000] ka=1 up=0 chunked=0 cl=0");
  expectSplitInvariant(kResponse, input, false, HttpParser::RequestKind::kHead);
}

TEST(HttpParserTest, NotModifiedAndContinueHaveNoBody) {
  const std::string input =
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const Trace t = runWhole(kResponse, input);
  EXPECT_EQ(t.messages, 3);
  EXPECT_EQ(t.bodies, (std::vector<std::string>{"", "", "abc"}));
  expectSplitInvariant(kResponse, input);
}

TEST(HttpParserTest, ResponseDelimitedByClose) {
  const std::string input = "HTTP/1.1 200 OK\r\n\r\nall of this until the close";
  const Trace t = runWhole(kResponse, input, true);
  EXPECT_EQ(t.messages, 1);
  EXPECT_EQ(t.bodies.at(0), "all of this until the close");
  EXPECT_EQ(t.heads.at(0), "  200 OK 1.1 ka=0 up=0 chunked=0 cl=-");
  expectSplitInvariant(kResponse, input, true);
}

TEST(HttpParserTest, SwitchingProtocolsAndConnectEstablished) {
  const Trace ws = runWhole(
      kResponse,
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
      "\x81\x02hi");
  EXPECT_TRUE(ws.upgraded);
  EXPECT_EQ(ws.after_upgrade, "\x81\x02hi");

  const Trace tunnel = runWhole(kResponse, "HTTP/1.1 200 Connection established\r\n\r\nTLS", false,
                                HttpParser::RequestKind::kConnect);
  EXPECT_TRUE(tunnel.upgraded);
  EXPECT_EQ(tunnel.after_upgrade, "TLS");

  const Trace refused = runWhole(kResponse, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
                                 false, HttpParser::RequestKind::kConnect);
  EXPECT_FALSE(refused.upgraded);
  EXPECT_EQ(refused.bodies.at(0), "no");
}

TEST(HttpParserTest, ResponseSmugglingRejected) {
  EXPECT_EQ(runWhole(kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n")
                .error,
            make_error_code(ProxyError::kInvalidContentLength));
  EXPECT_EQ(runWhole(kResponse,
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
                .error,
            make_error_code(ProxyError::kContentLengthWithTransferEncoding));
}

}  // namespace
}  // namespace portcullis::proxy
