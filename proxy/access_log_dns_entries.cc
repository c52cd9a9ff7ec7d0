#include "proxy/access_log_dns_entries.h"

#include <algorithm>
#include <vector>

namespace portcullis::proxy {

AccessLogDnsEntries::AccessLogDnsEntries(std::shared_ptr<AccessLog> log, std::string listener,
                                         size_t max_pending)
    : log_(std::move(log)), listener_(std::move(listener)), max_pending_(std::max<size_t>(max_pending, 1)) {}

namespace {

// Spare nodes kept at most: a burst beyond it allocates again.
constexpr size_t kMaxSpareNodes = 4096;

}  // namespace

// A 64-bit digest of (ID, type, name) instead of a copy of the name: two distinct queries in
// flight share a key with odds of about 2^-64, and would then only swap their client fields.
uint64_t AccessLogDnsEntries::keyOf(const DnsMessage& query) {
  uint64_t h = std::hash<std::string_view>{}(query.question.name);
  h ^= (uint64_t{query.header.id} << 16 | query.question.type) * 0x9e3779b97f4a7c15ull;
  // splitmix64's finalizer: a bijection that spreads the bits over the buckets.
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

AccessLogDnsEntries::PendingMap::node_type AccessLogDnsEntries::take(const DnsMessage& query) {
  const auto it = pending_.find(keyOf(query));
  if (it == pending_.end()) return {};
  return pending_.extract(it);
}

void AccessLogDnsEntries::recycle(PendingMap::node_type node) {
  node.mapped().policy.reset();  // a spare node must not keep an old policy alive
  if (spare_.size() < kMaxSpareNodes) spare_.push_back(std::move(node));
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
  Pending entry{flow, client_port, std::move(policy), rule, std::chrono::system_clock::now()};
  if (spare_.empty()) {
    pending_.emplace(keyOf(query), std::move(entry));
    return;
  }
  PendingMap::node_type node = std::move(spare_.back());
  spare_.pop_back();
  node.key() = keyOf(query);
  node.mapped() = std::move(entry);
  pending_.insert(std::move(node));
}

void AccessLogDnsEntries::answered(const DnsMessage& query, std::span<const uint8_t> answer,
                                   std::span<const DnsLearnedAddress> addresses) {
  PendingMap::node_type node = take(query);
  if (node.empty()) return;
  const Pending& p = node.mapped();
  const auto header = parseDnsHeader(answer);
  std::vector<IpAddress>& ips = answer_addresses_;
  ips.clear();
  int64_t ttl = -1;
  for (const auto& a : addresses) {
    ips.push_back(a.address);
    ttl = ttl < 0 ? a.ttl : std::min<int64_t>(ttl, a.ttl);
  }
  emit(p.flow, p.client_port, p.time, &query, p.rule, AccessVerdict::kForwarded,
       header ? header->rcode() : -1, ips, ttl, {});
  recycle(std::move(node));
}

void AccessLogDnsEntries::failed(const DnsMessage& query, bool timed_out) {
  PendingMap::node_type node = take(query);
  if (node.empty()) return;
  const Pending& p = node.mapped();
  emit(p.flow, p.client_port, p.time, &query, p.rule, AccessVerdict::kError,
       static_cast<int>(DnsRcode::kServFail), {}, -1,
       timed_out ? "upstream timed out" : "upstream failed");
  recycle(std::move(node));
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
