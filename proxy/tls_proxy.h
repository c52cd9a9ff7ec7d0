// The TLS listener of the daemon (portcullis-tls-egress, issue 7): its transparent acceptors on
// every bind address and I/O context (TransparentListener, as HTTP and DNS over TCP), the
// TlsSessions they start (SNI passthrough), their counters, and shutdown.
//
//   TlsProxy tls(pool, tlsProxyOptions(config, port), policies);
//   tls.start();  // then SIGHUP: policies.store(newly compiled)
//   tls.shutdown(grace, [&] { ... });
//
// Lifetime: as HttpProxy (the IoPool and the PolicyStore outlive the sessions).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/duration.h"
#include "common/result.h"
#include "proxy/http_counters.h"
#include "proxy/io_pool.h"
#include "proxy/policy_store.h"
#include "proxy/tcp_front.h"
#include "proxy/tls_counters.h"
#include "proxy/tls_proxy_options.h"

namespace portcullis::proxy {

class TlsProxyContext;

class TlsProxy {
 public:
  TlsProxy(IoPool& pool, TlsProxyOptions options, PolicyStore& policies);
  ~TlsProxy();  // stops accepting; sessions end with the pool
  TlsProxy(const TlsProxy&) = delete;
  TlsProxy& operator=(const TlsProxy&) = delete;

  // Binds every endpoint of options.bind on one port (the first one's, or the kernel's pick for
  // port 0) and starts accepting. EADDRINUSE when the port is taken.
  Result<void> start();
  std::vector<Tcp::endpoint> endpoints() const { return front_.endpoints(); }
  uint16_t port() const { return front_.port(); }

  void stopAccepting();
  // Stops accepting, resets connections still peeking, lets relays go on for up to `grace`, then
  // resets them. `done` runs once no session is left, on an I/O thread.
  void shutdown(Duration grace, std::function<void()> done);

  TlsCountersSnapshot counters() const;
  // The HTTP requests inside intercepted connections (terminatingTLS).
  HttpCountersSnapshot interceptedHttpCounters() const;
  uint32_t activeConnections() const;

 private:
  std::shared_ptr<TlsProxyContext> context_;
  TcpFront front_;
};

}  // namespace portcullis::proxy
