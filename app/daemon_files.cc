// The files the daemon keeps an eye on besides its config: the access log it writes
// (proxy.access-log; SIGUSR1 reopens it for logrotate) and, with policy-watch: true, the policy
// files whose changes reload the policy as SIGHUP does.
#include "app/daemon.h"
#include "common/log.h"

namespace portcullis::app {

bool Daemon::startAccessLog() {
  const std::string& path = config_.proxy.access_log;
  if (path == "off") return true;
  auto opened = proxy::AccessLog::open({.path = path});
  if (!opened) {
    log::error(config_.file, ": access-log ", path, ": ", opened.error().message());
    return false;
  }
  access_log_ = std::move(opened.value());
  access_log_->start();
  log::info("access log: ", path == "-" ? "standard output" : path);
  return true;
}

void Daemon::startPolicyWatch() {
  if (!config_.policy_watch) return;
  watcher_ = std::make_unique<PolicyWatcher>(io_, config_.policy_files,
                                             [this] { reload("policy-watch"); });
  if (auto started = watcher_->start(); !started) {
    // SIGHUP still reloads; the daemon is as useful as without policy-watch.
    log::warn("policy-watch: cannot watch the policy files (", started.error().message(),
              "); reload with SIGHUP");
    watcher_.reset();
    return;
  }
  log::info("policy-watch: watching ", config_.policy_files.size(), " policy file(s)");
}

}  // namespace portcullis::app
