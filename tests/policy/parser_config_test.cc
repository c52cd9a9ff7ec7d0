// parseConfig: defaults, SPEC.md's example, relative policy-files, and every config error class
// at its exact line and column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "policy/parser.h"

namespace portcullis::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string lines(std::initializer_list<std::string_view> l) {
  std::string out;
  for (std::string_view s : l) (out += s) += '\n';
  return out;
}

std::string dump(const std::vector<Diagnostic>& errors) {
  std::string out;
  for (const auto& d : errors) out += "\n  " + d.toString();
  return out;
}

struct Expected {
  int line;
  int column;
  std::string fragment;
};

struct Case {
  const char* name;
  std::string yaml;
  std::vector<Expected> errors;
};

const std::vector<Case>& errorCases() {
  static const std::vector<Case> cases = {
      {"missing policy-files",
       lines({"proxy: {}"}),
       {{1, 1, "missing required key 'policy-files' at the top level"}}},
      {"empty policy-files",
       lines({"policy-files: []"}),
       {{1, 15, "policy-files: expected at least one policy file"}}},
      {"policy-files is a string",
       lines({"policy-files: policy.yaml"}),
       {{1, 15, "policy-files: expected a list, got 'policy.yaml'"}}},
      {"policy file listed twice",
       lines({"policy-files: [a.yaml, ./a.yaml, \"\"]"}),
       {{1, 24, "policy-files[1]: './a.yaml' is listed twice"},
        {1, 34, "policy-files[2]: expected a non-empty string"}}},
      {"unknown keys",
       lines({"proxy:", "  listen: 1", "  limits: {max-body: 1}", "datapath: {mark: 0x200}",
              "policy-files: [p.yaml]", "policies: []"}),
       {{2, 3,
         "unknown key 'listen' in proxy; allowed: port-range, bind-v4, bind-v6, admin, "
         "access-log, preserve-source, limits, dns"},
        {3, 12,
         "unknown key 'max-body' in proxy.limits; allowed: max-connections, "
         "header-timeout, idle-timeout, max-header-bytes"},
        {4, 12,
         "unknown key 'mark' in datapath; allowed: ipv6, route-table, rule-priority, "
         "reconcile-interval, iptables"},
        {6, 1,
         "unknown key 'policies' at the top level; allowed: proxy, datapath, policy-files, "
         "policy-watch"}}},
      {"port-range shapes",
       lines({"proxy:", "  port-range: [10000, 10003]", "policy-files: [p.yaml]"}),
       {{2, 15,
         "proxy.port-range: expected FIRST <= LAST and at least 5 ports (one per "
         "listener), got 10000..10003"}}},
      {"port-range reversed",
       lines({"proxy: {port-range: [20000, 10000]}", "policy-files: [p.yaml]"}),
       {{1, 21, "got 20000..10000"}}},
      {"port-range of three",
       lines({"proxy: {port-range: [1, 2, 3]}", "policy-files: [p.yaml]"}),
       {{1, 21, "proxy.port-range: expected two ports [FIRST, LAST], got 3 items"}}},
      {"port-range out of range",
       lines({"proxy: {port-range: [0, 70000]}", "policy-files: [p.yaml]"}),
       {{1, 22, "proxy.port-range[0]: 0 is out of range 1..65535"},
        {1, 25, "proxy.port-range[1]: 70000 is out of range 1..65535"}}},
      {"bind addresses of the wrong family",
       lines({"proxy:", "  bind-v4: \"::1\"", "  bind-v6: 127.0.0.1", "policy-files: [p.yaml]"}),
       {{2, 12, "proxy.bind-v4: expected an IPv4 address, got '::1'"},
        {3, 12, "proxy.bind-v6: expected an IPv6 address, got '127.0.0.1'"}}},
      {"several documents",
       lines({"policy-files: [p.yaml]", "---", "policy-files: [q.yaml]"}),
       {{2, 1, "expected one YAML document, found another"}}},
      {"admin without brackets",
       lines({"proxy: {admin: \"::1:9964\"}", "policy-files: [p.yaml]"}),
       {{1, 16,
         "proxy.admin: expected IPV4:PORT or [IPV6]:PORT like 127.0.0.1:9964 or "
         "[::1]:9964, or off, got '::1:9964'"}}},
      {"admin Off is not off",
       lines({"proxy: {admin: Off}", "policy-files: [p.yaml]"}),
       {{1, 16, "or off, got 'Off'"}}},
      {"admin empty",
       lines({"proxy: {admin: \"\"}", "policy-files: [p.yaml]"}),
       {{1, 16, "proxy.admin: expected"}}},
      {"admin host name",
       lines({"proxy: {admin: \"localhost:9964\"}", "policy-files: [p.yaml]"}),
       {{1, 16, "got 'localhost:9964'"}}},
      {"admin port 0",
       lines({"proxy: {admin: \"127.0.0.1:0\"}", "policy-files: [p.yaml]"}),
       {{1, 16, "got '127.0.0.1:0'"}}},
      {"access-log empty",
       lines({"proxy: {access-log: \"\"}", "policy-files: [p.yaml]"}),
       {{1, 21, "proxy.access-log: expected a non-empty string"}}},
      {"booleans",
       lines({"proxy: {preserve-source: yes}", "datapath: {ipv6: 1}", "policy-files: [p.yaml]",
              "policy-watch: [true]"}),
       {{1, 26, "proxy.preserve-source: expected true or false, got 'yes'"},
        {2, 18, "datapath.ipv6: expected true or false, got '1'"},
        {4, 15, "policy-watch: expected true or false, got a list"}}},
      {"durations",
       lines({"proxy:", "  limits: {header-timeout: 10, idle-timeout: 0s}",
              "  dns: {upstream-timeout: 5 s}", "datapath: {reconcile-interval: 1d}",
              "policy-files: [p.yaml]"}),
       {{2, 28,
         "proxy.limits.header-timeout: expected a duration like 300ms, 10s, 5m or 1h, "
         "got '10'"},
        {2, 46, "proxy.limits.idle-timeout: must be longer than 0"},
        {3, 27,
         "proxy.dns.upstream-timeout: expected a duration like 300ms, 10s, 5m or 1h, "
         "got '5 s'"},
        {4, 32, "datapath.reconcile-interval: expected a duration"}}},
      {"limits ranges",
       lines({"proxy:", "  limits: {max-connections: 0, max-header-bytes: 1000}",
              "  dns: {max-in-flight: -1, reject: drop}", "policy-files: [p.yaml]"}),
       {{2, 29, "proxy.limits.max-connections: 0 is out of range 1..4294967295"},
        {2, 50, "proxy.limits.max-header-bytes: 1000 is out of range 1024..16777216"},
        {3, 24, "proxy.dns.max-in-flight: expected an integer in 1..4294967295, got '-1'"},
        {3, 36, "proxy.dns.reject: expected one of refused|nxdomain, got 'drop'"}}},
      {"iptables backend",
       lines({"datapath: {iptables: iptables}", "policy-files: [p.yaml]"}),
       {{1, 22, "datapath.iptables: expected one of auto|nft|legacy, got 'iptables'"}}},
      {"kernel route tables",
       lines({"datapath: {route-table: 253}", "datapath: {route-table: 255}",
              "policy-files: [p.yaml]"}),
       {{1, 25,
         "datapath.route-table: 253 is a kernel table (253 default, 254 main, 255 "
         "local); pick another, e.g. 2004"},
        {2, 1, "duplicate key 'datapath'"}}},
      {"main route table",
       lines({"datapath:", "  route-table: 254", "policy-files: [p.yaml]"}),
       {{2, 16, "datapath.route-table: 254 is a kernel table"}}},
      {"route-table 0 and 2^32",
       lines({"datapath: {route-table: 0, rule-priority: 0}", "datapath: {route-table: 1}",
              "policy-files: [p.yaml]"}),
       {{1, 25, "datapath.route-table: 0 is out of range 1..4294967295"},
        {1, 43, "datapath.rule-priority: 0 is out of range 1..32765"},
        {2, 1, "duplicate key 'datapath' at the top level (first at line 1)"}}},
      {"route-table too large and rule-priority 32766",
       lines(
           {"datapath: {route-table: 4294967296, rule-priority: 32766}", "policy-files: [p.yaml]"}),
       {{1, 25, "datapath.route-table: 4294967296 is out of range 1..4294967295"},
        {1, 52, "datapath.rule-priority: 32766 is out of range 1..32765"}}},
      {"proxy is a list",
       lines({"proxy: [1]", "policy-files: [p.yaml]"}),
       {{1, 8, "proxy: expected a map, got a list"}}},
  };
  return cases;
}

