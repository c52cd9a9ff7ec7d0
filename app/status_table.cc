// GCC 12 with -fsanitize=address,undefined reports -Wmaybe-uninitialized inside std::regex and
// boost::optional (property_tree's get<T>): false positives in library code, not in ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "app/status_table.h"

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <cstdio>
#include <sstream>

namespace portcullis::app {

namespace {

using Tree = boost::property_tree::ptree;

// printf into a std::string, for fixed-width columns.
template <class... Args>
void line(std::string& out, const char* format, Args... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, args...);
  out += buf;
  out += '\n';
}

std::string str(const Tree& t, const char* path) { return t.get<std::string>(path, "-"); }

}  // namespace

Result<std::string> statusTable(std::string_view json) {
  Tree t;
  try {
    std::istringstream in{std::string(json)};
    boost::property_tree::read_json(in, t);
  } catch (const boost::property_tree::json_parser_error&) {
    return std::make_error_code(std::errc::bad_message);
  }
  if (!t.get_child_optional("listeners") || !t.get_child_optional("policy")) {
    return std::make_error_code(std::errc::bad_message);
  }
  std::string out;
  line(out, "%s, up %ss since %s, %s", str(t, "version").c_str(), str(t, "uptime_seconds").c_str(),
       str(t, "started_at").c_str(),
       t.get<bool>("healthy", false) ? "healthy" : "UNHEALTHY");
  const std::string last_repair = str(t, "datapath.last_repair");
  line(out, "datapath: %s (iptables %s), %s repairs, last repair %s, last check %s",
       t.get<bool>("datapath.installed", false) ? "installed" : "NOT installed",
       str(t, "datapath.iptables").c_str(), str(t, "datapath.repairs").c_str(),
       last_repair == "null" ? "never" : last_repair.c_str(), str(t, "datapath.last_check").c_str());
  line(out, "policy: generation %s, reloads %s ok / %s failed", str(t, "policy.generation").c_str(),
       str(t, "policy.reloads_ok").c_str(), str(t, "policy.reloads_failed").c_str());
  for (const auto& [unused, f] : t.get_child("policy.files")) {
    const std::string digest = str(f, "sha256");
    line(out, "  %s  %s", digest.empty() ? str(f, "error").c_str() : digest.c_str(),
         str(f, "path").c_str());
  }
  out += '\n';
  line(out, "%-26s %-8s %-5s %-8s %6s %-11s %-5s %10s %10s %8s %8s %7s", "LISTENER", "DIR", "L7",
       "PROTO", "PORT", "MARK", "OPEN", "ALLOWED", "DENIED", "PARSEERR", "UPFAIL", "ACTIVE");
  for (const auto& [unused, l] : t.get_child("listeners")) {
    line(out, "%-26s %-8s %-5s %-8s %6s %-11s %-5s %10s %10s %8s %8s %7s", str(l, "name").c_str(),
         str(l, "direction").c_str(), str(l, "protocol").c_str(), str(l, "transport").c_str(),
         str(l, "port").c_str(), str(l, "mark").c_str(), l.get<bool>("open", false) ? "yes" : "no",
         str(l, "counters.allowed").c_str(), str(l, "counters.denied").c_str(),
         str(l, "counters.parse_errors").c_str(), str(l, "counters.upstream_failures").c_str(),
         str(l, "counters.active_connections").c_str());
  }
  out += '\n';
  line(out, "%-32s %-8s %s", "RULE", "DIR", "L7");
  if (const auto rules = t.get_child_optional("policy.rules")) {
    for (const auto& [unused, r] : *rules) {
      line(out, "%-32s %-8s %s", str(r, "name").c_str(), str(r, "direction").c_str(),
           str(r, "protocol").c_str());
    }
  }
  out += '\n';
  line(out, "dns: %s learned names", str(t, "dns.learned_names").c_str());
  return out;
}

}  // namespace portcullis::app
