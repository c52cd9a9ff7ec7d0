// parsePolicy: one table entry per error class, each asserting the exact FILE:LINE:COLUMN of every
// diagnostic, plus the model built from SPEC.md's example.
#include "policy/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::policy {
namespace {

using ::testing::HasSubstr;

// One YAML line per element, so a case's line numbers are its element indexes + 1.
std::string lines(std::initializer_list<std::string_view> l) {
  std::string out;
  for (std::string_view s : l) (out += s) += '\n';
  return out;
}

struct Expected {
  int line;
  int column;
  std::string fragment;  // must appear in the message
};

std::string dump(const std::vector<Diagnostic>& errors) {
  std::string out;
  for (const auto& d : errors) out += "\n  " + d.toString();
  return out;
}

void expectErrors(const std::vector<Diagnostic>& got, const std::vector<Expected>& want) {
  ASSERT_EQ(got.size(), want.size()) << "got:" << dump(got);
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(got[i].toString());
    EXPECT_EQ(got[i].where.file, "p.yaml");
    EXPECT_EQ(got[i].where.line, want[i].line);
    EXPECT_EQ(got[i].where.column, want[i].column);
    EXPECT_THAT(got[i].message, HasSubstr(want[i].fragment));
  }
}

struct Case {
  const char* name;
  std::string yaml;
  std::vector<Expected> errors;
};

// The common head of a valid egress rule; a case adds lines from line 4 on.
constexpr std::string_view kHead1 = "rules:";
constexpr std::string_view kHead2 = "  - name: r";
constexpr std::string_view kHead3 = "    direction: egress";

