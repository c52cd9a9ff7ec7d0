#include "proxy/dns_policy_gate.h"

#include "common/log.h"
#include "proxy/dns_response.h"

namespace portcullis::proxy {

DnsInFlightSlot& DnsInFlightSlot::operator=(DnsInFlightSlot&& other) noexcept {
  if (this != &other) {
    reset();
    gate_ = std::exchange(other.gate_, nullptr);
    started_ = other.started_;
  }
  return *this;
}

void DnsInFlightSlot::reset() {
  if (gate_ == nullptr) return;
  gate_->counters_.upstream_latency.observeSince(started_);
  auto& in_flight = std::exchange(gate_, nullptr)->in_flight_;
  in_flight.store(in_flight.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

DnsPolicyGate::DnsPolicyGate(const PolicyStore& policy, policy::DnsOptions options,
                             std::shared_ptr<DnsNameCache> names, Observer observer,
                             std::shared_ptr<AccessLog> access_log, std::string listener)
    : policy_(policy),
      options_(options),
      names_(std::move(names)),
      observer_(std::move(observer)),
      log_(access_log ? std::make_unique<AccessLogDnsEntries>(std::move(access_log),
                                                               std::move(listener),
                                                               options.max_in_flight)
                      : nullptr) {}

DnsDecision DnsPolicyGate::judge(const policy::Flow& flow, std::span<const uint8_t> message,
                                 uint16_t client_port) {
  if (policy_.refresh(udp_policy_, udp_generation_)) verdicts_.clear();
  return decide(flow, message, udp_policy_, nullptr, client_port);
}

DnsDecision DnsPolicyGate::judge(const policy::Flow& flow, std::span<const uint8_t> message,
                                 DnsFlowMemo& memo) {
  if (policy_.refresh(memo.policy, memo.generation)) {
    memo.rules =
        memo.policy ? memo.policy->matchFlow(flow, policy::L7Protocol::kDns) : policy::FlowRules{};
  }
  return decide(flow, message, memo.policy, &memo.rules, memo.client_port);
}

DnsDecision DnsPolicyGate::malformed(std::span<const uint8_t> message, std::error_code why) {
  bump(counters_.malformed);
  DnsDecision d;
  const auto header = parseDnsHeader(message);
  // A response is never answered: answering one could start a loop between two responders.
  if (!header || header->qr()) return d;
  d.kind = DnsDecision::Kind::kAnswer;
  d.answer = buildDnsHeaderAnswer(
      *header, why == DnsParseError::kNotImplemented ? DnsRcode::kNotImp : DnsRcode::kFormErr);
  return d;
}

DnsDecision DnsPolicyGate::decide(const policy::Flow& flow, std::span<const uint8_t> message,
                                  const PolicyStore::Pointer& policy,
                                  const policy::FlowRules* rules, uint16_t client_port) {
  // A datagram's name is judged through the verdict cache by its wire form; its presentation
  // form is made only for what needs it.
  const bool wire_only = rules == nullptr && !observer_ && !log_;
  auto parsed =
      parseDnsQuery(message, wire_only ? DnsNameForm::kWireOnly : DnsNameForm::kPresentation);
  DnsDecision d;
  // No policy loaded, or no rule selecting the flow: deny (SPEC.md "No matching rule: deny").
  policy::NameVerdict verdict;
  if (parsed) {
    d.query = std::move(parsed.value());
    if (policy && rules) {
      verdict = policy->dns(*rules, d.query.question.name);
    } else if (policy) {
      const policy::NameVerdict* v = datagramVerdict(flow, d.query.question);
      if (v == nullptr) parsed = DnsParseError::kBadName;
      if (v != nullptr) verdict = *v;
    }
  }
  if (!parsed) {
    d = malformed(message, parsed.error());
    if (log_ && d.kind == DnsDecision::Kind::kAnswer) {
      logAnswer(flow, client_port, d, {}, AccessVerdict::kError, "malformed query");
    }
    return d;
  }
  if (observer_) {
    observer_({flow, d.query.question.name, d.query.question.type, verdict.allowed, verdict.rule});
  }
  d.kind = DnsDecision::Kind::kAnswer;
  if (!verdict.allowed) {
    bump(counters_.denied);
    d.answer = buildDnsAnswer(d.query, options_.reject == policy::DnsReject::kNxdomain
                                           ? DnsRcode::kNxDomain
                                           : DnsRcode::kRefused);
    if (log_) logAnswer(flow, client_port, d, verdict.rule, AccessVerdict::kDenied);
    return d;
  }
  const uint32_t in_flight = in_flight_.load(std::memory_order_relaxed);
  if (in_flight >= options_.max_in_flight) {
    bump(counters_.over_limit);
    d.answer = buildDnsAnswer(d.query, DnsRcode::kServFail);
    if (log_) logAnswer(flow, client_port, d, verdict.rule, AccessVerdict::kError, "max-in-flight");
    return d;
  }
  bump(counters_.allowed);
  in_flight_.store(in_flight + 1, std::memory_order_relaxed);
  d.slot = DnsInFlightSlot(this);
  d.kind = DnsDecision::Kind::kForward;
  if (log_) log_->forwarded(flow, client_port, d.query, policy, verdict.rule);
  return d;
}

const policy::NameVerdict* DnsPolicyGate::datagramVerdict(const policy::Flow& flow,
                                                         DnsQuestion& question) {
  if (const policy::NameVerdict* cached = verdicts_.find(flow, question.wire_name)) return cached;
  if (!fillDnsPresentationName(question)) return nullptr;
  const policy::FlowRules rules = udp_policy_->matchFlow(flow, policy::L7Protocol::kDns);
  fresh_verdict_ = udp_policy_->dns(rules, question.name);
  verdicts_.store(flow, question.wire_name, fresh_verdict_);
  return &fresh_verdict_;
}

void DnsPolicyGate::logAnswer(const policy::Flow& flow, uint16_t client_port, const DnsDecision& d,
                              std::string_view rule, AccessVerdict verdict, std::string_view info) {
  const auto header = parseDnsHeader(d.answer);
  const DnsMessage* query = d.query.question.wire_name.empty() ? nullptr : &d.query;
  log_->answeredLocally(flow, client_port, query, rule, verdict,
                        static_cast<DnsRcode>(header ? header->rcode() : 0), info);
}

void DnsPolicyGate::answered(const DnsMessage& query, std::span<const uint8_t> answer) {
  if (!names_ && !log_) return;
  const bool addresses_asked =
      query.question.type == kDnsTypeA || query.question.type == kDnsTypeAaaa;
  if (!log_ && !addresses_asked) return;
  const auto now = DnsNameCache::Clock::now();
  if (!log_ && learn_throttle_.fresh(query.question, now)) return;
  std::vector<DnsLearnedAddress>& addresses = learned_;
  addresses.clear();
  if (addresses_asked) dnsAnswerAddresses(answer, addresses);
  if (names_ && !addresses.empty()) {
    learn_throttle_.note(query.question, now);
    if (!query.question.name.empty()) {
      names_->learn(query.question.name, addresses, now);
    } else if (auto name = dnsPresentationName(query.question.wire_name)) {
      names_->learn(*name, addresses, now);
    }
  }
  if (log_) log_->answered(query, answer, addresses);
}

std::vector<uint8_t> DnsPolicyGate::failed(const DnsMessage& query, bool timed_out) {
  bump(timed_out ? counters_.upstream_timeouts : counters_.upstream_failures);
  if (log_) log_->failed(query, timed_out);
  return buildDnsAnswer(query, DnsRcode::kServFail);
}

}  // namespace portcullis::proxy
