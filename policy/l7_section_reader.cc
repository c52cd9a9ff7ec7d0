#include "policy/l7_section_reader.h"

#include <string>
#include <utility>
#include <vector>

#include "policy/rule_syntax.h"

namespace portcullis::policy {
namespace {

constexpr std::size_t kMaxRegexError = 120;

}  // namespace

std::optional<std::string> L7SectionReader::regex(const YamlValue& v, bool ignore_case) {
  auto text = yaml_.string(v);
  if (!text) return std::nullopt;
  if (std::optional<std::string> why = regexError(*text, ignore_case)) {
    // RE2 quotes the rest of the pattern from the error on, which may be long.
    if (why->size() > kMaxRegexError) *why = why->substr(0, kMaxRegexError) + "...";
    yaml_.error(v.where, v.path + ": invalid RE2 regular expression: " + *why);
    return std::nullopt;
  }
  return text;
}

std::optional<HttpRule> L7SectionReader::http(const YamlValue& v) {
  const std::size_t errors_before = yaml_.errorCount();
  auto m = yaml_.map(v, {"method", "path", "host", "headers", "headerMatches"});
  if (!m) return std::nullopt;
  HttpRule h;
  h.where = v.where;
  if (const YamlValue* x = m->find("method")) h.method = regex(*x, false).value_or("");
  if (const YamlValue* x = m->find("path")) h.path = regex(*x, false).value_or("");
  if (const YamlValue* x = m->find("host")) h.host = regex(*x, /*ignore_case=*/true).value_or("");
  if (const YamlValue* x = m->find("headers")) {
    h.headers = yaml_
                    .listOf<std::string>(*x,
                                         [&](const YamlValue& e) -> std::optional<std::string> {
                                           auto text = yaml_.string(e);
                                           if (!text) return std::nullopt;
                                           std::string normalized;
                                           auto why = headerEntryError(*text, normalized);
                                           if (!why) return normalized;
                                           yaml_.error(e.where, e.path + ": " + *why);
                                           return std::nullopt;
                                         })
                    .value_or(std::vector<std::string>{});
  }
  if (const YamlValue* x = m->find("headerMatches")) {
    h.header_matches =
        yaml_.listOf<HeaderMatch>(*x, [&](const YamlValue& e) { return headerMatch(e); })
            .value_or(std::vector<HeaderMatch>{});
  }
  if (yaml_.errorCount() != errors_before) return std::nullopt;
  return h;
}

std::optional<HeaderMatch> L7SectionReader::headerMatch(const YamlValue& v) {
  auto m = yaml_.map(v, {"name", "value", "mismatch"});
  if (!m) return std::nullopt;
  HeaderMatch h;
  bool ok = true;
  if (auto name = yaml_.required(*m, "name")) {
    auto text = yaml_.checked(*name, headerNameError);
    ok = text.has_value();
    h.name = text.value_or("");
  } else {
    ok = false;
  }
  if (const YamlValue* value = m->find("value")) {
    auto text = yaml_.string(*value);
    ok = ok && text.has_value();
    h.value = text.value_or("");
  }
  if (const YamlValue* mismatch = m->find("mismatch")) {
    auto action = yaml_.choice<MismatchAction>(*mismatch, {{"LOG", MismatchAction::kLog},
                                                           {"ADD", MismatchAction::kAdd},
                                                           {"DELETE", MismatchAction::kDelete},
                                                           {"REPLACE", MismatchAction::kReplace}});
    if (!action) return std::nullopt;
    h.mismatch = *action;
    const bool writes =
        h.mismatch == MismatchAction::kAdd || h.mismatch == MismatchAction::kReplace;
    if (writes && h.value.empty() && ok) {
      yaml_.error(mismatch->where, mismatch->path + ": " + mismatch->node.Scalar() +
                                       " writes the header's value, so 'value' must be set");
      return std::nullopt;
    }
  }
  if (!ok) return std::nullopt;
  return h;
}

std::optional<DnsRule> L7SectionReader::dns(const YamlValue& v) {
  auto m = yaml_.map(v, {"matchName", "matchPattern"});
  if (!m) return std::nullopt;
  const YamlValue* name = m->find("matchName");
  const YamlValue* pattern = m->find("matchPattern");
  if ((name != nullptr) == (pattern != nullptr)) {
    yaml_.error(v.where, v.path + ": a dns entry has exactly one of matchName, matchPattern");
    return std::nullopt;
  }
  DnsRule d;
  d.where = v.where;
  if (name) {
    auto text = yaml_.checked(*name, dnsNameError);
    if (!text) return std::nullopt;
    d.match_name = *text;
  } else {
    auto text = yaml_.checked(*pattern, dnsPatternError);
    if (!text) return std::nullopt;
    d.match_pattern = *text;
  }
  return d;
}

std::optional<TlsRule> L7SectionReader::tls(const YamlValue& v) {
  const std::size_t errors_before = yaml_.errorCount();
  auto m = yaml_.map(v, {"serverNames"});
  if (!m) return std::nullopt;
  TlsRule t;
  t.where = v.where;
  if (auto names = yaml_.required(*m, "serverNames")) {
    auto list = yaml_.listOf<std::string>(
        *names, [&](const YamlValue& e) { return yaml_.checked(e, serverNameError); });
    if (list && list->empty()) {
      yaml_.error(names->where, names->path + ": expected at least one server name");
    }
    t.server_names = list.value_or(std::vector<std::string>{});
  }
  if (yaml_.errorCount() != errors_before) return std::nullopt;
  return t;
}

std::optional<TerminatingTls> L7SectionReader::terminatingTls(const YamlValue& v) {
  auto m = yaml_.map(v, {"certificate", "privateKey", "ca-certificate", "ca-key"});
  if (!m) return std::nullopt;
  TerminatingTls t;
  auto path = [&](const char* key, std::string& out) {
    if (const YamlValue* x = m->find(key)) out = yaml_.nonEmptyString(*x).value_or("");
    return m->find(key) != nullptr;
  };
  const bool cert = path("certificate", t.certificate);
  const bool key = path("privateKey", t.private_key);
  const bool ca_cert = path("ca-certificate", t.ca_certificate);
  const bool ca_key = path("ca-key", t.ca_key);
  const bool fixed = cert && key && !ca_cert && !ca_key;
  const bool minted = ca_cert && ca_key && !cert && !key;
  if (!fixed && !minted) {
    yaml_.error(v.where, v.path +
                             ": expected either {certificate, privateKey} (one certificate) "
                             "or {ca-certificate, ca-key} (certificates minted per SNI)");
    return std::nullopt;
  }
  return t;
}

std::optional<OriginatingTls> L7SectionReader::originatingTls(const YamlValue& v) {
  auto m = yaml_.map(v, {"ca-bundle"});
  if (!m) return std::nullopt;
  OriginatingTls o;
  if (const YamlValue* x = m->find("ca-bundle")) {
    auto text = yaml_.nonEmptyString(*x);
    if (!text) return std::nullopt;
    o.ca_bundle = *text;
  }
  return o;
}

}  // namespace portcullis::policy
