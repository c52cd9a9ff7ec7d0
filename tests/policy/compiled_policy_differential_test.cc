// A large random policy judged by CompiledPolicy and by a naive linear reading of SPEC.md's
// semantics written here from scratch: every rule in order, every entry in order, one RE2 per
// pattern, a hand-written DNS glob. Their verdicts must agree on every request.
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "policy/compiled_policy.h"
#include "policy/http_matcher.h"
#include "tests/policy/rule_builders.h"

namespace portcullis::policy {
namespace {

using namespace builders;  // NOLINT(google-build-using-namespace): terse generators

// A pattern and a text it matches, so that generated requests hit the policy often.
struct Sample {
  std::string pattern;
  std::string text;
};

class Naive {
 public:
  explicit Naive(const Policy& policy) : policy_(policy) {}

  bool selects(const Rule& rule, const Flow& f, L7Protocol l7) const {
    if (rule.direction != f.direction || rule.l7 != l7) return false;
    bool port = false;
    for (const auto& pp : rule.selector.ports) {
      port |= pp.port == f.port && (pp.protocol == Protocol::kAny || pp.protocol == f.protocol);
    }
    const auto within = [](const std::vector<Cidr>& list, const IpAddress& a) {
      if (list.empty()) return true;
      for (const Cidr& c : list) {
        if (c.contains(a)) return true;
      }
      return false;
    };
    return port && within(rule.selector.source_cidrs, f.source) &&
           within(rule.selector.destination_cidrs, f.destination);
  }

  std::vector<uint32_t> flowRules(const Flow& f, L7Protocol l7) const {
    std::vector<uint32_t> out;
    for (uint32_t i = 0; i < policy_.rules.size(); ++i) {
      if (selects(policy_.rules[i], f, l7)) out.push_back(i);
    }
    return out;
  }

  HttpVerdict http(const Flow& f, L7Protocol l7, const HttpRequestView& r) {
    HttpVerdict v;
    const auto selected = flowRules(f, l7);
    if (selected.empty()) return v;
    v.rule = policy_.rules[selected.front()].name;
    for (const uint32_t i : selected) {
      const Rule& rule = policy_.rules[i];
      if (l7 == L7Protocol::kTls && !rule.terminating_tls) continue;
      if (rule.http.empty()) return allow(rule, {}, {});
      for (const HttpRule& e : rule.http) {
        if (!field(e.method, r.method, true) || !field(e.path, r.target, true) ||
            !field(e.host, hostWithoutPort(r.host), false)) {
          continue;
        }
        bool ok = true;
        for (const std::string& h : e.headers) {
          const auto colon = h.find(':');
          if (colon == std::string::npos) {
            ok = ok && has(r, h, nullptr);
            continue;
          }
          const std::string value = trimmed(h.substr(colon + 1));
          ok = ok && has(r, h.substr(0, colon), &value);
        }
        if (!ok) continue;
        std::vector<HeaderEdit> edits;
        std::vector<std::string> mismatches;
        for (const HeaderMatch& m : e.header_matches) {
          if (has(r, m.name, m.value.empty() ? nullptr : &m.value)) continue;
          if (m.mismatch == MismatchAction::kDeny) {
            ok = false;
            break;
          }
          if (m.mismatch == MismatchAction::kAdd)
            edits.push_back({HeaderEdit::Op::kAdd, m.name, m.value});
          if (m.mismatch == MismatchAction::kDelete)
            edits.push_back({HeaderEdit::Op::kDelete, m.name, ""});
          if (m.mismatch == MismatchAction::kReplace)
            edits.push_back({HeaderEdit::Op::kReplace, m.name, m.value});
          mismatches.push_back(m.name);
        }
        if (ok) return allow(rule, std::move(edits), std::move(mismatches));
      }
    }
    return v;
  }

  NameVerdict dns(const Flow& f, const std::string& name) const {
    NameVerdict v;
    const auto selected = flowRules(f, L7Protocol::kDns);
    if (selected.empty()) return v;
    v.rule = policy_.rules[selected.front()].name;
    for (const uint32_t i : selected) {
      const Rule& rule = policy_.rules[i];
      bool match = rule.dns.empty();
      for (const DnsRule& e : rule.dns) {
        match = match || (!e.match_name.empty() && canonical(e.match_name) == canonical(name)) ||
                (!e.match_pattern.empty() && globName(canonical(e.match_pattern), canonical(name)));
      }
      if (match) return {true, rule.name};
    }
    return v;
  }

