#include "proxy/io_pool.h"

namespace portcullis::proxy {

IoPool::IoPool(size_t threads, Model model) : model_(model), threads_(threads == 0 ? 1 : threads) {
  const size_t count = model_ == Model::kContextPerThread ? threads_ : 1;
  for (size_t i = 0; i < count; ++i) {
    // A context run by one thread needs no internal locking (concurrency hint 1).
    const int hint = model_ == Model::kContextPerThread ? 1 : static_cast<int>(threads_);
    contexts_.push_back(std::make_unique<boost::asio::io_context>(hint));
  }
}

IoPool::~IoPool() {
  stop();
  join();
}

void IoPool::start() {
  if (!workers_.empty()) return;
  for (auto& context : contexts_) guards_.emplace_back(context->get_executor());
  for (size_t t = 0; t < threads_; ++t) {
    boost::asio::io_context& context = *contexts_[t % contexts_.size()];
    workers_.emplace_back([&context] { context.run(); });
  }
}

void IoPool::stop() {
  guards_.clear();
  for (auto& context : contexts_) context->stop();
}

void IoPool::join() {
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

}  // namespace portcullis::proxy
