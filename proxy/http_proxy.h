// An HTTP listener of the daemon (portcullis-http-egress or -ingress): its transparent acceptors
// on every bind address and I/O context, the sessions they start, their counters, and the
// shutdown of SPEC.md/issue 4 (stop accepting, finish in-flight exchanges, reset the rest).
//
// Threading, chosen by measurement: IoPool::Model::kContextPerThread; the numbers are in
// http_proxy.cc.
//
// Use from the daemon:
//   IoPool pool(threads, IoPool::Model::kContextPerThread);
//   HttpProxy egress(pool, httpProxyOptions(config, Direction::kEgress, port), policies);
//   egress.start();  pool.start();            // then SIGHUP: policies.store(newly compiled)
//   egress.shutdown(grace, [&] { ... });       // on SIGTERM; then pool.stop(), pool.join()
//
// Lifetime: the IoPool and the PolicyStore must outlive the proxy's sessions, i.e. stop the
// pool's threads (after shutdown()) before destroying either.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/result.h"
#include "proxy/http_counters.h"
#include "proxy/http_proxy_options.h"
#include "proxy/io_pool.h"
#include "proxy/policy_store.h"
#include "proxy/tcp_front.h"

namespace portcullis::proxy {

class HttpProxyContext;

class HttpProxy {
 public:
  HttpProxy(IoPool& pool, HttpProxyOptions options, PolicyStore& policies);
  ~HttpProxy();  // stops accepting; sessions end with the pool
  HttpProxy(const HttpProxy&) = delete;
  HttpProxy& operator=(const HttpProxy&) = delete;

  // Binds every endpoint of options.bind (on one port: the first one's, or the one the kernel
  // picks for port 0) and starts accepting. Errors name the endpoint's errno.
  Result<void> start();
  // The bound endpoints, one per bind address.
  std::vector<Tcp::endpoint> endpoints() const { return front_.endpoints(); }
  uint16_t port() const { return front_.port(); }
  const HttpProxyOptions& options() const;

  void stopAccepting();
  // Stops accepting, resets idle connections, lets exchanges in flight finish (their responses
  // say Connection: close) for up to `grace`, then resets whatever is left: no socket with an
  // original destination's 4-tuple stays in TIME_WAIT to make the kernel drop a later SYN.
  // `done` runs once no session is left, on an I/O thread.
  void shutdown(Duration grace, std::function<void()> done);

  HttpCountersSnapshot counters() const;
  uint32_t activeConnections() const;

 private:
  std::shared_ptr<HttpProxyContext> context_;
  TcpFront front_;
};

}  // namespace portcullis::proxy
