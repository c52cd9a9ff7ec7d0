#include "proxy/http_forwarding.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "proxy/http_parser.h"

namespace portcullis::proxy {
namespace {

using policy::HeaderEdit;

// Parses a head so the tests start from what the session has.
class Parsed {
 public:
  Parsed(HttpParser::Type type, const std::string& text) : parser_(type, {}) {
    const HttpParser::Step step = parser_.parse(text);
    EXPECT_EQ(step.event, HttpParser::Event::kHead) << parser_.errorDetail();
  }
  const HttpHead& head() const { return parser_.head(); }

 private:
  HttpParser parser_;
};

TEST(HttpForwardingTest, RequestKeepsEndToEndFieldsInOrderAndDropsHopByHop) {
  const Parsed req(HttpParser::Type::kRequest,
                   "POST /p?q=1 HTTP/1.1\r\nHost: example.test\r\nConnection: keep-alive, X-Hop\r\n"
                   "X-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
                   "TE: trailers\r\nUpgrade: h2c\r\nX-Team: blue\r\nContent-Length: 3\r\n\r\n");
  std::string out;
  writeRequestHead(req.head(), {}, ConnectionMode::kKeepAlive, out);
  EXPECT_EQ(
      out,
      "POST /p?q=1 HTTP/1.1\r\nHost: example.test\r\nX-Team: blue\r\nContent-Length: 3\r\n\r\n");
}

TEST(HttpForwardingTest, FramingAndHostSurviveBeingNamedInConnection) {
  // "Connection: content-length" must not make the proxy drop the length it forwards a body by.
  const Parsed req(HttpParser::Type::kRequest,
                   "POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, host\r\n"
                   "Content-Length: 3\r\n\r\n");
  std::string out;
  writeRequestHead(req.head(), {}, ConnectionMode::kClose, out);
  EXPECT_EQ(out, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
}

TEST(HttpForwardingTest, ManyConnectionOptionsAreAllDropped) {
  // More names than are gathered up front: the rest are still found.
  const Parsed req(HttpParser::Type::kRequest,
                   "GET / HTTP/1.1\r\nHost: a\r\nConnection: a1, a2, a3, a4, a5\r\n"
                   "connection: A6,a7,,a8, a9, a10\r\nA1: x\r\nA9: x\r\nA10: x\r\nKeep: y\r\n\r\n");
  std::string out;
  writeRequestHead(req.head(), {}, ConnectionMode::kKeepAlive, out);
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: a\r\nKeep: y\r\n\r\n");
}

TEST(HttpForwardingTest, UpgradeKeepsUpgradeField) {
  const Parsed req(HttpParser::Type::kRequest,
                   "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: k\r\n\r\n");
  std::string out;
  writeRequestHead(req.head(), {}, ConnectionMode::kUpgrade, out);
  EXPECT_EQ(out,
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n"
            "Connection: upgrade\r\n\r\n");
}

TEST(HttpForwardingTest, Http10KeepAliveIsExplicit) {
  const Parsed req(HttpParser::Type::kRequest, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  std::string out;
  writeRequestHead(req.head(), {}, ConnectionMode::kKeepAlive, out);
  EXPECT_EQ(out, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
}

TEST(HttpForwardingTest, EditsReplaceInPlaceDeleteAllAndAppendAdds) {
  const Parsed req(HttpParser::Type::kRequest,
                   "GET / HTTP/1.1\r\nHost: a\r\nX-Token: wrong\r\nX-Debug: 1\r\nX-Token: again\r\n"
                   "X-Debug: 2\r\nAccept: */*\r\n\r\n");
  const HeaderEdit edits[] = {{HeaderEdit::Op::kReplace, "x-token", "s3cr3t"},
                              {HeaderEdit::Op::kDelete, "X-Debug", ""},
                              {HeaderEdit::Op::kAdd, "X-Added", "yes"},
                              {HeaderEdit::Op::kReplace, "X-Absent", "now"}};
  std::string out;
  writeRequestHead(req.head(), edits, ConnectionMode::kKeepAlive, out);
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nHost: a\r\nx-token: s3cr3t\r\nAccept: */*\r\nX-Added: yes\r\n"
            "X-Absent: now\r\n\r\n");
}

TEST(HttpForwardingTest, EditsCannotTouchFramingOrInjectLines) {
  EXPECT_FALSE(editAllowed({HeaderEdit::Op::kReplace, "Content-Length", "0"}));
  EXPECT_FALSE(editAllowed({HeaderEdit::Op::kAdd, "Transfer-Encoding", "chunked"}));
  EXPECT_FALSE(editAllowed({HeaderEdit::Op::kAdd, "Connection", "close"}));
  EXPECT_FALSE(editAllowed({HeaderEdit::Op::kAdd, "X-A", "v\r\nX-Injected: 1"}));
  EXPECT_FALSE(editAllowed({HeaderEdit::Op::kAdd, "X A", "v"}));
  EXPECT_TRUE(editAllowed({HeaderEdit::Op::kAdd, "X-A", "v\tw"}));

  const Parsed req(HttpParser::Type::kRequest,
                   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n");
  const HeaderEdit edits[] = {{HeaderEdit::Op::kReplace, "Content-Length", "100"},
                              {HeaderEdit::Op::kAdd, "X-A", "v\r\nX-Injected: 1"}};
  std::string out;
  writeRequestHead(req.head(), edits, ConnectionMode::kKeepAlive, out);
  EXPECT_EQ(out, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n");
}

TEST(HttpForwardingTest, ResponseHead) {
  const Parsed resp(
      HttpParser::Type::kResponse,
      "HTTP/1.0 200 Fine\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nServer: origin\r\n"
      "Keep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\n");
  std::string keep;
  writeResponseHead(resp.head(), ConnectionMode::kKeepAlive, keep);
  EXPECT_EQ(keep, "HTTP/1.1 200 Fine\r\nServer: origin\r\nContent-Length: 2\r\n\r\n");
  std::string close;
  writeResponseHead(resp.head(), ConnectionMode::kClose, close);
  EXPECT_EQ(
      close,
      "HTTP/1.1 200 Fine\r\nServer: origin\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");

  const Parsed switching(HttpParser::Type::kResponse,
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\n\r\n");
  std::string up;
  writeResponseHead(switching.head(), ConnectionMode::kUpgrade, up);
  EXPECT_EQ(
      up, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
}

// The fields of a head, Connection fields left out: what a receiver acts on, beyond this hop's
// persistence (which "Connection: keep-alive" and its absence both say for HTTP/1.1).
std::vector<std::pair<std::string, std::string>> endToEndFields(HttpParser::Type type,
                                                               const std::string& text) {
  const Parsed parsed(type, text);
  std::vector<std::pair<std::string, std::string>> fields;
  for (const HttpHeader& h : parsed.head().headers) {
    if (!equalsIgnoreCase(h.name, "connection")) fields.emplace_back(h.name, h.value);
  }
  return fields;
}

TEST(HttpForwardingTest, RequestAsIsWhenTheRewriteWouldSayTheSame) {
  const std::string text =
      "GET /public/index.html?x=1 HTTP/1.1\r\nHost: origin.test\r\nConnection: Keep-Alive\r\n"
      "Content-Length: 0\r\nX-Spaced:  v  \r\n\r\n";
  const Parsed req(HttpParser::Type::kRequest, text);
  EXPECT_TRUE(requestForwardableAsIs(req.head(), {}, ConnectionMode::kKeepAlive, text));
  std::string rewritten;
  writeRequestHead(req.head(), {}, ConnectionMode::kKeepAlive, rewritten);
  EXPECT_EQ(endToEndFields(HttpParser::Type::kRequest, text),
            endToEndFields(HttpParser::Type::kRequest, rewritten));
  EXPECT_EQ(rewritten.substr(0, rewritten.find('\r')), text.substr(0, text.find('\r')));

  // What the rewrite changes: another hop mode, an edit, HTTP/1.0, hop-by-hop fields.
  EXPECT_FALSE(requestForwardableAsIs(req.head(), {}, ConnectionMode::kClose, text));
  EXPECT_FALSE(requestForwardableAsIs(req.head(), {}, ConnectionMode::kUpgrade, text));
  const std::vector<HeaderEdit> edits = {{HeaderEdit::Op::kAdd, "X-A", "1"}};
  EXPECT_FALSE(requestForwardableAsIs(req.head(), edits, ConnectionMode::kKeepAlive, text));
  for (const std::string other : {
           "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: timeout=5\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: keep-alive\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
       }) {
    const Parsed p(HttpParser::Type::kRequest, other);
    EXPECT_FALSE(requestForwardableAsIs(p.head(), {}, ConnectionMode::kKeepAlive, other)) << other;
  }
  const std::string plain = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const Parsed p(HttpParser::Type::kRequest, plain);
  EXPECT_TRUE(requestForwardableAsIs(p.head(), {}, ConnectionMode::kKeepAlive, plain));
  // Bytes that are not this head's exactly (a leading CRLF, a cut, bare LF line ends).
  EXPECT_FALSE(requestForwardableAsIs(p.head(), {}, ConnectionMode::kKeepAlive, "\r\n" + plain));
  EXPECT_FALSE(requestForwardableAsIs(p.head(), {}, ConnectionMode::kKeepAlive,
                                      plain.substr(0, plain.size() - 2)));
  EXPECT_FALSE(requestForwardableAsIs(p.head(), {}, ConnectionMode::kKeepAlive,
                                      "GET / HTTP/1.1\r\nHost: a\n\r\n"));
  EXPECT_FALSE(requestForwardableAsIs(p.head(), {}, ConnectionMode::kKeepAlive,
                                      "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"));
}

TEST(HttpForwardingTest, ResponseAsIsWhenTheRewriteWouldSayTheSame) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\nConnection: keep-alive\r\n"
      "ETag: \"x\"\r\n\r\n";
  const Parsed resp(HttpParser::Type::kResponse, text);
  EXPECT_TRUE(responseForwardableAsIs(resp.head(), ConnectionMode::kKeepAlive, text));
  std::string rewritten;
  writeResponseHead(resp.head(), ConnectionMode::kKeepAlive, rewritten);
  EXPECT_EQ(endToEndFields(HttpParser::Type::kResponse, text),
            endToEndFields(HttpParser::Type::kResponse, rewritten));
  EXPECT_FALSE(responseForwardableAsIs(resp.head(), ConnectionMode::kClose, text));
  EXPECT_FALSE(responseForwardableAsIs(resp.head(), ConnectionMode::kUpgrade, text));
  for (const std::string other : {
           "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout=5\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nUpgrade: h2c\r\n\r\n",
       }) {
    const Parsed p(HttpParser::Type::kResponse, other);
    EXPECT_FALSE(responseForwardableAsIs(p.head(), ConnectionMode::kKeepAlive, other)) << other;
  }
  // A 100 Continue goes on as it came.
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  const Parsed p(HttpParser::Type::kResponse, interim);
  EXPECT_TRUE(responseForwardableAsIs(p.head(), ConnectionMode::kKeepAlive, interim));
}

// headSize() tells whether the head is all in the input of the step that returned it.
TEST(HttpForwardingTest, ParserHeadSize) {
  HttpParser parser(HttpParser::Type::kRequest, {});
  const std::string two = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  HttpParser::Step step = parser.parse(two);
  ASSERT_EQ(step.event, HttpParser::Event::kHead);
  EXPECT_EQ(step.consumed, two.size() / 2);
  EXPECT_EQ(parser.headSize(), step.consumed);
  size_t at = step.consumed;
  step = parser.parse(std::string_view(two).substr(at));
  ASSERT_EQ(step.event, HttpParser::Event::kMessageEnd);
  at += step.consumed;
  // The second head, cut in two reads: its size spans both.
  step = parser.parse(std::string_view(two).substr(at, 10));
  ASSERT_EQ(step.event, HttpParser::Event::kNeedMore);
  step = parser.parse(std::string_view(two).substr(at + 10));
  ASSERT_EQ(step.event, HttpParser::Event::kHead);
  EXPECT_EQ(parser.headSize(), two.size() / 2);
  EXPECT_NE(parser.headSize(), step.consumed);
}

TEST(HttpForwardingTest, RequestHostWithoutPort) {
  const auto host = [](const std::string& text) {
    const Parsed req(HttpParser::Type::kRequest, text);
    return std::string(requestHost(req.head()));
  };
  EXPECT_EQ(host("GET / HTTP/1.1\r\nHost: example.test:8080\r\n\r\n"), "example.test");
  EXPECT_EQ(host("GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"), "example.test");
  EXPECT_EQ(host("GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n"), "[2001:db8::1]");
  EXPECT_EQ(host("GET http://user@other.test:81/x HTTP/1.1\r\nHost: example.test\r\n\r\n"),
            "other.test");
  EXPECT_EQ(host("CONNECT tunnel.test:443 HTTP/1.1\r\nHost: tunnel.test:443\r\n\r\n"),
            "tunnel.test");
  EXPECT_EQ(host("GET / HTTP/1.0\r\n\r\n"), "");
}

}  // namespace
}  // namespace portcullis::proxy

namespace portcullis::proxy {
namespace {

// The parser notes hop-by-hop fields and line ends as it goes (HttpHead::hop_by_hop,
// crlf_lines) so that forwarding need not scan a head again. Whatever the reads, the decision
// must be the scan's: parsed in two reads split at every byte, the head is judged once with the
// parser's notes and once with them erased.
TEST(HttpForwardingTest, ParserNotesGiveTheScansAnswerAtEverySplit) {
  struct Case {
    HttpParser::Type type;
    std::string text;
    bool forwardable;
  };
  const std::vector<Case> cases = {
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {HttpParser::Type::kRequest,
       "GET /a HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Keep-Alive\r\nX: 1\r\n\r\n", true},
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nHost: a\r\nConnection: \r\n\r\n", true},
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
       false},
      {HttpParser::Type::kRequest,
       "GET /a HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: x\r\n\r\n", false},
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nHost: a\r\nte: trailers\r\n\r\n", false},
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nUPGRADE: x\r\nHost: a\r\n\r\n", false},
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nHost: a\r\nkeep-alive: 5\r\n\r\n", false},
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nProxy-Connection: x\r\nHost: a\r\n\r\n",
       false},
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", false},
      {HttpParser::Type::kRequest, "GET /a HTTP/1.1\r\nHost: a\r\nX: 1\n\r\n", false},
      {HttpParser::Type::kResponse,
       "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
       "Content-Length: 0\r\nConnection: keep-alive\r\nETag: \"6566c0f0-64\"\r\n\r\n",
       true},
      {HttpParser::Type::kResponse, "HTTP/1.1 204 No Content\r\n\r\n", true},
      {HttpParser::Type::kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTE: x\r\n\r\n",
       false},
      {HttpParser::Type::kResponse, "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", false},
      {HttpParser::Type::kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 0\nX: y\r\n\r\n", false},
  };
  int bare_lf_accepted = 0;
  for (const Case& c : cases) {
    for (size_t split = 0; split <= c.text.size(); ++split) {
      HttpParser parser(c.type, {});
      HttpParser::Step step = parser.parse(std::string_view(c.text).substr(0, split));
      if (step.event == HttpParser::Event::kNeedMore) {
        step = parser.parse(std::string_view(c.text).substr(step.consumed));
      }
      if (step.event == HttpParser::Event::kError) {
        // Strict llhttp refuses some bare line feeds itself: then at every split.
        EXPECT_EQ(split, 0u) << c.text << parser.errorDetail();
        break;
      }
      ASSERT_EQ(step.event, HttpParser::Event::kHead) << c.text << " split " << split;
      const HttpHead& noted = parser.head();
      EXPECT_NE(noted.hop_by_hop, HttpHead::Known::kUnknown);
      if (split == 0 || split == c.text.size()) {
        EXPECT_NE(noted.crlf_lines, HttpHead::Known::kUnknown) << c.text;
      }
      HttpHead scanned = noted;
      scanned.hop_by_hop = HttpHead::Known::kUnknown;
      scanned.crlf_lines = HttpHead::Known::kUnknown;
      const bool request = c.type == HttpParser::Type::kRequest;
      const auto forwardable = [&](const HttpHead& h) {
        return request ? requestForwardableAsIs(h, {}, ConnectionMode::kKeepAlive, c.text)
                       : responseForwardableAsIs(h, ConnectionMode::kKeepAlive, c.text);
      };
      EXPECT_EQ(forwardable(noted), c.forwardable) << c.text << " split " << split;
      EXPECT_EQ(forwardable(scanned), c.forwardable) << c.text << " split " << split;
      bool bare_lf = false;
      for (size_t i = 0; i < c.text.size(); ++i) {
        bare_lf = bare_lf || (c.text[i] == '\n' && (i == 0 || c.text[i - 1] != '\r'));
      }
      if (split == c.text.size() && bare_lf) ++bare_lf_accepted;
    }
  }
  EXPECT_GT(bare_lf_accepted, 0);  // the line-end notes were put to the test
}

}  // namespace
}  // namespace portcullis::proxy
