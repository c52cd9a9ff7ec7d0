#include "proxy/http_head.h"

namespace portcullis::proxy {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

const HttpHeader* HttpHead::find(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

bool HttpHead::hasToken(std::string_view name, std::string_view token) const {
  bool found = false;
  for (const HttpHeader& h : headers) {
    if (!equalsIgnoreCase(h.name, name)) continue;
    forEachListElement(h.value, [&](std::string_view item) {
      if (equalsIgnoreCase(item, token)) found = true;
    });
  }
  return found;
}

}  // namespace portcullis::proxy
