#include "policy/compiled_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/http_matcher.h"
#include "tests/policy/rule_builders.h"

namespace portcullis::policy {
namespace {

using namespace builders;  // NOLINT(google-build-using-namespace): terse test tables
using Edits = std::vector<HeaderEdit>;
using Names = std::vector<std::string>;

struct Request {
  Request(std::string m = "GET", std::string t = "/", std::string h = "example.test",
          std::vector<HeaderView> hs = {})
      : method(std::move(m)), target(std::move(t)), host(std::move(h)), headers(std::move(hs)) {}

  std::string method;
  std::string target;
  std::string host;
  std::vector<HeaderView> headers;

  HttpRequestView view() const { return {method, target, host, headers}; }
};

struct HttpCase {
  HttpCase(const char* w, Request r, bool a, const char* ru = "", Edits e = {}, Names m = {})
      : what(w),
        request(std::move(r)),
        allowed(a),
        rule(ru),
        edits(std::move(e)),
        mismatches(std::move(m)) {}

  const char* what;
  Request request;
  bool allowed;
  const char* rule;
  Edits edits;
  Names mismatches;
};

void expectVerdicts(const CompiledPolicy& policy, const Flow& f,
                    const std::vector<HttpCase>& cases) {
  const FlowRules rules = policy.matchFlow(f, L7Protocol::kHttp);
  for (const HttpCase& c : cases) {
    const HttpVerdict v = policy.http(rules, c.request.view());
    EXPECT_EQ(v.allowed, c.allowed) << c.what;
    EXPECT_EQ(v.rule, c.rule) << c.what;
    EXPECT_EQ(v.edits, c.edits) << c.what;
    EXPECT_EQ(v.mismatches, c.mismatches) << c.what;
    // The single-request convenience agrees.
    EXPECT_EQ(policy.http(f, c.request.view()).allowed, c.allowed) << c.what;
  }
}

const Flow kWeb = flow("198.18.1.10", "198.18.2.20", 80);

TEST(CompiledPolicyHttp, FieldsAreAndedEntriesAreOred) {
  Policy p;
  p.rules.push_back(httpRule("web", {http("GET|HEAD", "/public/.*", "example\\.test"),
                                     http("POST", "/upload", ""), http("", "", "admin\\.test")}));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  expectVerdicts(
      *policy, kWeb,
      {
          {"all three fields", {"GET", "/public/a", "example.test"}, true, "web"},
          {"HEAD too", {"HEAD", "/public/", "example.test"}, true, "web"},
          {"method fails", {"PUT", "/public/a", "example.test"}, false, "web"},
          {"path fails", {"GET", "/private", "example.test"}, false, "web"},
          {"host fails", {"GET", "/public/a", "other.test"}, false, "web"},
          {"method is anchored", {"GETX", "/public/a", "example.test"}, false, "web"},
          {"method is case-sensitive", {"get", "/public/a", "example.test"}, false, "web"},
          {"path is anchored", {"GET", "/x/public/a", "example.test"}, false, "web"},
          {"second entry, any host", {"POST", "/upload", "whatever"}, true, "web"},
          {"second entry path anchored", {"POST", "/upload/x", "whatever"}, false, "web"},
          {"third entry: any method and path",
           {"DELETE", "/anything?x", "admin.test"},
           true,
           "web"},
      });
}

TEST(CompiledPolicyHttp, HostWithoutPortAndCaseInsensitive) {
  Policy p;
  p.rules.push_back(
      httpRule("web", {http("", "", "(www\\.)?example\\.test"), http("", "", "2001:db8::1"),
                       http("", "", "198\\.18\\.2\\.20")}));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  expectVerdicts(*policy, kWeb,
                 {
                     {"exact", {"GET", "/", "example.test"}, true, "web"},
                     {"upper case", {"GET", "/", "WWW.Example.TEST"}, true, "web"},
                     {"port stripped", {"GET", "/", "example.test:8080"}, true, "web"},
                     {"empty port stripped", {"GET", "/", "example.test:"}, true, "web"},
                     {"host anchored", {"GET", "/", "example.test.evil"}, false, "web"},
                     {"host anchored at start", {"GET", "/", "evilexample.test"}, false, "web"},
                     {"bracketed v6 with port", {"GET", "/", "[2001:db8::1]:80"}, true, "web"},
                     {"bracketed v6", {"GET", "/", "[2001:db8::1]"}, true, "web"},
                     {"bare v6 keeps its colons", {"GET", "/", "2001:db8::1"}, true, "web"},
                     {"v4 with port", {"GET", "/", "198.18.2.20:80"}, true, "web"},
                     {"no host", {"GET", "/", ""}, false, "web"},
                 });
}

TEST(CompiledPolicyHttp, HostWithoutPortFunction) {
  EXPECT_EQ(hostWithoutPort("a.test:80"), "a.test");
  EXPECT_EQ(hostWithoutPort("a.test"), "a.test");
  EXPECT_EQ(hostWithoutPort("a.test:x"), "a.test:x");
  EXPECT_EQ(hostWithoutPort("[::1]:443"), "::1");
  EXPECT_EQ(hostWithoutPort("[::1"), "[::1");
  EXPECT_EQ(hostWithoutPort("::1"), "::1");
}

TEST(CompiledPolicyHttp, PathSeesTheQuery) {
  Policy p;
  p.rules.push_back(
      httpRule("web", {http("GET", "/search\\?q=[a-z]+"), http("GET", "/items/[0-9]+")}));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  expectVerdicts(
      *policy, kWeb,
      {
          {"query matched", {"GET", "/search?q=abc"}, true, "web"},
          {"query mismatched", {"GET", "/search?q=ABC"}, false, "web"},
          {"no query", {"GET", "/search"}, false, "web"},
          {"query makes an anchored path fail", {"GET", "/items/12?page=2"}, false, "web"},
          {"plain path", {"GET", "/items/12"}, true, "web"},
      });
}

TEST(CompiledPolicyHttp, EmptyListAllowsAllAndNoRuleDenies) {
  Policy p;
  p.rules.push_back(httpRule("visibility", {}, 8080));
  p.rules.push_back(httpRule("web", {http("GET", "/")}, 80));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  expectVerdicts(*policy, flow("198.18.1.10", "198.18.2.20", 8080),
                 {
                     {"anything", {"BREW", "/pot?x=1", "coffee.test"}, true, "visibility"},
                     {"even empty", {"", "", ""}, true, "visibility"},
                 });
  expectVerdicts(*policy, flow("198.18.1.10", "198.18.2.20", 81),
                 {
                     {"no rule selects port 81", {"GET", "/"}, false, ""},
                 });
  const HttpVerdict none = policy->http(FlowRules{}, Request{}.view());
  EXPECT_FALSE(none.allowed);
  EXPECT_EQ(none.rule, "");
}

TEST(CompiledPolicyHttp, FirstMatchingEntryInPolicyOrderDecides) {
  Policy p;
  p.rules.push_back(httpRule(
      "first", {http("POST", ""),
                http("GET", "/a.*", "", {},
                     {{.name = "X-Token", .value = "t", .mismatch = MismatchAction::kAdd}})}));
  p.rules.push_back(httpRule(
      "second", {http("GET", "/a", "", {},
                      {{.name = "X-Token", .value = "t", .mismatch = MismatchAction::kLog}})}));
  p.rules.push_back(httpRule("third", {}));  // allows all, but comes last
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  expectVerdicts(*policy, kWeb,
                 {
                     {"first rule's second entry",
                      {"GET", "/a"},
                      true,
                      "first",
                      {{HeaderEdit::Op::kAdd, "X-Token", "t"}},
                      {"X-Token"}},
                     {"first rule's first entry", {"POST", "/zzz"}, true, "first"},
                     {"only the visibility rule", {"PUT", "/b"}, true, "third"},
                 });
  // Without the first rule, the second decides with its own action.
  p.rules.erase(p.rules.begin());
  const auto later = compileOrFail(p);
  ASSERT_TRUE(later);
  expectVerdicts(*later, kWeb,
                 {
                     {"second rule", {"GET", "/a"}, true, "second", {}, {"X-Token"}},
                 });
}

TEST(CompiledPolicyHttp, HeadersRequirePresenceOrExactValue) {
  Policy p;
  p.rules.push_back(httpRule("web", {http("GET", "/", "", {"X-Team: blue", "X-Debug"})}));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  const auto req = [](std::vector<HeaderView> headers) {
    return Request{"GET", "/", "example.test", std::move(headers)};
  };
  expectVerdicts(
      *policy, kWeb,
      {
          {"both", req({{"X-Team", "blue"}, {"X-Debug", ""}}), true, "web"},
          {"names case-insensitive, value OWS trimmed",
           req({{"x-team", " blue "}, {"X-DEBUG", "1"}}), true, "web"},
          {"value case-sensitive", req({{"X-Team", "Blue"}, {"X-Debug", "1"}}), false, "web"},
          {"value exact", req({{"X-Team", "blue-ish"}, {"X-Debug", "1"}}), false, "web"},
          {"one of repeated headers",
           req({{"X-Team", "red"}, {"X-Team", "blue"}, {"X-Debug", "1"}}), true, "web"},
          {"presence missing", req({{"X-Team", "blue"}}), false, "web"},
          {"none", req({}), false, "web"},
      });
}

TEST(CompiledPolicyHttp, HeaderMatchesMismatchActions) {
  const auto entry = [](const char* path, MismatchAction action, std::string value = "s3cr3t") {
    return http("GET", path, "", {},
                {{.name = "X-Token", .value = std::move(value), .mismatch = action}});
  };
  Policy p;
  p.rules.push_back(httpRule(
      "web",
      {entry("/deny", MismatchAction::kDeny), entry("/log", MismatchAction::kLog),
       entry("/add", MismatchAction::kAdd), entry("/delete", MismatchAction::kDelete),
       entry("/replace", MismatchAction::kReplace), entry("/present", MismatchAction::kDeny, "")}));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  using Op = HeaderEdit::Op;
  const std::vector<HeaderView> good = {{"x-token", "s3cr3t"}};
  const std::vector<HeaderView> bad = {{"X-Token", "guess"}};
  const std::vector<HeaderView> none = {{"X-Other", "s3cr3t"}};
  expectVerdicts(*policy, kWeb,
                 {
                     {"deny: match", {"GET", "/deny", "h", good}, true, "web"},
                     {"deny: other value", {"GET", "/deny", "h", bad}, false, "web"},
                     {"deny: absent", {"GET", "/deny", "h", none}, false, "web"},
                     {"log: match", {"GET", "/log", "h", good}, true, "web"},
                     {"log: mismatch", {"GET", "/log", "h", bad}, true, "web", {}, {"X-Token"}},
                     {"add: absent",
                      {"GET", "/add", "h", none},
                      true,
                      "web",
                      {{Op::kAdd, "X-Token", "s3cr3t"}},
                      {"X-Token"}},
                     {"add: match", {"GET", "/add", "h", good}, true, "web"},
                     {"delete: other value",
                      {"GET", "/delete", "h", bad},
                      true,
                      "web",
                      {{Op::kDelete, "X-Token", ""}},
                      {"X-Token"}},
                     {"replace: other value",
                      {"GET", "/replace", "h", bad},
                      true,
                      "web",
                      {{Op::kReplace, "X-Token", "s3cr3t"}},
                      {"X-Token"}},
                     {"replace: absent",
                      {"GET", "/replace", "h", none},
                      true,
                      "web",
                      {{Op::kReplace, "X-Token", "s3cr3t"}},
                      {"X-Token"}},
                     {"presence only: any value", {"GET", "/present", "h", bad}, true, "web"},
                     {"presence only: absent", {"GET", "/present", "h", none}, false, "web"},
                 });
}

// A denying header match in an earlier entry leaves no edits behind for the entry that decides.
TEST(CompiledPolicyHttp, EditsComeOnlyFromTheDecidingEntry) {
  Policy p;
  p.rules.push_back(
      httpRule("web", {
                          http("GET", "/", "", {},
                               {{.name = "A", .value = "1", .mismatch = MismatchAction::kAdd},
                                {.name = "B", .value = "1", .mismatch = MismatchAction::kDeny}}),
                          http("GET", "/", "", {},
                               {{.name = "C", .value = "1", .mismatch = MismatchAction::kReplace}}),
                      }));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  expectVerdicts(*policy, kWeb,
                 {
                     {"second entry decides",
                      {"GET", "/"},
                      true,
                      "web",
                      {{HeaderEdit::Op::kReplace, "C", "1"}},
                      {"C"}},
                     {"first entry decides",
                      {"GET", "/", "h", {{"B", "1"}}},
                      true,
                      "web",
                      {{HeaderEdit::Op::kAdd, "A", "1"}},
                      {"A"}},
                 });
}

TEST(CompiledPolicyFlow, OtherDirectionPortProtocolAndCidrsAreIgnored) {
  Policy p;
  Rule narrow = httpRule("narrow", {http("GET", "/narrow")});
  narrow.selector.source_cidrs = cidrs({"198.18.1.0/24", "2001:db8:1::/48"});
  narrow.selector.destination_cidrs = cidrs({"198.18.2.0/24"});
  narrow.selector.interfaces = {"veth+"};  // datapath only
  narrow.selector.uids = {1000};           // datapath only
  p.rules.push_back(narrow);
  p.rules.push_back(httpRule("ingress", {http("GET", "/in")}, 80, Direction::kIngress));
  p.rules.push_back(httpRule("alt-port", {http("GET", "/alt")}, 8080));
  Rule udp = httpRule("udp", {http("GET", "/udp")});
  udp.selector.ports = {{80, Protocol::kUdp}};
  p.rules.push_back(udp);
  Rule any = httpRule("any-proto", {http("GET", "/any")});
  any.selector.ports = {{80, Protocol::kAny}, {81, Protocol::kTcp}, {80, Protocol::kTcp}};
  any.selector.destination_cidrs = cidrs({"198.18.0.0/15", "2001:db8::/32"});
  p.rules.push_back(any);
  p.rules.push_back(dnsRule("dns", {}, {"*"}));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);

