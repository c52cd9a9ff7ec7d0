// What the TCP proxies (HttpProxy, TlsProxy) do alike around their sessions: the transparent
// listeners, one per bind endpoint and I/O context of the pool, all on one port; and the end of
// a shutdown: drain every session now, reset those still there once the grace period is over.
// Each proxy keeps what differs: its own listener options, the session an accept starts, and
// which sessions there are to end.
#pragma once

#include <boost/asio/post.hpp>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "common/duration.h"
#include "common/result.h"
#include "proxy/io_pool.h"
#include "proxy/sharded_counters.h"
#include "proxy/transparent_listener.h"

namespace portcullis::proxy {

class TcpFront {
 public:
  enum class SessionEnd { kDrain, kAbort };
  // Ends every session of the proxy as told (postEnd() does it for one set of sessions).
  using EndSessions = std::function<void(SessionEnd)>;

  explicit TcpFront(IoPool& pool) : pool_(pool) {}
  ~TcpFront() { stopAccepting(); }
  TcpFront(const TcpFront&) = delete;
  TcpFront& operator=(const TcpFront&) = delete;

  // Opens the listeners of `context` (HttpProxyContext, TlsProxyContext): its options' name,
  // bind, transparent and upstream_mark (as answerMark()), admission by its limit, a refused
  // connection counted in its counters; tells it its own endpoints, then accepts. `extra` holds
  // the protocol's own listener options. Errors name the endpoint's errno.
  template <typename Context>
  Result<void> start(const std::shared_ptr<Context>& context, TransparentListener::Options extra,
                     ShardedAccept on_accept) {
    const auto& opts = context->options();
    extra.transparent = opts.transparent;
    extra.mark = answerMark(opts.upstream_mark);
    extra.limit = context->limit();
    auto opened = open(opts.name, opts.bind, std::move(extra), std::move(on_accept),
                       [context](size_t shard) {
                         bump(context->counters().shard(shard).connections_over_limit);
                       });
    if (!opened) return opened.error();
    context->setOwnEndpoints(endpoints_);
    for (const auto& listener : listeners_) listener->start();
    return ok();
  }
  void stopAccepting();
  // Stops accepting, end(kDrain) now and end(kAbort) after `grace`, on an I/O thread. The
  // timer keeps itself and `end` alive: the proxy may be destroyed before it fires.
  void shutdown(Duration grace, EndSessions end);

  // The bound endpoints, one per bind address, with the port the kernel picked for port 0.
  const std::vector<Tcp::endpoint>& endpoints() const { return endpoints_; }
  uint16_t port() const { return endpoints_.empty() ? 0 : endpoints_.front().port(); }

 private:
  // openTransparentListeners on every context of the pool, not accepting yet.
  Result<void> open(std::string_view name, std::vector<Tcp::endpoint> binds,
                    TransparentListener::Options options, ShardedAccept on_accept,
                    std::function<void(size_t shard)> on_refused);

  IoPool& pool_;
  std::vector<std::shared_ptr<TransparentListener>> listeners_;
  std::vector<Tcp::endpoint> endpoints_;
};

// Posts drain() or abort() to each session, on the session's executor.
template <typename Sessions>
void postEnd(const Sessions& sessions, TcpFront::SessionEnd end) {
  for (const auto& session : sessions) {
    boost::asio::post(session->executor(), [session, end] {
      if (end == TcpFront::SessionEnd::kDrain) {
        session->drain();
      } else {
        session->abort();
      }
    });
  }
}

}  // namespace portcullis::proxy
