// Policy files (SPEC.md "Policy file"): rules, selectors, and whether a rule's L7 sections fit
// together. The entries of those sections are read in l7_section_reader.cc, checks across rules
// are in rule_set_check.cc, config files in config_parser.cc.
#include "policy/parser.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/l7_section_reader.h"
#include "policy/rule_set_check.h"
#include "policy/rule_syntax.h"
#include "policy/yaml_reader.h"

namespace portcullis::policy {
namespace {

// How messages name a rule; its name may be missing or invalid.
std::string label(const Rule& r) { return r.name.empty() ? "this rule" : "rule '" + r.name + "'"; }

class PolicyReader {
 public:
  explicit PolicyReader(std::string_view file) : yaml_(file) {}
  Parsed<Policy> read(std::string_view text);

 private:
  // A rule as far as it could be read; ports are cleared when its L7 kind is unknown, so the
  // checks across rules only see what is certain.
  Rule rule(const YamlValue& v, bool& ok);
  // `ingress` is set when the rule's direction is known to be ingress.
  std::optional<Selector> selector(const YamlValue& v, bool ingress,
                                   std::vector<SourceLocation>& port_where);
  std::optional<PortProtocol> port(const YamlValue& v, SourceLocation& protocol_where);
  std::optional<L7Protocol> l7(const YamlMap& m, const Rule& r, bool direction_ok);

