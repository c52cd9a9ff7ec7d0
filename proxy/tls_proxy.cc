#include "proxy/tls_proxy.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.h"
#include "proxy/tls_origin.h"
#include "proxy/tls_proxy_context.h"
#include "proxy/tls_session.h"
#include "proxy/transparent_listener.h"

namespace portcullis::proxy {

namespace asio = boost::asio;

TlsProxy::TlsProxy(IoPool& pool, TlsProxyOptions options, PolicyStore& policies)
    : pool_(pool),
      context_(std::make_shared<TlsProxyContext>(std::move(options), policies, pool.threads())) {}

TlsProxy::~TlsProxy() { stopAccepting(); }

Result<void> TlsProxy::start() {
  const auto& opts = context_->options();
  TransparentListener::Options listener_options;
  listener_options.transparent = opts.transparent;
  listener_options.strand_per_connection = pool_.strandPerSession();
  listener_options.limit = context_->limit();
  listener_options.mark = opts.upstream_mark;
  std::vector<asio::any_io_executor> executors;
  for (size_t i = 0; i < pool_.contexts(); ++i) executors.push_back(pool_.context(i).get_executor());
  std::vector<Tcp::endpoint> binds = opts.bind;
  auto listeners = openTransparentListeners(
      opts.name, executors, binds, listener_options,
      [context = context_](size_t shard, Tcp::socket socket, const Tcp::endpoint& client) {
        auto session = std::make_shared<TlsSession>(std::move(socket), client, context, shard);
        context->add(session);
        session->start();
      },
      [context = context_](size_t shard) {
        bump(context->counters().shard(shard).connections_over_limit);
      });
  if (!listeners) return listeners.error();
  listeners_ = std::move(listeners).value();
  endpoints_ = std::move(binds);
  context_->setOwnEndpoints(endpoints_, localAddresses());
  for (const auto& listener : listeners_) listener->start();
  return ok();
}

void TlsProxy::stopAccepting() {
  for (const auto& listener : listeners_) listener->stop();
  listeners_.clear();
}

void TlsProxy::shutdown(Duration grace, std::function<void()> done) {
  context_->limit()->stopAdmitting();  // an accept already queued is reset, not served
  stopAccepting();
  for (const auto& session : context_->sessions()) {
    asio::post(session->executor(), [session] { session->drain(); });
  }
  for (const auto& session : context_->http()->sessions<TlsStream>()) {  // intercepted
    asio::post(session->executor(), [session] { session->drain(); });
  }
  // The timer keeps itself alive: the proxy may be destroyed before it fires.
  auto timer = std::make_shared<asio::steady_timer>(pool_.context(0), grace);
  timer->async_wait([timer, context = context_](boost::system::error_code ec) {
    if (ec) return;
    for (const auto& session : context->sessions()) {
      asio::post(session->executor(), [session] { session->abort(); });
    }
    for (const auto& session : context->http()->sessions<TlsStream>()) {
      asio::post(session->executor(), [session] { session->abort(); });
    }
  });
  context_->setOnEmpty(std::move(done));
}

TlsCountersSnapshot TlsProxy::counters() const { return context_->counters().snapshot(); }

HttpCountersSnapshot TlsProxy::interceptedHttpCounters() const {
  return context_->http()->counters().snapshot();
}

uint32_t TlsProxy::activeConnections() const { return context_->limit()->active(); }

}  // namespace portcullis::proxy
