#include "proxy/http_forwarding.h"

#include <array>
#include <vector>

namespace portcullis::proxy {
namespace {

using policy::HeaderEdit;

constexpr std::array<std::string_view, 5> kHopByHop = {"connection", "keep-alive",
                                                       "proxy-connection", "te", "upgrade"};

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

// Whether a field ends at this hop. `upgrade` keeps Upgrade for an allowed protocol switch.
bool isHopByHop(const HttpHead& head, std::string_view name, bool upgrade) {
  if (isFraming(name) || equalsIgnoreCase(name, "host")) return false;  // never, even if named
  if (upgrade && equalsIgnoreCase(name, "upgrade")) return false;
  for (std::string_view h : kHopByHop) {
    if (equalsIgnoreCase(name, h)) return true;
  }
  return head.hasToken("connection", name);
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

}  // namespace

bool editAllowed(const HeaderEdit& edit) {
  if (!isToken(edit.name) || isFraming(edit.name)) return false;
  for (std::string_view h : kHopByHop) {
    if (equalsIgnoreCase(edit.name, h)) return false;
  }
  for (char c : edit.value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && u != '\t') return false;
    if (u == 0x7f) return false;
  }
  return true;
}

void writeRequestHead(const HttpHead& head, std::span<const HeaderEdit> edits, ConnectionMode mode,
                      std::string& out) {
  out.append(head.method);
  out.push_back(' ');
  out.append(head.target);
  out.append(head.isHttp10() ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  const bool upgrade = mode == ConnectionMode::kUpgrade;
  // Replacements go where the first field of that name stood; the names they cover are
  // remembered so later duplicates are dropped.
  std::vector<bool> replaced(edits.size());
  for (const HttpHeader& field : head.headers) {
    if (isHopByHop(head, field.name, upgrade)) continue;
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
  out.append("HTTP/1.1 ");
  out.append(std::to_string(head.status));
  out.push_back(' ');
  out.append(head.reason);
  out.append("\r\n");
  const bool upgrade = mode == ConnectionMode::kUpgrade;
  for (const HttpHeader& field : head.headers) {
    if (!isHopByHop(head, field.name, upgrade)) appendField(out, field.name, field.value);
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