  YamlReader yaml_;
  L7SectionReader sections_{yaml_};
};

Parsed<Policy> PolicyReader::read(std::string_view text) {
  Parsed<Policy> out;
  std::vector<Rule> rules;
  bool rules_ok = true;
  if (auto doc = yaml_.load(text)) {
    if (auto top = yaml_.map(*doc, {"rules"})) {
      if (auto list = yaml_.required(*top, "rules")) {
        if (auto items = yaml_.list(*list)) {
          for (const YamlValue& item : *items) {
            bool ok = true;
            rules.push_back(rule(item, ok));
            rules_ok = rules_ok && ok;
          }
        }
      }
    }
  }
  std::vector<const Rule*> refs;
  for (const Rule& r : rules) refs.push_back(&r);
  std::vector<Diagnostic> across;
  checkRuleSet(refs, across);
  for (Diagnostic& d : across) yaml_.error(d.where, std::move(d.message));
  out.errors = yaml_.takeErrors();
  if (out.errors.empty() && rules_ok) out.value = Policy{std::move(rules)};
  return out;
}

Rule PolicyReader::rule(const YamlValue& v, bool& ok) {
  const std::size_t errors_before = yaml_.errorCount();
  Rule r;
  r.where = v.where;
  auto m = yaml_.map(v, {"name", "direction", "selector", "http", "dns", "tls", "terminatingTLS",
                         "originatingTLS"});
  if (!m) {
    ok = false;
    return r;
  }
  if (auto name = yaml_.required(*m, "name")) {
    if (auto text = yaml_.checked(*name, ruleNameError)) r.name = *text;
  }
  bool direction_ok = false;
  if (auto dir = yaml_.required(*m, "direction")) {
    auto d = yaml_.choice<Direction>(
        *dir, {{"egress", Direction::kEgress}, {"ingress", Direction::kIngress}});
    if (d) r.direction = *d;
    direction_ok = d.has_value();
  }
  std::vector<SourceLocation> protocol_where;
  if (auto sel = yaml_.required(*m, "selector")) {
    const bool ingress = direction_ok && r.direction == Direction::kIngress;
    if (auto s = selector(*sel, ingress, protocol_where)) r.selector = std::move(*s);
  }
  if (const YamlValue* h = m->find("http")) {
    r.http = yaml_.listOf<HttpRule>(*h, [&](const YamlValue& e) { return sections_.http(e); })
                 .value_or(std::vector<HttpRule>{});
  }
  if (const YamlValue* d = m->find("dns")) {
    r.dns = yaml_.listOf<DnsRule>(*d, [&](const YamlValue& e) { return sections_.dns(e); })
                .value_or(std::vector<DnsRule>{});
  }
  if (const YamlValue* t = m->find("tls")) {
    r.tls = yaml_.listOf<TlsRule>(*t, [&](const YamlValue& e) { return sections_.tls(e); })
                .value_or(std::vector<TlsRule>{});
  }
  if (const YamlValue* t = m->find("terminatingTLS"))
    r.terminating_tls = sections_.terminatingTls(*t);
  if (const YamlValue* o = m->find("originatingTLS"))
    r.originating_tls = sections_.originatingTls(*o);

  const std::optional<L7Protocol> kind = l7(*m, r, direction_ok);
  if (kind) {
    r.l7 = *kind;
    // HTTP and TLS are byte streams; their listeners only accept TCP.
    for (std::size_t i = 0; i < r.selector.ports.size() && r.l7 != L7Protocol::kDns; ++i) {
      if (r.selector.ports[i].protocol == Protocol::kTcp) continue;
      yaml_.error(protocol_where[i], label(r) + ": " + toString(r.l7) +
                                         " rules need protocol TCP, got " +
                                         toString(r.selector.ports[i].protocol));
    }
  } else {
    r.selector.ports.clear();
  }
  ok = yaml_.errorCount() == errors_before;
  return r;
}

std::optional<L7Protocol> PolicyReader::l7(const YamlMap& m, const Rule& r, bool direction_ok) {
  const std::size_t errors_before = yaml_.errorCount();
  const YamlMap::Field* terminating = m.field("terminatingTLS");
  if (const YamlMap::Field* originating = m.field("originatingTLS"); originating && !terminating) {
    yaml_.error(originating->key_where,
                "originatingTLS needs terminatingTLS: only a terminated connection is "
                "originated again");
  }
  std::vector<const YamlMap::Field*> sections;
  for (const char* key : {"http", "dns", "tls"}) {
    if (const YamlMap::Field* f = m.field(key)) sections.push_back(f);
  }
  // The first section in the file is taken as meant; the later ones are the errors.
  std::sort(sections.begin(), sections.end(),
            [](const auto* a, const auto* b) { return a->key_where < b->key_where; });
  std::optional<L7Protocol> kind;
  if (terminating) {
    for (const YamlMap::Field* f : sections) {
      if (f->key == "http") continue;
      yaml_.error(f->key_where, label(r) + ": terminatingTLS goes with an http section " +
                                    "only, not '" + f->key + "'");
    }
    if (!m.field("http")) {
      yaml_.error(terminating->key_where,
                  label(r) +
                      ": terminatingTLS needs an http section (the HTTP rules "
                      "enforced inside TLS)");
    }
    kind = L7Protocol::kTls;
  } else if (sections.empty()) {
    yaml_.error(m.where(), label(r) + " needs one L7 section: http, dns or tls");
  } else {
    for (std::size_t i = 1; i < sections.size(); ++i) {
      yaml_.error(sections[i]->key_where, label(r) + " has both '" + sections[0]->key + "' and '" +
                                              sections[i]->key +
                                              "'; a rule has exactly one of http, dns, tls");
    }
    const std::string& key = sections[0]->key;
    kind = key == "http" ? L7Protocol::kHttp : key == "dns" ? L7Protocol::kDns : L7Protocol::kTls;
  }
  if (kind == L7Protocol::kTls && r.direction == Direction::kIngress && direction_ok) {
    const YamlMap::Field* f = terminating ? terminating : m.field("tls");
    yaml_.error(f->key_where, label(r) + ": '" + f->key +
                                  "' applies to egress only (there is no TLS ingress listener)");
  }
  if (yaml_.errorCount() != errors_before || !direction_ok) return std::nullopt;
  return kind;
}

std::optional<Selector> PolicyReader::selector(const YamlValue& v, bool ingress,
                                               std::vector<SourceLocation>& protocol_where) {
  auto m =
      yaml_.map(v, {"interfaces", "source-cidrs", "destination-cidrs", "ports", "cgroups", "uids"});
  if (!m) return std::nullopt;
  Selector s;
  auto strings = [&](const char* key, auto check) {
    const YamlValue* list = m->find(key);
    if (!list) return std::vector<std::string>{};
    return yaml_
        .listOf<std::string>(*list, [&](const YamlValue& e) { return yaml_.checked(e, check); })
        .value_or(std::vector<std::string>{});
  };
  auto cidrs = [&](const char* key) {
    const YamlValue* list = m->find(key);
    if (!list) return std::vector<Cidr>{};
    return yaml_
        .listOf<Cidr>(*list,
                      [&](const YamlValue& e) -> std::optional<Cidr> {
                        auto text = yaml_.string(e);
                        if (!text) return std::nullopt;
                        auto cidr = Cidr::parse(*text);
                        if (!cidr) {
                          yaml_.error(e.where, e.path +
                                                   ": expected a CIDR like 198.18.0.0/15 or "
                                                   "2001:db8::/32, got " +
                                                   excerpt(*text));
                        }
                        return cidr;
                      })
        .value_or(std::vector<Cidr>{});
  };
  s.interfaces = strings("interfaces", interfaceError);
  s.source_cidrs = cidrs("source-cidrs");
  s.destination_cidrs = cidrs("destination-cidrs");
  s.cgroups = strings("cgroups", cgroupError);
  if (const YamlValue* uids = m->find("uids")) {
    s.uids = yaml_
                 .listOf<uint32_t>(*uids,
                                   [&](const YamlValue& e) -> std::optional<uint32_t> {
                                     // (uid_t)-1 means "no uid" to the kernel.
                                     return yaml_.integer(e, 0, 0xfffffffe);
                                   })
                 .value_or(std::vector<uint32_t>{});
  }
  // A process's cgroup and uid are only known on the packets it sends (mangle OUTPUT); ingress
  // is redirected in PREROUTING, where neither match works.
  for (const char* key : {"cgroups", "uids"}) {
    const YamlMap::Field* f = m->field(key);
    if (!ingress || !f) continue;
    yaml_.error(f->key_where, f->value.path +
                                  " selects local processes by what they send (the OUTPUT "
                                  "path); an ingress rule cannot use it");
  }
  if (auto ports = yaml_.required(*m, "ports")) {
    if (auto items = yaml_.list(*ports)) {
      if (items->empty()) yaml_.error(ports->where, ports->path + ": expected at least one port");
      for (const YamlValue& item : *items) {
        SourceLocation where = item.where;
        if (auto pp = port(item, where)) {
          s.ports.push_back(*pp);
          protocol_where.push_back(where);
        }
      }
    }
  }
  return s;
}

std::optional<PortProtocol> PolicyReader::port(const YamlValue& v, SourceLocation& protocol_where) {
  auto m = yaml_.map(v, {"port", "protocol"});
  if (!m) return std::nullopt;
  PortProtocol pp;
  std::optional<uint64_t> number;
  if (auto p = yaml_.required(*m, "port")) number = yaml_.integer(*p, 1, 65535);
  if (const YamlValue* proto = m->find("protocol")) {
    protocol_where = proto->where;
    auto p = yaml_.choice<Protocol>(
        *proto, {{"TCP", Protocol::kTcp}, {"UDP", Protocol::kUdp}, {"ANY", Protocol::kAny}},
        /*ignore_case=*/true);
    if (!p) return std::nullopt;
    pp.protocol = *p;
  }
  if (!number) return std::nullopt;
  pp.port = static_cast<uint16_t>(*number);
  return pp;
}

}  // namespace

Parsed<Policy> parsePolicy(std::string_view text, std::string_view file) {
  return PolicyReader(file).read(text);
}

}  // namespace portcullis::policy
