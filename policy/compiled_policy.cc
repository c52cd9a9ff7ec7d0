#include "policy/compiled_policy.h"

#include <array>

#include "policy/http_matcher.h"
#include "policy/name_matcher.h"
#include "policy/selector_index.h"

namespace portcullis::policy {

struct CompiledPolicy::Impl {
  Policy policy;
  SelectorIndex selectors;
  std::array<HttpMatcher, 2> http;  // by Direction: a flow's rules all share its direction
  NameMatcher dns;
  NameMatcher tls;

  void addHttp(uint32_t index, const Rule& rule, std::vector<Diagnostic>& errors) {
    HttpMatcher& matcher = http[static_cast<size_t>(rule.direction)];
    if (rule.http.empty()) {
      matcher.addAllowAll(index);
      return;
    }
    for (const HttpRule& entry : rule.http) matcher.add(index, entry, errors);
  }

  void addDns(uint32_t index, const Rule& rule) {
    if (rule.dns.empty()) dns.addAll(index);
    for (const DnsRule& entry : rule.dns) {
      if (!entry.match_name.empty()) dns.addName(entry.match_name, index);
      if (!entry.match_pattern.empty()) dns.addPattern(entry.match_pattern, index);
    }
  }

  void addTls(uint32_t index, const Rule& rule, std::vector<Diagnostic>& errors) {
    // Interception without an SNI allow-list leaves the judging to the `http` entries.
    if (rule.tls.empty()) tls.addAll(index);
    for (const TlsRule& entry : rule.tls) {
      for (const std::string& name : entry.server_names) tls.addPattern(name, index);
    }
    if (rule.terminating_tls) addHttp(index, rule, errors);
  }

  std::string_view name(uint32_t index) const { return policy.rules[index].name; }
};

CompiledPolicy::CompiledPolicy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledPolicy::~CompiledPolicy() = default;

Parsed<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::compile(const Policy& policy) {
  auto impl = std::make_unique<Impl>();
  impl->policy = policy;
  std::vector<Diagnostic> errors;
  for (uint32_t i = 0; i < impl->policy.rules.size(); ++i) {
    const Rule& rule = impl->policy.rules[i];
    impl->selectors.add(i, rule);
    switch (rule.l7) {
      case L7Protocol::kHttp:
        impl->addHttp(i, rule, errors);
        break;
      case L7Protocol::kDns:
        impl->addDns(i, rule);
        break;
      case L7Protocol::kTls:
        impl->addTls(i, rule, errors);
        break;
    }
  }
  impl->selectors.freeze();
  for (HttpMatcher& matcher : impl->http) matcher.compile(errors);
  // Name sets are not tied to one entry; blame the first rule that contributes to them.
  const auto blame = [&](L7Protocol l7) {
    for (const Rule& rule : impl->policy.rules) {
      if (rule.l7 == l7) return rule.where;
    }
    return SourceLocation{};
  };
  if (std::string error = impl->dns.compile(); !error.empty()) {
    errors.push_back({blame(L7Protocol::kDns), "dns: " + error});
  }
  if (std::string error = impl->tls.compile(); !error.empty()) {
    errors.push_back({blame(L7Protocol::kTls), "tls: " + error});
  }
  if (!errors.empty()) return {std::nullopt, std::move(errors)};
  return {std::shared_ptr<const CompiledPolicy>(new CompiledPolicy(std::move(impl))), {}};
}

const Policy& CompiledPolicy::source() const { return impl_->policy; }

FlowRules CompiledPolicy::matchFlow(const Flow& flow, L7Protocol l7) const {
  FlowRules out;
  impl_->selectors.match(flow, l7, out.rules);
  return out;
}

HttpVerdict CompiledPolicy::http(const FlowRules& rules, const HttpRequestView& request) const {
  HttpVerdict verdict;
  if (rules.empty()) return verdict;
  const Direction direction = impl_->policy.rules[rules.rules.front()].direction;
  const auto decided = impl_->http[static_cast<size_t>(direction)].decide(
      rules.rules, request, verdict.edits, verdict.mismatches);
  verdict.allowed = decided.has_value();
  verdict.rule = impl_->name(decided.value_or(rules.rules.front()));
  return verdict;
}

NameVerdict CompiledPolicy::dns(const FlowRules& rules, std::string_view question_name) const {
  NameVerdict verdict;
  if (rules.empty()) return verdict;
  const auto decided = impl_->dns.firstMatch(question_name, rules.rules);
  verdict.allowed = decided.has_value();
  verdict.rule = impl_->name(decided.value_or(rules.rules.front()));
  return verdict;
}

NameVerdict CompiledPolicy::tls(const FlowRules& rules, std::string_view server_name) const {
  NameVerdict verdict;
  if (rules.empty()) return verdict;
  // No SNI: nothing to check the allow-list against (SPEC.md: "no SNI = deny").
  const auto decided =
      server_name.empty() ? std::nullopt : impl_->tls.firstMatch(server_name, rules.rules);
  verdict.allowed = decided.has_value();
  verdict.rule = impl_->name(decided.value_or(rules.rules.front()));
  return verdict;
}

}  // namespace portcullis::policy
