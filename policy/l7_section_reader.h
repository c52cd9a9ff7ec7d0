// Reads the entries of a rule's L7 sections (SPEC.md "Policy file": http, dns, tls,
// terminatingTLS, originatingTLS), validating each field. Whether the sections of a rule fit
// together is the policy parser's business (parser.cc).
#pragma once

#include <optional>
#include <string>

#include "policy/model.h"
#include "policy/yaml_reader.h"

namespace portcullis::policy {

class L7SectionReader {
 public:
  explicit L7SectionReader(YamlReader& yaml) : yaml_(yaml) {}

  // Each returns nullopt after reporting what is wrong with the entry.
  std::optional<HttpRule> http(const YamlValue& v);
  std::optional<DnsRule> dns(const YamlValue& v);
  std::optional<TlsRule> tls(const YamlValue& v);
  std::optional<TerminatingTls> terminatingTls(const YamlValue& v);
  std::optional<OriginatingTls> originatingTls(const YamlValue& v);

 private:
  std::optional<HeaderMatch> headerMatch(const YamlValue& v);
  std::optional<std::string> regex(const YamlValue& v, bool ignore_case);

  YamlReader& yaml_;
};

}  // namespace portcullis::policy
