#include <algorithm>
#include <string>
#include <utility>

#include "policy/compiled_policy.h"
#include "proxy/tls_interception.h"
#include "proxy/tls_interception_files.h"

namespace portcullis::proxy {

// The files one interception was built from (bytes dropped: only paths and digests are kept).
struct TlsInterceptionSet::Entry {
  TlsInterceptionFiles files;
  std::shared_ptr<const TlsInterception> interception;
};

TlsInterceptionSet::TlsInterceptionSet(PolicyStore::Pointer policy,
                                       std::vector<std::shared_ptr<const TlsInterception>> by_rule,
                                       std::vector<std::shared_ptr<const Entry>> entries)
    : policy_(std::move(policy)), by_rule_(std::move(by_rule)), entries_(std::move(entries)) {}

TlsInterceptionSet::~TlsInterceptionSet() = default;

size_t TlsInterceptionSet::size() const { return entries_.size(); }

TlsFilesResult<std::shared_ptr<const TlsInterceptionSet>> TlsInterceptionSet::load(
    PolicyStore::Pointer policy, const TlsInterceptionSet* previous) {
  std::vector<std::shared_ptr<const TlsInterception>> by_rule;
  std::vector<std::shared_ptr<const Entry>> entries;
  TlsFileErrors failed;  // every rule's, as a policy's errors: one reload names each bad file
  const std::vector<policy::Rule>& rules = policy->source().rules;
  for (size_t i = 0; i < rules.size(); ++i) {
    const policy::Rule& rule = rules[i];
    if (!rule.terminating_tls) continue;
    const std::string where = rule.where.file + ":" + std::to_string(rule.where.line) + ":" +
                              std::to_string(rule.where.column) + ": rule '" + rule.name +
                              "' terminatingTLS";
    auto files = readInterceptionFiles(*rule.terminating_tls,
                                       rule.originating_tls ? &*rule.originating_tls : nullptr);
    if (!files) {
      for (TlsFileError& error : files.error().errors) {
        error.where = where;
        failed.errors.push_back(std::move(error));
      }
      continue;
    }
    // Rules naming the same files share one entry (and one leaf cache); so does the previous
    // policy's entry for them, so a reload keeps the minted leaves.
    std::shared_ptr<const Entry> found;
    for (const auto& e : entries)
      if (e->files.sameAs(files.value())) found = e;
    for (size_t k = 0; !found && previous && k < previous->entries_.size(); ++k)
      if (previous->entries_[k]->files.sameAs(files.value())) found = previous->entries_[k];
    if (!found) {
      auto built = TlsInterception::fromFiles(files.value());
      if (!built) {
        TlsFileError error = built.error();
        error.where = where;
        failed.errors.push_back(std::move(error));
        continue;
      }
      auto entry = std::make_shared<Entry>();
      entry->interception = std::move(built.value());
      for (TlsFile* f : {&files.value().certificate, &files.value().private_key,
                         &files.value().ca_certificate, &files.value().ca_key,
                         &files.value().ca_bundle}) {
        TlsFile kept;
        kept.path = f->path;
        kept.digest = f->digest;
        *f = std::move(kept);
      }
      entry->files = std::move(files.value());
      found = std::move(entry);
    }
    if (std::find(entries.begin(), entries.end(), found) == entries.end()) entries.push_back(found);
    by_rule.resize(i + 1);
    by_rule[i] = found->interception;
  }
  if (!failed.errors.empty()) return failed;
  return std::shared_ptr<const TlsInterceptionSet>(
      new TlsInterceptionSet(std::move(policy), std::move(by_rule), std::move(entries)));
}

}  // namespace portcullis::proxy
