// The config file (SPEC.md "Config file"). Policy files are in parser.cc.
#include <charconv>
#include <filesystem>
#include <set>
#include <string>
#include <utility>

#include "policy/parser.h"
#include "policy/yaml_reader.h"

namespace portcullis::policy {
namespace {

// One port per listener: http, dns, tls egress and http, dns ingress.
constexpr uint64_t kMinPortRange = 5;

class ConfigReader {
 public:
  explicit ConfigReader(std::string_view file) : yaml_(file) {}
  Parsed<Config> read(std::string_view text);

 private:
  void proxy(const YamlValue& v, ProxyConfig& p);
  void portRange(const YamlValue& v, ProxyConfig& p);
  std::optional<IpAddress> address(const YamlValue& v, Family family);
  void admin(const YamlValue& v, ProxyConfig& p);
  void limits(const YamlValue& v, Limits& l);
  void dns(const YamlValue& v, DnsOptions& d);
  void datapath(const YamlValue& v, DatapathConfig& d);
  void policyFiles(const YamlValue& v, Config& c);

  template <class T>
  void set(const YamlMap& m, const char* key, T& out,
           std::optional<T> (YamlReader::*reader)(const YamlValue&)) {
    if (const YamlValue* v = m.find(key)) out = (yaml_.*reader)(*v).value_or(out);
  }
  template <class T>
  void setInt(const YamlMap& m, const char* key, T& out, uint64_t min, uint64_t max) {
    if (const YamlValue* v = m.find(key)) {
      if (auto n = yaml_.integer(*v, min, max)) out = static_cast<T>(*n);
    }
  }

