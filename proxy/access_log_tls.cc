#include "proxy/access_log_tls.h"

#include <chrono>

namespace portcullis::proxy {

void logTlsVerdict(AccessLog* log, const TlsVerdictRecord& v) {
  if (log == nullptr) return;
  AccessRecord r;
  r.time = std::chrono::system_clock::now();
  r.direction = v.flow.direction;
  r.verdict = v.verdict;
  r.protocol = AccessProtocol::kTls;
  r.rule = v.rule;
  r.listener = v.listener;
  r.source = {v.flow.source, v.client_port};
  r.destination = {v.flow.destination, v.flow.port};
  r.tls.sni = v.sni;
  r.info = v.info;
  log->log(r);
}

}  // namespace portcullis::proxy