const std::vector<Case>& errorCases() {
  static const std::vector<Case> cases = {
      {"yaml syntax error",
       lines({"rules:", "  - name: a", "   direction: egress"}),
       {{3, 4, "YAML syntax error: end of sequence not found"}}},
      {"several documents",
       lines({"rules: []", "---", "rules: []"}),
       {{2, 1, "expected one YAML document, found another"}}},
      {"empty file", "", {{1, 1, "expected a map, got nothing"}}},
      // yaml-cpp's LoadAll never returns on this one.
      {"lone comma", ",", {{1, 1, "expected one YAML document, found another"}}},
      {"rules missing",
       lines({"rule: []"}),
       {{1, 1, "unknown key 'rule' at the top level; allowed: rules"},
        {1, 1, "missing required key 'rules' at the top level"}}},
      {"unknown key in a rule",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}]}", "    http: []",
              "    toPorts: []"}),
       {{6, 5,
         "unknown key 'toPorts' in rules[0]; allowed: name, direction, selector, http, "
         "dns, tls, terminatingTLS, originatingTLS"}}},
      {"unknown key in a selector",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}], endpoints: []}",
              "    http: []"}),
       {{4, 37,
         "unknown key 'endpoints' in rules[0].selector; allowed: interfaces, source-cidrs, "
         "destination-cidrs, ports, cgroups, uids"}}},
      {"unknown key in a port",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80, endPort: 90}]}",
              "    http: []"}),
       {{4, 35, "unknown key 'endPort' in rules[0].selector.ports[0]; allowed: port, protocol"}}},
      {"duplicate key",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}]}", "    http: []",
              "    direction: ingress"}),
       {{6, 5, "duplicate key 'direction' in rules[0] (first at line 3)"}}},
      {"rules is not a list",
       lines({"rules: {name: a}"}),
       {{1, 8, "rules: expected a list, got a map"}}},
      {"rule is not a map",
       lines({"rules:", "  - web"}),
       {{2, 5, "rules[0]: expected a map, got 'web'"}}},
      {"selector is a list",
       lines({kHead1, kHead2, kHead3, "    selector: [80]", "    http: []"}),
       {{4, 15, "rules[0].selector: expected a map, got a list"}}},
      {"non-integer port",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: http}]}", "    http: []"}),
       {{4, 31, "rules[0].selector.ports[0].port: expected an integer in 1..65535, got 'http'"}}},
      {"headers is not a list",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}]}",
              "    http:", "      - headers: \"X-A: b\""}),
       {{6, 18, "rules[0].http[0].headers: expected a list, got 'X-A: b'"}}},
      {"empty value points at its key",
       lines({kHead1, kHead2, "    direction:", "    selector: {ports: [{port: 80}]}",
              "    http: []"}),
       {{3, 5, "rules[0].direction: expected one of egress|ingress, got nothing"}}},
      {"missing name, direction and selector",
       lines({"rules:", "  - http: []"}),
       {{2, 5, "missing required key 'name' in rules[0]"},
        {2, 5, "missing required key 'direction' in rules[0]"},
        {2, 5, "missing required key 'selector' in rules[0]"}}},
      {"missing selector.ports",
       lines({kHead1, kHead2, kHead3, "    selector:", "      source-cidrs: [198.18.0.0/15]",
              "    http: []"}),
       {{5, 7, "missing required key 'ports' in rules[0].selector"}}},
      {"empty selector.ports",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: []}", "    http: []"}),
       {{4, 23, "rules[0].selector.ports: expected at least one port"}}},
      {"missing port number",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{protocol: TCP}]}", "    http: []"}),
       {{4, 24, "missing required key 'port' in rules[0].selector.ports[0]"}}},
      {"bad CIDRs",
       lines({kHead1, kHead2, kHead3,
              "    selector:", "      source-cidrs: [198.18.0.0/33, \"2001:db8::/129\"]",
              "      destination-cidrs: [example.test, 198.18.0.0/15]", "      ports: [{port: 80}]",
              "    http: []"}),
       {{5, 22,
         "source-cidrs[0]: expected a CIDR like 198.18.0.0/15 or 2001:db8::/32, got "
         "'198.18.0.0/33'"},
        {5, 37, "source-cidrs[1]: expected a CIDR"},
        {6, 27, "destination-cidrs[0]: expected a CIDR"}}},
      {"port 0 and 65536",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 0}, {port: 65536}]}",
              "    http: []"}),
       {{4, 31, "ports[0].port: 0 is out of range 1..65535"},
        {4, 42, "ports[1].port: 65536 is out of range 1..65535"}}},
      {"unknown protocol",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80, protocol: SCTP}]}",
              "    http: []"}),
       {{4, 45, "ports[0].protocol: expected one of TCP|UDP|ANY, got 'SCTP'"}}},
      {"bad direction",
       lines({kHead1, kHead2, "    direction: outbound", "    selector: {ports: [{port: 80}]}",
              "    http: []"}),
       {{3, 16, "rules[0].direction: expected one of egress|ingress, got 'outbound'"}}},
      {"direction is case-sensitive",
       lines({kHead1, kHead2, "    direction: Egress", "    selector: {ports: [{port: 80}]}",
              "    http: []"}),
       {{3, 16, "got 'Egress'"}}},
      {"bad rule name",
       lines({"rules:", "  - name: \"web egress\"", kHead3, "    selector: {ports: [{port: 80}]}",
              "    http: []"}),
       {{2, 11, "rules[0].name: a rule name may contain only letters, digits and - _ . : /"}}},
      {"invalid regexes",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}]}", "    http:",
              "      - method: \"GET(\"", "        path: \"/a[\"", "        host: \"a**\""}),
       {{6, 17, "rules[0].http[0].method: invalid RE2 regular expression: missing ): GET("},
        {7, 15, "rules[0].http[0].path: invalid RE2 regular expression: missing ]: ["},
        {8, 15,
         "rules[0].http[0].host: invalid RE2 regular expression: bad repetition "
         "operator: **"}}},
      {"invalid matchName",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 53, protocol: UDP}]}",
              "    dns:", "      - matchName: \"exa mple.test\"", "      - matchName: a..test",
              "      - matchName: \"*.example.test\""}),
       {{6, 20, "dns[0].matchName: a DNS name has labels of letters, digits, '-' and '_' only"},
        {7, 20, "dns[1].matchName: empty label"},
        {8, 20, "dns[2].matchName: a DNS name has labels of"}}},
      {"matchName longer than 253",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 53, protocol: UDP}]}",
              "    dns:",
              "      - matchName: " + std::string(127, 'a') + "." + std::string(126, 'b')}),
       {{6, 20, "a DNS name has at most 253 characters"}}},
      {"invalid matchPattern",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 53, protocol: UDP}]}",
              "    dns:", "      - matchPattern: \"a.**.test\"",
              "      - matchPattern: \"ex$.test\"", "      - matchPattern: \"***.test\"",
              "      - matchPattern: \"" + std::string(256, '*') + "\""}),
       {{6, 23, "'**' is only allowed as a whole first label"},
        {7, 23, "a DNS pattern has only letters, digits and - _ . *"},
        {8, 23, "'**' is only allowed as a whole first label"},
        {9, 23, "a DNS pattern has at most 255 characters"}}},
      {"dns entry with both or neither",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 53, protocol: UDP}]}",
              "    dns:", "      - {matchName: a.test, matchPattern: \"*.test\"}", "      - {}"}),
       {{6, 9, "dns[0]: a dns entry has exactly one of matchName, matchPattern"},
        {7, 9, "dns[1]: a dns entry has exactly one of matchName, matchPattern"}}},
      {"malformed headers",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}]}",
              "    http:", "      - headers: [\"X Team: blue\", \": blue\", \"X-Team:\", [a]]"}),
       {{6, 19, "headers[0]: expected \"Name: value\" or \"Name\": a header name is a token"},
        {6, 35,
         "headers[1]: expected \"Name: value\" or \"Name\": a header name must not be "
         "empty"},
        {6, 45, "headers[2]: expected \"Name: value\" or \"Name\": the value after ':' is empty"},
        {6, 56, "headers[3]: expected a string, got a list"}}},
      {"bad headerMatches",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}]}", "    http:",
              "      - headerMatches:", "          - {name: X-Token, value: a, mismatch: DROP}",
              "          - {name: X-Token, mismatch: REPLACE}", "          - {value: a}",
              "          - {name: X-Token, value: a, mismatch: log}"}),
       {{7, 49, "headerMatches[0].mismatch: expected one of LOG|ADD|DELETE|REPLACE, got 'DROP'"},
        {8, 39,
         "headerMatches[1].mismatch: REPLACE writes the header's value, so 'value' must "
         "be set"},
        {9, 13, "missing required key 'name' in rules[0].http[0].headerMatches[2]"},
        {10, 49, "got 'log'"}}},
      {"no L7 section",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}]}"}),
       {{2, 5, "rule 'r' needs one L7 section: http, dns or tls"}}},
      {"two L7 sections",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 53}]}", "    dns: []",
              "    http: []"}),
       {{6, 5, "rule 'r' has both 'dns' and 'http'; a rule has exactly one of http, dns, tls"}}},
      {"http on UDP and ANY ports",
       lines({kHead1, kHead2, kHead3,
              "    selector: {ports: [{port: 80, protocol: udp}, {port: 81, protocol: ANY}, "
              "{port: 82, protocol: tcp}]}",
              "    http: []"}),
       {{4, 45, "rule 'r': http rules need protocol TCP, got UDP"},
        {4, 72, "rule 'r': http rules need protocol TCP, got ANY"}}},
      {"tls on a UDP port",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 443, protocol: UDP}]}",
              "    tls: []"}),
       {{4, 46, "rule 'r': tls rules need protocol TCP, got UDP"}}},
      {"tls on ingress",
       lines({kHead1, kHead2, "    direction: ingress", "    selector: {ports: [{port: 443}]}",
              "    tls: [{serverNames: [a.test]}]"}),
       {{5, 5, "rule 'r': 'tls' applies to egress only (there is no TLS ingress listener)"}}},
      {"terminatingTLS on ingress",
       lines({kHead1, kHead2, "    direction: ingress", "    selector: {ports: [{port: 443}]}",
              "    terminatingTLS: {certificate: a.crt, privateKey: a.key}", "    http: []"}),
       {{5, 5, "rule 'r': 'terminatingTLS' applies to egress only"}}},
      {"terminatingTLS without http",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 443}]}",
              "    terminatingTLS: {certificate: a.crt, privateKey: a.key}",
              "    tls: [{serverNames: [a.test]}]"}),
       {{5, 5, "rule 'r': terminatingTLS needs an http section"},
        {6, 5, "rule 'r': terminatingTLS goes with an http section only, not 'tls'"}}},
      {"originatingTLS without terminatingTLS",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 443}]}",
              "    originatingTLS: {ca-bundle: /etc/ssl/certs/ca-certificates.crt}",
              "    http: []"}),
       {{5, 5, "originatingTLS needs terminatingTLS"}}},
      {"terminatingTLS key sets",
       lines({"rules:", "  - name: a", kHead3, "    selector: {ports: [{port: 443}]}",
              "    terminatingTLS: {certificate: a.crt}", "    http: []", "  - name: b", kHead3,
              "    selector: {ports: [{port: 443}]}",
              "    terminatingTLS: {certificate: a.crt, privateKey: a.key, ca-key: c.key}",
              "    http: []", "  - name: c", kHead3, "    selector: {ports: [{port: 443}]}",
              "    terminatingTLS: {secret: x}", "    http: []"}),
       {{5, 21,
         "rules[0].terminatingTLS: expected either {certificate, privateKey} (one "
         "certificate) or {ca-certificate, ca-key} (certificates minted per SNI)"},
        {10, 21, "rules[1].terminatingTLS: expected either"},
        {15, 21, "rules[2].terminatingTLS: expected either"},
        {15, 22,
         "unknown key 'secret' in rules[2].terminatingTLS; allowed: certificate, "
         "privateKey, ca-certificate, ca-key"}}},
      {"bad serverNames",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 443}]}",
              "    tls: [{serverNames: [\"a.*.test\", \"*.ok.test\"]}, {serverNames: []}]"}),
       {{5, 26, "tls[0].serverNames[0]: a server name is a DNS name, or '*.' followed by one"},
        {5, 67, "tls[1].serverNames: expected at least one server name"}}},
      {"cgroups and interfaces",
       lines({kHead1, kHead2, kHead3,
              "    selector: {ports: [{port: 80}], interfaces: [\"eth 0\", veth+, \"+\"], "
              "cgroups: [\"a b\"], uids: [0, -1, 4294967295]}",
              "    http: []"}),
       {{4, 50, "interfaces[0]: an interface name has no spaces"},
        {4, 82, "cgroups[0]: a cgroup path has no spaces"},
        {4, 100, "uids[1]: expected an integer in 0..4294967294, got '-1'"},
        {4, 104, "uids[2]: 4294967295 is out of range 0..4294967294"}}},
      {"cgroups and uids on ingress",
       lines({kHead1, kHead2, "    direction: ingress",
              "    selector:", "      cgroups: [system.slice/app.service]", "      uids: [1000]",
              "      ports: [{port: 80}]", "    http: []"}),
       {{5, 7,
         "rules[0].selector.cgroups selects local processes by what they send (the "
         "OUTPUT path); an ingress rule cannot use it"},
        {6, 7, "rules[0].selector.uids selects local processes"}}},
      {"duplicate rule names",
       lines({kHead1, kHead2, kHead3, "    selector: {ports: [{port: 80}]}", "    http: []",
              "  - name: r", kHead3, "    selector: {ports: [{port: 81}]}", "    http: []"}),
       {{6, 5, "duplicate rule name 'r'; first defined at p.yaml:2:5"}}},
      {"port feeds two listener kinds",
       lines({"rules:", "  - name: dns", kHead3,
              "    selector: {ports: [{port: 53, protocol: ANY}]}", "    dns: []", "  - name: web",
              kHead3, "    selector: {ports: [{port: 8080}, {port: 53}]}", "    http: []"}),
       {{6, 5,
         "rule 'web' sends egress 53/TCP to the http listener, but rule 'dns' "
         "(p.yaml:2:5) sends it to the dns listener"}}},
  };
  return cases;
}

