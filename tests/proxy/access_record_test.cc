#include "proxy/access_record.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace portcullis::proxy {
namespace {

std::string json(std::string_view text) {
  std::string out;
  appendJsonString(text, out);
  return out;
}

// A strict reader of one JSON string (RFC 8259 section 7) that also checks the bytes are
// well-formed UTF-8; returns the decoded text as UTF-8, or nullopt. Independent of the writer.
std::optional<std::string> decodeJsonString(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::nullopt;
  std::string out;
  auto putUtf8 = [&](uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xe0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  };
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x20 || c == '"') return std::nullopt;
    if (c >= 0x80) {
      // Decode and re-check well-formedness with a plain table-3-7 walk.
      size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
      if (n == 0 || c > 0xf4 || i + n > s.size() - 1) return std::nullopt;
      uint32_t cp = c & (0x7f >> n);
      for (size_t k = 1; k < n; ++k) {
        const auto cc = static_cast<uint8_t>(s[i + k]);
        if ((cc & 0xc0) != 0x80) return std::nullopt;
        cp = cp << 6 | (cc & 0x3f);
      }
      const uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
      out.append(s.data() + i, n);
      i += n - 1;
      continue;
    }
    if (c != '\\') {
      out += static_cast<char>(c);
      continue;
    }
    if (++i >= s.size() - 1) return std::nullopt;
    switch (s[i]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        if (i + 4 > s.size() - 2) return std::nullopt;  // four digits before the quote
        uint32_t cp = 0;
        for (int k = 1; k <= 4; ++k) {
          const char h = s[i + k];
          const int digit = h >= '0' && h <= '9'   ? h - '0'
                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                   : -1;
          if (digit < 0) return std::nullopt;
          cp = cp << 4 | static_cast<uint32_t>(digit);
        }
        if (cp >= 0xd800 && cp <= 0xdfff) return std::nullopt;  // the writer never pairs
        putUtf8(cp);
        i += 4;
        break;
      }
      default: return std::nullopt;
    }
  }
  return out;
}

