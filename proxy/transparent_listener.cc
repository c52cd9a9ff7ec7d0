#include "proxy/transparent_listener.h"

#include <sys/socket.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "common/log.h"

namespace portcullis::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

bool ConnectionLimit::tryAdmit() {
  if (!admitting()) return false;
  uint32_t now = active_.load(std::memory_order_relaxed);
  do {
    if (now >= max_) return false;
  } while (!active_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return true;
}

Tcp::endpoint originalDestinationOf(const Tcp::socket& socket, std::error_code& ec) {
  error_code bec;
  Tcp::endpoint local = socket.local_endpoint(bec);
  ec = bec;
  return local;
}

std::optional<asio::ip::address> upstreamSource(bool preserve_source,
                                                const asio::ip::address& client,
                                                const asio::ip::address& destination,
                                                const NodeAddresses& node) {
  if (!preserve_source || node.isLocal(destination)) return std::nullopt;
  return client;
}

bool isOwnEndpoint(const Tcp::endpoint& destination, const std::vector<Tcp::endpoint>& listeners,
                   const NodeAddresses& node) {
  bool our_port = false;
  for (const Tcp::endpoint& listener : listeners) {
    if (listener == destination) return true;
    our_port = our_port || listener.port() == destination.port();
  }
  // Most connections are to another port: they never read the node's addresses.
  return our_port && node.isLocal(destination.address());
}

TransparentListener::TransparentListener(const asio::any_io_executor& executor, Options options,
                                         Handler on_accept)
    : executor_(executor),
      serial_(options.strand_per_connection ? asio::any_io_executor(asio::make_strand(executor))
                                            : executor),
      acceptor_(executor),
      backoff_(executor),
      options_(std::move(options)),
      on_accept_(std::move(on_accept)) {}

Result<std::shared_ptr<TransparentListener>> TransparentListener::open(
    const asio::any_io_executor& executor, const Tcp::endpoint& endpoint, Options options,
    Handler on_accept) {
  std::shared_ptr<TransparentListener> listener(
      new TransparentListener(executor, std::move(options), std::move(on_accept)));
  const Options& opts = listener->options_;
  Tcp::acceptor& acceptor = listener->acceptor_;
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return std::error_code(ec);
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && endpoint.protocol() == Tcp::v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec && opts.reuse_port) {
    const int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      return std::error_code(errno, std::system_category());
    }
  }
  if (ec) return std::error_code(ec);
  if (opts.transparent) {
    if (std::error_code t = setTransparent(acceptor, endpoint.protocol())) return t;
  }
  if (opts.mark != 0) {
    if (std::error_code m = setMark(acceptor, opts.mark)) return m;
  }
  acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(opts.backlog, ec);
  if (ec) return std::error_code(ec);
  if (opts.delayed_ack) {  // after listen(2), which resets the delayed-ACK state
    if (std::error_code d = setDelayedAck(acceptor.native_handle())) return d;
  }
  if (opts.no_delay) {
    acceptor.set_option(Tcp::no_delay(true), ec);
    if (ec) return std::error_code(ec);
  }
  acceptor.non_blocking(true, ec);  // accept4 must report EAGAIN, not wait
  if (ec) return std::error_code(ec);
  listener->endpoint_ = acceptor.local_endpoint(ec);
  if (ec) return std::error_code(ec);
  return listener;
}

void TransparentListener::start() {
  // Connections queued before start() raised their readiness edge before anything waited for
  // it: the first pass accepts before it waits.
  acceptNext(Next::kBatch);
}

void TransparentListener::stop() {
  asio::post(serial_, [self = shared_from_this()] { self->close(); });
}

void TransparentListener::close() {
  error_code ignored;
  backoff_.cancel();
  acceptor_.close(ignored);
}

