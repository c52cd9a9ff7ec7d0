// The I/O threads the proxy's listeners and sessions run on, in one of DESIGN.md's two models:
//   kContextPerThread: N io_contexts, one thread each; every listener binds one SO_REUSEPORT
//     acceptor per context and the kernel spreads connections; a session never leaves its thread.
//   kSharedContext: one io_context run by N threads; one acceptor; a strand per session.
// HttpProxy (http_proxy.h) records which one was chosen, and why, with the measurements.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

namespace portcullis::proxy {

class IoPool {
 public:
  enum class Model : uint8_t { kContextPerThread, kSharedContext };

  IoPool(size_t threads, Model model);
  ~IoPool();  // stop() and join()
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  Model model() const { return model_; }
  size_t threads() const { return threads_; }
  size_t contexts() const { return contexts_.size(); }
  boost::asio::io_context& context(size_t index) { return *contexts_[index]; }
  // Sessions need a strand when several threads run their context.
  bool strandPerSession() const { return model_ == Model::kSharedContext && threads_ > 1; }

  void start();  // runs every context on its threads until stop()
  void stop();
  void join();

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  Model model_;
  size_t threads_;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> workers_;
};

}  // namespace portcullis::proxy
