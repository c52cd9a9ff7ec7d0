#include "proxy/tls_session.h"

#include <algorithm>
#include <boost/asio/write.hpp>

#include "common/log.h"
#include "proxy/asio_address.h"
#include "proxy/tls_interception.h"
#include "proxy/tls_origin.h"
#include "proxy/access_log_tls.h"
#include "proxy/tls_proxy_context.h"

namespace portcullis::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

TlsSession::TlsSession(Tcp::socket downstream, Tcp::endpoint client,
                       std::shared_ptr<TlsProxyContext> context, size_t shard)
    : down_(std::move(downstream)),
      up_(down_.get_executor()),
      timer_(down_.get_executor()),
      context_(std::move(context)),
      shard_(shard),
      counters_(context_->counters().shard(shard)),
      client_(client),
      down_in_(std::max(context_->options().buffer_bytes, kMaxClientHelloBuffer)),
      up_in_(context_->options().buffer_bytes) {
  bump(counters_.connections_accepted);
  bump(counters_.connections_active);
}

TlsSession::~TlsSession() {
  drop(counters_.connections_active);
  if (!handed_off_) context_->limit()->release();
  context_->remove(this);
}

const std::string& TlsSession::name() const { return context_->options().name; }

void TlsSession::start() {
  std::error_code ec;
  destination_ = context_->originalDestination(down_, ec);
  if (ec) return close(true);
  if (context_->isOwnEndpoint(destination_)) {
    bump(counters_.loops_refused);
    log::debug(name(), ": refused a connection to the proxy itself from ", client_);
    return close(true);
  }
  flow_ = {context_->options().direction, flowAddress(client_.address()),
           flowAddress(destination_.address()), destination_.port(), policy::Protocol::kTcp};
  setDeadline(context_->options().limits.header_timeout);
  readHello();
}

void TlsSession::drain() {
  if (phase_ == Phase::kHello || phase_ == Phase::kHandshake || phase_ == Phase::kConnect) {
    close(true);
  }
}

void TlsSession::abort() {
  if (phase_ != Phase::kClosed) close(true);
}

// ---------------------------------------------------------------- ClientHello

void TlsSession::readHello() {
  down_.async_read_some(down_in_.space(), [self = shared_from_this()](error_code e, size_t n) {
    self->onHelloRead(e, n);
  });
}

void TlsSession::onHelloRead(const error_code& ec, size_t n) {
  if (phase_ != Phase::kHello) return;
  if (ec) {
    // The client gave up (or reset) before its ClientHello was complete: nothing to judge.
    log::debug(name(), ": ", client_, " closed before a whole ClientHello: ", ec.message());
    return close(true);
  }
  down_in_.commit(n);
  ClientHelloPeek hello = peekClientHello(down_in_.data());
  if (hello.status == ClientHelloPeek::Status::kNeedMore &&
      down_in_.data().size() >= kMaxClientHelloBuffer) {
    hello.status = ClientHelloPeek::Status::kTooLarge;  // cannot happen within the parser's bounds
  }
  if (hello.status == ClientHelloPeek::Status::kNeedMore) return readHello();
  judge(hello);
}

void TlsSession::judge(const ClientHelloPeek& hello) {
  if (hello.status != ClientHelloPeek::Status::kComplete) {
    bump(counters_.malformed);
    return deny(toString(hello.status));
  }
  server_name_ = hello.server_name;
  // The interception set's own policy, when one is published: its rule indices are the ones
  // forRule() knows (the daemon publishes the set right before the policy it belongs to).
  std::shared_ptr<const TlsInterceptionSet> set = context_->interceptions().load();
  const PolicyStore::Pointer policy =
      set && set->policy() ? set->policy() : context_->policies().load();
  if (!policy) return deny("no policy");
  // --- interception (terminatingTLS) ---
  const policy::FlowRules intercepting = interceptingRules(*policy, flow_, server_name_);
  if (!intercepting.empty()) return intercept(std::move(set), intercepting.rules.front());
  // --- passthrough ---
  const policy::FlowRules rules = policy->matchFlow(flow_, policy::L7Protocol::kTls);
  const policy::NameVerdict verdict = policy->tls(rules, server_name_);
  if (!verdict.allowed) {
    bump(server_name_.empty() ? counters_.no_sni : counters_.denied);
    return deny(server_name_.empty() ? "no SNI"
                                     : rules.empty() ? "no rule selects the flow" : "SNI not allowed",
                verdict.rule);
  }
  bump(counters_.allowed);
  logTlsVerdict(context_->options().access_log.get(), {name(), flow_, client_.port(),
                AccessVerdict::kForwarded, verdict.rule, server_name_, {}});
  log::debug(name(), ": allow ", client_, " -> ", destination_, " sni=", server_name_, " rule=",
             verdict.rule);
  connectUpstream();
}