void TransparentListener::acceptNext(Next next, const std::error_code& why) {
  auto self = shared_from_this();
  switch (next) {
    case Next::kBatch:
      // Posted, so that a flood of connections does not starve the sessions of this thread.
      asio::post(serial_, [self] { self->acceptBatch(); });
      return;
    case Next::kReadable:
      // No edge is lost, even when another thread's epoll_wait reports it between the EAGAIN and
      // this wait: Asio starts a wait with EPOLL_CTL_MOD under the descriptor's lock, which
      // re-reports a readiness already there (epoll_reactor::start_op, Boost 1.74).
      acceptor_.async_wait(Tcp::acceptor::wait_read,
                           asio::bind_executor(serial_, [self](error_code ec) {
                             if (ec == asio::error::operation_aborted) return;
                             if (!self->acceptor_.is_open()) return;
                             if (ec) return self->acceptNext(Next::kBackOff, ec);
                             self->acceptBatch();
                           }));
      return;
    case Next::kBackOff: {
      constexpr auto kWarnEvery = std::chrono::seconds(10);
      const auto now = std::chrono::steady_clock::now();
      if (++failed_accepts_ == 1 || now - last_warning_ >= kWarnEvery) {
        last_warning_ = now;
        log::warn("accept on ", endpoint_, ": ", why.message(), "; retrying every 50 ms (",
                  failed_accepts_, " failed so far)");
      }
      backoff_.expires_after(std::chrono::milliseconds(50));
      backoff_.async_wait(asio::bind_executor(serial_, [self](error_code ec) {
        if (!ec) self->acceptBatch();
      }));
      return;
    }
  }
}

void TransparentListener::acceptBatch() {
  constexpr int kBatch = 16;
  for (int i = 0; i < kBatch; ++i) {
    if (!acceptor_.is_open()) return;
    std::error_code ec;
    Tcp::endpoint client;
    Tcp::socket socket = acceptNonBlocking(acceptor_, nextSocketExecutor(), client, ec);
    if (ec == std::errc::operation_would_block || ec == std::errc::resource_unavailable_try_again) {
      return acceptNext(Next::kReadable);
    }
    // The client gave up while in the queue, or a signal: the next one may be there.
    if (ec == std::errc::connection_aborted || ec == std::errc::interrupted) continue;
    if (ec) return acceptNext(Next::kBackOff, ec);
    next_strand_ = {};  // the socket took it
    if (failed_accepts_ != 0) {
      log::info("accept on ", endpoint_, " works again after ", failed_accepts_, " failed");
      failed_accepts_ = 0;
    }
    admit(std::move(socket), client);
  }
  acceptNext(Next::kBatch);
}

const asio::any_io_executor& TransparentListener::nextSocketExecutor() {
  if (!options_.strand_per_connection) return executor_;
  // Made once and kept until a connection takes it: the EAGAIN that ends a batch costs none.
  if (!next_strand_) next_strand_ = asio::make_strand(executor_);
  return next_strand_;
}

void TransparentListener::admit(Tcp::socket socket, const Tcp::endpoint& client) {
  if (options_.limit && !options_.limit->tryAdmit()) {
    if (options_.limit->admitting() && options_.on_refused) options_.on_refused();
    setAbortiveClose(socket);
    error_code ignored;
    socket.close(ignored);
    return;
  }
  on_accept_(std::move(socket), client);
}

Result<std::vector<std::shared_ptr<TransparentListener>>> openTransparentListeners(
    std::string_view name, const std::vector<asio::any_io_executor>& executors,
    std::vector<Tcp::endpoint>& binds, TransparentListener::Options options,
    ShardedAccept on_accept, std::function<void(size_t shard)> on_refused) {
  if (binds.empty() || executors.empty()) return std::make_error_code(std::errc::invalid_argument);
  options.reuse_port = options.reuse_port || executors.size() > 1;
  std::vector<std::shared_ptr<TransparentListener>> listeners;
  const auto fail = [&](const Tcp::endpoint& endpoint, std::error_code ec) {
    log::error(name, ": cannot listen on ", endpoint, ": ", ec.message());
    for (const auto& listener : listeners) listener->close();  // none started
    return ec;
  };
  uint16_t port = 0;
  for (Tcp::endpoint& endpoint : binds) {
    if (endpoint.port() == 0) endpoint.port(port);
    for (size_t i = 0; i < executors.size(); ++i) {
      if (on_refused) options.on_refused = [on_refused, i] { on_refused(i); };
      auto listener = TransparentListener::open(
          executors[i], endpoint, options,
          [on_accept, i](Tcp::socket socket, const Tcp::endpoint& client) {
            on_accept(i, std::move(socket), client);
          });
      if (!listener) return fail(endpoint, listener.error());
      if (endpoint.port() == 0) endpoint.port(listener.value()->endpoint().port());
      if (port == 0) port = endpoint.port();
      listeners.push_back(std::move(listener).value());
    }
  }
  return listeners;
}

}  // namespace portcullis::proxy
