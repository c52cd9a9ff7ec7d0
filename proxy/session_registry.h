// The live sessions of one proxy (HTTP, TLS), for shutdown: drain and abort them all, and learn
// when the last one has gone. Sessions add themselves when started and remove themselves in
// their destructors, on any I/O thread; one mutex, off the request path.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace portcullis::proxy {

template <class Session>
class SessionRegistry {
 public:
  void add(const std::shared_ptr<Session>& session) {
    std::lock_guard lock(mutex_);
    sessions_.emplace(session.get(), session);
  }

  void remove(const Session* session) {
    std::function<void()> done;
    {
      std::lock_guard lock(mutex_);
      sessions_.erase(session);
      if (sessions_.empty() && on_empty_) done = std::exchange(on_empty_, nullptr);
    }
    if (done) done();
  }

  std::vector<std::shared_ptr<Session>> sessions() const {
    std::vector<std::shared_ptr<Session>> out;
    std::lock_guard lock(mutex_);
    out.reserve(sessions_.size());
    for (const auto& [key, weak] : sessions_) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }

  // `callback` runs once, when no session is left: now, or on the last one's thread.
  void setOnEmpty(std::function<void()> callback) {
    {
      std::lock_guard lock(mutex_);
      if (!sessions_.empty()) {
        on_empty_ = std::move(callback);
        return;
      }
    }
    callback();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions_;
  std::function<void()> on_empty_;
};

}  // namespace portcullis::proxy
