// What `policy-watch: true` watches (issue 6), kept apart from inotify so it can be tested:
// the DIRECTORIES holding the policy files, because the file itself is often replaced rather
// than written (an editor's rename-on-save, `ln -sfn`, and a Kubernetes ConfigMap volume, which
// swaps its `..data` symlink to a new timestamped directory while `policy.yaml` stays a symlink
// to `..data/policy.yaml`). An event counts when it names a policy file (as given, or the file
// its symlink resolves to) or `..data`; everything else in those directories (swap files,
// other ConfigMap keys' temporaries) is ignored.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace portcullis::app {

class PolicyWatchFilter {
 public:
  // `files` as the config resolved them. Symlinks are followed now: call again after a change.
  explicit PolicyWatchFilter(const std::vector<std::string>& files);

  const std::set<std::string>& directories() const { return directories_; }
  // An inotify event for entry `name` of `directory`.
  bool relevant(std::string_view directory, std::string_view name) const;

  // The files' bytes, to tell a real change from a touch or a no-op rewrite. A file that cannot
  // be read contributes a marker naming the error, so its return is a change too.
  static std::string snapshot(const std::vector<std::string>& files);

 private:
  std::set<std::string> directories_;
  std::set<std::pair<std::string, std::string>> entries_;  // (directory, name)
};

}  // namespace portcullis::app
