#include "proxy/access_record.h"

#include <charconv>
#include <cstring>
#include <cstdio>
#include <ctime>

namespace portcullis::proxy {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void appendNumber(uint64_t value, std::string& out) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  out.append(buf, end);
}

void appendSigned(int64_t value, std::string& out) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  out.append(buf, end);
}

char* putText(char* p, std::string_view text) {
  std::memcpy(p, text.data(), text.size());
  return p + text.size();
}

// Each endpoint and answer address is put together on the stack and appended once: appending
// piece by piece to the line cost twice as many instructions.
void appendAddress(const IpAddress& address, std::string& out) {
  char buf[IpAddress::kMaxTextLength + 2];
  char* p = buf;
  *p++ = '"';
  p = address.write(p);  // digits, dots, colons and hex letters: nothing to escape
  *p++ = '"';
  out.append(buf, p);
}

void appendEndpoint(std::string_view key, const AccessEndpoint& e, std::string& out) {
  char buf[64 + IpAddress::kMaxTextLength];  // `key` is "source" or "destination"
  char* p = putText(buf, ",\"");
  p = putText(p, key);
  p = putText(p, "\":{\"ip\":\"");
  p = e.address.write(p);
  p = putText(p, "\",\"port\":");
  p = std::to_chars(p, buf + sizeof buf, e.port).ptr;
  *p++ = '}';
  out.append(buf, p);
}

void appendKey(std::string_view key, std::string& out) {
  out += '"';
  out += key;
  out += "\":";
}

