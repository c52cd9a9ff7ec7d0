#include "proxy/http_head.h"

namespace portcullis::proxy {

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
