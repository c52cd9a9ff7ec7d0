// The transport-independent half of the DNS proxy: what to do with a client's message (SPEC.md
// "Verdicts on the wire"), the max-in-flight bound, what to learn from an upstream's answer, and
// the counters. The UDP and TCP sessions only move bytes around it. One gate per executor of a
// DnsProxy: it is only used from that executor (its state needs no locks).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "policy/compiled_policy.h"
#include "proxy/access_log_dns_entries.h"
#include "proxy/dns_counters.h"
#include "proxy/dns_learn_throttle.h"
#include "proxy/dns_message.h"
#include "proxy/dns_name_cache.h"
#include "proxy/dns_verdict_cache.h"
#include "proxy/policy_store.h"

namespace portcullis::proxy {

class DnsPolicyGate;

// A forwarded query's place under proxy.dns.max-in-flight, given back when destroyed. The gate
// must outlive it: sessions hold the gate by shared_ptr.
class DnsInFlightSlot {
 public:
  DnsInFlightSlot() = default;
  DnsInFlightSlot(DnsInFlightSlot&& other) noexcept
      : gate_(std::exchange(other.gate_, nullptr)), started_(other.started_) {}
  DnsInFlightSlot& operator=(DnsInFlightSlot&& other) noexcept;
  DnsInFlightSlot(const DnsInFlightSlot&) = delete;
  DnsInFlightSlot& operator=(const DnsInFlightSlot&) = delete;
  ~DnsInFlightSlot() { reset(); }
  void reset();
  explicit operator bool() const { return gate_ != nullptr; }

 private:
  friend class DnsPolicyGate;
  explicit DnsInFlightSlot(DnsPolicyGate* gate)
      : gate_(gate), started_(LatencyHistogram::start()) {}
  DnsPolicyGate* gate_ = nullptr;
  // A slot lives from forwarding to the answer or failure: the upstream latency histogram.
  std::chrono::steady_clock::time_point started_;
};

struct DnsDecision {
  enum class Kind : uint8_t {
    kDrop,     // not even a header, or a response: nothing to answer
    kAnswer,   // send `answer` back (denied, malformed, over the limit)
    kForward,  // allowed: send the client's bytes to the original destination
  };
  Kind kind = Kind::kDrop;
  std::vector<uint8_t> answer;
  DnsMessage query;      // when the question parsed
  DnsInFlightSlot slot;  // kForward
};

// What a session remembers of the policy between the queries of one flow (a TCP connection):
// matchFlow runs again only when a new policy was stored.
struct DnsFlowMemo {
  PolicyStore::Pointer policy;
  uint64_t generation = 0;
  policy::FlowRules rules;
  uint16_t client_port = 0;  // for the access log
};

// One judged query, for the access log.
struct DnsQueryEvent {
  const policy::Flow& flow;
  std::string_view name;
  uint16_t type = 0;
  bool allowed = false;
  std::string_view rule;  // the deciding rule; empty when no rule selects the flow
};

class DnsPolicyGate {
 public:
  using Observer = std::function<void(const DnsQueryEvent&)>;

  // `names` may be null (nothing learned); `access_log` null: off.
  DnsPolicyGate(const PolicyStore& policy, policy::DnsOptions options,
                std::shared_ptr<DnsNameCache> names, Observer observer = {},
                std::shared_ptr<AccessLog> access_log = nullptr, std::string listener = {});
  DnsPolicyGate(const DnsPolicyGate&) = delete;
  DnsPolicyGate& operator=(const DnsPolicyGate&) = delete;

  // For a UDP datagram: the flow is judged afresh. `client_port` is for the access log. The
  // question's presentation name is left empty when nothing needed it (a verdict from the
  // cache, no access log, no observer); fillDnsPresentationName makes it when wanted.
  DnsDecision judge(const policy::Flow& flow, std::span<const uint8_t> message,
                    uint16_t client_port = 0);
  // For one query of a TCP connection: the flow's rules are kept in `memo`.
  DnsDecision judge(const policy::Flow& flow, std::span<const uint8_t> message, DnsFlowMemo& memo);

  // The upstream's answer to a forwarded query, relayed to the client as it is. Without the
  // access log, an answer to a question whose answer was read for learning less than a second
  // ago is not parsed again (DnsLearnThrottle).
  void answered(const DnsMessage& query, std::span<const uint8_t> answer);
  // SERVFAIL for a forwarded query whose upstream failed or timed out.
  std::vector<uint8_t> failed(const DnsMessage& query, bool timed_out);

  const policy::DnsOptions& options() const { return options_; }
  DnsCounters& counters() { return counters_; }
  const DnsCounters& counters() const { return counters_; }
  uint32_t inFlight() const { return in_flight_.load(std::memory_order_relaxed); }
  const DnsVerdictCache& verdictCache() const { return verdicts_; }

 private:
  friend class DnsInFlightSlot;

  // `rules` null: a datagram's flow, judged through the verdict cache.
  DnsDecision decide(const policy::Flow& flow, std::span<const uint8_t> message,
                     const PolicyStore::Pointer& policy, const policy::FlowRules* rules,
                     uint16_t client_port);
  // Null when the question's name cannot be expanded (malformed).
  const policy::NameVerdict* datagramVerdict(const policy::Flow& flow, DnsQuestion& question);
  DnsDecision malformed(std::span<const uint8_t> message, std::error_code why);
  void logAnswer(const policy::Flow& flow, uint16_t client_port, const DnsDecision& d,
                 std::string_view rule, AccessVerdict verdict, std::string_view info = {});

  const PolicyStore& policy_;
  const policy::DnsOptions options_;
  const std::shared_ptr<DnsNameCache> names_;
  const Observer observer_;
  const std::unique_ptr<AccessLogDnsEntries> log_;  // null: the access log is off
  DnsCounters counters_;
  // Written by the gate's one executor, read by status from any thread.
  std::atomic<uint32_t> in_flight_{0};
  // The UDP path's cached policy: refreshed per datagram with one atomic load.
  PolicyStore::Pointer udp_policy_;
  uint64_t udp_generation_ = 0;
  std::vector<DnsLearnedAddress> learned_;  // answered()'s, its capacity reused
  DnsLearnThrottle learn_throttle_;
  policy::NameVerdict fresh_verdict_;       // datagramVerdict()'s on a cache miss
  DnsVerdictCache verdicts_;                // of udp_policy_: cleared when it changes
};

}  // namespace portcullis::proxy