// Length of the well-formed UTF-8 sequence at text[i] (Unicode 15, table 3-7), 0 if ill-formed.
size_t utf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  const size_t left = text.size() - i;
  const auto cont = [&](size_t k, uint8_t lo = 0x80, uint8_t hi = 0xbf) {
    return k < left && byte(i + k) >= lo && byte(i + k) <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 == 0xee || b0 == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;  // no surrogates
  if (b0 == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

const char* toString(AccessVerdict v) {
  switch (v) {
    case AccessVerdict::kForwarded: return "forwarded";
    case AccessVerdict::kDenied: return "denied";
    case AccessVerdict::kError: return "error";
  }
  return "error";
}

const char* toString(AccessProtocol p) {
  switch (p) {
    case AccessProtocol::kHttp: return "http";
    case AccessProtocol::kDns: return "dns";
    case AccessProtocol::kTls: return "tls";
  }
  return "http";
}

void appendJsonString(std::string_view text, std::string& out) {
  out += '"';
  size_t i = 0;
  while (i < text.size()) {
    // Copy the longest run that needs no escape in one append.
    size_t run = i;
    while (run < text.size()) {
      const auto c = static_cast<uint8_t>(text[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) break;
      ++run;
    }
    out.append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    const auto c = static_cast<uint8_t>(text[i]);
    if (c >= 0x80) {
      if (const size_t n = utf8Length(text, i); n > 0) {
        out.append(text.data() + i, n);
        i += n;
      } else {
        out += "\\ufffd";
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {  // other controls and DEL
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
        out.append(esc, sizeof esc);
      }
    }
    ++i;
  }
  out += '"';
}

void appendRfc3339(std::chrono::system_clock::time_point time, std::string& out) {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(time.time_since_epoch()).count();
  int64_t seconds = us / 1000000;
  int64_t micros = us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --seconds;
  }
  // gmtime_r once per second and thread: records come in bursts within one second.
  thread_local int64_t cached_second = INT64_MIN;
  thread_local char cached[80];  // 20 used; GCC sizes %d at 11
  if (seconds != cached_second) {
    const time_t t = static_cast<time_t>(seconds);
    struct tm tm {};
    gmtime_r(&t, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = seconds;
  }
  out += cached;
  char frac[8] = {'.', '0', '0', '0', '0', '0', '0', 'Z'};
  for (int i = 6; i >= 1; --i, micros /= 10) frac[i] = static_cast<char>('0' + micros % 10);
  out.append(frac, sizeof frac);
}

std::string_view dnsTypeName(uint16_t type, char (&scratch)[16]) {
  switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    default: break;
  }
  const int n = std::snprintf(scratch, sizeof scratch, "TYPE%u", type);
  return {scratch, static_cast<size_t>(n)};
}

std::string_view dnsRcodeName(int rcode, char (&scratch)[16]) {
  switch (rcode) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: break;
  }
  const int n = std::snprintf(scratch, sizeof scratch, "RCODE%d", rcode);
  return {scratch, static_cast<size_t>(n)};
}

namespace {

// From the direction to the listener, a thread's records mostly repeat the previous one (same
// listener, rule and verdict): that part is kept formatted per thread and reused when equal.
// Compared by content, never by address: a rule's text lives in a policy that a reload frees.
struct RecordHead {
  bool valid = false;
  policy::Direction direction{};
  AccessVerdict verdict{};
  AccessProtocol protocol{};
  std::string rule;
  std::string listener;
  std::string text;

  bool matches(const AccessRecord& r) const {
    return valid && direction == r.direction && verdict == r.verdict && protocol == r.protocol &&
           rule == r.rule && listener == r.listener;
  }
  void format(const AccessRecord& r) {
    valid = true;
    direction = r.direction;
    verdict = r.verdict;
    protocol = r.protocol;
    rule.assign(r.rule);
    listener.assign(r.listener);
    text.clear();
    text += "\",\"direction\":\"";
    text += policy::toString(r.direction);
    text += "\",\"verdict\":\"";
    text += toString(r.verdict);
    text += "\",\"protocol\":\"";
    text += toString(r.protocol);
    text += '"';
    if (!r.rule.empty()) {
      text += ',';
      appendKey("rule", text);
      appendJsonString(r.rule, text);
    }
    if (!r.listener.empty()) {
      text += ',';
      appendKey("listener", text);
      appendJsonString(r.listener, text);
    }
  }
};

}  // namespace

void appendAccessJson(const AccessRecord& r, std::string& out) {
  out += "{\"time\":\"";
  appendRfc3339(r.time, out);
  thread_local RecordHead head;
  if (!head.matches(r)) head.format(r);
  out += head.text;
  appendEndpoint("source", r.source, out);
  appendEndpoint("destination", r.destination, out);
  char scratch[16];
  switch (r.protocol) {
    case AccessProtocol::kHttp: {
      out += ",\"http\":{\"method\":";
      appendJsonString(r.http.method, out);
      out += ",\"host\":";
      appendJsonString(r.http.host, out);
      out += ",\"target\":";
      appendJsonString(r.http.target, out);
      if (r.http.status != 0) {
        out += ",\"status\":";
        appendNumber(r.http.status, out);
      }
      out += ",\"response_bytes\":";
      appendNumber(r.http.response_bytes, out);
      out += ",\"duration_us\":";
      appendSigned(r.http.duration.count(), out);
      out += '}';
      break;
    }
    case AccessProtocol::kDns: {
      out += ",\"dns\":{\"query\":";
      appendJsonString(r.dns.query, out);
      out += ",\"type\":\"";
      out += dnsTypeName(r.dns.type, scratch);
      out += '"';
      if (r.dns.rcode >= 0) {
        out += ",\"rcode\":\"";
        out += dnsRcodeName(r.dns.rcode, scratch);
        out += '"';
      }
      out += ",\"answers\":[";
      for (size_t i = 0; i < r.dns.answers.size(); ++i) {
        if (i > 0) out += ',';
        appendAddress(r.dns.answers[i], out);
      }
      out += ']';
      if (r.dns.ttl >= 0) {
        out += ",\"ttl\":";
        appendSigned(r.dns.ttl, out);
      }
      out += ",\"transport\":\"";
      out += r.dns.tcp ? "tcp" : "udp";
      out += "\"}";
      break;
    }
    case AccessProtocol::kTls:
      out += ",\"tls\":{\"sni\":";
      appendJsonString(r.tls.sni, out);
      out += '}';
      break;
  }
  if (!r.info.empty()) {
    out += ',';
    appendKey("info", out);
    appendJsonString(r.info, out);
  }
  out += "}\n";
}

}  // namespace portcullis::proxy
