// The policy and config as written, after parsing and validation: plain data, no behaviour.
// Only policy/parser.* knows the YAML syntax; policy/compiled_policy.* turns a Policy into
// matchers. Field names follow SPEC.md ("Config file", "Policy file").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/duration.h"
#include "common/ip_address.h"

namespace portcullis::policy {

// Where a value stood in its file; 1-based, as printed in FILE:LINE:COLUMN.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  auto operator<=>(const SourceLocation&) const = default;
};

enum class Direction : uint8_t { kEgress, kIngress };
enum class Protocol : uint8_t { kTcp, kUdp, kAny };  // kAny: TCP and UDP

const char* toString(Direction d);
const char* toString(Protocol p);

struct PortProtocol {
  uint16_t port = 0;  // 1..65535
  Protocol protocol = Protocol::kTcp;
  auto operator<=>(const PortProtocol&) const = default;
};

// Which packets are redirected to a direction's proxy. Empty lists mean "any".
// interfaces/cgroups/uids narrow the redirection in the datapath only: the proxy cannot see
// them and judges a flow by its addresses and port.
struct Selector {
  std::vector<std::string> interfaces;  // iptables -i syntax ("veth+")
  std::vector<Cidr> source_cidrs;
  std::vector<Cidr> destination_cidrs;
  std::vector<PortProtocol> ports;      // at least one
  std::vector<std::string> cgroups;     // local processes (OUTPUT path)
  std::vector<uint32_t> uids;           // local processes (OUTPUT path)
};

enum class MismatchAction : uint8_t { kDeny, kLog, kAdd, kDelete, kReplace };  // kDeny: absent

struct HeaderMatch {
  std::string name;
  std::string value;  // empty: the header must be present (any value)
  MismatchAction mismatch = MismatchAction::kDeny;
};

// One entry of a rule's `http` list; empty strings match anything. Fields are ANDed.
struct HttpRule {
  std::string method;  // RE2, anchored
  std::string path;    // RE2, anchored, on the request target (path and query)
  std::string host;    // RE2, anchored, case-insensitive, on Host without port
  std::vector<std::string> headers;  // "Name: value" or "Name"
  std::vector<HeaderMatch> header_matches;
  SourceLocation where;
};

// One entry of a rule's `dns` list: exactly one of the two is set.
struct DnsRule {
  std::string match_name;
  std::string match_pattern;
  SourceLocation where;
};

struct TlsRule {
  std::vector<std::string> server_names;  // exact names or "*." patterns
  SourceLocation where;
};

// terminatingTLS: either certificate+private_key, or ca_certificate+ca_key (mint per SNI).
struct TerminatingTls {
  std::string certificate;
  std::string private_key;
  std::string ca_certificate;
  std::string ca_key;
};

struct OriginatingTls {
  std::string ca_bundle;  // empty: the system bundle
};

// Which listener a rule's traffic goes to, derived from its L7 section.
enum class L7Protocol : uint8_t { kHttp, kDns, kTls };
const char* toString(L7Protocol p);

struct Rule {
  std::string name;
  Direction direction = Direction::kEgress;
  Selector selector;
  L7Protocol l7 = L7Protocol::kHttp;
  std::vector<HttpRule> http;  // l7 == kHttp, or kTls with terminating_tls
  std::vector<DnsRule> dns;    // l7 == kDns
  std::vector<TlsRule> tls;    // l7 == kTls (SNI allow-list); empty with interception
  std::optional<TerminatingTls> terminating_tls;
  std::optional<OriginatingTls> originating_tls;
  SourceLocation where;
};

struct Policy {
  std::vector<Rule> rules;  // in file order, files in the order given
};

enum class DnsReject : uint8_t { kRefused, kNxdomain };
enum class IptablesBackend : uint8_t { kAuto, kNft, kLegacy };

struct Limits {
  uint32_t max_connections = 100000;
  Duration header_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(300);
  uint32_t max_header_bytes = 65536;
};

struct DnsOptions {
  DnsReject reject = DnsReject::kRefused;
  Duration upstream_timeout = std::chrono::seconds(5);
  uint32_t max_in_flight = 10000;
};

struct ProxyConfig {
  uint16_t port_range_first = 10000;
  uint16_t port_range_last = 20000;
  IpAddress bind_v4 = IpAddress::v4(0x7f000001);           // 127.0.0.1
  IpAddress bind_v6 = *IpAddress::parse("::1");
  bool admin_enabled = true;  // proxy.admin: off -> false (no endpoint, no latency histograms)
  std::string admin_host = "127.0.0.1";
  uint16_t admin_port = 9964;
  std::string access_log = "-";  // path, "-" (stdout) or "off"
  bool preserve_source = false;
  Limits limits;
  DnsOptions dns;
};

struct DatapathConfig {
  bool ipv6 = true;
  uint32_t route_table = 2004;
  uint32_t rule_priority = 9;
  Duration reconcile_interval = std::chrono::seconds(10);
  IptablesBackend iptables = IptablesBackend::kAuto;
};

struct Config {
  std::string file;  // the config file's path, as given
  ProxyConfig proxy;
  DatapathConfig datapath;
  std::vector<std::string> policy_files;  // resolved relative to the config file's folder
  bool policy_watch = false;
};

}  // namespace portcullis::policy