TEST(ConfigParserTest, EveryErrorClassIsReportedAtItsLineAndColumn) {
  for (const Case& c : errorCases()) {
    SCOPED_TRACE(c.name);
    const Parsed<Config> parsed = parseConfig(c.yaml, "c.yaml");
    EXPECT_FALSE(parsed.ok());
    EXPECT_FALSE(parsed.value.has_value());
    ASSERT_EQ(parsed.errors.size(), c.errors.size()) << dump(parsed.errors);
    for (std::size_t i = 0; i < c.errors.size(); ++i) {
      SCOPED_TRACE(parsed.errors[i].toString());
      EXPECT_EQ(parsed.errors[i].where.file, "c.yaml");
      EXPECT_EQ(parsed.errors[i].where.line, c.errors[i].line);
      EXPECT_EQ(parsed.errors[i].where.column, c.errors[i].column);
      EXPECT_THAT(parsed.errors[i].message, HasSubstr(c.errors[i].fragment));
    }
  }
}

TEST(ConfigParserTest, MinimalConfigTakesTheDefaults) {
  const Parsed<Config> parsed =
      parseConfig("policy-files: [policy.yaml]\n", "/etc/portcullis/c.yaml");
  ASSERT_TRUE(parsed.ok()) << dump(parsed.errors);
  const Config& c = *parsed.value;
  const Config defaults;
  EXPECT_EQ(c.file, "/etc/portcullis/c.yaml");
  EXPECT_THAT(c.policy_files, ElementsAre("/etc/portcullis/policy.yaml"));
  EXPECT_FALSE(c.policy_watch);
  EXPECT_EQ(c.proxy.port_range_first, 10000);
  EXPECT_EQ(c.proxy.port_range_last, 20000);
  EXPECT_EQ(c.proxy.bind_v4.toString(), "127.0.0.1");
  EXPECT_EQ(c.proxy.bind_v6.toString(), "::1");
  EXPECT_TRUE(c.proxy.admin_enabled);
  EXPECT_EQ(c.proxy.admin_host, "127.0.0.1");
  EXPECT_EQ(c.proxy.admin_port, 9964);
  EXPECT_EQ(c.proxy.access_log, "-");
  EXPECT_FALSE(c.proxy.preserve_source);
  EXPECT_EQ(c.proxy.limits.max_connections, 100000u);
  EXPECT_EQ(c.proxy.limits.header_timeout, 10s);
  EXPECT_EQ(c.proxy.limits.idle_timeout, 300s);
  EXPECT_EQ(c.proxy.limits.max_header_bytes, 65536u);
  EXPECT_EQ(c.proxy.dns.reject, DnsReject::kRefused);
  EXPECT_EQ(c.proxy.dns.upstream_timeout, 5s);
  EXPECT_EQ(c.proxy.dns.max_in_flight, 10000u);
  EXPECT_TRUE(c.datapath.ipv6);
  EXPECT_EQ(c.datapath.route_table, 2004u);
  EXPECT_EQ(c.datapath.rule_priority, 9u);
  EXPECT_EQ(c.datapath.reconcile_interval, 10s);
  EXPECT_EQ(c.datapath.iptables, IptablesBackend::kAuto);
}

