// The access-log record of one TLS connection (issue 6): written once, at its verdict, by the
// TlsSession (the SNI allowed and relayed, or the connection reset). A connection that was reset
// before it was judged (the client gave up, a loop) is not a verdict and is not logged.
#pragma once

#include <string_view>

#include "policy/compiled_policy.h"
#include "proxy/access_log.h"

namespace portcullis::proxy {

struct TlsVerdictRecord {
  std::string_view listener;  // "portcullis-tls-egress"
  const policy::Flow& flow;   // direction, addresses and destination port
  uint16_t client_port = 0;
  AccessVerdict verdict = AccessVerdict::kDenied;
  std::string_view rule;  // the deciding (or first selecting) rule; empty: none selected the flow
  std::string_view sni;   // empty: the ClientHello carried none
  std::string_view info;  // why, for a reset
};

// Formats and queues the record; nothing when `log` is null (proxy.access-log: off).
void logTlsVerdict(AccessLog* log, const TlsVerdictRecord& record);

}  // namespace portcullis::proxy