  struct Case {
    Flow flow;
    L7Protocol l7;
    std::vector<std::string> rules;
  };
  const Case cases[] = {
      {flow("198.18.1.10", "198.18.2.20", 80), L7Protocol::kHttp, {"narrow", "any-proto"}},
      {flow("198.18.9.10", "198.18.2.20", 80), L7Protocol::kHttp, {"any-proto"}},
      {flow("198.18.1.10", "198.18.3.20", 80), L7Protocol::kHttp, {"any-proto"}},
      {flow("198.18.1.10", "203.0.113.1", 80), L7Protocol::kHttp, {}},
      {flow("198.18.1.10", "198.18.2.20", 80, Protocol::kUdp),
       L7Protocol::kHttp,
       {"udp", "any-proto"}},
      {flow("198.18.1.10", "198.18.2.20", 81), L7Protocol::kHttp, {"any-proto"}},
      {flow("198.18.1.10", "198.18.2.20", 8080), L7Protocol::kHttp, {"alt-port"}},
      {flow("198.18.1.10", "198.18.2.20", 80, Protocol::kTcp, Direction::kIngress),
       L7Protocol::kHttp,
       {"ingress"}},
      {flow("2001:db8:1::5", "2001:db8:2::1", 80), L7Protocol::kHttp, {"any-proto"}},
      // Source and destination are judged independently (no real flow mixes families).
      {flow("2001:db8:1::5", "198.18.2.20", 80), L7Protocol::kHttp, {"narrow", "any-proto"}},
      {flow("2001:db8:2::5", "198.18.2.20", 80), L7Protocol::kHttp, {"any-proto"}},
      {flow("::ffff:198.18.1.10", "::ffff:198.18.2.20", 80),
       L7Protocol::kHttp,
       {"narrow", "any-proto"}},
      {flow("198.18.1.10", "198.18.2.20", 80), L7Protocol::kDns, {}},
      {flow("198.18.1.10", "198.18.2.20", 53, Protocol::kUdp), L7Protocol::kDns, {"dns"}},
      {flow("198.18.1.10", "198.18.2.20", 53, Protocol::kTcp), L7Protocol::kDns, {"dns"}},
      {flow("198.18.1.10", "198.18.2.20", 53, Protocol::kAny), L7Protocol::kDns, {}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> names;
    for (const uint32_t i : policy->matchFlow(c.flow, c.l7).rules)
      names.push_back(policy->source().rules[i].name);
    EXPECT_EQ(names, c.rules) << c.flow.source.toString() << " -> " << c.flow.destination.toString()
                              << ":" << c.flow.port << " " << toString(c.flow.protocol);
  }

  // Verdicts only consult the rules that selected the flow.
  expectVerdicts(*policy, flow("198.18.9.10", "198.18.2.20", 80),
                 {
                     {"narrow's entry does not apply", {"GET", "/narrow"}, false, "any-proto"},
                     {"ingress entry does not apply", {"GET", "/in"}, false, "any-proto"},
                     {"alt-port entry does not apply", {"GET", "/alt"}, false, "any-proto"},
                     {"udp entry does not apply", {"GET", "/udp"}, false, "any-proto"},
                     {"own entry", {"GET", "/any"}, true, "any-proto"},
                 });
  expectVerdicts(*policy, kWeb, {{"narrow applies", {"GET", "/narrow"}, true, "narrow"}});
}

TEST(CompiledPolicyDns, VerdictsThroughFlows) {
  Policy p;
  p.rules.push_back(dnsRule("names", {"example.test", "Api.Example.Test."}, {"*.cdn.test"}));
  Rule narrow = dnsRule("narrow", {}, {"**.internal.test"});
  narrow.selector.source_cidrs = cidrs({"198.18.1.0/24"});
  p.rules.push_back(narrow);
  Rule all = dnsRule("all", {}, {});
  all.selector.ports = {{5353, Protocol::kUdp}};
  p.rules.push_back(all);
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  struct Case {
    Flow flow;
    const char* name;
    bool allowed;
    const char* rule;
  };
  const Flow inside = flow("198.18.1.10", "198.18.0.53", 53, Protocol::kUdp);
  const Flow outside = flow("198.18.7.10", "198.18.0.53", 53, Protocol::kTcp);
  const Case cases[] = {
      {inside, "example.test", true, "names"},
      {inside, "EXAMPLE.TEST.", true, "names"},
      {inside, "api.example.test", true, "names"},
      {inside, "www.example.test", false, "names"},
      {inside, "img.cdn.test", true, "names"},
      {inside, "a.b.cdn.test", false, "names"},
      {inside, "a.b.internal.test", true, "narrow"},
      {outside, "a.b.internal.test", false, "names"},
      {outside, "img.cdn.test", true, "names"},
      {flow("198.18.1.10", "198.18.0.53", 5353, Protocol::kUdp), "anything.at.all", true, "all"},
      {flow("198.18.1.10", "198.18.0.53", 5353, Protocol::kTcp), "anything.at.all", false, ""},
  };
  for (const Case& c : cases) {
    const NameVerdict v = policy->dns(c.flow, c.name);
    EXPECT_EQ(v.allowed, c.allowed) << c.name;
    EXPECT_EQ(v.rule, c.rule) << c.name;
  }
}

TEST(CompiledPolicyTls, ServerNamesAndInterception) {
  Policy p;
  Rule sni = rule("sni", L7Protocol::kTls, {{443, Protocol::kTcp}});
  sni.tls.push_back({.server_names = {"api.example.test", "*.cdn.example.test"}, .where = {}});
  p.rules.push_back(sni);
  Rule inspect = rule("inspect", L7Protocol::kTls, {{443, Protocol::kTcp}});
  inspect.selector.destination_cidrs = cidrs({"198.18.2.0/24"});
  inspect.terminating_tls = TerminatingTls{
      .certificate = {}, .private_key = {}, .ca_certificate = "ca.crt", .ca_key = "ca.key"};
  inspect.http = {http("GET", "/v1/.*")};
  p.rules.push_back(inspect);
  // A plain HTTP rule on the same port number must not leak into TLS judgements.
  p.rules.push_back(httpRule("plain", {http("POST", "/v1/x")}, 443));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);