TEST(ConfigParserTest, EveryKeyIsRead) {
  const std::string yaml = lines({
      "proxy:",
      "  port-range: [30000, 30004]",
      "  bind-v4: 198.18.0.1",
      "  bind-v6: \"2001:db8::1\"",
      "  admin: \"[::1]:9000\"",
      "  access-log: /var/log/portcullis.jsonl",
      "  preserve-source: true",
      "  limits: {max-connections: 10, header-timeout: 300ms, idle-timeout: 5m, "
      "max-header-bytes: 0x2000}",
      "  dns: {reject: nxdomain, upstream-timeout: 2s, max-in-flight: 7}",
      "datapath:",
      "  ipv6: false",
      "  route-table: 100",
      "  rule-priority: 32765",
      "  reconcile-interval: 1h",
      "  iptables: legacy",
      "policy-files: [/abs/a.yaml, b.yaml, ../c.yaml, ./d/e.yaml]",
      "policy-watch: TRUE",
  });
  const Parsed<Config> parsed = parseConfig(yaml, "conf/portcullis.yaml");
  ASSERT_TRUE(parsed.ok()) << dump(parsed.errors);
  const Config& c = *parsed.value;
  EXPECT_EQ(c.proxy.port_range_first, 30000);
  EXPECT_EQ(c.proxy.port_range_last, 30004);
  EXPECT_EQ(c.proxy.bind_v4.toString(), "198.18.0.1");
  EXPECT_EQ(c.proxy.bind_v6.toString(), "2001:db8::1");
  EXPECT_TRUE(c.proxy.admin_enabled);
  EXPECT_EQ(c.proxy.admin_host, "::1");
  EXPECT_EQ(c.proxy.admin_port, 9000);
  EXPECT_EQ(c.proxy.access_log, "/var/log/portcullis.jsonl");
  EXPECT_TRUE(c.proxy.preserve_source);
  EXPECT_EQ(c.proxy.limits.max_connections, 10u);
  EXPECT_EQ(c.proxy.limits.header_timeout, 300ms);
  EXPECT_EQ(c.proxy.limits.idle_timeout, 5min);
  EXPECT_EQ(c.proxy.limits.max_header_bytes, 8192u);
  EXPECT_EQ(c.proxy.dns.reject, DnsReject::kNxdomain);
  EXPECT_EQ(c.proxy.dns.upstream_timeout, 2s);
  EXPECT_EQ(c.proxy.dns.max_in_flight, 7u);
  EXPECT_FALSE(c.datapath.ipv6);
  EXPECT_EQ(c.datapath.route_table, 100u);
  EXPECT_EQ(c.datapath.rule_priority, 32765u);
  EXPECT_EQ(c.datapath.reconcile_interval, 1h);
  EXPECT_EQ(c.datapath.iptables, IptablesBackend::kLegacy);
  EXPECT_TRUE(c.policy_watch);
  // Relative entries are resolved against the config file's folder, lexically.
  EXPECT_THAT(c.policy_files, ElementsAre("/abs/a.yaml", "conf/b.yaml", "c.yaml", "conf/d/e.yaml"));
}

