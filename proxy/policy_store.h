// The policy in force, shared by every session of every listener (DESIGN.md "Ownership and
// lifetime"): a reload compiles a new CompiledPolicy off to the side and store()s it; sessions
// pick it up at their next request. No lock on the request path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "policy/compiled_policy.h"

namespace portcullis::proxy {

class PolicyStore {
 public:
  using Pointer = std::shared_ptr<const policy::CompiledPolicy>;

  explicit PolicyStore(Pointer initial = nullptr) : policy_(std::move(initial)) {}
  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  Pointer load() const { return policy_.load(std::memory_order_acquire); }

  // Swaps in a new policy; the generation counts the swaps (0: the initial one).
  void store(Pointer policy) {
    policy_.store(std::move(policy), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Refreshes a session's cached copy when a newer policy was stored. Costs one atomic load when
  // nothing changed, instead of the reference-count traffic of load() on every request.
  // Returns whether `cached` changed.
  bool refresh(Pointer& cached, uint64_t& cached_generation) const {
    const uint64_t now = generation();
    if (cached && now == cached_generation) return false;
    cached_generation = now;  // read before the pointer: a racing store() is seen next time
    cached = load();
    return true;
  }

 private:
  std::atomic<Pointer> policy_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace portcullis::proxy
