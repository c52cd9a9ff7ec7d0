#include "proxy/tls_proxy.h"

#include "common/log.h"
#include "proxy/tls_origin.h"
#include "proxy/tls_proxy_context.h"
#include "proxy/tls_session.h"

namespace portcullis::proxy {

TlsProxy::TlsProxy(IoPool& pool, TlsProxyOptions options, PolicyStore& policies)
    : context_(std::make_shared<TlsProxyContext>(std::move(options), policies, pool.threads())),
      front_(pool) {}

TlsProxy::~TlsProxy() { stopAccepting(); }

Result<void> TlsProxy::start() {
  return front_.start(
      context_, TransparentListener::Options{},
      [context = context_](size_t shard, Tcp::socket socket, const Tcp::endpoint& client) {
        auto session = std::make_shared<TlsSession>(std::move(socket), client, context, shard);
        context->add(session);
        session->start();
      });
}

void TlsProxy::stopAccepting() { front_.stopAccepting(); }

void TlsProxy::shutdown(Duration grace, std::function<void()> done) {
  context_->limit()->stopAdmitting();  // an accept already queued is reset, not served
  front_.shutdown(grace, [context = context_](TcpFront::SessionEnd end) {
    postEnd(context->sessions(), end);
    postEnd(context->http()->sessions<TlsStream>(), end);  // the intercepted HTTP sessions
  });
  context_->setOnEmpty(std::move(done));
}

TlsCountersSnapshot TlsProxy::counters() const { return context_->counters().snapshot(); }

HttpCountersSnapshot TlsProxy::interceptedHttpCounters() const {
  return context_->http()->counters().snapshot();
}

uint32_t TlsProxy::activeConnections() const { return context_->limit()->active(); }

}  // namespace portcullis::proxy