  YamlReader yaml_;
};

Parsed<Config> ConfigReader::read(std::string_view text) {
  Parsed<Config> out;
  Config c;
  c.file = yaml_.file();
  if (auto doc = yaml_.load(text)) {
    if (auto m = yaml_.map(*doc, {"proxy", "datapath", "policy-files", "policy-watch"})) {
      if (const YamlValue* v = m->find("proxy")) proxy(*v, c.proxy);
      if (const YamlValue* v = m->find("datapath")) datapath(*v, c.datapath);
      if (auto v = yaml_.required(*m, "policy-files")) policyFiles(*v, c);
      set(*m, "policy-watch", c.policy_watch, &YamlReader::boolean);
    }
  }
  out.errors = yaml_.takeErrors();
  if (out.errors.empty()) out.value = std::move(c);
  return out;
}

void ConfigReader::proxy(const YamlValue& v, ProxyConfig& p) {
  auto m = yaml_.map(v, {"port-range", "bind-v4", "bind-v6", "admin", "access-log",
                         "preserve-source", "limits", "dns"});
  if (!m) return;
  if (const YamlValue* x = m->find("port-range")) portRange(*x, p);
  if (const YamlValue* x = m->find("bind-v4"))
    p.bind_v4 = address(*x, Family::kV4).value_or(p.bind_v4);
  if (const YamlValue* x = m->find("bind-v6"))
    p.bind_v6 = address(*x, Family::kV6).value_or(p.bind_v6);
  if (const YamlValue* x = m->find("admin")) admin(*x, p);
  set(*m, "access-log", p.access_log, &YamlReader::nonEmptyString);
  set(*m, "preserve-source", p.preserve_source, &YamlReader::boolean);
  if (const YamlValue* x = m->find("limits")) limits(*x, p.limits);
  if (const YamlValue* x = m->find("dns")) dns(*x, p.dns);
}

void ConfigReader::portRange(const YamlValue& v, ProxyConfig& p) {
  auto items = yaml_.list(v);
  if (!items) return;
  if (items->size() != 2) {
    yaml_.error(v.where, v.path + ": expected two ports [FIRST, LAST], got " +
                             std::to_string(items->size()) + " items");
    return;
  }
  auto first = yaml_.integer((*items)[0], 1, 65535);
  auto last = yaml_.integer((*items)[1], 1, 65535);
  if (!first || !last) return;
  if (*first > *last || *last - *first + 1 < kMinPortRange) {
    yaml_.error(v.where, v.path +
                             ": expected FIRST <= LAST and at least 5 ports (one per "
                             "listener), got " +
                             std::to_string(*first) + ".." + std::to_string(*last));
    return;
  }
  p.port_range_first = static_cast<uint16_t>(*first);
  p.port_range_last = static_cast<uint16_t>(*last);
}

std::optional<IpAddress> ConfigReader::address(const YamlValue& v, Family family) {
  auto text = yaml_.string(v);
  if (!text) return std::nullopt;
  auto a = IpAddress::parse(*text);
  if (!a || a->family() != family) {
    yaml_.error(v.where, v.path + ": expected an " + (family == Family::kV4 ? "IPv4" : "IPv6") +
                             " address, got " + excerpt(*text));
    return std::nullopt;
  }
  return a;
}

void ConfigReader::admin(const YamlValue& v, ProxyConfig& p) {
  auto text = yaml_.string(v);
  if (!text) return;
  const std::string_view s = *text;
  if (s == "off") {
    p.admin_enabled = false;
    return;
  }
  std::string_view host;
  std::string_view port;
  bool shape_ok = false;
  if (s.starts_with('[')) {
    const auto close = s.find("]:");
    shape_ok = close != std::string_view::npos;
    if (shape_ok) {
      host = s.substr(1, close - 1);
      port = s.substr(close + 2);
    }
  } else {
    const auto colon = s.rfind(':');
    shape_ok = colon != std::string_view::npos;
    if (shape_ok) {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
  }
  const auto address = IpAddress::parse(host);
  // An IPv6 address must be bracketed, or its last group would read as the port.
  const bool host_ok = address && (address->isV4() != s.starts_with('['));
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  const bool port_ok = !port.empty() && ec == std::errc{} && end == port.data() + port.size() &&
                       number >= 1 && number <= 65535;
  if (!shape_ok || !host_ok || !port_ok) {
    yaml_.error(v.where, v.path +
                             ": expected IPV4:PORT or [IPV6]:PORT like 127.0.0.1:9964 or "
                             "[::1]:9964, or off, got " +
                             excerpt(*text));
    return;
  }
  p.admin_host = std::string(host);
  p.admin_port = static_cast<uint16_t>(number);
}

void ConfigReader::limits(const YamlValue& v, Limits& l) {
  auto m = yaml_.map(v, {"max-connections", "header-timeout", "idle-timeout", "max-header-bytes"});
  if (!m) return;
  setInt(*m, "max-connections", l.max_connections, 1, 0xffffffff);
  set(*m, "header-timeout", l.header_timeout, &YamlReader::positiveDuration);
  set(*m, "idle-timeout", l.idle_timeout, &YamlReader::positiveDuration);
  // A request line and a Host header need room; 16 MiB per connection is already generous.
  setInt(*m, "max-header-bytes", l.max_header_bytes, 1024, 16 << 20);
}

void ConfigReader::dns(const YamlValue& v, DnsOptions& d) {
  auto m = yaml_.map(v, {"reject", "upstream-timeout", "max-in-flight"});
  if (!m) return;
  if (const YamlValue* x = m->find("reject")) {
    d.reject = yaml_
                   .choice<DnsReject>(
                       *x, {{"refused", DnsReject::kRefused}, {"nxdomain", DnsReject::kNxdomain}})
                   .value_or(d.reject);
  }
  set(*m, "upstream-timeout", d.upstream_timeout, &YamlReader::positiveDuration);
  setInt(*m, "max-in-flight", d.max_in_flight, 1, 0xffffffff);
}

void ConfigReader::datapath(const YamlValue& v, DatapathConfig& d) {
  auto m = yaml_.map(v, {"ipv6", "route-table", "rule-priority", "reconcile-interval", "iptables"});
  if (!m) return;
  set(*m, "ipv6", d.ipv6, &YamlReader::boolean);
  if (const YamlValue* x = m->find("route-table")) {
    if (auto table = yaml_.integer(*x, 1, 0xffffffff)) {
      // rt_tables(5): 253 default, 254 main, 255 local belong to the kernel's own routing.
      if (*table >= 253 && *table <= 255) {
        yaml_.error(x->where, x->path + ": " + std::to_string(*table) +
                                  " is a kernel table (253 default, 254 main, 255 local); "
                                  "pick another, e.g. 2004");
      } else {
        d.route_table = static_cast<uint32_t>(*table);
      }
    }
  }
  // 0 is the local table's rule; 32766 and 32767 are main's and default's.
  setInt(*m, "rule-priority", d.rule_priority, 1, 32765);
  set(*m, "reconcile-interval", d.reconcile_interval, &YamlReader::positiveDuration);
  if (const YamlValue* x = m->find("iptables")) {
    d.iptables = yaml_
                     .choice<IptablesBackend>(*x, {{"auto", IptablesBackend::kAuto},
                                                   {"nft", IptablesBackend::kNft},
                                                   {"legacy", IptablesBackend::kLegacy}})
                     .value_or(d.iptables);
  }
}

void ConfigReader::policyFiles(const YamlValue& v, Config& c) {
  auto items = yaml_.list(v);
  if (!items) return;
  if (items->empty()) {
    yaml_.error(v.where, v.path + ": expected at least one policy file");
    return;
  }
  const std::filesystem::path folder = std::filesystem::path(c.file).parent_path();
  std::set<std::string> seen;
  for (const YamlValue& item : *items) {
    auto text = yaml_.nonEmptyString(item);
    if (!text) continue;
    std::filesystem::path path(*text);
    if (path.is_relative() && !folder.empty()) path = folder / path;
    std::string resolved = path.lexically_normal().string();
    if (!seen.insert(resolved).second) {
      yaml_.error(item.where, item.path + ": " + excerpt(*text) + " is listed twice");
      continue;
    }
    c.policy_files.push_back(std::move(resolved));
  }
}

}  // namespace

Parsed<Config> parseConfig(std::string_view text, std::string_view file) {
  return ConfigReader(file).read(text);
}

}  // namespace portcullis::policy
