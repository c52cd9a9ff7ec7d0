#include "proxy/tcp_front.h"

#include <boost/asio/steady_timer.hpp>

namespace portcullis::proxy {

namespace asio = boost::asio;

Result<void> TcpFront::open(std::string_view name, std::vector<Tcp::endpoint> binds,
                            TransparentListener::Options options, ShardedAccept on_accept,
                            std::function<void(size_t shard)> on_refused) {
  options.strand_per_connection = pool_.strandPerSession();
  std::vector<asio::any_io_executor> executors;
  for (size_t i = 0; i < pool_.contexts(); ++i) executors.push_back(pool_.context(i).get_executor());
  auto listeners = openTransparentListeners(name, executors, binds, std::move(options),
                                            std::move(on_accept), std::move(on_refused));
  if (!listeners) return listeners.error();
  listeners_ = std::move(listeners).value();
  endpoints_ = std::move(binds);
  return ok();
}

void TcpFront::stopAccepting() {
  for (const auto& listener : listeners_) listener->stop();
  listeners_.clear();
}

void TcpFront::shutdown(Duration grace, EndSessions end) {
  stopAccepting();
  end(SessionEnd::kDrain);
  auto timer = std::make_shared<asio::steady_timer>(pool_.context(0), grace);
  timer->async_wait([timer, end = std::move(end)](boost::system::error_code ec) {
    if (!ec) end(SessionEnd::kAbort);
  });
}

}  // namespace portcullis::proxy