  const Flow elsewhere = flow("198.18.1.10", "198.18.9.9", 443);
  const Flow inspected = flow("198.18.1.10", "198.18.2.20", 443);
  struct Case {
    Flow flow;
    const char* sni;
    bool allowed;
    const char* rule;
  };
  const Case cases[] = {
      {elsewhere, "api.example.test", true, "sni"},
      {elsewhere, "API.Example.Test", true, "sni"},
      {elsewhere, "img.cdn.example.test", true, "sni"},
      {elsewhere, "a.b.cdn.example.test", false, "sni"},
      {elsewhere, "example.test", false, "sni"},
      {elsewhere, "", false, "sni"},
      {inspected, "api.example.test", true, "sni"},
      {inspected, "anything.test", true, "inspect"},
      {inspected, "", false, "sni"},
  };
  for (const Case& c : cases) {
    const NameVerdict v = policy->tls(c.flow, c.sni);
    EXPECT_EQ(v.allowed, c.allowed) << c.sni;
    EXPECT_EQ(v.rule, c.rule) << c.sni;
  }

  // Decrypted requests are judged by the intercepting rule's http entries.
  const FlowRules tls_rules = policy->matchFlow(inspected, L7Protocol::kTls);
  EXPECT_TRUE(policy->http(tls_rules, Request{"GET", "/v1/a"}.view()).allowed);
  EXPECT_EQ(policy->http(tls_rules, Request{"GET", "/v1/a"}.view()).rule, "inspect");
  EXPECT_FALSE(policy->http(tls_rules, Request{"POST", "/v1/x"}.view()).allowed);
  EXPECT_FALSE(
      policy->http(policy->matchFlow(elsewhere, L7Protocol::kTls), Request{"GET", "/v1/a"}.view())
          .allowed);
  EXPECT_TRUE(
      policy->http(policy->matchFlow(inspected, L7Protocol::kHttp), Request{"POST", "/v1/x"}.view())
          .allowed);
}

TEST(CompiledPolicyTls, InterceptionWithoutHttpEntriesAllowsEveryRequest) {
  Policy p;
  Rule inspect = rule("inspect", L7Protocol::kTls, {{443, Protocol::kTcp}});
  inspect.terminating_tls = TerminatingTls{
      .certificate = "c.pem", .private_key = "k.pem", .ca_certificate = {}, .ca_key = {}};
  p.rules.push_back(inspect);
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  const FlowRules rules =
      policy->matchFlow(flow("198.18.1.10", "198.18.2.20", 443), L7Protocol::kTls);
  EXPECT_TRUE(policy->tls(rules, "any.test").allowed);
  EXPECT_TRUE(policy->http(rules, Request{"DELETE", "/x"}.view()).allowed);
}

TEST(CompiledPolicyCompile, ErrorsCarryTheEntryLocation) {
  Policy p;
  // The method of the bad entry parses, its path does not; later entries still index safely.
  HttpRule bad_path = http("GET", "/(unclosed");
  bad_path.where = {"policy.yaml", 12, 15};
  HttpRule bad_host = http("PUT", "/", "[z-a]");
  bad_host.where = {"policy.yaml", 14, 9};
  p.rules.push_back(httpRule("web", {http("HEAD", "/"), bad_path, http("POST", "/ok"), bad_host}));
  Rule dns = dnsRule("dns", {}, {"*.example.test"});
  p.rules.push_back(dns);
  const auto compiled = CompiledPolicy::compile(p);
  EXPECT_FALSE(compiled.ok());
  EXPECT_FALSE(compiled.value.has_value());
  ASSERT_EQ(compiled.errors.size(), 2u);
  EXPECT_EQ(compiled.errors[0].where, (SourceLocation{"policy.yaml", 12, 15}));
  EXPECT_NE(compiled.errors[0].message.find("http path"), std::string::npos)
      << compiled.errors[0].message;
  EXPECT_EQ(compiled.errors[1].where, (SourceLocation{"policy.yaml", 14, 9}));
  EXPECT_NE(compiled.errors[1].message.find("http host"), std::string::npos)
      << compiled.errors[1].message;
}

TEST(CompiledPolicyCompile, SourceIsKeptAndEmptyPolicyDeniesEverything) {
  Policy p;
  p.rules.push_back(httpRule("web", {http("GET", "/")}));
  const auto policy = compileOrFail(p);
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->source().rules.at(0).name, "web");
  const auto empty = compileOrFail(Policy{});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->matchFlow(kWeb, L7Protocol::kHttp).empty());
  EXPECT_FALSE(empty->http(kWeb, Request{}.view()).allowed);
  EXPECT_FALSE(empty->dns(flow("198.18.1.1", "198.18.0.53", 53, Protocol::kUdp), "a.test").allowed);
}

}  // namespace
}  // namespace portcullis::policy
