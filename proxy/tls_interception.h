// TLS interception (issue 7): what one terminatingTLS rule needs at run time, loaded from its
// files, and the set of them for one compiled policy.
//
// OpenSSL is wrapped in tls_interception.cc. This header includes boost/asio/ssl, which includes
// OpenSSL's headers for the sessions that run ssl::stream over these contexts; that is the
// accepted exception to "each C library is included by one .cc" (STYLE.md 9).
//
//   // daemon, at start and on every reload (files re-read each time):
//   auto set = TlsInterceptionSet::load(compiled, store.load().get());
//   if (!set) for (auto& e : set.error().errors) log::error(e.message());  // reload rejected
//   store.store(set.value()); policy_store.store(compiled);
//   // session, once per connection:
//   auto set = context.interceptions().load();  // null: none published (no interception)
//   verdict = set->policy()->tls(rules, sni);
//   if (const TlsInterception* t = set->forRule(index)) { ctx = t->serverContext(sni); ... }
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/duration.h"
#include "common/result.h"
#include "policy/model.h"
#include "proxy/policy_store.h"
#include "proxy/tls_error.h"

namespace portcullis::proxy {

// A minted leaf: signed by the rule's CA for one SNI, with this validity (back-dated by
// kLeafBackdate for clients whose clock is behind) and never past the CA's own notAfter.
inline constexpr Duration kLeafValidity = std::chrono::hours(24);
inline constexpr Duration kLeafBackdate = std::chrono::hours(1);
// A cached leaf older than this is minted again, so no client meets one about to expire.
inline constexpr Duration kLeafRefresh = std::chrono::hours(12);
// Minted contexts kept per interception (least recently used goes first).
inline constexpr size_t kLeafCacheSize = 1024;

struct TlsInterceptionFiles;

class TlsInterception {
 public:
  // Loads and checks the files: key files whose mode is wider than 0600 are refused; the
  // certificate must match its key; a CA certificate must be a CA. Errors name file and reason.
  static TlsFileResult<std::shared_ptr<const TlsInterception>> load(
      const policy::TerminatingTls& terminating, const policy::OriginatingTls* originating);
  ~TlsInterception();
  TlsInterception(const TlsInterception&) = delete;
  TlsInterception& operator=(const TlsInterception&) = delete;

  // The context for the client-facing handshake of a connection whose ClientHello asked for
  // server_name: the fixed certificate, or a leaf minted for that name (subjectAltName = the
  // name, signed by the CA, short validity) and cached (bounded, thread-safe).
  // TLS 1.2+, OpenSSL default ciphers, no renegotiation, ALPN: selects http/1.1 only.
  Result<std::shared_ptr<boost::asio::ssl::context>> serverContext(
      std::string_view server_name) const;
  // The context for the origin-facing handshake: TLS 1.2+, verify peer with ca-bundle or the
  // system bundle, ALPN offers http/1.1. Use prepareOriginHandshake on each connection.
  boost::asio::ssl::context& clientContext() const;

  bool mintsLeaves() const;
  size_t cachedLeaves() const;  // for tests and /status
  uint64_t mintedLeaves() const;

 private:
  struct Impl;
  friend class TlsInterceptionSet;
  explicit TlsInterception(std::unique_ptr<Impl> impl);
  static TlsFileResult<std::shared_ptr<const TlsInterception>> fromFiles(
      const TlsInterceptionFiles& files);
  std::unique_ptr<Impl> impl_;
};

// Per origin connection, before its handshake: SNI and the name its certificate must carry
// (hostname check without partial wildcards), and the TLS session of the last verified
// connection to that name, if any, to resume. kNoServerName for an empty name.
std::error_code prepareOriginHandshake(SSL* ssl, std::string_view server_name);

// All interceptions of one compiled policy, and that policy (the pair is published together,
// so a session never mixes a new set with an old policy's rule indices).
class TlsInterceptionSet {
 public:
  // Loads every terminatingTLS rule's files; reuses entries of `previous` whose files did not
  // change (same paths, same content digest) so cached leaves survive a reload. The error lists
  // every bad file of every rule; each one's message() names the rule (FILE:LINE:COLUMN), the
  // file and the reason.
  static TlsFilesResult<std::shared_ptr<const TlsInterceptionSet>> load(
      PolicyStore::Pointer policy, const TlsInterceptionSet* previous);
  ~TlsInterceptionSet();
  TlsInterceptionSet(const TlsInterceptionSet&) = delete;
  TlsInterceptionSet& operator=(const TlsInterceptionSet&) = delete;

  const PolicyStore::Pointer& policy() const { return policy_; }
  const TlsInterception* forRule(uint32_t rule_index) const {  // nullptr: no interception
    return rule_index < by_rule_.size() ? by_rule_[rule_index].get() : nullptr;
  }
  size_t size() const;  // distinct interceptions (rules naming the same files share one)

 private:
  struct Entry;
  TlsInterceptionSet(PolicyStore::Pointer policy,
                     std::vector<std::shared_ptr<const TlsInterception>> by_rule,
                     std::vector<std::shared_ptr<const Entry>> entries);

  PolicyStore::Pointer policy_;
  std::vector<std::shared_ptr<const TlsInterception>> by_rule_;  // indexed by rule
  std::vector<std::shared_ptr<const Entry>> entries_;  // file identities, for the next reload
};

}  // namespace portcullis::proxy