 private:
  static std::string canonical(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s.empty() || s.back() != '.') s += '.';
    return s;
  }
  static bool labelChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  }
  // `*` matches a run of label characters; everything else matches itself.
  static bool glob(std::string_view p, std::string_view s) {
    if (p.empty()) return s.empty();
    if (p[0] == '*') {
      for (size_t n = 0;; ++n) {
        if (glob(p.substr(1), s.substr(n))) return true;
        if (n == s.size() || !labelChar(s[n])) return false;
      }
    }
    return !s.empty() && p[0] == s[0] && glob(p.substr(1), s.substr(1));
  }
  static bool globName(const std::string& p, const std::string& name) {
    if (p.size() > 1 && p.find_first_not_of('*') == p.size() - 1) return true;  // only stars
    if (!p.starts_with("**.")) return glob(p, name);
    // One or more whole labels, then the rest of the pattern.
    for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
      const std::string_view labels(name.data(), dot);
      bool valid = true;
      size_t start = 0;
      for (size_t i = 0; i <= labels.size(); ++i) {
        if (i == labels.size() || labels[i] == '.') {
          valid = valid && i > start;
          start = i + 1;
        } else {
          valid = valid && labelChar(labels[i]);
        }
      }
      if (valid && glob(std::string_view(p).substr(3), std::string_view(name).substr(dot + 1)))
        return true;
    }
    return false;
  }
  static std::string trimmed(std::string s) {
    while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  }
  bool field(const std::string& pattern, std::string_view text, bool case_sensitive) {
    if (pattern.empty()) return true;
    auto& re = regexes_[{pattern, case_sensitive}];
    if (!re) {
      RE2::Options o;
      o.set_case_sensitive(case_sensitive);
      re = std::make_unique<RE2>(pattern, o);
    }
    return RE2::FullMatch(text, *re);
  }
  static bool has(const HttpRequestView& r, std::string_view name, const std::string* value) {
    for (const HeaderView& h : r.headers) {
      if (h.name.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < name.size(); ++i)
        same = same && std::tolower(h.name[i]) == std::tolower(name[i]);
      if (same && (value == nullptr || h.value == *value)) return true;
    }
    return false;
  }
  HttpVerdict allow(const Rule& rule, std::vector<HeaderEdit> edits,
                    std::vector<std::string> mismatches) {
    return {true, rule.name, std::move(edits), std::move(mismatches)};
  }

  const Policy& policy_;
  std::map<std::pair<std::string, bool>, std::unique_ptr<RE2>> regexes_;
};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(int percent) { return pick(100) < static_cast<size_t>(percent); }
  template <class T>
  const T& oneOf(const std::vector<T>& v) {
    return v[pick(v.size())];
  }

  Flow flow() {
    static const std::vector<const char*> sources = {"198.18.1.10", "198.18.1.200", "198.18.7.7",
                                                     "2001:db8:1::5", "2001:db8:9::1"};
    static const std::vector<const char*> destinations = {"198.18.2.5", "198.18.2.9", "198.19.3.3",
                                                          "2001:db8:2::1", "2001:db8:7::1"};
    return builders::flow(oneOf(sources), oneOf(destinations),
                          oneOf(std::vector<uint16_t>{80, 8080, 81, 53}),
                          chance(80) ? Protocol::kTcp : Protocol::kUdp,
                          chance(80) ? Direction::kEgress : Direction::kIngress);
  }

  void selector(Rule& r, std::vector<uint16_t> ports) {
    static const std::vector<const char*> sources = {
        "198.18.1.0/24", "198.18.0.0/16", "198.18.1.128/25", "2001:db8:1::/48", "2001:db8::/32"};
    static const std::vector<const char*> destinations = {"198.18.2.0/24", "198.18.2.5/32",
                                                          "198.19.0.0/16", "2001:db8:2::/48"};
    r.direction = chance(80) ? Direction::kEgress : Direction::kIngress;
    r.selector.ports = {{oneOf(ports), oneOf(std::vector<Protocol>{Protocol::kTcp, Protocol::kAny,
                                                                   Protocol::kUdp})}};
    if (chance(30)) r.selector.ports.push_back({oneOf(ports), Protocol::kTcp});
    for (int n = chance(50) ? 0 : 1 + static_cast<int>(pick(2)); n > 0; --n)
      r.selector.source_cidrs.push_back(cidr(oneOf(sources)));
    for (int n = chance(50) ? 0 : 1 + static_cast<int>(pick(2)); n > 0; --n)
      r.selector.destination_cidrs.push_back(cidr(oneOf(destinations)));
  }

  Sample method() {
    static const std::vector<Sample> m = {{"", "PATCH"},        {"GET", "GET"},
                                          {"GET|HEAD", "HEAD"}, {"POST", "POST"},
                                          {"P(UT|OST)", "PUT"}, {"[A-Z]+", "DELETE"}};
    return oneOf(m);
  }
  Sample path() {
    const std::string k = std::to_string(pick(2500));
    if (chance(10)) return {"", "/anything/" + k};
    switch (pick(4)) {
      case 1:
        return {"/api/v1/items/" + k, "/api/v1/items/" + k};
      case 2:
        return {"/api/v" + k + "/.*", "/api/v" + k + "/x?y=1"};
      case 3:
        return {"/static/" + k + "/[a-z]+\\.js", "/static/" + k + "/app.js"};
      default:
        return {"/search\\?q=" + k + "(&.*)?", "/search?q=" + k + "&page=2"};
    }
  }
  Sample host(bool may_be_empty) {
    const std::string k = std::to_string(pick(2500));
    switch (pick(may_be_empty ? 4 : 3) + (may_be_empty ? 0 : 1)) {
      case 0:
        return {"", "whatever.test"};
      case 1:
        return {"svc" + k + "\\.example\\.test", "SVC" + k + ".example.test"};
      case 2:
        return {"(www\\.)?site" + k + "\\.test", "www.site" + k + ".test:8080"};
      default:
        return {".*\\.ns" + std::to_string(pick(20)) + "\\.test",
                "a.b.ns" + std::to_string(pick(20)) + ".test"};
    }
  }

  HttpRule entry(std::vector<Sample>& samples) {
    // Every entry constrains its path or its host, or nearly every request would be allowed.
    const Sample m = method(), p = path(), h = host(!p.pattern.empty());
    samples.push_back({"", m.text});
    samples.push_back({"", p.text});
    samples.push_back({"", h.text});
    HttpRule e = http(m.pattern, p.pattern, h.pattern);
    if (chance(15)) e.headers.push_back(chance(50) ? "X-Team: blue" : "X-Debug");
    if (chance(40)) {
      const auto action = static_cast<MismatchAction>(pick(5));
      e.header_matches.push_back(
          {.name = "X-Token", .value = chance(80) ? "t" : "", .mismatch = action});
    }
    return e;
  }

  std::vector<HeaderView> headers() {
    static const std::vector<HeaderView> pool = {{"X-Team", "blue"},
                                                 {"x-team", "red"},
                                                 {"X-DEBUG", "1"},
                                                 {"x-token", "t"},
                                                 {"X-Token", "other"}};
    std::vector<HeaderView> out;
    for (const HeaderView& h : pool) {
      if (chance(30)) out.push_back(h);
    }
    return out;
  }

  // A DNS entry and a name it matches (before any case change).
  std::pair<DnsRule, std::string> dnsEntry() {
    const std::string k = std::to_string(pick(3000));
    const std::string label = std::vector<std::string>{"www", "a-b", "_srv", "x9", ""}[pick(5)];
    DnsRule e;
    std::string name;
    switch (pick(6)) {
      case 0:
        e.match_name = "host" + k + ".corp.test";
        name = e.match_name;
        break;
      case 1:
        e.match_pattern = "*.svc" + k + ".example.test";
        name = label + ".svc" + k + ".example.test.";
        break;
      case 2:
        e.match_pattern = "**.zone" + k + ".test";
        name = "a.b" + label + ".zone" + k + ".test";
        break;
      case 3:
        e.match_pattern = "api-" + k + "-*.svc.test";
        name = "api-" + k + "-" + label + ".svc.test";
        break;
      case 4:
        e.match_pattern = "*.c" + k + "*.io";
        name = label + ".c" + k + label + ".io";
        break;
      default:
        e.match_pattern = "exact" + k + ".test";
        name = e.match_pattern;
        break;
    }
    return {e, name};
  }

 private:
  std::mt19937 rng_;
};

