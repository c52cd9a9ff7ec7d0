// The policy in force: immutable matchers compiled once at load time, shared by every session
// through std::shared_ptr<const CompiledPolicy>. A reload builds a new one and swaps the pointer.
//
// Verdict cost does not grow linearly with the number of rules: selectors are indexed by
// (direction, port, protocol) and CIDR tries, and the regexes of all HTTP entries are matched
// together with RE2::Set.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "policy/diagnostic.h"
#include "policy/model.h"

namespace portcullis::policy {

// A redirected flow as the proxy sees it. protocol is kTcp or kUdp, never kAny.
struct Flow {
  Direction direction = Direction::kEgress;
  IpAddress source;
  IpAddress destination;
  uint16_t port = 0;  // destination port
  Protocol protocol = Protocol::kTcp;
};

// The rules whose selector matches a flow, for one L7 protocol. Computed once per connection
// (or datagram) and reused for each request on it. Indexes into CompiledPolicy's rules.
struct FlowRules {
  std::vector<uint32_t> rules;  // ascending
  bool empty() const { return rules.empty(); }
};

struct HeaderView {
  std::string_view name;
  std::string_view value;
};

struct HttpRequestView {
  std::string_view method;
  std::string_view target;  // path and query, as on the request line
  std::string_view host;    // Host header without port
  std::span<const HeaderView> headers;
};

struct HeaderEdit {
  enum class Op : uint8_t { kAdd, kDelete, kReplace };
  Op op = Op::kAdd;
  std::string name;
  std::string value;
  auto operator<=>(const HeaderEdit&) const = default;
};

// Names point into the CompiledPolicy, which must outlive the verdict.
struct HttpVerdict {
  bool allowed = false;
  // Allowed: the rule of the deciding entry. Denied: the first rule that selected the flow
  // (for logs and metrics), or empty when no rule selected it.
  std::string_view rule;
  std::vector<HeaderEdit> edits;       // to apply before forwarding (headerMatches mismatches)
  std::vector<std::string> mismatches; // headerMatches names that mismatched (LOG and the rest)
};

struct NameVerdict {  // DNS question names and TLS server names
  bool allowed = false;
  std::string_view rule;  // as HttpVerdict::rule
};

class CompiledPolicy {
 public:
  // Compiles a validated policy; errors (e.g. a regex set too large) carry the entry's location.
  static Parsed<std::shared_ptr<const CompiledPolicy>> compile(const Policy& policy);
  ~CompiledPolicy();
  CompiledPolicy(const CompiledPolicy&) = delete;
  CompiledPolicy& operator=(const CompiledPolicy&) = delete;

  const Policy& source() const;
  FlowRules matchFlow(const Flow& flow, L7Protocol l7) const;

  // The first `http` entry, in policy order, of the flow's rules that matches the request
  // decides. For kTls flows, the entries of the rules with terminating_tls judge the decrypted
  // requests (an empty list there allows all of them).
  HttpVerdict http(const FlowRules& rules, const HttpRequestView& request) const;
  // Allowed when a `dns` entry of the flow's rules matches; an empty list allows every name.
  NameVerdict dns(const FlowRules& rules, std::string_view question_name) const;
  // Allowed when a server name of the flow's rules matches (DNS name semantics); an empty SNI
  // is denied; a rule without a `tls` list allows every SNI (interception or visibility only).
  NameVerdict tls(const FlowRules& rules, std::string_view server_name) const;

  // Conveniences for a single request.
  HttpVerdict http(const Flow& flow, const HttpRequestView& request) const {
    return http(matchFlow(flow, L7Protocol::kHttp), request);
  }
  NameVerdict dns(const Flow& flow, std::string_view question_name) const {
    return dns(matchFlow(flow, L7Protocol::kDns), question_name);
  }
  NameVerdict tls(const Flow& flow, std::string_view server_name) const {
    return tls(matchFlow(flow, L7Protocol::kTls), server_name);
  }

 private:
  struct Impl;
  explicit CompiledPolicy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace portcullis::policy