TEST(PolicyParserTest, EveryErrorClassIsReportedAtItsLineAndColumn) {
  for (const Case& c : errorCases()) {
    SCOPED_TRACE(c.name);
    const Parsed<Policy> parsed = parsePolicy(c.yaml, "p.yaml");
    EXPECT_FALSE(parsed.ok());
    EXPECT_FALSE(parsed.value.has_value());
    expectErrors(parsed.errors, c.errors);
  }
}

TEST(PolicyParserTest, CollectsErrorsOfEveryRuleInOnePass) {
  const std::string yaml = lines(
      {"rules:", "  - name: a", "    direction: sideways", "    selector: {ports: [{port: 0}]}",
       "    http: [{method: \"(\"}]", "  - name: b", kHead3,
       "    selector: {ports: [{port: 53, protocol: UDP}]}", "    dns: [{matchName: \"a b\"}]"});
  expectErrors(
      parsePolicy(yaml, "p.yaml").errors,
      {{3, 16, "direction"}, {4, 31, "out of range"}, {5, 21, "missing )"}, {9, 23, "matchName"}});
}

TEST(PolicyParserTest, PortsOfTheSameListenerKindDoNotConflict) {
  const std::string yaml = lines({"rules:",
                                  "  - name: a",
                                  kHead3,
                                  "    selector: {ports: [{port: 53, protocol: ANY}]}",
                                  "    dns: []",
                                  "  - name: b",
                                  kHead3,
                                  "    selector: {ports: [{port: 53, protocol: UDP}]}",
                                  "    dns: [{matchName: a.test}]",
                                  "  - name: c",
                                  "    direction: ingress",
                                  "    selector: {ports: [{port: 53}]}",
                                  "    http: []",
                                  "  - name: sni",
                                  kHead3,
                                  "    selector: {ports: [{port: 443}]}",
                                  "    tls: []",
                                  "  - name: inspect",
                                  kHead3,
                                  "    selector: {ports: [{port: 443}]}",
                                  "    terminatingTLS: {ca-certificate: ca.crt, ca-key: ca.key}",
                                  "    http: []"});
  const Parsed<Policy> parsed = parsePolicy(yaml, "p.yaml");
  ASSERT_TRUE(parsed.ok()) << dump(parsed.errors);
  EXPECT_EQ(parsed.value->rules.size(), 5u);
}

