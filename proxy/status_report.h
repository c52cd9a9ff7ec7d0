// What /status answers (issue 6): the daemon's state as plain values, gathered by the daemon
// (the only place that sees the datapath, the listeners and the policy files), and its JSON.
// `portcullis status` reads this JSON; field names are documented in README.md "Admin endpoint".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::proxy {

struct StatusReport {
  struct PolicyFile {
    std::string path;
    std::string sha256;  // empty when the file could not be read; `error` says why
    std::string error;
  };
  struct Rule {
    std::string name;
    std::string direction;  // egress | ingress
    std::string protocol;   // http | dns | tls
  };
  struct Listener {
    std::string name;
    std::string direction;
    std::string protocol;   // http | dns | tls
    std::string transport;  // tcp | tcp+udp
    uint16_t port = 0;
    uint32_t mark = 0;
    bool open = false;      // a proxy serves it (TLS may not be served by this build)
    uint64_t allowed = 0;
    uint64_t denied = 0;
    uint64_t parse_errors = 0;
    uint64_t upstream_failures = 0;
    uint64_t active_connections = 0;
  };
  struct LearnedName {
    std::string name;
    std::vector<std::string> addresses;
  };

  std::string version;
  std::string started_at;  // RFC 3339, UTC
  uint64_t uptime_seconds = 0;
  uint64_t policy_generation = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  std::vector<PolicyFile> policy_files;
  std::vector<Rule> rules;
  std::vector<Listener> listeners;
  bool datapath_installed = false;
  std::string iptables_backend;
  uint64_t datapath_repairs = 0;
  uint64_t reconcile_failures = 0;
  std::optional<std::string> last_repair;  // RFC 3339, UTC; absent: never
  std::optional<std::string> last_check;
  uint64_t learned_names_count = 0;
  std::vector<LearnedName> learned_names;  // at most kMaxLearnedNamesListed
  bool healthy = false;
};

inline constexpr size_t kMaxLearnedNamesListed = 1000;

std::string toJson(const StatusReport& report);
// "0x779b0200"
std::string formatMark(uint32_t mark);
// RFC 3339 with seconds, UTC: "2026-11-27T05:03:14Z".
std::string formatUtc(std::chrono::system_clock::time_point at);

}  // namespace portcullis::proxy
