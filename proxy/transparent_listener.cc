#include "proxy/transparent_listener.h"

#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "common/log.h"

namespace portcullis::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

TransparentListener::TransparentListener(asio::io_context& context, Options options,
                                         Handler on_accept)
    : context_(context),
      acceptor_(context),
      backoff_(context),
      options_(options),
      on_accept_(std::move(on_accept)) {}

Result<std::shared_ptr<TransparentListener>> TransparentListener::open(
    asio::io_context& context, const Tcp::endpoint& endpoint, const Options& options,
    Handler on_accept) {
  std::shared_ptr<TransparentListener> listener(
      new TransparentListener(context, options, std::move(on_accept)));
  Tcp::acceptor& acceptor = listener->acceptor_;
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return std::error_code(ec);
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && endpoint.protocol() == Tcp::v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec && options.reuse_port) {
    const int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      return std::error_code(errno, std::system_category());
    }
  }
  if (ec) return std::error_code(ec);
  if (options.transparent) {
    if (std::error_code t = setTransparent(acceptor, endpoint.protocol())) return t;
  }
  acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(options.backlog, ec);
  if (ec) return std::error_code(ec);
  listener->endpoint_ = acceptor.local_endpoint(ec);
  if (ec) return std::error_code(ec);
  return listener;
}

void TransparentListener::start() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->accept(); });
}

void TransparentListener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->backoff_.cancel();
    self->acceptor_.close(ignored);
  });
}

void TransparentListener::accept() {
  auto handler = [self = shared_from_this()](error_code ec, Tcp::socket socket) {
    self->onAccept(ec, std::move(socket));
  };
  if (options_.strand_per_connection) {
    acceptor_.async_accept(asio::make_strand(context_), peer_, std::move(handler));
  } else {
    acceptor_.async_accept(context_, peer_, std::move(handler));
  }
}

void TransparentListener::onAccept(const error_code& ec, Tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors or memory: back off briefly rather than spin on the same error.
    log::warn("accept on ", endpoint_, ": ", ec.message());
    backoff_.expires_after(std::chrono::milliseconds(50));
    backoff_.async_wait([self = shared_from_this()](error_code e) {
      if (!e) self->accept();
    });
    return;
  }
  on_accept_(std::move(socket), peer_);
  accept();
}

}  // namespace portcullis::proxy