TEST(JsonString, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(json("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(json(std::string_view("\x00\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
  EXPECT_EQ(json("/path?q=1&x=<script>"), R"("/path?q=1&x=<script>")");
  EXPECT_EQ(json(""), R"("")");
}

TEST(JsonString, KeepsWellFormedUtf8) {
  EXPECT_EQ(json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");              // U+00E9
  EXPECT_EQ(json("\xe2\x82\xac"), "\"\xe2\x82\xac\"");            // U+20AC
  EXPECT_EQ(json("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");    // U+1F600
  EXPECT_EQ(json("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");    // U+10FFFF
  EXPECT_EQ(json("\xed\x9f\xbf"), "\"\xed\x9f\xbf\"");            // U+D7FF
}

TEST(JsonString, ReplacesEveryByteOfIllFormedUtf8) {
  EXPECT_EQ(json("\xc0\xaf"), R"("\ufffd\ufffd")");              // overlong '/'
  EXPECT_EQ(json("\xe0\x80\xaf"), R"("\ufffd\ufffd\ufffd")");    // overlong, 3 bytes
  EXPECT_EQ(json("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");    // surrogate U+D800
  EXPECT_EQ(json("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // above U+10FFFF
  EXPECT_EQ(json("\xf5"), R"("\ufffd")");
  EXPECT_EQ(json("\xff\xfe"), R"("\ufffd\ufffd")");
  EXPECT_EQ(json("a\xc3"), R"("a\ufffd")");                       // truncated at the end
  EXPECT_EQ(json("\xe2\x82x"), R"("\ufffd\ufffdx")");             // truncated in the middle
  EXPECT_EQ(json("\x80"), R"("\ufffd")");                         // lone continuation
}

TEST(JsonString, HostileBytesAlwaysGiveValidJsonThatRoundTripsValidText) {
  std::mt19937 random(12345);
  for (int round = 0; round < 20000; ++round) {
    std::string text(random() % 24, '\0');
    for (char& c : text) {
      // Bias towards the interesting bytes: controls, quote, backslash, lead and continuation.
      static constexpr uint8_t kPicks[] = {0x00, 0x1f, '"', '\\', 0x7f, 0x80, 0xbf, 0xc2, 0xdf,
                                           0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 'a', '/'};
      c = static_cast<char>(random() % 3 == 0 ? random() % 256 : kPicks[random() % sizeof kPicks]);
    }
    const std::string encoded = json(text);
    const auto decoded = decodeJsonString(encoded);
    ASSERT_TRUE(decoded.has_value()) << "invalid JSON for input of " << text.size() << " bytes: "
                                     << encoded;
    if (encoded.find("\\ufffd") == std::string::npos) {
      EXPECT_EQ(*decoded, text);  // nothing was replaced: the text comes back exactly
    }
  }
}

TEST(Rfc3339, MicrosecondsInUtc) {
  using namespace std::chrono;
  std::string out;
  // 2026-11-27T05:01:02.000042Z
  const sys_seconds base = sys_days{year{2026} / November / 27} + hours{5} + minutes{1} + seconds{2};
  appendRfc3339(base + microseconds{42}, out);
  EXPECT_EQ(out, "2026-11-27T05:01:02.000042Z");
  out.clear();
  appendRfc3339(base + seconds{58} + microseconds{999999}, out);  // next minute, cache refreshed
  EXPECT_EQ(out, "2026-11-27T05:02:00.999999Z");
  out.clear();
  appendRfc3339(system_clock::time_point{}, out);
  EXPECT_EQ(out, "1970-01-01T00:00:00.000000Z");
}

AccessRecord baseRecord() {
  using namespace std::chrono;
  AccessRecord r;
  r.time = sys_days{year{2026} / November / 27} + hours{5} + microseconds{123456};
  r.direction = policy::Direction::kEgress;
  r.rule = "web-egress";
  r.listener = "portcullis-http-egress";
  r.source = {*IpAddress::parse("198.18.1.2"), 40112};
  r.destination = {*IpAddress::parse("2001:db8::2"), 80};
  return r;
}

TEST(AccessRecord, HttpFieldsInOrder) {
  AccessRecord r = baseRecord();
  r.verdict = AccessVerdict::kForwarded;
  r.http = {"GET", "example.test", "/public/a?b=\"c\"", 200, 1234, std::chrono::microseconds(987)};
  std::string out;
  appendAccessJson(r, out);
  EXPECT_EQ(out,
            R"({"time":"2026-11-27T05:00:00.123456Z","direction":"egress","verdict":"forwarded",)"
            R"("protocol":"http","rule":"web-egress","listener":"portcullis-http-egress",)"
            R"("source":{"ip":"198.18.1.2","port":40112},"destination":{"ip":"2001:db8::2","port":80},)"
            R"("http":{"method":"GET","host":"example.test","target":"/public/a?b=\"c\"","status":200,)"
            R"("response_bytes":1234,"duration_us":987}})"
            "\n");
}

TEST(AccessRecord, DeniedWithoutRuleOrStatusLeavesThemOut) {
  AccessRecord r = baseRecord();
  r.rule = "";
  r.verdict = AccessVerdict::kError;
  r.http = {"POST", "h", "/", 0, 0, std::chrono::microseconds(5)};
  r.info = "upstream unreachable";
  std::string out;
  appendAccessJson(r, out);
  EXPECT_EQ(out.find("\"rule\""), std::string::npos);
  EXPECT_EQ(out.find("\"status\""), std::string::npos);
  EXPECT_NE(out.find(R"("verdict":"error")"), std::string::npos);
  EXPECT_NE(out.find(R"(,"info":"upstream unreachable"}
)"),
            std::string::npos);
}

TEST(AccessRecord, EachRecordCarriesItsOwnRuleListenerAndVerdict) {
  // Records formatted one after the other on one thread, each differing from the previous in
  // one field; the rule's text also changes in place at the same address, as a policy's text
  // may when a reload frees one policy and the next is allocated where it was.
  std::string rule = "rule-a";
  std::string listener = "portcullis-dns-egress";
  AccessRecord r = baseRecord();
  r.protocol = AccessProtocol::kTls;
  r.tls.sni = "x.test";
  auto head = [&] {
    r.rule = rule;
    r.listener = listener;
    std::string out;
    appendAccessJson(r, out);
    const size_t from = out.find(R"("direction")"), to = out.find(R"(,"source")");
    return out.substr(from, to - from);
  };
  EXPECT_EQ(head(), R"("direction":"egress","verdict":"denied","protocol":"tls","rule":"rule-a","listener":"portcullis-dns-egress")");
  EXPECT_EQ(head(), R"("direction":"egress","verdict":"denied","protocol":"tls","rule":"rule-a","listener":"portcullis-dns-egress")");
  rule[5] = 'b';
  EXPECT_EQ(head(), R"("direction":"egress","verdict":"denied","protocol":"tls","rule":"rule-b","listener":"portcullis-dns-egress")");
  r.verdict = AccessVerdict::kForwarded;
  EXPECT_EQ(head(), R"("direction":"egress","verdict":"forwarded","protocol":"tls","rule":"rule-b","listener":"portcullis-dns-egress")");
  r.direction = policy::Direction::kIngress;
  listener = "portcullis-dns-ingress";
  EXPECT_EQ(head(), R"("direction":"ingress","verdict":"forwarded","protocol":"tls","rule":"rule-b","listener":"portcullis-dns-ingress")");
  rule.clear();
  EXPECT_EQ(head(), R"("direction":"ingress","verdict":"forwarded","protocol":"tls","listener":"portcullis-dns-ingress")");
  rule = "rule-\"q\"";
  EXPECT_EQ(head(), R"("direction":"ingress","verdict":"forwarded","protocol":"tls","rule":"rule-\"q\"","listener":"portcullis-dns-ingress")");
}

TEST(AccessRecord, DnsFields) {
  AccessRecord r = baseRecord();
  r.protocol = AccessProtocol::kDns;
  r.verdict = AccessVerdict::kForwarded;
  r.rule = "dns-egress";
  r.listener = "portcullis-dns-egress";
  const std::vector<IpAddress> answers = {*IpAddress::parse("198.18.2.2"),
                                          *IpAddress::parse("2001:db8::5")};
  r.dns = {"www.example.test.", 28, 0, answers, 300, true};
  std::string out;
  appendAccessJson(r, out);
  EXPECT_NE(out.find(R"("protocol":"dns","rule":"dns-egress","listener":"portcullis-dns-egress")"),
            std::string::npos);
  EXPECT_NE(out.find(R"("dns":{"query":"www.example.test.","type":"AAAA","rcode":"NOERROR",)"
                     R"("answers":["198.18.2.2","2001:db8::5"],"ttl":300,"transport":"tcp"}})"),
            std::string::npos)
      << out;
}

TEST(AccessRecord, DnsUnknownTypeRcodeAndNoAnswer) {
  AccessRecord r = baseRecord();
  r.protocol = AccessProtocol::kDns;
  r.dns = {"x.", 4711, 11, {}, -1, false};
  std::string out;
  appendAccessJson(r, out);
  EXPECT_NE(out.find(R"("type":"TYPE4711","rcode":"RCODE11","answers":[],"transport":"udp")"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("\"ttl\""), std::string::npos);
}

TEST(AccessRecord, TlsSni) {
  AccessRecord r = baseRecord();
  r.protocol = AccessProtocol::kTls;
  r.tls.sni = "api.example.test\x01";
  std::string out;
  appendAccessJson(r, out);
  EXPECT_NE(out.find(R"("tls":{"sni":"api.example.test\u0001"}})"), std::string::npos) << out;
}

}  // namespace
}  // namespace portcullis::proxy
