#include "proxy/tls_proxy.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.h"
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
  const TlsProxyOptions& opts = context_->options();
  if (opts.bind.empty()) return std::make_error_code(std::errc::invalid_argument);
  TransparentListener::Options listener_options;
  listener_options.transparent = opts.transparent;
  listener_options.reuse_port = pool_.contexts() > 1;
  listener_options.strand_per_connection = pool_.strandPerSession();
  listener_options.limit = context_->limit();
  uint16_t port = 0;
  for (Tcp::endpoint endpoint : opts.bind) {
    if (endpoint.port() == 0) endpoint.port(port);
    for (size_t i = 0; i < pool_.contexts(); ++i) {
      listener_options.on_refused = [context = context_, i] {
        TlsCounters::bump(context->counters().shard(i).connections_over_limit);
      };
      auto listener = TransparentListener::open(
          pool_.context(i).get_executor(), endpoint, listener_options,
          [context = context_, i](Tcp::socket socket, const Tcp::endpoint& client) {
            auto session = std::make_shared<TlsSession>(std::move(socket), client, context,
                                                        context->counters().shard(i));
            context->add(session);
            session->start();
          });
      if (!listener) {
        log::error(opts.name, ": cannot listen on ", endpoint, ": ", listener.error().message());
        stopAccepting();
        return listener.error();
      }
      if (endpoint.port() == 0) endpoint.port(listener.value()->endpoint().port());
      if (port == 0) port = endpoint.port();
      listeners_.push_back(std::move(listener).value());
    }
    endpoints_.push_back(endpoint);
  }
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
  // The timer keeps itself alive: the proxy may be destroyed before it fires.
  auto timer = std::make_shared<asio::steady_timer>(pool_.context(0), grace);
  timer->async_wait([timer, context = context_](boost::system::error_code ec) {
    if (ec) return;
    for (const auto& session : context->sessions()) {
      asio::post(session->executor(), [session] { session->abort(); });
    }
  });
  context_->setOnEmpty(std::move(done));
}

TlsCountersSnapshot TlsProxy::counters() const { return context_->counters().snapshot(); }

uint32_t TlsProxy::activeConnections() const { return context_->limit()->active(); }

}  // namespace portcullis::proxy
