#include "proxy/http_forwarding.h"

#include <gtest/gtest.h>

#include <string>

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
