#include "proxy/http_forwarding.h"

#include <array>
#include <cstring>
#include <vector>

namespace portcullis::proxy {
namespace {

using policy::HeaderEdit;

bool isFraming(std::string_view name) {
  return equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding");
}

// RFC 9110 5.6.2 token characters.
bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

enum class FieldClass : uint8_t { kOther, kHopByHop, kUpgrade, kKept };

// The fixed names that matter when forwarding, told apart by length first: this runs for every
// field of every forwarded head.
FieldClass classify(std::string_view name) {
  switch (name.size()) {
    case 2:
      return equalsLowercase(name, "te") ? FieldClass::kHopByHop : FieldClass::kOther;
    case 4:  // Host is never dropped, even if Connection names it
      return equalsLowercase(name, "host") ? FieldClass::kKept : FieldClass::kOther;
    case 7:
      return equalsLowercase(name, "upgrade") ? FieldClass::kUpgrade : FieldClass::kOther;
    case 10:
      return equalsLowercase(name, "connection") || equalsLowercase(name, "keep-alive")
                 ? FieldClass::kHopByHop
                 : FieldClass::kOther;
    case 14:  // framing fields pass unchanged, even if Connection names them
      return equalsLowercase(name, "content-length") ? FieldClass::kKept : FieldClass::kOther;
    case 16:
      return equalsLowercase(name, "proxy-connection") ? FieldClass::kHopByHop
                                                        : FieldClass::kOther;
    case 17:
      return equalsLowercase(name, "transfer-encoding") ? FieldClass::kKept : FieldClass::kOther;
    default:
      return FieldClass::kOther;
  }
}

// The field names a head's Connection fields list (RFC 9110 7.6.1), gathered once per head
// instead of once per field. Past kMax names it asks the head again (same answer, slower).
class ConnectionOptions {
 public:
  explicit ConnectionOptions(const HttpHead& head) : head_(head) {
    for (const HttpHeader& h : head.headers) {
      if (h.name.size() != 10 || !equalsIgnoreCase(h.name, "connection")) continue;
      forEachListElement(h.value, [&](std::string_view token) {
        if (count_ < kMax) {
          tokens_[count_++] = token;
        } else {
          overflow_ = true;
        }
      });
    }
  }

  bool names(std::string_view field) const {
    if (overflow_) return head_.hasToken("connection", field);
    for (size_t i = 0; i < count_; ++i) {
      if (equalsIgnoreCase(tokens_[i], field)) return true;
    }
    return false;
  }

 private:
  static constexpr size_t kMax = 8;
  const HttpHead& head_;
  std::array<std::string_view, kMax> tokens_;
  size_t count_ = 0;
  bool overflow_ = false;
};

// Whether a field ends at this hop. `upgrade` keeps Upgrade for an allowed protocol switch.
bool isHopByHop(const ConnectionOptions& options, std::string_view name, bool upgrade) {
  switch (classify(name)) {
    case FieldClass::kKept:
      return false;
    case FieldClass::kHopByHop:
      return true;
    case FieldClass::kUpgrade:
      return !upgrade;
    case FieldClass::kOther:
      break;
  }
  return options.names(name);
}

// One allocation for a connection's first head instead of one per doubling; later heads reuse
// the capacity (the caller clears, never shrinks, the string).
void reserveFor(std::string& out, const HttpHead& head) {
  size_t size = out.size() + head.method.size() + head.target.size() + head.reason.size() + 64;
  for (const HttpHeader& h : head.headers) size += h.name.size() + h.value.size() + 4;
  out.reserve(size);
}

void appendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

void appendConnection(std::string& out, ConnectionMode mode, const HttpHead& head) {
  switch (mode) {
    case ConnectionMode::kKeepAlive:
      // HTTP/1.1 hops persist by default; HTTP/1.0 only when asked (RFC 9112 9.3).
      if (head.isHttp10()) out.append("Connection: keep-alive\r\n");
      break;
    case ConnectionMode::kClose:
      out.append("Connection: close\r\n");
      break;
    case ConnectionMode::kUpgrade:
      out.append("Connection: upgrade\r\n");
      break;
  }
}

const HeaderEdit* findEdit(std::span<const HeaderEdit> edits, std::string_view name) {
  for (const HeaderEdit& e : edits) {
    if (equalsIgnoreCase(e.name, name) && editAllowed(e)) return &e;
  }
  return nullptr;
}

// No field the rewrite would drop or change: see requestForwardableAsIs.
bool onlyEndToEndFields(const HttpHead& head) {
  if (head.hop_by_hop != HttpHead::Known::kUnknown) return head.hop_by_hop == HttpHead::Known::kNo;
  for (const HttpHeader& field : head.headers) {
    switch (classify(field.name)) {
      case FieldClass::kOther:
      case FieldClass::kKept:
        continue;
      case FieldClass::kUpgrade:
        return false;
      case FieldClass::kHopByHop:
        break;
    }
    if (!equalsLowercase(field.name, "connection")) return false;
    bool only_keep_alive = true;
    forEachListElement(field.value, [&](std::string_view token) {
      only_keep_alive = only_keep_alive && equalsLowercase(token, "keep-alive");
    });
    if (!only_keep_alive) return false;
  }
  return true;
}

// A complete head whose every line ends in CRLF (the rewrite's line ends, whatever the parser
// tolerated).
bool crlfLines(const HttpHead& head, std::string_view raw) {
  if (!raw.ends_with("\r\n\r\n")) return false;
  if (head.crlf_lines != HttpHead::Known::kUnknown) return head.crlf_lines == HttpHead::Known::kYes;
  for (size_t at = raw.find('\n'); at != std::string_view::npos; at = raw.find('\n', at + 1)) {
    if (at == 0 || raw[at - 1] != '\r') return false;
  }
  return true;
}

bool isHttp11(const HttpHead& head) { return head.version_major == 1 && head.version_minor == 1; }

}  // namespace

bool requestForwardableAsIs(const HttpHead& head, std::span<const HeaderEdit> edits,
                            ConnectionMode mode, std::string_view raw) {
  if (mode != ConnectionMode::kKeepAlive || !edits.empty() || !isHttp11(head)) return false;
  // The request line as the rewrite writes it: method SP target SP HTTP/1.1 CRLF.
  constexpr std::string_view kVersion = " HTTP/1.1\r\n";
  const size_t target_at = head.method.size() + 1;
  const size_t version_at = target_at + head.target.size();
  if (raw.size() < version_at + kVersion.size() || !raw.starts_with(head.method) ||
      raw[head.method.size()] != ' ' || raw.substr(target_at, head.target.size()) != head.target ||
      raw.substr(version_at, kVersion.size()) != kVersion) {
    return false;
  }
  return onlyEndToEndFields(head) && crlfLines(head, raw);
}

bool responseForwardableAsIs(const HttpHead& head, ConnectionMode mode, std::string_view raw) {
  if (mode != ConnectionMode::kKeepAlive || !isHttp11(head) || !raw.starts_with("HTTP/1.1 ")) {
    return false;
  }
  return onlyEndToEndFields(head) && crlfLines(head, raw);
}

bool editAllowed(const HeaderEdit& edit) {
  if (!isToken(edit.name) || isFraming(edit.name)) return false;
  const FieldClass kind = classify(edit.name);
  if (kind == FieldClass::kHopByHop || kind == FieldClass::kUpgrade) return false;
  for (char c : edit.value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && u != '\t') return false;
    if (u == 0x7f) return false;
  }
  return true;
}