void TlsSession::deny(const char* reason, std::string_view rule) {
  logTlsVerdict(context_->options().access_log.get(),
                {name(), flow_, client_.port(), AccessVerdict::kDenied, rule, server_name_, reason});
  log::info(name(), ": deny ", client_, " -> ", destination_, " sni=",
            server_name_.empty() ? "-" : server_name_, ": ", reason);
  close(true);
}

// ---------------------------------------------------------------- interception

void TlsSession::intercept(std::shared_ptr<const TlsInterceptionSet> set, uint32_t rule) {
  const TlsInterception* interception = set ? set->forRule(rule) : nullptr;
  if (!interception) {
    // A policy published without its certificates (never by the daemon): fail closed.
    bump(counters_.denied);
    return deny("terminatingTLS rule without loaded certificates");
  }
  auto context = interception->serverContext(server_name_);
  if (!context) {
    bump(counters_.handshake_failures);
    log::warn(name(), ": no certificate for sni=", server_name_, ": ", context.error().message());
    return deny("no certificate for the server name");
  }
  interceptions_ = std::move(set);
  intercepting_rule_ = rule;
  server_context_ = context.value();
  phase_ = Phase::kHandshake;
  tls_ = std::make_unique<TlsStream>(std::move(down_), *context.value());
  // The ClientHello was read already: the handshake starts from those bytes. It must end
  // within what is left of header-timeout (the timer armed at start keeps running).
  tls_->async_handshake(
      asio::ssl::stream_base::server, asio::buffer(down_in_.data()),
      [self = shared_from_this()](error_code e, size_t) { self->onHandshake(e); });
}

void TlsSession::onHandshake(const error_code& ec) {
  if (phase_ != Phase::kHandshake) return;
  if (ec) {
    bump(counters_.handshake_failures);
    log::info(name(), ": TLS handshake with ", client_, " sni=", server_name_, ": ", ec.message());
    return close(true);
  }
  bump(counters_.intercepted);
  log::debug(name(), ": intercept ", client_, " -> ", destination_, " sni=", server_name_,
             " rule=", interceptions_->policy()->source().rules[intercepting_rule_].name);
  const TlsInterception* interception = interceptions_->forRule(intercepting_rule_);
  // The origin side keeps the set (its client context) and the server context alive.
  auto owner = std::make_shared<
      std::pair<std::shared_ptr<const TlsInterceptionSet>, std::shared_ptr<const void>>>(
      interceptions_, server_context_);
  TlsOrigin origin(executor(), interception->clientContext(), server_name_, &prepareOriginHandshake,
                   std::move(owner));
  const std::shared_ptr<HttpProxyContext>& http = context_->http();
  auto session = std::make_shared<TlsHttpSession>(
      std::move(*tls_), client_, http, http->counters().shard(shard_), std::move(origin));
  http->add(session);  // before this session leaves its registry (TlsProxyContext::setOnEmpty)
  handed_off_ = true;
  phase_ = Phase::kClosed;
  timer_.cancel();
  tls_.reset();
  session->start();
}

// ---------------------------------------------------------------- upstream

void TlsSession::connectUpstream() {
  phase_ = Phase::kConnect;
  const TlsProxyOptions& options = context_->options();
  error_code ec;
  up_.open(destination_.protocol(), ec);
  std::error_code setup = ec;
  if (!setup) {
    setup = prepareUpstream(up_, destination_.protocol(), options.upstream_mark,
                            context_->upstreamSource(client_, destination_));
  }
  if (setup) {
    log::warn(name(), ": upstream socket for ", destination_, ": ", setup.message());
    bump(counters_.upstream_unavailable);
    return close(true);
  }
  setDeadline(options.connect_timeout);
  up_.async_connect(destination_,
                    [self = shared_from_this()](error_code e) { self->onUpstreamConnect(e); });
}