TEST(CompiledPolicyDifferential, TenThousandHttpEntriesAgreeWithLinearEvaluation) {
  Generator g(20240601);
  Policy p;
  std::vector<Sample> samples;        // three per entry: method, target, host
  std::vector<uint32_t> sample_rule;  // one per entry
  size_t entries = 0;
  for (int i = 0; entries < 10000; ++i) {
    Rule r = httpRule("http-" + std::to_string(i), {});
    g.selector(r, {80, 8080, 81});
    if (g.chance(5)) {  // interception: its entries judge decrypted requests
      r.l7 = L7Protocol::kTls;
      r.terminating_tls = TerminatingTls{
          .certificate = "c", .private_key = "k", .ca_certificate = {}, .ca_key = {}};
    }
    const bool visibility_only = g.chance(1);
    // Kept to one destination, or they would allow most flows' requests.
    if (visibility_only) r.selector.destination_cidrs = {cidr("198.18.2.5/32")};
    for (size_t n = visibility_only ? 0 : 1 + g.pick(50); n > 0; --n) {
      r.http.push_back(g.entry(samples));
      sample_rule.push_back(static_cast<uint32_t>(p.rules.size()));
    }
    entries += r.http.size();
    p.rules.push_back(std::move(r));
  }
  const auto compiled = compileOrFail(p);
  ASSERT_TRUE(compiled);
  Naive naive(p);

  int allowed = 0, denied_with_rules = 0, with_edits = 0;
  for (int n = 0; n < 400; ++n) {
    // Most requests aim at one entry: a flow its rule selects, and fields from its samples.
    const size_t aim = g.pick(samples.size() / 3);
    const Rule& target_rule = p.rules[sample_rule[aim]];
    const L7Protocol l7 = g.chance(90) ? L7Protocol::kHttp : L7Protocol::kTls;
    Flow f = g.flow();
    for (int tries = 0;
         tries < 200 && g.chance(95) && !naive.selects(target_rule, f, target_rule.l7); ++tries) {
      f = g.flow();
    }
    const auto field = [&](size_t offset) {
      return samples[(g.chance(85) ? aim : g.pick(samples.size() / 3)) * 3 + offset].text;
    };
    const std::string method = g.chance(95) ? field(0) : "get";
    const std::string target = field(1);
    const std::string host = field(2);
    const std::vector<HeaderView> headers = g.headers();
    const HttpRequestView request{method, target, host, headers};

    const FlowRules rules = compiled->matchFlow(f, l7);
    ASSERT_EQ(rules.rules, naive.flowRules(f, l7));
    const HttpVerdict want = naive.http(f, l7, request);
    const HttpVerdict got = compiled->http(rules, request);
    ASSERT_EQ(got.allowed, want.allowed) << method << " " << target << " " << host;
    ASSERT_EQ(got.rule, want.rule) << method << " " << target << " " << host;
    ASSERT_EQ(got.edits, want.edits) << method << " " << target << " " << host;
    ASSERT_EQ(got.mismatches, want.mismatches) << method << " " << target << " " << host;
    allowed += got.allowed;
    denied_with_rules += !got.allowed && !rules.empty();
    with_edits += !got.edits.empty();
  }
  // The comparison means something only if both outcomes occur often.
  EXPECT_GT(allowed, 60);
  EXPECT_GT(denied_with_rules, 60);
  EXPECT_GT(with_edits, 5);
}