void writeRequestHead(const HttpHead& head, std::span<const HeaderEdit> edits, ConnectionMode mode,
                      std::string& out) {
  reserveFor(out, head);
  out.append(head.method);
  out.push_back(' ');
  out.append(head.target);
  out.append(head.isHttp10() ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  const bool upgrade = mode == ConnectionMode::kUpgrade;
  const ConnectionOptions connection(head);
  // Replacements go where the first field of that name stood; the names they cover are
  // remembered so later duplicates are dropped.
  std::vector<bool> replaced(edits.size());
  for (const HttpHeader& field : head.headers) {
    if (isHopByHop(connection, field.name, upgrade)) continue;
    const HeaderEdit* edit = edits.empty() ? nullptr : findEdit(edits, field.name);
    if (edit == nullptr || edit->op == HeaderEdit::Op::kAdd) {
      appendField(out, field.name, field.value);
      continue;
    }
    if (edit->op == HeaderEdit::Op::kDelete) continue;
    const size_t index = static_cast<size_t>(edit - edits.data());
    if (replaced[index]) continue;
    replaced[index] = true;
    appendField(out, edit->name, edit->value);
  }
  for (size_t i = 0; i < edits.size(); ++i) {
    const HeaderEdit& e = edits[i];
    if (!editAllowed(e)) continue;
    const bool add = e.op == HeaderEdit::Op::kAdd;
    const bool replace_absent = e.op == HeaderEdit::Op::kReplace && !replaced[i];
    if (add || replace_absent) appendField(out, e.name, e.value);
  }
  appendConnection(out, mode, head);
  out.append("\r\n");
}

void writeResponseHead(const HttpHead& head, ConnectionMode mode, std::string& out) {
  reserveFor(out, head);
  out.append("HTTP/1.1 ");
  out.append(std::to_string(head.status));
  out.push_back(' ');
  out.append(head.reason);
  out.append("\r\n");
  const bool upgrade = mode == ConnectionMode::kUpgrade;
  const ConnectionOptions connection(head);
  for (const HttpHeader& field : head.headers) {
    if (!isHopByHop(connection, field.name, upgrade)) appendField(out, field.name, field.value);
  }
  // Only HTTP/1.1 clients are kept alive, for whom persistence is the default.
  if (mode != ConnectionMode::kKeepAlive) appendConnection(out, mode, head);
  out.append("\r\n");
}

std::string_view requestHost(const HttpHead& head) {
  std::string_view authority;
  const std::string_view target = head.target;
  const size_t scheme = target.find("://");
  if (!target.empty() && target.front() != '/' && scheme != std::string_view::npos) {
    authority = target.substr(scheme + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    const size_t at = authority.rfind('@');  // userinfo (RFC 3986 3.2.1) is not the host
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  } else if (const HttpHeader* host = head.find("host")) {
    authority = host->value;
  } else if (head.isConnect()) {
    authority = target;  // CONNECT's authority-form
  }
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  return authority.substr(0, authority.find(':'));
}

}  // namespace portcullis::proxy
