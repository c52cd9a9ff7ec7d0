// The access-log records of one DNS gate (one executor of a DnsProxy, so no locks): a query the
// proxy answers itself (denied, over max-in-flight, malformed) is logged at once; a forwarded
// one is remembered until the gate sees its answer or failure, whose rcode, A/AAAA addresses and
// TTL complete the record. Forwarded queries are found again by (ID, type, name), as the
// answer's query carries them; the flow and client port come from the remembered entry. The
// entries' map nodes are reused, so a query allocates nothing here once the map has grown.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/compiled_policy.h"
#include "proxy/access_log.h"
#include "proxy/dns_message.h"
#include "proxy/policy_store.h"

namespace portcullis::proxy {

class AccessLogDnsEntries {
 public:
  // At most `max_pending` forwarded queries are remembered (max-in-flight bounds them anyway).
  AccessLogDnsEntries(std::shared_ptr<AccessLog> log, std::string listener, size_t max_pending);

  // Answered by the proxy: REFUSED/NXDOMAIN (denied), SERVFAIL over the limit, FORMERR/NOTIMP
  // for a query that did not parse (`query` null: only its rcode is known).
  void answeredLocally(const policy::Flow& flow, uint16_t client_port, const DnsMessage* query,
                       std::string_view rule, AccessVerdict verdict, DnsRcode rcode,
                       std::string_view info = {});
  // `policy` keeps `rule` (a view into it) alive until the answer.
  void forwarded(const policy::Flow& flow, uint16_t client_port, const DnsMessage& query,
                 PolicyStore::Pointer policy, std::string_view rule);
  void answered(const DnsMessage& query, std::span<const uint8_t> answer,
                std::span<const DnsLearnedAddress> addresses);
  void failed(const DnsMessage& query, bool timed_out);

  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    policy::Flow flow;
    uint16_t client_port = 0;
    PolicyStore::Pointer policy;
    std::string_view rule;
    std::chrono::system_clock::time_point time;
  };

  using PendingMap = std::unordered_multimap<uint64_t, Pending>;

  static uint64_t keyOf(const DnsMessage& query);
  // Takes the entry of `query` out of the map; empty when there is none.
  PendingMap::node_type take(const DnsMessage& query);
  void recycle(PendingMap::node_type node);
  void emit(const policy::Flow& flow, uint16_t client_port, std::chrono::system_clock::time_point time,
            const DnsMessage* query, std::string_view rule, AccessVerdict verdict, int rcode,
            std::span<const IpAddress> answers, int64_t ttl, std::string_view info);

  const std::shared_ptr<AccessLog> log_;
  const std::string listener_;
  const size_t max_pending_;
  PendingMap pending_;
  std::vector<PendingMap::node_type> spare_;  // nodes of answered queries, for the next ones
  std::vector<IpAddress> answer_addresses_;   // answered()'s, its capacity reused
};

}  // namespace portcullis::proxy
