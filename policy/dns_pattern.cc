#include "policy/dns_pattern.h"

#include <algorithm>

namespace portcullis::policy {
namespace {

// Cilium's allowedDNSCharsREGroup, lowercase only because names are lowercased first.
constexpr std::string_view kLabelChar = "[-a-z0-9_]";
constexpr std::string_view kSubdomainsPrefix = "**.";

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool isPlainLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

void appendRegex(std::string_view pattern, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : pattern) {
    if (c == '*') {
      out.append(kLabelChar).push_back('*');
    } else if (c == '.') {
      out.append("[.]");
    } else if (isPlainLabelChar(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out.append("\\x").push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
}

}  // namespace

void canonicalDnsName(std::string_view name, std::string& out) {
  out.resize(name.size());
  std::transform(name.begin(), name.end(), out.begin(), lowerAscii);
  if (out.empty() || out.back() != '.') out.push_back('.');
}

std::string canonicalDnsName(std::string_view name) {
  std::string out;
  canonicalDnsName(name, out);
  return out;
}

DnsPattern::DnsPattern(std::string_view pattern) {
  canonicalDnsName(pattern, canonical_);
  const std::string_view body(canonical_.data(), canonical_.size() - 1);
  matches_all_ = !body.empty() && body.find_first_not_of('*') == std::string_view::npos;
  if (matches_all_ || isExact()) return;
  std::string_view rest = canonical_;
  if (rest.starts_with(kSubdomainsPrefix)) {
    regex_.append("(?:").append(kLabelChar).append("+[.])+");
    rest.remove_prefix(kSubdomainsPrefix.size());
  }
  appendRegex(rest, regex_);
}

std::string_view DnsPattern::literalSuffix() const {
  const auto star = canonical_.rfind('*');
  if (star == std::string::npos) return canonical_;
  // canonical_ ends with a dot, so there is one after the last star.
  return std::string_view(canonical_).substr(canonical_.find('.', star) + 1);
}

}  // namespace portcullis::policy
