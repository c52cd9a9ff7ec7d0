#include "proxy/access_log_dns_entries.h"

#include <algorithm>
#include <vector>

namespace portcullis::proxy {

AccessLogDnsEntries::AccessLogDnsEntries(std::shared_ptr<AccessLog> log, std::string listener,
                                         size_t max_pending)
    : log_(std::move(log)), listener_(std::move(listener)), max_pending_(std::max<size_t>(max_pending, 1)) {}

std::string AccessLogDnsEntries::keyOf(const DnsMessage& query) {
  std::string key = query.question.name;
  const uint16_t id = query.header.id;
  const uint16_t type = query.question.type;
  key += static_cast<char>(id >> 8);
  key += static_cast<char>(id & 0xff);
  key += static_cast<char>(type >> 8);
  key += static_cast<char>(type & 0xff);
  return key;
}

void AccessLogDnsEntries::answeredLocally(const policy::Flow& flow, uint16_t client_port,
                                          const DnsMessage* query, std::string_view rule,
                                          AccessVerdict verdict, DnsRcode rcode,
                                          std::string_view info) {
  emit(flow, client_port, std::chrono::system_clock::now(), query, rule, verdict,
       static_cast<int>(rcode), {}, -1, info);
}

void AccessLogDnsEntries::forwarded(const policy::Flow& flow, uint16_t client_port,
                                    const DnsMessage& query, PolicyStore::Pointer policy,
                                    std::string_view rule) {
  // Only a listener closed with queries in flight leaves entries behind; never let them pile up.
  if (pending_.size() >= max_pending_) pending_.clear();
  pending_.emplace(keyOf(query), Pending{flow, client_port, std::move(policy), rule,
                                         std::chrono::system_clock::now()});
}

void AccessLogDnsEntries::answered(const DnsMessage& query, std::span<const uint8_t> answer,
                                   std::span<const DnsLearnedAddress> addresses) {
  const auto it = pending_.find(keyOf(query));
  if (it == pending_.end()) return;
  const Pending p = std::move(it->second);
  pending_.erase(it);
  const auto header = parseDnsHeader(answer);
  std::vector<IpAddress> ips;
  ips.reserve(addresses.size());
  int64_t ttl = -1;
  for (const auto& a : addresses) {
    ips.push_back(a.address);
    ttl = ttl < 0 ? a.ttl : std::min<int64_t>(ttl, a.ttl);
  }
  emit(p.flow, p.client_port, p.time, &query, p.rule, AccessVerdict::kForwarded,
       header ? header->rcode() : -1, ips, ttl, {});
}

void AccessLogDnsEntries::failed(const DnsMessage& query, bool timed_out) {
  const auto it = pending_.find(keyOf(query));
  if (it == pending_.end()) return;
  const Pending p = std::move(it->second);
  pending_.erase(it);
  emit(p.flow, p.client_port, p.time, &query, p.rule, AccessVerdict::kError,
       static_cast<int>(DnsRcode::kServFail), {}, -1,
       timed_out ? "upstream timed out" : "upstream failed");
}

void AccessLogDnsEntries::emit(const policy::Flow& flow, uint16_t client_port,
                               std::chrono::system_clock::time_point time, const DnsMessage* query,
                               std::string_view rule, AccessVerdict verdict, int rcode,
                               std::span<const IpAddress> answers, int64_t ttl,
                               std::string_view info) {
  AccessRecord r;
  r.time = time;
  r.direction = flow.direction;
  r.verdict = verdict;
  r.protocol = AccessProtocol::kDns;
  r.rule = rule;
  r.listener = listener_;
  r.source = {flow.source, client_port};
  r.destination = {flow.destination, flow.port};
  r.dns.query = query ? std::string_view(query->question.name) : std::string_view{};
  r.dns.type = query ? query->question.type : 0;
  r.dns.rcode = rcode;
  r.dns.answers = answers;
  r.dns.ttl = ttl;
  r.dns.tcp = flow.protocol == policy::Protocol::kTcp;
  r.info = info;
  log_->log(r);
}

}  // namespace portcullis::proxy