TEST(PolicyParserTest, AliasesThatExpandTooFarAreRejectedNotWalked) {
  // One rule with many entries, then thousands of aliases of it: the text is small, the tree
  // it describes is not.
  std::string yaml =
      "rules:\n  - &r\n    name: r\n    direction: egress\n"
      "    selector: {ports: [{port: 80}]}\n    http:\n";
  for (int i = 0; i < 500; ++i) yaml += "      - {path: \"/" + std::to_string(i) + "\"}\n";
  for (int i = 0; i < 5000; ++i) yaml += "  - *r\n";
  const Parsed<Policy> parsed = parsePolicy(yaml, "p.yaml");
  EXPECT_FALSE(parsed.ok());
  bool reported = false;
  for (const auto& d : parsed.errors) {
    reported = reported || d.message.find("YAML aliases expand") != std::string::npos;
  }
  EXPECT_TRUE(reported) << dump(parsed.errors);
  EXPECT_LT(parsed.errors.size(), 200u);
}

TEST(PolicyParserTest, SpecExampleBuildsTheModel) {
  const std::string yaml = lines({
      "rules:",
      "  - name: web-egress",
      "    direction: egress",
      "    selector:",
      "      interfaces: [\"veth+\"]",
      "      source-cidrs: [\"198.18.1.0/24\"]",
      "      destination-cidrs: [\"198.18.2.0/24\", \"2001:db8::/32\"]",
      "      ports: [{port: 80, protocol: TCP}]",
      "    http:",
      "      - method: \"GET|HEAD\"",
      "        path: \"/public/.*\"",
      "        host: \"example\\\\.test\"",
      "        headers: [\"X-Team:  blue \", \"X-Debug\"]",
      "        headerMatches:",
      "          - {name: X-Token, value: s3cr3t, mismatch: REPLACE}",
      "          - {name: X-Trace}",
      "  - name: dns-egress",
      "    direction: egress",
      "    selector:",
      "      source-cidrs: [\"198.18.1.0/24\"]",
      "      ports: [{port: 53, protocol: any}]",
      "    dns:",
      "      - matchName: \"example.test\"",
      "      - matchPattern: \"*.example.test\"",
      "  - name: tls-egress",
      "    direction: egress",
      "    selector: {ports: [{port: 443, protocol: TCP}]}",
      "    tls:",
      "      - serverNames: [\"api.example.test\", \"*.cdn.example.test\"]",
      "  - name: tls-inspect",
      "    direction: egress",
      "    selector: {destination-cidrs: [\"198.18.2.0/24\"], ports: [{port: 443}]}",
      "    terminatingTLS: {ca-certificate: /etc/portcullis/ca.crt, ca-key: "
      "/etc/portcullis/ca.key}",
      "    originatingTLS: {ca-bundle: /etc/ssl/certs/ca-certificates.crt}",
      "    http:",
      "      - method: GET",
      "        path: \"/v1/.*\"",
      "  - name: local-app",
      "    direction: egress",
      "    selector: {cgroups: [system.slice/app.service], uids: [1000], ports: [{port: 8080}]}",
      "    http: []",
  });
  const Parsed<Policy> parsed = parsePolicy(yaml, "p.yaml");
  ASSERT_TRUE(parsed.ok()) << dump(parsed.errors);
  const auto& rules = parsed.value->rules;
  ASSERT_EQ(rules.size(), 5u);

  const Rule& web = rules[0];
  EXPECT_EQ(web.name, "web-egress");
  EXPECT_EQ(web.direction, Direction::kEgress);
  EXPECT_EQ(web.l7, L7Protocol::kHttp);
  EXPECT_EQ(web.where, (SourceLocation{"p.yaml", 2, 5}));
  EXPECT_EQ(web.selector.interfaces, std::vector<std::string>{"veth+"});
  EXPECT_EQ(web.selector.source_cidrs, std::vector<Cidr>{*Cidr::parse("198.18.1.0/24")});
  EXPECT_EQ(web.selector.destination_cidrs,
            (std::vector<Cidr>{*Cidr::parse("198.18.2.0/24"), *Cidr::parse("2001:db8::/32")}));
  EXPECT_EQ(web.selector.ports, (std::vector<PortProtocol>{{80, Protocol::kTcp}}));
  ASSERT_EQ(web.http.size(), 1u);
  const HttpRule& h = web.http[0];
  EXPECT_EQ(h.method, "GET|HEAD");
  EXPECT_EQ(h.path, "/public/.*");
  EXPECT_EQ(h.host, "example\\.test");
  EXPECT_EQ(h.headers, (std::vector<std::string>{"X-Team: blue", "X-Debug"}));
  EXPECT_EQ(h.where, (SourceLocation{"p.yaml", 10, 9}));
  ASSERT_EQ(h.header_matches.size(), 2u);
  EXPECT_EQ(h.header_matches[0].name, "X-Token");
  EXPECT_EQ(h.header_matches[0].value, "s3cr3t");
  EXPECT_EQ(h.header_matches[0].mismatch, MismatchAction::kReplace);
  EXPECT_EQ(h.header_matches[1].name, "X-Trace");
  EXPECT_EQ(h.header_matches[1].value, "");
  EXPECT_EQ(h.header_matches[1].mismatch, MismatchAction::kDeny);

  const Rule& dns = rules[1];
  EXPECT_EQ(dns.l7, L7Protocol::kDns);
  EXPECT_EQ(dns.selector.ports, (std::vector<PortProtocol>{{53, Protocol::kAny}}));
  ASSERT_EQ(dns.dns.size(), 2u);
  EXPECT_EQ(dns.dns[0].match_name, "example.test");
  EXPECT_EQ(dns.dns[0].match_pattern, "");
  EXPECT_EQ(dns.dns[1].match_pattern, "*.example.test");
  EXPECT_EQ(dns.dns[1].where, (SourceLocation{"p.yaml", 24, 9}));

  const Rule& sni = rules[2];
  EXPECT_EQ(sni.l7, L7Protocol::kTls);
  ASSERT_EQ(sni.tls.size(), 1u);
  EXPECT_EQ(sni.tls[0].server_names,
            (std::vector<std::string>{"api.example.test", "*.cdn.example.test"}));
  EXPECT_FALSE(sni.terminating_tls.has_value());

  const Rule& inspect = rules[3];
  EXPECT_EQ(inspect.l7, L7Protocol::kTls);
  EXPECT_TRUE(inspect.tls.empty());
  ASSERT_TRUE(inspect.terminating_tls.has_value());
  EXPECT_EQ(inspect.terminating_tls->ca_certificate, "/etc/portcullis/ca.crt");
  EXPECT_EQ(inspect.terminating_tls->ca_key, "/etc/portcullis/ca.key");
  EXPECT_EQ(inspect.terminating_tls->certificate, "");
  ASSERT_TRUE(inspect.originating_tls.has_value());
  EXPECT_EQ(inspect.originating_tls->ca_bundle, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(inspect.selector.ports, (std::vector<PortProtocol>{{443, Protocol::kTcp}}));
  ASSERT_EQ(inspect.http.size(), 1u);

  const Rule& local = rules[4];
  EXPECT_EQ(local.direction, Direction::kEgress);
  EXPECT_EQ(local.selector.cgroups, std::vector<std::string>{"system.slice/app.service"});
  EXPECT_EQ(local.selector.uids, std::vector<uint32_t>{1000});
  EXPECT_TRUE(local.http.empty());
}

TEST(PolicyParserTest, EmptyRuleListIsAValidPolicy) {
  const Parsed<Policy> parsed = parsePolicy("rules: []\n", "p.yaml");
  ASSERT_TRUE(parsed.ok()) << dump(parsed.errors);
  EXPECT_TRUE(parsed.value->rules.empty());
}

TEST(PolicyParserTest, ExampleFileInConfigsIsValid) {
  // configs/policy.yaml is documentation users copy; it must stay valid.
  std::string path = PORTCULLIS_TEST_DATA;
  path = path.substr(0, path.rfind("/tests/")) + "/configs/policy.yaml";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr) << path;
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  const Parsed<Policy> parsed = parsePolicy(text, "configs/policy.yaml");
  ASSERT_TRUE(parsed.ok()) << dump(parsed.errors);
  EXPECT_GE(parsed.value->rules.size(), 4u);
}

}  // namespace
}  // namespace portcullis::policy