TEST(ConfigParserTest, ConfigInTheWorkingDirectoryKeepsRelativePolicyFiles) {
  const Parsed<Config> parsed = parseConfig("policy-files: [p.yaml]\n", "c.yaml");
  ASSERT_TRUE(parsed.ok()) << dump(parsed.errors);
  EXPECT_THAT(parsed.value->policy_files, ElementsAre("p.yaml"));
}

TEST(ConfigParserTest, AdminOffTurnsTheEndpointOff) {
  const Parsed<Config> parsed =
      parseConfig("proxy: {admin: off, access-log: off}\npolicy-files: [p.yaml]\n", "c.yaml");
  ASSERT_TRUE(parsed.ok()) << dump(parsed.errors);
  EXPECT_FALSE(parsed.value->proxy.admin_enabled);
  EXPECT_EQ(parsed.value->proxy.access_log, "off");
  // Quoted, it is the same string.
  const Parsed<Config> quoted = parseConfig("proxy: {admin: \"off\"}\npolicy-files: [p.yaml]\n", "c.yaml");
  ASSERT_TRUE(quoted.ok()) << dump(quoted.errors);
  EXPECT_FALSE(quoted.value->proxy.admin_enabled);
}

TEST(ConfigParserTest, AccessLogAcceptsDashAndOff) {
  for (const char* value : {"\"-\"", "off", "/tmp/a.log"}) {
    const Parsed<Config> parsed = parseConfig(
        std::string("proxy: {access-log: ") + value + "}\npolicy-files: [p.yaml]\n", "c.yaml");
    ASSERT_TRUE(parsed.ok()) << value << dump(parsed.errors);
  }
}

}  // namespace
}  // namespace portcullis::policy