void TlsSession::onUpstreamConnect(const error_code& ec) {
  if (phase_ != Phase::kConnect) return;
  if (ec) {
    // No TLS alert can be sent without terminating; the client sees a reset, as for a deny.
    log::info(name(), ": upstream ", destination_, " for ", client_, " sni=", server_name_, ": ",
              ec.message());
    bump(counters_.upstream_unavailable);
    return close(true);
  }
  error_code ignored;
  up_.set_option(Tcp::no_delay(true), ignored);
  down_.set_option(Tcp::no_delay(true), ignored);
  phase_ = Phase::kRelay;
  relay_open_ = 2;
  setDeadline(context_->options().limits.idle_timeout);
  relay(true);  // the buffered ClientHello (and whatever followed it) goes first
  relay(false);
}

// ---------------------------------------------------------------- relay

// Moves what is buffered for one direction, then reads more: down_in_ carries client bytes
// upstream, up_in_ carries origin bytes downstream.
void TlsSession::relay(bool to_upstream) {
  ByteBuffer& buffer = to_upstream ? down_in_ : up_in_;
  Tcp::socket& from = to_upstream ? down_ : up_;
  Tcp::socket& to = to_upstream ? up_ : down_;
  if (!buffer.empty()) {
    asio::async_write(to, asio::buffer(buffer.data()),
                      [self = shared_from_this(), to_upstream](error_code e, size_t n) {
                        self->onRelayWritten(to_upstream, e, n);
                      });
    return;
  }
  from.async_read_some(buffer.space(),
                       [self = shared_from_this(), to_upstream](error_code e, size_t n) {
                         self->onRelayRead(to_upstream, e, n);
                       });
}

void TlsSession::onRelayRead(bool to_upstream, const error_code& ec, size_t n) {
  if (phase_ != Phase::kRelay) return;
  if (ec == asio::error::eof) {
    // Half-close: pass the FIN on and keep the other direction going until it ends too.
    error_code ignored;
    (to_upstream ? up_ : down_).shutdown(Tcp::socket::shutdown_send, ignored);
    if (--relay_open_ == 0) close(false);
    return;
  }
  if (ec) {
    log::debug(name(), ": relay read from ", to_upstream ? "client " : "origin ", ec.message());
    return close(true);
  }
  last_activity_ = std::chrono::steady_clock::now();
  (to_upstream ? down_in_ : up_in_).commit(n);
  relay(to_upstream);
}

void TlsSession::onRelayWritten(bool to_upstream, const error_code& ec, size_t n) {
  if (phase_ != Phase::kRelay) return;
  if (ec) {
    log::debug(name(), ": relay write to ", to_upstream ? "origin " : "client ", ec.message());
    return close(true);
  }
  last_activity_ = std::chrono::steady_clock::now();
  (to_upstream ? down_in_ : up_in_).consume(n);
  relay(to_upstream);
}

// ---------------------------------------------------------------- endings

void TlsSession::setDeadline(Duration after) {
  last_activity_ = std::chrono::steady_clock::now();
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this()](error_code e) { self->onDeadline(e); });
}

void TlsSession::onDeadline(const error_code& ec) {
  if (ec || phase_ == Phase::kClosed) return;
  switch (phase_) {
    case Phase::kHello:
      bump(counters_.hello_timeouts);
      return deny("no whole ClientHello within header-timeout");
    case Phase::kHandshake:
      bump(counters_.handshake_failures);
      return deny("no TLS handshake within header-timeout");
    case Phase::kConnect:
      log::info(name(), ": upstream ", destination_, " for ", client_, " sni=", server_name_,
                ": connect timeout");
      bump(counters_.upstream_unavailable);
      return close(true);
    case Phase::kRelay: {
      // Activity re-arms lazily: one timer wait per idle-timeout, not one per read.
      const auto idle = context_->options().limits.idle_timeout;
      const auto due = last_activity_ + idle;
      if (due > std::chrono::steady_clock::now()) {
        timer_.expires_at(due);
        timer_.async_wait([self = shared_from_this()](error_code e) { self->onDeadline(e); });
        return;
      }
      bump(counters_.idle_timeouts);
      return close(true);
    }
    case Phase::kClosed:
      return;
  }
}

void TlsSession::close(bool reset) {
  phase_ = Phase::kClosed;
  error_code ignored;
  timer_.cancel();
  if (reset) {
    setAbortiveClose(downstream());
    if (up_.is_open()) setAbortiveClose(up_);
  }
  downstream().close(ignored);
  up_.close(ignored);
}

// While intercepting, the client's socket is inside the TLS stream.
Tcp::socket& TlsSession::downstream() { return tls_ ? tls_->next_layer() : down_; }

}  // namespace portcullis::proxy
