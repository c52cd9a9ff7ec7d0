// The TLS interception set in force, published next to the PolicyStore (DESIGN.md "Ownership
// and lifetime"): the daemon stores a new set right before it swaps the policy; a TLS session
// loads it once per connection and judges with the set's own policy(), so it never mixes a new
// set with an old policy's rule indices. Null until the daemon published one.
#pragma once

#include <atomic>
#include <memory>
#include <utility>

namespace portcullis::proxy {

class TlsInterceptionSet;

class TlsInterceptionStore {
 public:
  using Pointer = std::shared_ptr<const TlsInterceptionSet>;

  explicit TlsInterceptionStore(Pointer initial = nullptr) : set_(std::move(initial)) {}
  TlsInterceptionStore(const TlsInterceptionStore&) = delete;
  TlsInterceptionStore& operator=(const TlsInterceptionStore&) = delete;

  Pointer load() const { return set_.load(std::memory_order_acquire); }
  void store(Pointer set) { set_.store(std::move(set), std::memory_order_release); }

 private:
  std::atomic<Pointer> set_;
};

}  // namespace portcullis::proxy