TEST(CompiledPolicyDifferential, TenThousandDnsEntriesAgreeWithLinearEvaluation) {
  Generator g(7);
  Policy p;
  std::vector<std::string> names;
  size_t entries = 0;
  for (int i = 0; entries < 10000; ++i) {
    Rule r = dnsRule("dns-" + std::to_string(i), {}, {});
    g.selector(r, {53});
    const bool visibility_only = g.chance(1);
    for (size_t n = visibility_only ? 0 : 1 + g.pick(60); n > 0; --n) {
      auto [entry, name] = g.dnsEntry();
      r.dns.push_back(entry);
      names.push_back(name);
    }
    entries += r.dns.size();
    p.rules.push_back(std::move(r));
  }
  const auto compiled = compileOrFail(p);
  ASSERT_TRUE(compiled);
  const Naive naive(p);
  int allowed = 0, denied_with_rules = 0;
  for (int n = 0; n < 600; ++n) {
    Flow f = g.flow();
    f.port = 53;
    std::string name = g.oneOf(names);
    if (g.chance(30)) name = name.substr(g.pick(name.size()));  // mostly no longer matching
    if (g.chance(30)) {
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    const FlowRules rules = compiled->matchFlow(f, L7Protocol::kDns);
    const NameVerdict want = naive.dns(f, name);
    const NameVerdict got = compiled->dns(rules, name);
    ASSERT_EQ(got.allowed, want.allowed) << name;
    ASSERT_EQ(got.rule, want.rule) << name;
    allowed += got.allowed;
    denied_with_rules += !got.allowed && !rules.empty();
  }
  EXPECT_GT(allowed, 60);
  EXPECT_GT(denied_with_rules, 60);
}

}  // namespace
}  // namespace portcullis::policy
